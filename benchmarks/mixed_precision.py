"""Mixed precision side by side: float32, mixed_bfloat16, mixed_float16.

For each backend (each in its own process) and policy, a pretrainer of a
built-in size trains joint steps on Zipf-distributed token ids (a stand-in
for text: losses fall as the generator learns the unigram distribution).
Printed per row: the towers' compute dtype, the mean loss of the first and
last epochs, the steady-state step time and tokens per second, and for
float16 the final dynamic loss scale. Made for a GPU; runs anywhere:

    python benchmarks/mixed_precision.py --size small --batch-size 128
    python benchmarks/mixed_precision.py --size tiny --steps 6 \
        --batch-size 4 --steps-per-execution 2  # CPU smoke

The steps run in one Keras `fit` call with `--steps-per-execution` steps
per host call (PyTorch: 1, the only value its trainer takes), in epochs of
`--steps-per-execution` steps: the first epoch (compilation) is not timed,
then at least `--steps` steps are. Keras reads the losses only at an
epoch's end, so the host never waits for the device between the steps of
an epoch (an earlier version called `train_on_batch` and read the loss
after every step, which timed host and device one after the other). The
batches are made before the clock starts, so the host's random numbers
are not timed.

Needs no TensorFlow nor grain: the batches go to Keras' own `fit` as a
Python generator, not through keras-hub's dataset conversion.
"""

import argparse
import json
import os
import subprocess
import sys

import pretrain_throughput as common

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def zipf_batches(count, batch_size, sequence_length, seed=0):
    """`count` batches of Zipf-distributed ids 1000-29999 ([CLS] ... [SEP])."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ranks = np.arange(1, 29000, dtype="float64")
    p = 1.0 / ranks
    p /= p.sum()
    shape = (batch_size, sequence_length)
    batches = []
    for _ in range(count):
        ids = 1000 + rng.choice(len(ranks), size=shape, p=p)
        ids[:, 0], ids[:, -1] = 101, 102
        batches.append(
            {
                "token_ids": ids.astype("int32"),
                "segment_ids": np.zeros(shape, "int32"),
                "padding_mask": np.ones(shape, "int32"),
            }
        )
    return batches


def run_one(args):
    import keras
    import numpy as np

    import keras_electra

    pretrainer = keras_electra.ElectraPretrainer.from_preset(
        f"electra_{args.size}",
        dtype=args.policy,
        vocabulary_size=30522,
        seed=0,
    )
    per = common.steps_per_execution(args.steps_per_execution)
    pretrainer.compile(
        num_train_steps=args.steps * 10,
        warmup_steps=2,
        steps_per_execution=per,
    )
    batches = zipf_batches(
        args.distinct_batches, args.batch_size, args.sequence_length
    )
    executions = max(1, args.steps_per_execution // per)
    timing = common.fit_timing(
        pretrainer,
        batches,
        per,
        per * executions,
        args.steps,
        executions_per_epoch=executions,
    )
    losses = [timing["first_logs"]["loss"], timing["last_logs"]["loss"]]
    optimizer = pretrainer.optimizer
    scale = getattr(optimizer, "dynamic_scale", None)
    embeddings = pretrainer.backbone.token_embedding.embeddings
    step = timing["seconds_per_step"]
    return {
        "backend": keras.config.backend(),
        "policy": args.policy,
        "compute": pretrainer.discriminator.backbone.compute_dtype,
        "weights": embeddings.dtype,
        "first_loss": losses[0],
        "last_loss": losses[1],
        "finite": bool(np.all(np.isfinite(losses))),
        "step_s": step,
        "steps_timed": timing["steps"],
        "steps_per_execution": per,
        "tokens_per_s": args.batch_size * args.sequence_length / step,
        "loss_scale": None
        if scale is None
        else float(keras.ops.convert_to_numpy(scale)),
        "device": _device(),
    }


def _device():
    import keras

    if keras.config.backend() == "jax":
        import jax

        return str(jax.devices()[0].device_kind)
    if keras.config.backend() == "torch":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    return "cpu"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--steps", type=int, default=40, help="timed steps")
    parser.add_argument("--steps-per-execution", type=int, default=10)
    parser.add_argument("--distinct-batches", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--backends", default="jax,torch")
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--policy", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.policy:  # one measurement, in a process of its own
        print(json.dumps(run_one(args)))
        return
    rows = []
    for backend in args.backends.split(","):
        for policy in args.policies.split(","):
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--size",
                    args.size,
                    "--steps",
                    str(args.steps),
                    "--steps-per-execution",
                    str(args.steps_per_execution),
                    "--distinct-batches",
                    str(args.distinct_batches),
                    "--batch-size",
                    str(args.batch_size),
                    "--sequence-length",
                    str(args.sequence_length),
                    "--policy",
                    policy,
                ],
                capture_output=True,
                text=True,
                env={
                    **os.environ,
                    "KERAS_BACKEND": backend,
                    "TF_CPP_MIN_LOG_LEVEL": "3",
                    "PYTHONPATH": os.pathsep.join(
                        filter(
                            None, [common.ROOT, os.environ.get("PYTHONPATH")]
                        )
                    ),
                },
            )
            if done.returncode:
                print(f"{backend} {policy} failed:\n{done.stderr[-2000:]}")
                continue
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    print(
        f"\nelectra_{args.size}, batch {args.batch_size} x "
        f"{args.sequence_length}, {args.steps} timed steps, "
        f"{args.steps_per_execution} per execution "
        f"({rows[0]['device'] if rows else '?'})"
    )
    print(
        "| backend | policy | compute | loss first -> last epoch | step (s) "
        "| tokens/s | loss scale |"
    )
    print("| --- | --- | --- | --- | ---: | ---: | ---: |")
    for r in rows:
        scale = "" if r["loss_scale"] is None else f"{r['loss_scale']:g}"
        print(
            f"| {r['backend']} | {r['policy']} | {r['compute']} | "
            f"{r['first_loss']:.2f} -> {r['last_loss']:.2f}"
            f"{'' if r['finite'] else ' (NaN)'} | {r['step_s']:.4f} | "
            f"{r['tokens_per_s']:,.0f} | {scale} |"
        )


if __name__ == "__main__":
    main()
