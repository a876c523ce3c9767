"""Mixed precision side by side: float32, mixed_bfloat16, mixed_float16.

For each backend (each in its own process) and policy, a pretrainer of a
built-in size trains a few dozen joint steps on Zipf-distributed token ids
(a stand-in for text: losses fall as the generator learns the unigram
distribution). Printed per row: the towers' compute dtype, the first and
last losses, the median step time and tokens per second, and for float16
the final dynamic loss scale. Made for a GPU; runs anywhere:

    python benchmarks/mixed_precision.py --size small --batch-size 128
    python benchmarks/mixed_precision.py --size tiny --steps 6  # CPU smoke

Needs no TensorFlow (arrays, not tf.data).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


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
    pretrainer.compile(num_train_steps=args.steps * 10, warmup_steps=2)
    rng = np.random.default_rng(0)
    ranks = np.arange(1, 29000, dtype="float64")  # ids 1000-29999
    p = 1.0 / ranks
    p /= p.sum()
    shape = (args.batch_size, args.sequence_length)
    times, losses = [], []
    for _ in range(args.steps):
        ids = 1000 + rng.choice(len(ranks), size=shape, p=p)
        ids[:, 0], ids[:, -1] = 101, 102
        batch = {
            "token_ids": ids.astype("int32"),
            "segment_ids": np.zeros(shape, "int32"),
            "padding_mask": np.ones(shape, "int32"),
        }
        start = time.perf_counter()
        logs = pretrainer.train_on_batch(batch, return_dict=True)
        loss = float(logs["loss"])  # a host value: the step has finished
        times.append(time.perf_counter() - start)
        losses.append(loss)
    optimizer = pretrainer.optimizer
    scale = getattr(optimizer, "dynamic_scale", None)
    embeddings = pretrainer.backbone.token_embedding.embeddings
    step = statistics.median(times[len(times) // 2 :])
    return {
        "backend": keras.config.backend(),
        "policy": args.policy,
        "compute": pretrainer.discriminator.backbone.compute_dtype,
        "weights": embeddings.dtype,
        "first_loss": losses[0],
        "last_loss": statistics.mean(losses[-5:]),
        "finite": all(np.isfinite(losses)),
        "step_s": step,
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
    parser.add_argument("--steps", type=int, default=40)
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
                    "--batch-size",
                    str(args.batch_size),
                    "--sequence-length",
                    str(args.sequence_length),
                    "--policy",
                    policy,
                ],
                capture_output=True,
                text=True,
                env={**os.environ, "KERAS_BACKEND": backend},
            )
            if done.returncode:
                print(f"{backend} {policy} failed:\n{done.stderr[-2000:]}")
                continue
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    print(
        f"\nelectra_{args.size}, batch {args.batch_size} x "
        f"{args.sequence_length}, {args.steps} steps "
        f"({rows[0]['device'] if rows else '?'})"
    )
    print(
        "| backend | policy | compute | loss first -> last | step (s) "
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
