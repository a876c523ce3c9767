"""The benchmark scripts import, parse their options and keep their
bookkeeping right, without running a benchmark (no timing is asserted)."""

import os
import sys

import keras
import numpy as np
import pytest

BENCHMARKS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"
)


@pytest.fixture(scope="module")
def scripts():
    sys.path.insert(0, BENCHMARKS)
    try:
        import _peak
        import accelerator
        import inference_throughput
        import mixed_precision
        import pretrain_throughput

        yield {
            "peak": _peak,
            "accelerator": accelerator,
            "inference": inference_throughput,
            "mixed": mixed_precision,
            "pretrain": pretrain_throughput,
        }
    finally:
        sys.path.remove(BENCHMARKS)


def test_numpy_unpinned_drops_only_openblas_pinning(scripts):
    peak = scripts["peak"]
    environ = {
        "OPENBLAS_CORETYPE": "Haswell",
        "OPENBLAS_L2_SIZE": "1048576",
        "OMP_NUM_THREADS": "2",
    }
    unpinned = peak.child_environment("numpy_unpinned", environ)
    assert "OPENBLAS_CORETYPE" not in unpinned
    assert "OPENBLAS_L2_SIZE" not in unpinned
    assert unpinned["OMP_NUM_THREADS"] == "2"
    # Every other measurement keeps the environment as it is.
    for source in ("numpy", "jax", "tensorflow", "torch"):
        kept = peak.child_environment(source, environ)
        assert kept["OPENBLAS_CORETYPE"] == "Haswell"
        assert kept["OPENBLAS_L2_SIZE"] == "1048576"
    # The caller's dict is a copy's source, never changed.
    assert environ["OPENBLAS_CORETYPE"] == "Haswell"
    assert peak.pinned(environ) == {
        "OPENBLAS_CORETYPE": "Haswell",
        "OPENBLAS_L2_SIZE": "1048576",
    }
    with pytest.raises(ValueError, match="Unknown source"):
        peak.measure_peak("cupy")


@pytest.mark.parametrize(
    "name, chip",
    [
        ("NVIDIA H200", "NVIDIA H200"),
        ("NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM"),
        ("NVIDIA H100 PCIe", "NVIDIA H100 PCIe"),
        ("NVIDIA A100-SXM4-80GB", "NVIDIA A100"),
        ("NVIDIA L4", "NVIDIA L4"),
        ("Tesla T4", "NVIDIA T4"),
        ("TPU v4", "TPU v4"),
        ("TPU v5 lite", "TPU v5e"),
        ("TPU v5e", "TPU v5e"),
        ("NVIDIA L40S", None),
        ("cpu", None),
    ],
)
def test_chip_peaks_by_device_name(scripts, name, chip):
    peaks = scripts["accelerator"].chip_peaks(name)
    assert (peaks or {}).get("chip") == chip


def test_chip_peaks_values(scripts):
    h200 = scripts["accelerator"].chip_peaks("NVIDIA H200")
    assert h200["bfloat16"] == pytest.approx(989.4e12)
    assert h200["tf32"] == pytest.approx(494.7e12)
    assert h200["float32"] == pytest.approx(67e12)
    t4 = scripts["accelerator"].chip_peaks("Tesla T4")
    assert t4["bfloat16"] is None


def test_row_peak_follows_the_matmul_precision(scripts):
    accelerator = scripts["accelerator"]
    gpu = {"platform": "gpu", "name": "NVIDIA H200"}
    row = {"dtype": "float32", "float32_matmul": "tf32"}
    assert accelerator.row_peak(row, gpu) == (
        pytest.approx(494.7e12),
        "NVIDIA H200 tf32",
    )
    row = {"dtype": "float32", "float32_matmul": "float32"}
    assert accelerator.row_peak(row, gpu)[0] == pytest.approx(67e12)
    row = {"dtype": "mixed_bfloat16", "float32_matmul": "tf32"}
    assert accelerator.row_peak(row, gpu)[0] == pytest.approx(989.4e12)
    # On a CPU: the backend's own measured matmul.
    row = {"dtype": "float32", "matmul": {"float32": 3e11}}
    cpu = {"platform": "cpu", "name": "cpu"}
    assert accelerator.row_peak(row, cpu) == (3e11, "measured float32 matmul")


def test_union_seconds(scripts):
    union = scripts["accelerator"].union_seconds
    assert union([]) == 0.0
    assert union([(0.0, 2.0), (1.0, 3.0), (5.0, 6.0)]) == 4.0
    assert union([(0.0, 10.0), (2.0, 3.0)]) == 10.0  # nested
    assert union([(4.0, 5.0), (0.0, 1.0)]) == 2.0  # unsorted


def test_accelerator_options(scripts, tmp_path):
    accelerator = scripts["accelerator"]
    args = accelerator.parse_args(["--out", str(tmp_path)])
    assert args.pretrain_steps == 5000
    assert args.batch_size == 128
    assert args.presets == "electra_small,electra_base"
    assert args.budget_seconds == 540
    smoke = accelerator.parse_args(
        ["--out", str(tmp_path), "--smoke", "--batch-size", "4"]
    )
    assert smoke.presets == "electra_tiny"
    assert smoke.batch_size == 4  # given options win over the smoke's
    assert smoke.pretrain_steps < 100
    quick = accelerator.parse_args(["--out", str(tmp_path), "--quick"])
    assert quick.row_seconds <= 3.0


def test_accelerator_report(scripts, tmp_path):
    accelerator = scripts["accelerator"]
    args = accelerator.parse_args(["--out", str(tmp_path)])
    row = {
        "backend": "jax",
        "preset": "electra_small",
        "dtype": "mixed_bfloat16",
        "tokens_per_s": 1.0e6,
        "step_s": 0.016384,
        "dispatch_s": 0.004,
        "device_busy_s": 0.015,
        "flops_per_s": 98.94e12,
        "float32_matmul": "tf32",
    }
    rows = [{"step": 4900.0, "seconds": 100.0}]
    rows.append(
        {
            "step": 5000.0,
            "seconds": 102.0,
            "discriminator_loss": 0.4,
            "discriminator_auc": 0.6,
            "discriminator_accuracy": 0.85,
            "generator_loss": 7.5,
        }
    )
    results = {
        "backends": ["jax"],
        "device": {"platform": "gpu", "name": "NVIDIA H200", "count": 1},
        "matmul": {},
        "throughput": [row],
        "skipped": [],
        "seconds": 500.0,
        "pretrain": {
            "backend": "jax",
            "input": "arrays",
            "build_data_s": 10.0,
            "rows": rows,
            **accelerator._summary(args, rows),
        },
    }
    text = accelerator.report(results, args)
    assert "| 10.0% | NVIDIA H200 bfloat16 |" in text
    assert "| discriminator_auc (disc_auc) | 0.6000 | 0.68 |" in text
    assert "ours at step 5,000" in text
    # 100 steps in 2 s: 20 ms a step.
    assert results["pretrain"]["step_s"] == pytest.approx(0.02)


def test_fit_timing_counts_whole_epochs(scripts):
    common = scripts["pretrain"]
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    per = common.steps_per_execution(2)
    model.compile("sgd", "mse", steps_per_execution=per)
    batches = [(np.ones((4, 3), "float32"), np.ones((4, 1), "float32"))]
    timing = common.fit_timing(
        model,
        batches,
        per,
        warmup=1,
        steps=2 * per + 1,
        executions_per_epoch=2,
    )
    epoch = 2 * per
    # Warm-up: one epoch; timed: the steps rounded up to whole epochs.
    assert timing["steps"] == 2 * epoch
    assert int(model.optimizer.iterations.numpy()) == 3 * epoch
    assert timing["seconds_per_step"] > 0
    assert timing["dispatch_seconds_per_step"] is not None
    assert set(timing["first_logs"]) == {"loss"}
    assert timing["last_logs"]["loss"] < timing["first_logs"]["loss"]


def test_steps_per_execution_on_torch(scripts):
    per = scripts["pretrain"].steps_per_execution(8)
    assert per == (1 if keras.config.backend() == "torch" else 8)


def test_zipf_batches(scripts):
    batches = scripts["mixed"].zipf_batches(2, 3, 16)
    assert len(batches) == 2
    ids = batches[0]["token_ids"]
    assert ids.shape == (3, 16) and ids.dtype == np.int32
    assert (ids[:, 0] == 101).all() and (ids[:, -1] == 102).all()
    assert ids[:, 1:-1].min() >= 1000 and ids.max() < 30000


def test_step_flops_counts_the_generator_head_at_masked_slots(scripts):
    common = scripts["pretrain"]
    config = common.preset_config("electra_small")
    flops = common.step_flops(config, 128, 128)
    # electra_small: about 1.15 TFLOP a step at 128 x 128.
    assert 1.0e12 < flops < 1.3e12
    assert common.step_flops(config, 256, 128) == 2 * flops


def test_inference_options_accept_the_shared_driver(scripts, monkeypatch):
    inference = scripts["inference"]
    called = {}
    monkeypatch.setattr(
        inference.common, "worker", lambda args, *a: called.update(v=args)
    )
    monkeypatch.setattr(
        sys,
        "argv",
        ["inference_throughput.py", "--worker", "jax"]
        + ["--steps-per-execution", "4", "--dtype", "float32"],
    )
    inference.main()
    assert called["v"].worker == "jax"


def test_corpus_heads_end_at_a_line(scripts, tmp_path):
    accelerator = scripts["accelerator"]
    data = tmp_path / "data"
    (data / "corpus").mkdir(parents=True)
    for name in accelerator.CORPORA:
        (data / name).write_text("first line\nsecond line\nthird\n")
    whole = accelerator.corpus_files(str(data), str(tmp_path))
    assert whole == [str(data / name) for name in accelerator.CORPORA]
    heads = accelerator.corpus_files(str(data), str(tmp_path), limit=15)
    assert len(heads) == 3
    for path in heads:
        with open(path) as f:
            assert f.read() == "first line\n"


def test_summary_without_rows(scripts, tmp_path):
    accelerator = scripts["accelerator"]
    args = accelerator.parse_args(["--out", str(tmp_path)])
    summary = accelerator._summary(args, [])
    assert summary["last"] == {} and summary["at_target"] is None
    assert summary["step_s"] is None and summary["tokens_per_s"] is None


def test_best_peaks_keeps_the_higher_measurement(scripts):
    best = scripts["pretrain"].best_peaks(
        {"numpy": 3e11, "jax": None, "torch": 2e11},
        {"numpy": 4e11, "jax": 1e11, "torch": None},
    )
    assert best == {"numpy": 4e11, "jax": 1e11, "torch": 2e11}
