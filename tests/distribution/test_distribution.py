"""Several devices: keras.distribution on JAX (data and model parallel over
8 virtual CPU devices), tf.distribute's MirroredStrategy on TensorFlow
(2 logical CPUs) and torchrun on PyTorch (2 processes, gloo) train to the
same weights as one device.

Device counts must be set before a backend starts, so the training runs in
fresh processes (`jax_mesh_run.py`, `tf_mirrored_run.py`), each in its own
backend's run of the suite.
"""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
from helpers import VOCAB_FILE
from helpers import needs_shared

import keras_electra
from keras_electra.utils.distribution import DistributionError
from keras_electra.utils.distribution import make_distribution
from keras_electra.utils.distribution import parse_mesh

jax_only = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="keras.distribution's data and model parallelism need JAX",
)
HERE = pathlib.Path(__file__).parent


def run_script(*args, script="jax_mesh_run.py", backend="jax"):
    env = {**os.environ, "KERAS_BACKEND": backend}
    done = subprocess.run(
        [sys.executable, str(HERE / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@jax_only
def test_data_and_model_parallel_match_one_device():
    result = run_script()
    single, data, model = result["losses"]
    assert data == pytest.approx(single, rel=1e-5)
    assert model == pytest.approx(single, rel=1e-5)
    # Same weights after 3 steps (float32, relative to each tensor's scale).
    assert result["data_parallel_gap"][0] < 1e-5, result["data_parallel_gap"]
    assert result["model_parallel_gap"][0] < 1e-5, result["model_parallel_gap"]
    # The layout map really shards, both towers included.
    shardings = result["shardings"]
    assert shardings["discriminator"] == "P(None, 'model')"
    assert shardings["generator"] == "P(None, 'model')"
    assert shardings["feedforward"] == "P('batch', 'model')"
    assert shardings["query"] == "P('batch', None, 'model')"
    assert set(result["data_parallel_shardings"].values()) <= {
        "P(None, None)",
        "P(None, None, None)",
    }


@jax_only
def test_layout_map_names_a_missing_axis():
    mesh = keras.distribution.DeviceMesh(
        (1,), ("data",), keras.distribution.list_devices()[:1]
    )
    with pytest.raises(ValueError, match="no axis 'model'"):
        keras_electra.ElectraBackbone.get_layout_map(mesh)
    with pytest.raises(ValueError, match="DeviceMesh"):
        keras_electra.ElectraBackbone.get_layout_map("2x4")


@jax_only
@needs_shared
def test_pretrain_job_on_a_mesh_then_resumed_on_one_device(corpus, tmp_path):
    result = run_script("job", corpus, str(VOCAB_FILE), str(tmp_path / "run"))
    assert (
        "Distribution: model parallel on a 2x4 mesh (batch x model) of 8 "
        "device(s); global batch 8, 4 per replica" in result["printed"]
    )
    assert result["first_step"] == 2 and result["resumed_step"] == 4
    assert result["again_step"] == 6 and np.isfinite(result["again_loss"])
    assert result["resumed_loss"] is not None
    assert result["distribution_after"] == "None"
    assert "does not split over 8" in result["uneven_batch_error"]


def test_bad_distribution_requests_are_named():
    with pytest.raises(DistributionError, match="BATCHxMODEL"):
        parse_mesh("2by4", 8)
    with pytest.raises(DistributionError, match="needs 6 devices"):
        parse_mesh("2x3", 8)
    assert parse_mesh(None, 8) == (1, 8)
    assert parse_mesh(None, 6) == (3, 2)
    with pytest.raises(DistributionError, match="must be one of"):
        make_distribution("pipeline", batch_size=8)
    with pytest.raises(DistributionError, match="`mesh` needs"):
        make_distribution("none", batch_size=8, mesh="2x4")
    assert make_distribution("none", batch_size=8) == (None, None)
    if keras.backend.backend() != "jax":
        with pytest.raises(DistributionError, match="JAX only"):
            make_distribution("model", batch_size=8)
    if keras.backend.backend() == "torch":
        with pytest.raises(DistributionError, match="torchrun"):
            make_distribution("data", batch_size=8)


torch_only = pytest.mark.skipif(
    keras.backend.backend() != "torch", reason="torchrun runs PyTorch"
)


def torchrun(*args, timeout=900):
    """`torchrun --standalone --nproc_per_node=2 ARGS` on this machine."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            *args,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": "torch"},
        cwd=HERE,
        timeout=timeout,
    )


@torch_only
def test_torchrun_ranks_train_as_one_process_with_the_whole_batch(tmp_path):
    """Two gloo ranks, each with half of every batch of 8, end 3 updates
    with the weights of one process given the whole batches."""
    single = subprocess.run(
        [sys.executable, "torch_ddp_run.py", str(tmp_path / "one.npz")],
        capture_output=True,
        text=True,
        cwd=HERE,
        timeout=900,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    done = torchrun("torch_ddp_run.py", str(tmp_path / "two.npz"))
    assert done.returncode == 0, done.stderr[-3000:]
    from jax_mesh_run import worst_gap

    one, two = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    assert int(two["processes"]) == 2
    assert one["rows"].tolist() == [8, 8, 8]
    assert two["rows"].tolist() == [4, 4, 4]  # each rank's slice
    names = [k for k in one.files if k not in ("loss", "rows", "processes")]
    gap = worst_gap(names, [one[k] for k in names], [two[k] for k in names])
    # Measured: 2.2e-7 of each tensor's scale (float32 summation order).
    assert gap[0] < 1e-5, gap
    # Without the gradient average the ranks would have taken other steps.
    assert max(np.abs(one[k]).max() for k in names) > 0


def _pretrain_args(backend, preset, corpus, *extra):
    """`python` arguments of a small `keras-electra pretrain` run (no
    `--output`): the micro preset, BERT's vocabulary, length 32, a log row
    per step."""
    return [
        "-m",
        "keras_electra.cli",
        "pretrain",
        "--backend",
        backend,
        "--preset",
        preset,
        "--corpus",
        corpus,
        "--vocab",
        str(VOCAB_FILE),
        "--sequence-length",
        "32",
        "--log-every",
        "1",
        *extra,
    ]


@torch_only
@needs_shared
def test_pretrain_job_under_torchrun_then_resumed_on_one_process(
    corpus, micro_preset, tmp_path
):
    """`torchrun ... keras-electra pretrain`: the chief alone prints, logs
    and writes checkpoints and the preset; the run resumes in one process
    (and a batch that does not split over the ranks is refused)."""
    from keras_electra.jobs.pretrain import pretrain
    from keras_electra.utils.plotting import read_log

    out = tmp_path / "run"
    args = _pretrain_args(
        "torch", micro_preset, corpus, "--checkpoint-every", "2"
    )
    args += ["--output", str(out)]
    done = torchrun(*args, "--steps", "2", "--batch-size", "8")
    assert done.returncode == 0, done.stderr[-3000:]
    line = (
        "Distribution: data parallel over 2 torchrun processes "
        "(torch.distributed, gloo); global batch 8, 4 per process"
    )
    assert done.stdout.count(line) == 1, done.stdout[-2000:]
    assert read_log(out / "log.csv")["step"] == [1.0, 2.0]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "ckpt-00000002"
    ]
    assert (out / "preset" / "model.weights.h5").exists()
    resumed = pretrain(str(out), resume=True, steps=4, log_every=1, verbose=0)
    assert resumed["step"] == 4
    log = read_log(out / "log.csv")
    assert log["step"] == [1.0, 2.0, 3.0, 4.0]
    # The ranks' metric states are added together: the torchrun rows count
    # the replaced tokens of the global batch of 8, as the one process
    # does (each rank alone sees half).
    replaced = np.asarray(log["discriminator_replaced"])
    assert replaced[:2].mean() > 0.75 * replaced[2:].mean() > 0

    refused = torchrun(
        *args[:-1], str(tmp_path / "uneven"), "--batch-size", "7"
    )
    assert refused.returncode != 0
    assert "does not split over 2 torchrun processes" in refused.stderr
    assert not (tmp_path / "uneven").exists()


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="tf.distribute needs TensorFlow",
)
def test_mirrored_strategy_logs_and_trains_as_one_device():
    # Each replica gets the same 4 rows and draws the same corruption as
    # one device given those rows. With the loss divided per replica and the
    # gradient clipped after the replicas' sum (not per replica, as Keras
    # does), the strategy's update is the single device's. Measured: the
    # logged losses are equal to the last digit (without the scaling they
    # doubled); the weights after 2 steps differ by at most 4e-4 of each
    # tensor's scale, float noise that Adam's normalisation enlarges where a
    # gradient is a near-cancelling sum (per-replica clipping gave 2.4e-2).
    result = run_script(script="tf_mirrored_run.py", backend="tensorflow")
    np.testing.assert_allclose(
        result["mirrored_losses"], result["single_losses"], rtol=1e-6
    )
    assert result["gap"][0] < 5e-3, result["gap"]


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="tf.distribute needs TensorFlow",
)
@needs_shared
def test_pretrain_job_data_parallel_on_tensorflow(corpus, tmp_path):
    result = run_script(
        "job",
        corpus,
        str(VOCAB_FILE),
        str(tmp_path / "run"),
        script="tf_mirrored_run.py",
        backend="tensorflow",
    )
    assert (
        "Distribution: data parallel over 2 device(s) (tf.distribute."
        "MirroredStrategy); global batch 8, 4 per replica" in result["printed"]
    )
    assert result["first_step"] == 2 and result["resumed_step"] == 4
    assert result["again_step"] == 6 and np.isfinite(result["again_loss"])
    # The logged loss is the true mean (it doubled before the scaling).
    assert 10 < result["first_loss"] < 60


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


@jax_only
@needs_shared
def test_two_jax_hosts_train_as_one(corpus, micro_preset, tmp_path):
    """Two JAX processes of 2 CPU devices each, joined by
    `keras.distribution.initialize()` (gloo), run the pretrain job data
    parallel: Keras gives each host its half of every batch, the chief
    writes the run, and the weights are those of one process that read
    every batch whole."""
    from jax_mesh_run import worst_gap

    def command(output):
        return [
            sys.executable,
            *_pretrain_args("jax", micro_preset, corpus, "--steps", "3"),
            "--batch-size",
            "8",
            "--output",
            str(output),
        ]

    port = _free_port()
    hosts = [
        subprocess.Popen(
            command(tmp_path / "hosts"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={
                **os.environ,
                "KERAS_BACKEND": "jax",
                "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
                "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"localhost:{port}",
                "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
                "KERAS_DISTRIBUTION_PROCESS_ID": str(index),
            },
        )
        for index in (0, 1)
    ]
    outputs = [host.communicate(timeout=900) for host in hosts]
    for host, (out, err) in zip(hosts, outputs):
        assert host.returncode == 0, err[-3000:]
    assert (
        "Distribution: data parallel over 4 device(s) on 2 hosts; global "
        "batch 8, 2 per replica" in outputs[0][0]
    )
    assert "Distribution" not in outputs[1][0]  # the chief alone prints
    single = subprocess.run(
        command(tmp_path / "single"),
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": "jax"},
        timeout=900,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    from keras_electra.utils.plotting import read_log

    hosts_log = read_log(tmp_path / "hosts" / "log.csv")
    single_log = read_log(tmp_path / "single" / "log.csv")
    assert hosts_log["step"] == [1.0, 2.0, 3.0]
    np.testing.assert_allclose(hosts_log["loss"], single_log["loss"], 1e-5)
    models = [
        keras_electra.ElectraPretrainer.from_preset(
            str(tmp_path / name / "preset")
        )
        for name in ("single", "hosts")
    ]
    names = [v.path for v in models[0].weights]
    values = [
        [keras.ops.convert_to_numpy(v) for v in model.weights]
        for model in models
    ]
    gap = worst_gap(names, *values)
    assert gap[0] < 1e-5, gap


def test_process_slices_are_disjoint_and_cover_each_batch():
    """Each process's slice of a global batch, as torchrun's ranks take them
    (`processes.shard_batches`) and as Keras' `DataParallel` hands them to
    JAX hosts: no row twice, every row once."""
    import tensorflow as tf

    from keras_electra.utils import processes

    rows = np.arange(24).reshape(12, 2)
    dataset = tf.data.Dataset.from_tensor_slices({"x": rows}).batch(6)
    seen = []
    for index in range(3):
        batches = [
            b["x"].numpy() for b in processes.shard_batches(dataset, 3, index)
        ]
        assert [len(b) for b in batches] == [2, 2]
        seen.append(np.concatenate(batches)[:, 0])
    flat = np.concatenate(seen)
    assert len(set(flat.tolist())) == 12
    assert sorted(flat.tolist()) == rows[:, 0].tolist()
    # Batch by batch, the slices put together are the global batch.
    first = np.concatenate([s[:2] for s in seen])
    np.testing.assert_array_equal(first, rows[:6, 0])
    if keras.backend.backend() == "jax":
        # Two hosts of one device each, as Keras' multi-process set-up
        # would record them (the mesh is never placed on devices here).
        mesh = keras.distribution.DeviceMesh(
            (2,), ["batch"], ["cpu:0", "cpu:1"]
        )
        distribution = keras.distribution.DataParallel(device_mesh=mesh)
        hosts = []
        for index in range(2):
            distribution._is_multi_process = True
            distribution._num_processes = 2
            distribution._process_id = index
            hosts.append(
                np.concatenate(
                    [
                        b["x"].numpy()[:, 0]
                        for b in distribution.distribute_dataset(dataset)
                    ]
                )
            )
        assert not set(hosts[0]) & set(hosts[1])
        assert sorted(np.concatenate(hosts).tolist()) == rows[:, 0].tolist()
