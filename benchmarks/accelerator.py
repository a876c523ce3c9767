"""One command for an accelerator: pre-training throughput and MFU per
backend, then 5,000 steps of electra_small on real text.

    python benchmarks/accelerator.py --out accel_results
    python benchmarks/accelerator.py --smoke --out /tmp/smoke   # CPU, ~2 min

Stage 1, throughput: for `electra_small` and `electra_base` in float32 and
`mixed_bfloat16`, on each installed backend (one process per backend), a
pretrainer trains on Zipf-distributed ids in one Keras `fit` call with
`--steps-per-execution` steps per host call (PyTorch: 1, all its trainer
takes) and the clock read only at epoch ends (`fit_timing` in
`pretrain_throughput.py`). Per row: tokens/s, seconds per step, TFLOP/s
(the analytic count of `pretrain_throughput.py`) and MFU against the
chip's peak for the dtype its float32 matmuls run in (TF32 on NVIDIA GPUs
for JAX and TensorFlow, and for PyTorch where its float32 matmul precision
allows it; bfloat16 for `mixed_bfloat16`). The host's share: the time the
host took to hand the steps to the backend ("dispatch"), and where a
profiler can tell, the device's busy time per step (JAX: a
`jax.profiler` trace of one epoch, the union of the device's events;
PyTorch on CUDA: `torch.profiler`'s kernels). A step whose dispatch time
is close to its wall time is bound by the host; one whose busy time is,
by the device. Each backend also times its own large matmul (float32 and
bfloat16), the ceiling it can reach on this chip.

Stage 2, a real run: 5,000 steps of `electra_small` at batch 128 x 128 on
the shared corpora (State of the Union, news, Austen) with the BERT
uncased vocabulary, with the reference's schedule at that step (peak
5e-4, 10,000 warm-up steps in a 1M-step run: `stop_after` 5,000), logging
the discriminator's loss, AUC and accuracy and the generator's loss every
100 steps, beside the only published figures at step 5,000
(google-research/electra issue 81, the reference's evaluation output at
global_step 5000: disc_loss 0.359, disc_auc 0.68, disc_accuracy 0.867,
masked_lm_loss 7.13; that user's data and run, metrics on held-out
batches without dropout, ours a window of training batches: a loose
comparison). Where
TensorFlow is installed, this is the real job: `keras-electra build-data`
into a temporary folder, then `keras_electra.pretrain(...)`. Without it
(the job's input pipeline is tf.data), the same examples are packed by
the job's example builder (`mixed_examples`) into arrays and the same
pretrainer, compiled as the job compiles it, trains through Keras' `fit`
("arrays" in the results).

Budget: everything stops by `--budget-seconds` (default 540, for a 15
minute device lease), in the order of priority: the first backend's
throughput (JAX by default) within `--throughput-share` of the budget,
then stage 2 (stopped where it stands at its deadline: the results then
give the last logged step), then the other backends' throughput in
`--later-seconds` (plus what the others left). A throughput row starts
only if `--row-seconds` and `--row-overhead` still fit. `--quick`
shortens each row and skips the profiler and matmul probes. `--smoke` runs
`electra_tiny` at batch 8 x 64, a few steps, on 60 kB of each corpus:
proof that the script works on a CPU.

Results: `results.json`, `results.md` and `log.txt` in `--out`. The data
folder is `--data`, by default `../shared/data` beside the repository (or
`shared/data` inside it). On a machine without keras-electra's
dependencies, put keras and keras-hub on `PYTHONPATH` (wheels) and run
from the repository root (it is added to the path).
"""

import argparse
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pretrain_throughput as common

HERE = common.HERE
ROOT = common.ROOT
CORPORA = ("corpus/sotu.txt", "corpus/news.txt", "corpus/austen.txt")
VOCABULARY = "vocab/bert_uncased_vocab.txt"
BACKENDS = ("jax", "torch", "tensorflow")

# google-research/electra issue 81: the reference's evaluation output at
# global_step 5000 (that user's data and run; held-out batches, no
# dropout).
REFERENCE_AT_5000 = {
    "discriminator_loss": 0.359,
    "discriminator_auc": 0.68,
    "discriminator_accuracy": 0.867,
    "generator_loss": 7.13,
    "generator_accuracy": 0.032,
    "discriminator_precision": 0.759,
    "discriminator_recall": 0.048,
    "sampled_accuracy": 0.0034,
}
REFERENCE_NAMES = {
    "discriminator_loss": "disc_loss",
    "discriminator_auc": "disc_auc",
    "discriminator_accuracy": "disc_accuracy",
    "generator_loss": "masked_lm_loss",
    "generator_accuracy": "masked_lm_accuracy",
    "discriminator_precision": "disc_precision",
    "discriminator_recall": "disc_recall",
    "sampled_accuracy": "sampled_masked_lm_accuracy",
}

# Dense peaks in TFLOP/s (no structured sparsity), from the vendors' data
# sheets: (pattern matched in the device's name, chip, float32, TF32,
# bfloat16). First match wins. TPUs run float32 matmuls on their bfloat16
# units (one or more passes by precision): their float32 entry is the
# bfloat16 peak, an upper bound.
CHIP_PEAKS = (
    (r"h200", "NVIDIA H200", 67.0, 494.7, 989.4),
    (r"h100.*(pcie|pci-e)", "NVIDIA H100 PCIe", 51.2, 378.0, 756.0),
    (r"h100.*nvl", "NVIDIA H100 NVL", 60.0, 417.5, 835.5),
    (r"h100", "NVIDIA H100 SXM", 67.0, 494.7, 989.4),
    (r"a100", "NVIDIA A100", 19.5, 156.0, 312.0),
    (r"\bl4\b", "NVIDIA L4", 30.3, 60.0, 121.0),
    # Turing: no TF32 and no bfloat16 tensor cores (float16: 65).
    (r"\bt4\b", "NVIDIA T4", 8.1, None, None),
    (r"v6 ?lite|v6e", "TPU v6e", 918.0, None, 918.0),
    (r"v5 ?lite|v5e", "TPU v5e", 197.0, None, 197.0),
    (r"v5p|tpu v5", "TPU v5p", 459.0, None, 459.0),
    (r"tpu v4|\bv4\b", "TPU v4", 275.0, None, 275.0),
)


def chip_peaks(device_name):
    """The peaks of the chip named `device_name` (as JAX's `device_kind`
    or `torch.cuda.get_device_name` spell it): a dict with `chip`,
    `float32`, `tf32` and `bfloat16` in FLOP/s (None where the chip has no
    such unit), or None for a chip not in `CHIP_PEAKS`.

    Example:

    >>> chip_peaks("NVIDIA H100 80GB HBM3")["chip"]
    'NVIDIA H100 SXM'
    """
    name = (device_name or "").lower()
    for pattern, chip, fp32, tf32, bf16 in CHIP_PEAKS:
        if re.search(pattern, name):
            scale = lambda v: None if v is None else v * 1e12  # noqa: E731
            return {
                "chip": chip,
                "float32": scale(fp32),
                "tf32": scale(tf32),
                "bfloat16": scale(bf16),
            }
    return None


def row_peak(row, device):
    """(FLOP/s, which) that `row`'s MFU divides by: the chip's peak for
    the precision its matmuls ran in, or on a CPU the backend's own
    measured float32 matmul."""
    peaks = chip_peaks(device.get("name")) if device else None
    if device and device.get("platform") == "cpu" or peaks is None:
        measured = (row.get("matmul") or {}).get("float32")
        return measured, "measured float32 matmul"
    kind = "bfloat16" if "bfloat16" in row["dtype"] else row["float32_matmul"]
    return peaks.get(kind), f"{peaks['chip']} {kind}"


def union_seconds(intervals):
    """Seconds covered by the union of `(start, end)` intervals (seconds):
    a device's busy time, where events overlap or nest.

    Example:

    >>> union_seconds([(0.0, 2.0), (1.0, 3.0), (5.0, 6.0)])
    4.0
    """
    total, reach = 0.0, None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


# === Workers (each in a process of its own) ===


def _say(kind, payload):
    print(f"{kind} " + json.dumps(payload), flush=True)


def device_info():
    """The backend's first device: platform ("gpu", "tpu", "cpu"), name
    and count."""
    import keras

    backend = keras.config.backend()
    if backend == "jax":
        import jax

        devices = jax.devices()
        return {
            "platform": devices[0].platform,
            "name": devices[0].device_kind,
            "count": len(devices),
        }
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return {
                "platform": "gpu",
                "name": torch.cuda.get_device_name(0),
                "count": torch.cuda.device_count(),
            }
        return {"platform": "cpu", "name": "cpu", "count": 1}
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return {
            "platform": "gpu",
            "name": details.get("device_name", "gpu"),
            "count": len(gpus),
        }
    return {"platform": "cpu", "name": "cpu", "count": 1}


def float32_matmul_mode(platform):
    """What this backend's float32 matmuls run as on `platform`: "tf32",
    "float32" or (TPU) "bfloat16"."""
    import keras

    if platform == "tpu":
        return "bfloat16"
    if platform != "gpu":
        return "float32"
    backend = keras.config.backend()
    if backend == "torch":
        import torch

        tf32 = torch.get_float32_matmul_precision() != "highest"
        tf32 = tf32 or torch.backends.cuda.matmul.allow_tf32
        return "tf32" if tf32 else "float32"
    if backend == "jax":
        import jax

        precision = getattr(jax.config, "jax_default_matmul_precision", None)
        return "float32" if precision in ("highest", "float32") else "tf32"
    import tensorflow as tf

    enabled = tf.config.experimental.tensor_float_32_execution_enabled()
    return "tf32" if enabled else "float32"


def throughput_worker(args):
    """Stage 1 in this backend's process: one ROW line per measurement."""
    import gc

    import _peak
    import keras

    device = device_info()
    _say("DEVICE", device)
    backend = keras.config.backend()
    matmul = {}
    if not args.quick:
        size = 8192 if device["platform"] != "cpu" else 2048
        for dtype in ("float32", "bfloat16"):
            try:
                matmul[dtype] = _peak._matmul_rate(
                    backend, size, dtype, rounds=3, repeats=5
                )
            except Exception:  # an unsupported dtype on this device
                matmul[dtype] = None
        _say("MATMUL", {"backend": backend, "size": size, **matmul})
    for preset, dtype in (r.split(":") for r in args.rows.split(",")):
        left = args.deadline - time.time()
        if left < args.row_seconds + args.row_overhead:
            _say("SKIP", {"preset": preset, "dtype": dtype, "left": left})
            continue
        try:
            row = measure_row(args, preset, dtype, device)
        except Exception as error:  # one row's failure is reported
            row = {"preset": preset, "dtype": dtype, "error": repr(error)}
        row.update(backend=backend, matmul=matmul)
        _say("ROW", row)
        keras.backend.clear_session()
        gc.collect()


def measure_row(args, preset, dtype, device):
    import keras
    import numpy as np
    from mixed_precision import zipf_batches

    import keras_electra

    keras.utils.set_random_seed(0)
    pretrainer = keras_electra.ElectraPretrainer.from_preset(
        preset, dtype=dtype, vocabulary_size=30522, seed=0
    )
    per = common.steps_per_execution(args.steps_per_execution)
    pretrainer.compile(
        num_train_steps=1_000_000,
        warmup_steps=10_000,
        steps_per_execution=per,
    )
    executions = max(1, args.epoch_steps // per)
    batches = zipf_batches(4, args.batch_size, args.sequence_length)
    timing = common.fit_timing(
        pretrainer,
        batches,
        per,
        per * executions,
        seconds=args.row_seconds,
        executions_per_epoch=executions,
    )
    busy = None
    if args.profile:
        try:
            busy = device_busy_per_step(pretrainer, batches, per, 2, device)
        except Exception as error:  # a profiler missing or changed
            print(f"profiler failed: {error!r}", file=sys.stderr)
    config = common.preset_config(preset)
    config["discriminator"]["vocabulary_size"] = 30522
    flops = common.step_flops(config, args.batch_size, args.sequence_length)
    step = timing["seconds_per_step"]
    loss = timing["last_logs"].get("loss")
    return {
        "preset": preset,
        "dtype": dtype,
        "batch_size": args.batch_size,
        "sequence_length": args.sequence_length,
        "steps_per_execution": per,
        "steps_timed": timing["steps"],
        "step_s": step,
        "tokens_per_s": args.batch_size * args.sequence_length / step,
        "dispatch_s": timing["dispatch_seconds_per_step"],
        "device_busy_s": busy,
        "flops_per_step": flops,
        "flops_per_s": flops / step,
        "float32_matmul": float32_matmul_mode(device["platform"]),
        "warmup_s": timing["warmup_seconds"],
        "last_loss": loss,
        "finite": loss is not None and bool(np.isfinite(loss)),
    }


def device_busy_per_step(model, batches, per, executions, device):
    """The device's busy seconds per step over one profiled epoch (after
    one unprofiled epoch), or None where no profiler can tell."""
    import keras

    backend = keras.config.backend()
    steps = per * executions
    if device["platform"] == "cpu" and backend != "jax":
        return None
    if backend == "jax":
        import jax

        folder = tempfile.mkdtemp(prefix="electra-trace-")
        start = lambda: jax.profiler.start_trace(folder)  # noqa: E731
        stop = jax.profiler.stop_trace
    elif backend == "torch":
        import torch

        profiler = torch.profiler.profile(
            activities=[torch.profiler.ProfilerActivity.CUDA]
        )
        start, stop = profiler.start, profiler.stop
    else:
        return None

    class Window(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                start()

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # the logs are numbers: the device is done
                stop()

    def cycle():
        while True:
            for batch in batches:
                yield (batch,)

    keras.Model.fit(
        model,
        cycle(),
        steps_per_epoch=steps,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[Window()],
    )
    if backend == "jax":
        busy = _jax_busy_seconds(folder)
        shutil.rmtree(folder, ignore_errors=True)
    else:
        busy = _torch_busy_seconds(profiler)
    return None if busy is None else busy / steps


def _jax_busy_seconds(folder):
    """The device's busy seconds in the trace under `folder`: the union of
    the events of a device plane's "XLA Modules" line (else its streams,
    else all its lines). None without a device plane (e.g. on a CPU)."""
    import glob

    import jax

    files = glob.glob(os.path.join(folder, "**", "*.xplane.pb"), recursive=True)
    if not files:
        return None
    data = jax.profiler.ProfileData.from_file(files[0])
    busiest = None
    for plane in data.planes:
        if not plane.name.startswith("/device:"):
            continue
        lines = list(plane.lines)
        chosen = [line for line in lines if line.name == "XLA Modules"] or [
            line for line in lines if line.name.startswith("Stream")
        ]
        intervals = [
            (event.start_ns * 1e-9, (event.start_ns + event.duration_ns) * 1e-9)
            for line in chosen or lines
            for event in line.events
            if event.duration_ns
        ]
        if intervals:
            busy = union_seconds(intervals)
            busiest = busy if busiest is None else max(busiest, busy)
    return busiest


def _torch_busy_seconds(profiler):
    """The union of the CUDA kernels' intervals in `profiler`'s events."""
    intervals = [
        (event.time_range.start * 1e-6, event.time_range.end * 1e-6)
        for event in profiler.events()
        if str(getattr(event, "device_type", "")).endswith("CUDA")
    ]
    return union_seconds(intervals) if intervals else None


def pretrain_worker(args):
    """Stage 2 in this backend's process: PRETRAIN line at the end."""
    device = device_info()
    _say("DEVICE", device)
    work = tempfile.mkdtemp(prefix="electra-accel-")
    try:
        corpus = corpus_files(args.data, work, args.corpus_bytes)
        vocabulary = os.path.join(args.data, VOCABULARY)
        use_job = args.input == "job" or (
            args.input == "auto" and _installed("tensorflow")
        )
        run = _run_job if use_job else _run_arrays
        result = run(args, corpus, vocabulary, work)
        result["device"] = device
        _say("PRETRAIN", result)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def corpus_files(data, work, limit=None):
    """The shared corpora, or copies of their first `limit` bytes (cut at
    a line's end) in `work`."""
    files = [os.path.join(data, name) for name in CORPORA]
    if not limit:
        return files
    cut = []
    for path in files:
        with open(path, "rb") as source:
            head = source.read(limit)
        head = head[: head.rfind(b"\n") + 1]
        target = os.path.join(work, "head-" + os.path.basename(path))
        with open(target, "wb") as out:
            out.write(head)
        cut.append(target)
    return cut


def _stop_at(deadline):
    """Send this process SIGINT at `deadline` (the job stops there as on
    Ctrl-C: at the end of the step, logged)."""
    timer = threading.Timer(
        max(0.0, deadline - time.time()),
        lambda: os.kill(os.getpid(), signal.SIGINT),
    )
    timer.daemon = True
    timer.start()
    return timer


def _run_job(args, corpus, vocabulary, work):
    """The real job: build-data, then `keras_electra.pretrain`."""
    import keras_electra

    shards = os.path.join(work, "shards")
    started = time.time()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_electra.cli",
            "build-data",
            "--corpus",
            *corpus,
            "--vocab",
            vocabulary,
            "--output",
            shards,
            "--sequence-length",
            str(args.sequence_length),
            "--num-shards",
            str(args.num_shards),
        ],
        check=True,
        stdout=sys.stderr,
    )
    build_seconds = time.time() - started
    output = os.path.join(work, "run")
    outcome = {}
    started = time.time()
    if time.time() < args.deadline:
        timer = _stop_at(args.deadline)
        try:
            outcome = keras_electra.pretrain(
                output,
                shards=shards,
                vocabulary=vocabulary,
                preset=args.pretrain_preset,
                batch_size=args.batch_size,
                steps=args.schedule_steps,
                checkpoint_every=args.schedule_steps,
                log_every=args.log_every,
                dtype=args.pretrain_dtype,
                verbose=1,
                stop_after=args.pretrain_steps,
            )
        except KeyboardInterrupt:  # the deadline came before training did
            outcome = {"interrupted": "deadline"}
        finally:
            timer.cancel()
    seconds = time.time() - started
    rows = _read_log(os.path.join(output, "log.csv"))
    return {
        "input": "job",
        "build_data_s": build_seconds,
        "train_s": seconds,
        "interrupted": outcome.get("interrupted"),
        "rows": rows,
        **_summary(args, rows),
    }


def _read_log(path):
    import csv

    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return [
            {k: _number(v) for k, v in row.items()} for row in csv.DictReader(f)
        ]


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return text


def _run_arrays(args, corpus, vocabulary, work):
    """Without tf.data: the job's examples and pretrainer, Keras' `fit`."""
    import keras
    import numpy as np

    from keras_electra.data.examples import FEATURES
    from keras_electra.data.examples import mixed_examples
    from keras_electra.models.electra_pretrainer import ElectraPretrainer
    from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer

    started = time.time()
    tokenizer = ElectraTokenizer(vocabulary=vocabulary)
    examples = list(
        mixed_examples(corpus, tokenizer, args.sequence_length, seed=0)
    )
    arrays = {
        name: np.stack([e[name] for e in examples]).astype("int32")
        for name in FEATURES
    }
    build_seconds = time.time() - started
    keras.utils.set_random_seed(0)
    pretrainer = ElectraPretrainer.from_preset(
        args.pretrain_preset,
        **tokenizer.pretrainer_token_ids(),
        seed=0,
        dtype=args.pretrain_dtype,
    )
    # As the job compiles a run of `schedule_steps` (its warm-up: the
    # preset's, at most a tenth of the run).
    pretrainer.num_train_steps = args.schedule_steps
    pretrainer.warmup_steps = min(
        pretrainer.warmup_steps, args.schedule_steps // 10
    )
    per = common.steps_per_execution(args.steps_per_execution)
    pretrainer.compile(
        warmup_steps=pretrainer.warmup_steps, steps_per_execution=per
    )
    count = len(examples)
    rng = np.random.default_rng(0)

    def batches():  # shuffled passes over the examples
        while True:
            order = rng.permutation(count)
            for start in range(0, count - args.batch_size + 1, args.batch_size):
                pick = order[start : start + args.batch_size]
                yield (
                    {
                        "token_ids": arrays["input_ids"][pick],
                        "segment_ids": arrays["segment_ids"][pick],
                        "padding_mask": arrays["input_mask"][pick],
                    },
                )

    rows, clock = [], {"start": time.time()}
    log_every = max(per, args.log_every // per * per)
    epochs = -(-args.pretrain_steps // log_every)

    class Log(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            step = (epoch + 1) * log_every
            row = {"step": step, "seconds": time.time() - clock["start"]}
            row.update({k: float(v) for k, v in (logs or {}).items()})
            rows.append(row)
            if step % (10 * log_every) == 0 or step >= args.pretrain_steps:
                print(f"step {step}: {row}", file=sys.stderr, flush=True)
            if time.time() >= args.deadline:
                self.model.stop_training = True

    keras.Model.fit(
        pretrainer,
        batches(),
        steps_per_epoch=log_every,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=[Log()],
    )
    return {
        "input": "arrays",
        "examples": count,
        "passes": rows[-1]["step"] * args.batch_size / count if rows else 0,
        "build_data_s": build_seconds,
        "train_s": time.time() - clock["start"],
        "interrupted": None,
        "rows": rows,
        **_summary(args, rows),
    }


def _summary(args, rows):
    """The last logged row and, where reached, the row at the target."""
    last = rows[-1] if rows else {}
    at = [r for r in rows if r.get("step") == args.pretrain_steps]
    rate = None
    if len(rows) >= 2:  # from the first logged row: compilation excluded
        steps = rows[-1]["step"] - rows[0]["step"]
        rate = (rows[-1]["seconds"] - rows[0]["seconds"]) / steps
    return {
        "last": last,
        "at_target": at[0] if at else None,
        "step_s": rate,
        "tokens_per_s": None
        if not rate
        else args.batch_size * args.sequence_length / rate,
    }


def _installed(name):
    return importlib.util.find_spec(name) is not None


# === Driver ===


def default_data():
    for folder in (
        os.path.join(ROOT, "..", "shared", "data"),
        os.path.join(ROOT, "shared", "data"),
    ):
        if os.path.exists(os.path.join(folder, VOCABULARY)):
            return os.path.abspath(folder)
    return None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, help="results folder")
    parser.add_argument(
        "--data",
        default=None,
        help="the shared data folder (default: ../shared/data beside the "
        "repository, else shared/data inside it)",
    )
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--presets", default="electra_small,electra_base")
    parser.add_argument("--dtypes", default="float32,mixed_bfloat16")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--steps-per-execution", type=int, default=20)
    parser.add_argument(
        "--epoch-steps",
        type=int,
        default=40,
        help="steps between two reads of the clock (stage 1)",
    )
    parser.add_argument(
        "--row-seconds",
        type=float,
        default=5.0,
        help="timed seconds per throughput row (at least one epoch)",
    )
    parser.add_argument("--budget-seconds", type=float, default=540.0)
    parser.add_argument(
        "--row-overhead",
        type=float,
        default=40.0,
        help="seconds a throughput row takes beyond its timing (build, "
        "compile, warm-up, profile): a row starts only if both fit",
    )
    parser.add_argument(
        "--later-seconds",
        type=float,
        default=80.0,
        help="seconds kept for the throughput of the backends after the "
        "first (measured after the pre-training run)",
    )
    parser.add_argument(
        "--grace-seconds",
        type=float,
        default=20.0,
        help="a worker still running this long after its deadline is "
        "killed (what it printed is kept)",
    )
    parser.add_argument(
        "--throughput-share",
        type=float,
        default=0.3,
        help="share of the budget for the first backend's throughput "
        "(unused time passes on)",
    )
    parser.add_argument("--pretrain-steps", type=int, default=5000)
    parser.add_argument("--pretrain-preset", default="electra_small")
    parser.add_argument("--pretrain-dtype", default="float32")
    parser.add_argument(
        "--pretrain-backend",
        default=None,
        help="stage 2's backend (default: the first of --backends installed)",
    )
    parser.add_argument(
        "--schedule-steps",
        type=int,
        default=1_000_000,
        help="the run length the learning-rate schedule is made for (the "
        "reference's 1M: at step 5,000 its warm-up is half done)",
    )
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--num-shards", type=int, default=16)
    parser.add_argument(
        "--corpus-bytes",
        type=int,
        default=None,
        help="use only the first bytes of each corpus",
    )
    parser.add_argument(
        "--input",
        choices=("auto", "job", "arrays"),
        default="auto",
        help="stage 2 through the real job (needs TensorFlow) or arrays "
        "(auto: the job where TensorFlow is installed)",
    )
    parser.add_argument(
        "--skip", default="", help="stages to skip: throughput,pretrain"
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--rows", help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    parser.add_argument(
        "--profile", action="store_true", help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.smoke:
        given = set(a.split("=")[0] for a in (argv or sys.argv[1:]))
        smoke = {
            "--presets": ("presets", "electra_tiny"),
            "--batch-size": ("batch_size", 8),
            "--sequence-length": ("sequence_length", 64),
            "--steps-per-execution": ("steps_per_execution", 2),
            "--epoch-steps": ("epoch_steps", 4),
            "--row-seconds": ("row_seconds", 1.0),
            "--row-overhead": ("row_overhead", 5.0),
            "--later-seconds": ("later_seconds", 50.0),
            "--budget-seconds": ("budget_seconds", 180.0),
            "--throughput-share": ("throughput_share", 0.3),
            "--pretrain-steps": ("pretrain_steps", 20),
            "--pretrain-preset": ("pretrain_preset", "electra_tiny"),
            "--log-every": ("log_every", 10),
            "--num-shards": ("num_shards", 1),
            "--corpus-bytes": ("corpus_bytes", 60_000),
        }
        for flag, (name, value) in smoke.items():
            if flag not in given:
                setattr(args, name, value)
    if args.quick:
        args.row_seconds = min(args.row_seconds, 3.0)
    return args


def _worker_command(args, worker, extra):
    command = [sys.executable, os.path.abspath(__file__), "--worker", worker]
    for name in (
        "out",
        "batch_size",
        "sequence_length",
        "steps_per_execution",
        "epoch_steps",
        "row_seconds",
        "row_overhead",
        "pretrain_steps",
        "pretrain_preset",
        "pretrain_dtype",
        "schedule_steps",
        "log_every",
        "num_shards",
        "input",
    ):
        command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if args.data:
        command += ["--data", args.data]
    if args.corpus_bytes:
        command += ["--corpus-bytes", str(args.corpus_bytes)]
    if args.quick:
        command.append("--quick")
    return command + extra


def _run_worker(args, backend, worker, extra, deadline, log):
    """Run a worker until `deadline` (+ a grace to stop cleanly); its
    tagged lines as (kind, payload) pairs."""
    env = dict(
        os.environ,
        KERAS_BACKEND=backend,
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONPATH=os.pathsep.join(
            filter(None, [ROOT, HERE, os.environ.get("PYTHONPATH")])
        ),
    )
    command = _worker_command(
        args, worker, extra + ["--deadline", str(deadline)]
    )
    timeout = max(5.0, deadline - time.time() + args.grace_seconds)
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout
        )
        stdout, stderr, note = done.stdout, done.stderr, done.returncode
    except subprocess.TimeoutExpired as expired:
        stdout, stderr = (_text(expired.stdout), _text(expired.stderr))
        note = "killed at the deadline"
    lines, other = [], []
    for line in stdout.splitlines():
        kind, _, payload = line.partition(" ")
        if kind in ("DEVICE", "MATMUL", "ROW", "SKIP", "PRETRAIN"):
            lines.append((kind, json.loads(payload)))
            print(f"[{backend}] {line[:300]}", flush=True)
        else:
            other.append(line)
    log.write(
        f"=== {worker} on {backend}: {note}\n--- stdout\n"
        + "\n".join(other)[-6000:]
        + f"\n--- stderr\n{stderr[-6000:]}\n"
    )
    log.flush()
    return lines


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value or ""


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        if args.worker == "throughput":
            return throughput_worker(args)
        return pretrain_worker(args)
    start = time.time()
    end = start + args.budget_seconds
    os.makedirs(args.out, exist_ok=True)
    args.data = args.data or default_data()
    skip = set(filter(None, args.skip.split(",")))
    backends = [b for b in args.backends.split(",") if _installed(b)]
    results = {
        "command": " ".join(sys.argv),
        "backends": backends,
        "device": None,
        "matmul": {},
        "throughput": [],
        "skipped": [],
        "pretrain": None,
        "reference_at_5000": REFERENCE_AT_5000,
    }
    rows = ",".join(
        f"{preset}:{dtype}"
        for preset in args.presets.split(",")
        for dtype in args.dtypes.split(",")
    )
    extra = ["--rows", rows] + ([] if args.quick else ["--profile"])
    measured = [] if "throughput" in skip else list(backends)
    pretrain = "pretrain" not in skip
    if pretrain and not args.data:
        raise SystemExit("No data folder found: pass --data.")
    # The order is the priority: the first backend's throughput (the
    # fastest on an accelerator, JAX, by default), the pre-training run,
    # then the other backends' throughput in what is left. Each stage ends
    # by its deadline; time a stage leaves unused passes on.
    margin = 10.0
    others = len(measured) - 1 if measured else 0
    reserve = args.later_seconds if pretrain and others else 0.0
    with open(os.path.join(args.out, "log.txt"), "w") as log:
        if measured:
            first_end = start + args.budget_seconds * args.throughput_share
            if not pretrain:  # the backends share the budget
                left = end - margin - time.time()
                first_end = time.time() + left / len(measured)
            lines = _run_worker(
                args, measured[0], "throughput", extra, first_end, log
            )
            _collect(results, measured[0], lines)
        if pretrain:
            backend = args.pretrain_backend or (backends or ["jax"])[0]
            lines = _run_worker(
                args, backend, "pretrain", [], end - margin - reserve, log
            )
            _collect(results, backend, lines)
        for index, backend in enumerate(measured[1:]):
            left = end - margin - time.time()
            deadline = time.time() + left / (others - index)
            lines = _run_worker(
                args, backend, "throughput", extra, deadline, log
            )
            _collect(results, backend, lines)
    results["seconds"] = time.time() - start
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    text = report(results, args)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(text)
    print(text)


def _collect(results, backend, lines):
    for kind, payload in lines:
        if kind == "DEVICE":
            results["device"] = results["device"] or payload
        elif kind == "MATMUL":
            results["matmul"][backend] = payload
        elif kind == "ROW":
            results["throughput"].append(payload)
        elif kind == "SKIP":
            results["skipped"].append(dict(payload, backend=backend))
        elif kind == "PRETRAIN":
            results["pretrain"] = dict(payload, backend=backend)


# === Report ===


def _f(value, spec, scale=1.0, empty="n/a"):
    return empty if value is None else format(value * scale, spec)


def report(results, args):
    """The markdown of `results`."""
    device = results["device"] or {}
    peaks = chip_peaks(device.get("name"))
    out = [
        "# Accelerator benchmark",
        "",
        f"Device: {device.get('name', '?')} ({device.get('platform', '?')}, "
        f"{device.get('count', '?')} visible); backends: "
        f"{', '.join(results['backends'])}; {results['seconds']:.0f} s in "
        "all.",
    ]
    if peaks:
        out.append(
            f"Peaks of the {peaks['chip']} (dense TFLOP/s): float32 "
            f"{_f(peaks['float32'], '.1f', 1e-12)}, TF32 "
            f"{_f(peaks['tf32'], '.1f', 1e-12)}, bfloat16 "
            f"{_f(peaks['bfloat16'], '.1f', 1e-12)}."
        )
    for backend, probe in results["matmul"].items():
        out.append(
            f"{backend}'s own {probe['size']}x{probe['size']} matmul: "
            f"float32 {_f(probe.get('float32'), '.1f', 1e-12)} TFLOP/s, "
            f"bfloat16 {_f(probe.get('bfloat16'), '.1f', 1e-12)} TFLOP/s."
        )
    out += [
        "",
        "## Throughput",
        "",
        f"Batch {args.batch_size} x {args.sequence_length}; steps per "
        "execution as shown; dispatch = the host's time to hand a step to "
        "the backend; busy = the device's profiled busy time per step.",
        "",
        "| backend | preset | dtype | tokens/s | step ms | dispatch ms | "
        "busy ms | TFLOP/s | MFU | against |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in results["throughput"]:
        if "error" in row:
            out.append(
                f"| {row['backend']} | {row['preset']} | {row['dtype']} | "
                f"failed: {row['error'][:120]} |||||||"
            )
            continue
        peak, against = row_peak(row, device)
        mfu = None if not peak else row["flops_per_s"] / peak
        out.append(
            f"| {row['backend']} | {row['preset']} | {row['dtype']} | "
            f"{row['tokens_per_s']:,.0f} | {row['step_s'] * 1e3:.1f} | "
            f"{_f(row['dispatch_s'], '.1f', 1e3)} | "
            f"{_f(row['device_busy_s'], '.1f', 1e3)} | "
            f"{row['flops_per_s'] / 1e12:.2f} | {_f(mfu, '.1%')} | "
            f"{against} |"
        )
    for skipped in results["skipped"]:
        out.append(
            f"\nNot measured (budget): {skipped['backend']} "
            f"{skipped['preset']} {skipped['dtype']}."
        )
    out += ["", "## Pre-training run", ""]
    run = results["pretrain"]
    if not run:
        out.append("Not run (skipped, or it failed: see log.txt).")
        return "\n".join(out) + "\n"
    last = run.get("last") or {}
    at = run.get("at_target")
    shown = at or last
    how = (
        "the job (`keras-electra build-data`, then `keras_electra.pretrain`)"
        if run["input"] == "job"
        else "the job's examples and pretrainer through Keras' `fit` "
        "(no TensorFlow here for the job's tf.data input)"
    )
    out += [
        f"{args.pretrain_preset}, batch {args.batch_size} x "
        f"{args.sequence_length}, {run['backend']}, "
        f"{args.pretrain_dtype}, via {how}; schedule of a "
        f"{args.schedule_steps:,}-step run; data built in "
        f"{run['build_data_s']:.0f} s; "
        f"{_f(run.get('tokens_per_s'), ',.0f')} tokens/s "
        f"({_f(run.get('step_s'), '.1f', 1e3)} ms a step) over the logged "
        "rows.",
        "",
        f"| metric (window of {args.log_every} steps) | ours at step "
        f"{shown.get('step', 0):,.0f} | reference at 5,000 (issue 81) |",
        "|---|---:|---:|",
    ]
    for name, reference in REFERENCE_AT_5000.items():
        out.append(
            f"| {name} ({REFERENCE_NAMES[name]}) | "
            f"{_f(shown.get(name), '.4f')} | {reference} |"
        )
    for name in ("replaced_fraction", "discriminator_prior_loss"):
        if name in shown:
            out.append(f"| {name} | {shown[name]:.4f} | |")
    if not at:
        out.append(
            f"\nThe run stopped at step {last.get('step', 0):,.0f} of "
            f"{args.pretrain_steps:,} (the budget)."
        )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
