"""Joint pre-training step throughput: keras-electra on each backend vs the
usual Hugging Face transformers joint step, in one run, one table.

    python benchmarks/pretrain_throughput.py --preset electra_small \
        --batch-size 8 --sequence-length 128 --steps 8

Each measurement runs in its own process (a Keras backend is fixed at
import). Our side runs in one `fit` call, compiled with
`--steps-per-execution` steps per host call (PyTorch: 1, the only value
Keras' PyTorch trainer takes), in epochs of that many steps: the epochs
holding the first `--warmup` steps (compilation included) are not timed,
then `--steps` steps (rounded up to whole epochs) are, from the end of the
last warm-up epoch to the end of the last epoch (`fit_timing`). Keras
reads the logs only at epoch ends, so nothing waits for the device
between the steps of an epoch (no per-step host sync). The reference runs
its hand-written loop.

FLOPs are counted analytically, the same count for both sides (the useful
work of ELECTRA's step): per tower and layer, 2*B*L*(4*H^2 + 2*H*F) for the
projections and feed-forward, plus 4*B*L^2*H for attention scores and
values; the embedding projection 2*B*L*E*H; the discriminator head
2*B*L*H^2; the generator head only at the P = int((rate + 0.005) * L) masked
positions, 2*B*P*(Hg*E + E*V). A training step counts 3x the forward
FLOPs.

MFU is printed against two float32 peaks, measured by `_peak.py` (a
2048x2048 matmul, each in its own process) before and after the sides
(the higher of the two is kept: a peak is a ceiling, which the cores'
other users only lower): the side's own backend's matmul ("MFU own";
PyTorch's for the transformers reference) and numpy's with OpenBLAS's
core pinning removed for that one measurement ("MFU numpy"; the
machine's float32 matmul ceiling).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def hf_config(c, **extra):
    """transformers' `ElectraConfig` of one of our backbone configs (a
    tower of `preset_config`, or a preset's config.json), plus `extra`."""
    from transformers import ElectraConfig

    return ElectraConfig(
        vocab_size=c["vocabulary_size"],
        embedding_size=c["embedding_dim"],
        hidden_size=c["hidden_dim"],
        num_hidden_layers=c["num_layers"],
        num_attention_heads=c["num_heads"],
        intermediate_size=c["intermediate_dim"],
        max_position_embeddings=c["max_sequence_length"],
        **extra,
    )


def tower_flops(batch, length, layers, hidden, ffn, embedding):
    per_layer = 2 * batch * length * (4 * hidden * hidden + 2 * hidden * ffn)
    attention = 4 * batch * length * length * hidden
    projection = (
        2 * batch * length * embedding * hidden if embedding != hidden else 0
    )
    return layers * (per_layer + attention) + projection


def step_flops(config, batch, length):
    disc, gen = config["discriminator"], config["generator"]
    vocab, emb = disc["vocabulary_size"], disc["embedding_dim"]
    slots = int((config["mask_rate"] + 0.005) * length)
    forward = tower_flops(
        batch,
        length,
        disc["num_layers"],
        disc["hidden_dim"],
        disc["intermediate_dim"],
        emb,
    )
    forward += tower_flops(
        batch,
        length,
        gen["num_layers"],
        gen["hidden_dim"],
        gen["intermediate_dim"],
        emb,
    )
    forward += 2 * batch * length * disc["hidden_dim"] ** 2
    forward += 2 * batch * slots * (gen["hidden_dim"] * emb + emb * vocab)
    return 3 * forward


def preset_config(preset):
    sys.path.insert(0, ROOT)
    from keras_electra.utils import preset_utils

    path = preset_utils.resolve_preset(preset)
    task = preset_utils.load_json(path, preset_utils.TASK_CONFIG_FILE)["config"]
    return {
        "discriminator": task["discriminator"]["config"]["backbone"]["config"],
        "generator": task["generator"]["config"]["backbone"]["config"],
        "mask_rate": task["mask_rate"],
    }


def matmul_peaks(sides):
    """Float32 matmul FLOP/s of each side's own backend (PyTorch's for
    `"transformers"`) and of `"numpy"` with OpenBLAS unpinned, keyed by
    backend (see `_peak.py`)."""
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    import _peak

    backends = sorted({own_backend(side) for side in sides})
    measured = _peak.measure_peaks(["numpy_unpinned"] + backends)
    peaks = {"numpy": measured.pop("numpy_unpinned")}
    peaks.update(measured)
    return peaks


def best_peaks(first, second):
    """Per source, the higher of two measurements of `matmul_peaks` (a
    peak is a ceiling: the cores' other users only lower it)."""
    return {
        name: max(filter(None, [rate, second.get(name)]), default=None)
        for name, rate in first.items()
    }


def own_backend(side):
    """The backend whose matmul bounds `side` ("transformers": PyTorch)."""
    return "torch" if side == "transformers" else side


def describe_peaks(peaks):
    """`numpy 407, jax 350, ...` in GFLOP/s ("n/a" where not measured;
    numpy's measured with OpenBLAS's pinning removed)."""
    return ", ".join(
        f"{name} {'n/a' if rate is None else f'{rate / 1e9:.0f}'}"
        for name, rate in peaks.items()
    )


# --- workers (run in a subprocess) -------------------------------------------


def run_ours(args):
    import numpy as np

    import keras_electra

    if args.dtype != "float32":
        import keras

        keras.config.set_dtype_policy(args.dtype)
    pretrainer = keras_electra.ElectraPretrainer.from_preset(args.preset)
    per = steps_per_execution(args.steps_per_execution)
    pretrainer.compile(num_train_steps=10_000, steps_per_execution=per)
    timing = fit_timing(
        pretrainer,
        [_batch(args, np)],
        per,
        args.warmup,
        args.steps,
        executions_per_epoch=max(1, args.steps_per_execution // per),
    )
    return timing["seconds_per_step"]


def steps_per_execution(wanted):
    """`wanted`, or 1 on PyTorch (Keras' PyTorch trainer runs one step per
    call: it accepts no other value)."""
    import keras

    return 1 if keras.config.backend() == "torch" else max(1, int(wanted))


def fit_timing(
    model,
    batches,
    per_execution,
    warmup,
    steps=None,
    seconds=None,
    executions_per_epoch=1,
    callbacks=(),
):
    """Steady-state seconds per step of `model.fit`, with no per-step sync.

    One `fit` call runs epochs of `executions_per_epoch` executions of
    `per_execution` steps (the value the model was compiled with) over
    `batches`, cycled. The first epochs, holding at least `warmup` steps
    (compilation included), are not timed; then epochs are timed until
    `steps` steps or `seconds` have passed. The clock is read at each
    epoch's end, after Keras has turned the epoch's logs into numbers,
    which waits for the device; no callback acts after a batch, so Keras
    does not wait for the device between the steps of an epoch. It is also
    read as each execution is handed to the backend: how long the host
    took to dispatch the epoch's steps (the host's share of the step when
    it is close to the wall time, a lower bound otherwise).

    Args:
        model: a compiled Keras model.
        batches: a list of batches: inputs (e.g. dicts of arrays), or
            `(x, y)` tuples.
        per_execution: the model's `steps_per_execution`.
        warmup: untimed steps, rounded up to whole epochs.
        steps: timed steps, rounded up to whole epochs (or None).
        seconds: time at least this long instead (or as well: whichever
            ends later).
        executions_per_epoch: executions between two reads of the clock.
        callbacks: more Keras callbacks (e.g. a profiler's).

    Returns:
        A dict: `seconds_per_step` (wall time per timed step),
        `dispatch_seconds_per_step` (None with one execution per epoch),
        `steps` (timed), `warmup_seconds`, `first_logs` and `last_logs`
        (the first and last epochs' metrics: means over each epoch).

    Example:

    ```python
    model.compile(steps_per_execution=4, ...)
    timing = fit_timing(model, [batch], 4, warmup=4, steps=8)
    print(timing["seconds_per_step"])
    ```
    """
    import keras

    epoch_steps = per_execution * executions_per_epoch
    warm_epochs = max(1, -(-warmup // epoch_steps))
    timed_epochs = max(1, -(-(steps or 1) // epoch_steps))
    ends, dispatched, logs_seen = [], [], []

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            ends.append(time.perf_counter())

        def on_epoch_begin(self, epoch, logs=None):
            dispatched.append([])  # the executions' hand-off times

        def on_train_batch_begin(self, batch, logs=None):
            dispatched[-1].append(time.perf_counter())

        def on_epoch_end(self, epoch, logs=None):
            # Keras turned `logs` into numbers: the device has finished.
            ends.append(time.perf_counter())
            logs_seen.append(dict(logs or {}))
            timed = len(ends) - 1 - warm_epochs
            long_enough = seconds is None or (
                timed > 0 and ends[-1] - ends[warm_epochs] >= seconds
            )
            if timed >= timed_epochs and long_enough:
                self.model.stop_training = True

    def cycle():
        while True:
            for batch in batches:
                yield batch if isinstance(batch, tuple) else (batch,)

    # Keras' own `fit`: keras-hub's `Task.fit` would first turn the
    # generator into a grain or tf.data dataset (it needs one of them; a
    # GPU machine may have neither), and the batches need no preprocessing.
    keras.Model.fit(
        model,
        cycle(),
        steps_per_epoch=epoch_steps,
        epochs=10**9,
        shuffle=False,
        verbose=0,
        callbacks=[Clock(), *callbacks],
    )
    timed = len(ends) - 1 - warm_epochs
    wall = ends[-1] - ends[warm_epochs]
    dispatch = None
    if executions_per_epoch > 1:
        # From the first execution's hand-off to the last's covers all
        # but one execution's dispatch: scaled to all of them.
        dispatch = sum(
            (stamps[-1] - stamps[0]) * len(stamps) / (len(stamps) - 1)
            for stamps in dispatched[warm_epochs:]
        ) / (timed * epoch_steps)
    return {
        "seconds_per_step": wall / (timed * epoch_steps),
        "dispatch_seconds_per_step": dispatch,
        "steps": timed * epoch_steps,
        "warmup_seconds": ends[warm_epochs] - ends[0],
        "first_logs": logs_seen[0],
        "last_logs": logs_seen[-1],
    }


def run_transformers(args):
    import numpy as np
    import torch
    from transformers import ElectraForMaskedLM
    from transformers import ElectraForPreTraining

    config = preset_config(args.preset)
    d, g = config["discriminator"], config["generator"]

    generator = ElectraForMaskedLM(hf_config(g))
    discriminator = ElectraForPreTraining(hf_config(d))
    generator.electra.embeddings = discriminator.electra.embeddings
    generator.generator_lm_head.weight = (
        discriminator.electra.embeddings.word_embeddings.weight
    )
    params = {
        id(p): p for m in (generator, discriminator) for p in m.parameters()
    }
    optimizer = torch.optim.AdamW(list(params.values()), lr=5e-4)
    batch = {
        k: torch.from_numpy(v.astype("int64"))
        for k, v in _batch(args, np).items()
    }
    ids, mask = batch["token_ids"], batch["padding_mask"]

    def step():
        # The usual hand-written step: random 15% masking, MLM logits at
        # every position, multinomial sampling, loss = mlm + 50 * rtd.
        chosen = (torch.rand(ids.shape) < 0.15) & mask.bool()
        labels = torch.where(chosen, ids, torch.full_like(ids, -100))
        masked = torch.where(chosen, torch.full_like(ids, 103), ids)
        out = generator(
            input_ids=masked,
            attention_mask=mask,
            token_type_ids=batch["segment_ids"],
            labels=labels,
        )
        with torch.no_grad():
            probs = torch.softmax(out.logits[chosen], -1)
            sampled = torch.multinomial(probs, 1).squeeze(-1)
        corrupted = ids.clone()
        corrupted[chosen] = sampled
        rtd_labels = (corrupted != ids).float()
        disc = discriminator(
            input_ids=corrupted,
            attention_mask=mask,
            token_type_ids=batch["segment_ids"],
            labels=rtd_labels,
        )
        loss = out.loss + 50.0 * disc.loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(args.warmup):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / args.steps


def _batch(args, np):
    rng = np.random.default_rng(0)
    vocab = preset_config(args.preset)["discriminator"]["vocabulary_size"]
    ids = rng.integers(1000, vocab, (args.batch_size, args.sequence_length))
    ids[:, 0], ids[:, -1] = 101, 102
    return {
        "token_ids": ids.astype("int32"),
        "segment_ids": np.zeros_like(ids, dtype="int32"),
        "padding_mask": np.ones_like(ids, dtype="int32"),
    }


def worker(args, ours=None, reference=None):
    """Time one side in this (sub)process and print its RESULT line."""
    ours, reference = ours or run_ours, reference or run_transformers
    seconds = reference(args) if args.worker == "transformers" else ours(args)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps({"seconds": seconds, "rss_mb": rss_mb}))


# === Driver ===


def measure(name, args, script=__file__):
    """Run `script --worker name` in a fresh process; its RESULT line."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    if name != "transformers":
        env["KERAS_BACKEND"] = name
    command = [
        sys.executable,
        script,
        "--worker",
        name,
        "--preset",
        args.preset,
        "--batch-size",
        str(args.batch_size),
        "--sequence-length",
        str(args.sequence_length),
        "--steps",
        str(args.steps),
        "--warmup",
        str(args.warmup),
        "--steps-per-execution",
        str(args.steps_per_execution),
        "--dtype",
        args.dtype,
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    print(f"{name} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="electra_small")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--steps-per-execution",
        type=int,
        default=4,
        help="our side's steps per host call (1 on PyTorch, which "
        "accepts no other value)",
    )
    parser.add_argument("--backends", default="jax,tensorflow,torch")
    parser.add_argument(
        "--dtype",
        default="float32",
        help="Keras dtype policy of our side, e.g. "
        "mixed_bfloat16 (the reference stays float32)",
    )
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="instead: tokens/s and memory of the first "
        "backend and the reference over --shapes",
    )
    parser.add_argument(
        "--shapes",
        default="8x128,16x128,4x256,8x256,2x512,4x512",
        help="batch x length pairs for --scaling",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.scaling:
        return scaling(args, step_flops, measure)

    flops = step_flops(
        preset_config(args.preset), args.batch_size, args.sequence_length
    )
    sides = ["transformers"] + args.backends.split(",")
    peaks = matmul_peaks(sides)
    tokens = args.batch_size * args.sequence_length
    print(
        f"{args.preset}, batch {args.batch_size} x {args.sequence_length}, "
        f"{args.steps} timed steps, ours in {args.dtype} with "
        f"{args.steps_per_execution} steps per execution; "
        f"{flops / 1e9:.1f} GFLOP per step; float32 2048x2048 matmul peaks "
        f"(GFLOP/s): {describe_peaks(peaks)}"
    )
    rows = {name: measure(name, args) for name in sides}
    peaks = best_peaks(peaks, matmul_peaks(sides))
    print(
        "peaks again after the rows; the higher of each: "
        f"{describe_peaks(peaks)}"
    )
    print_comparison(rows, flops, peaks, tokens, "s/step")


def print_comparison(rows, flops, peaks, tokens, unit):
    """The table of one run: each side against the transformers reference,
    MFU against its own backend's matmul peak and numpy's."""
    reference = rows.get("transformers")
    print(
        f"{'side':14s} {unit:>8s} {'tokens/s':>9s} {'vs HF':>6s} "
        f"{'GFLOP/s':>8s} {'MFU own':>8s} {'MFU numpy':>9s} "
        f"{'peak RSS MB':>11s}"
    )
    for name, row in rows.items():
        if row is None:
            print(f"{name:14s} failed")
            continue
        ratio = (
            reference["seconds"] / row["seconds"] if reference else float("nan")
        )
        achieved = flops / row["seconds"]
        print(
            f"{name:14s} {row['seconds']:8.3f} {tokens / row['seconds']:9.0f} "
            f"{ratio:6.2f} {achieved / 1e9:8.1f} "
            f"{_share(achieved, peaks.get(own_backend(name))):>8s} "
            f"{_share(achieved, peaks.get('numpy')):>9s} "
            f"{row['rss_mb']:11.0f}"
        )


def _share(achieved, peak):
    return "n/a" if not peak else f"{achieved / peak:.1%}"


def scaling(args, flops_fn, measure_fn):
    """One row per (batch, length): tokens/s, GFLOP/s and peak memory."""
    import copy

    backend = args.backends.split(",")[0]
    peaks = matmul_peaks([backend, "transformers"])
    print(
        f"{args.preset}: {backend} vs transformers; float32 2048x2048 "
        f"matmul peaks (GFLOP/s): {describe_peaks(peaks)}"
    )
    print(
        f"{'batch x length':>14s} {'side':>12s} {'s/step':>8s} "
        f"{'tokens/s':>9s} {'GFLOP/s':>8s} {'MFU own':>8s} "
        f"{'MFU numpy':>9s} {'peak RSS MB':>11s}"
    )
    for shape in args.shapes.split(","):
        batch, length = (int(v) for v in shape.split("x"))
        run = copy.copy(args)
        run.batch_size, run.sequence_length = batch, length
        flops = flops_fn(preset_config(args.preset), batch, length)
        for name in (backend, "transformers"):
            row = measure_fn(name, run)
            if row is None:
                print(f"{shape:>14s} {name:>12s} failed")
                continue
            achieved = flops / row["seconds"]
            print(
                f"{shape:>14s} {name:>12s} {row['seconds']:8.3f} "
                f"{batch * length / row['seconds']:9.0f} "
                f"{achieved / 1e9:8.1f} "
                f"{_share(achieved, peaks.get(own_backend(name))):>8s} "
                f"{_share(achieved, peaks.get('numpy')):>9s} "
                f"{row['rss_mb']:11.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
