"""What the pre-training job costs over a bare `fit`, at a small device
step (issue 26): its callbacks, logs, checkpoints and interrupt handling.

    KERAS_BACKEND=jax python benchmarks/job_overhead.py
    KERAS_BACKEND=jax python benchmarks/job_overhead.py --steps 1000

Rows, all on the same model (`electra_tiny` by default, batch 2 x 16, the
size where the host's work per step shows most) and the same shards (built
once from the shared news corpus with BERT's vocabulary):

- bare fit: `ElectraPretrainer.fit` on `shard_dataset`, no callbacks,
  with the job's steps per call (`--per-call`, default 100);
- job, rows every 100 steps: `keras-electra pretrain --log-every 100`,
  so that it runs as many steps per call as the bare fit (checkpoints
  every 1,000 steps, written in the background);
- job, defaults: `keras-electra pretrain` as users run it (rows every 10
  steps, so 10 steps per call);
- job, 1 step per call, checkpoints in the foreground: the job as it ran
  before issue 26 (one host round trip per step; checkpoint every 100
  steps, as the old default was).

Each job row runs in its own process; its speed is read from its own
`log.csv` (the `seconds` column) between the first row and the last, so
the set-up and the first compilation are left out, and a checkpoint
written in between is counted. The bare fit is timed the same way,
between the ends of its first call and its last (a callback reads the
clock there).
Printed: milliseconds per step, steps per second and the ratio to the
bare fit (the issue asks for >= 0.9 on JAX).
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
VOCAB = os.path.join(SHARED, "vocab", "bert_uncased_vocab.txt")
NEWS = os.path.join(SHARED, "corpus", "news.txt")


def build(shards, length):
    from keras_electra.data import build_shards

    if not os.path.isdir(shards) or not os.listdir(shards):
        build_shards(
            NEWS,
            shards,
            VOCAB,
            sequence_length=length,
            num_shards=4,
            verbose=False,
        )


def bare_fit(args):
    """Seconds per step of `fit` alone, after its first call compiled."""
    import keras

    import keras_electra
    from keras_electra.data import shard_dataset

    tokenizer = keras_electra.ElectraTokenizer(vocabulary=VOCAB)
    pretrainer = keras_electra.ElectraPretrainer.from_preset(
        args.preset,
        vocabulary_size=tokenizer.vocabulary_size(),
        **tokenizer.pretrainer_token_ids(),
    )
    pretrainer.compile(num_train_steps=10 * args.steps, warmup_steps=0)
    if keras.config.backend() != "torch":
        pretrainer.steps_per_execution = args.per_call
    data = shard_dataset(args.shards, args.batch)
    # The clock at each call's end (one read of the device per call, as
    # the job's rows), from the first call's end to the last's.
    ends = []
    clock = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: ends.append(time.perf_counter())
    )
    steps = args.steps + args.per_call
    pretrainer.fit(data, steps_per_epoch=steps, verbose=0, callbacks=[clock])
    return (ends[-1] - ends[0]) / (steps - args.per_call * len(ends[:1]))


def job(args, folder, extra):
    """Seconds per step of the job, from its log between its first row
    and its last."""
    command = [
        sys.executable,
        "-m",
        "keras_electra.cli",
        "pretrain",
        "--backend",
        os.environ.get("KERAS_BACKEND", "jax"),
        "--preset",
        args.preset,
        "--shards",
        args.shards,
        "--vocab",
        VOCAB,
        "--batch-size",
        str(args.batch),
        "--sequence-length",
        str(args.length),
        "--steps",
        str(args.steps + args.per_call),
        "--output",
        folder,
        *extra,
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    with open(os.path.join(folder, "log.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    first, last = rows[0], rows[-1]
    steps = float(last["step"]) - float(first["step"])
    return (float(last["seconds"]) - float(first["seconds"])) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="electra_tiny")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--length", type=int, default=16)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--per-call", type=int, default=100)
    parser.add_argument(
        "--shards",
        default=os.path.join(tempfile.gettempdir(), "ke_job_overhead_shards"),
    )
    args = parser.parse_args()
    if args.steps % args.per_call or 1000 % args.per_call:
        raise SystemExit(
            "--steps and 1,000 (the checkpoints) must be multiples of "
            "--per-call (the job's rows)"
        )
    build(args.shards, args.length)
    import keras

    backend = keras.config.backend()
    print(
        f"{args.preset}, batch {args.batch} x {args.length}, {args.steps} "
        f"timed steps, backend {backend}"
    )
    rows = [("bare fit", bare_fit(args))]
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(
            (
                f"job, rows every {args.per_call} steps",
                job(
                    args,
                    os.path.join(tmp, "rows"),
                    ["--log-every", str(args.per_call)],
                ),
            )
        )
        rows.append(("job, defaults", job(args, os.path.join(tmp, "job"), [])))
        before = [
            "--steps-per-execution",
            "1",
            "--foreground-checkpoints",
            "--checkpoint-every",
            "100",
        ]
        rows.append(
            (
                "job, 1 step per call, foreground checkpoints",
                job(args, os.path.join(tmp, "old"), before),
            )
        )
    bare = rows[0][1]
    print(f"{'':46} {'ms/step':>8} {'steps/s':>8} {'x bare':>7}")
    for name, seconds in rows:
        print(
            f"{name:46} {1000 * seconds:8.2f} {1 / seconds:8.1f} "
            f"{bare / seconds:7.2f}"
        )


if __name__ == "__main__":
    main()
