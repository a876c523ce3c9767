"""Discriminator forward throughput (inference / fine-tuning shape):
keras-electra's `ElectraBackbone` on each backend vs transformers'
`ElectraModel`, in one run, one table.

    python benchmarks/inference_throughput.py --preset electra_small \\
        --batch-size 32 --sequence-length 128 --steps 10
    python benchmarks/inference_throughput.py --scaling   # lengths x batches

FLOPs: the encoder forward of `pretrain_throughput.py` (2*B*L*(4H^2 + 2HF)
per layer, 4*B*L^2*H for attention, the embedding projection), the same
count for both sides. Each side runs in its own process, after `--warmup`
untimed calls (compilation included there); ours runs the compiled
`predict_on_batch` (XLA on JAX and TensorFlow, eager on PyTorch), the
reference `ElectraModel` under `torch.no_grad()`. MFU is against each
side's own backend's float32 matmul and numpy's with OpenBLAS unpinned,
measured before and after the sides (see `pretrain_throughput.py`).
"""

import argparse
import time

import pretrain_throughput as common


def forward_flops(config, batch, length):
    d = config["discriminator"]
    return common.tower_flops(
        batch,
        length,
        d["num_layers"],
        d["hidden_dim"],
        d["intermediate_dim"],
        d["embedding_dim"],
    )


def run_ours(args):
    import numpy as np

    import keras_electra

    if args.dtype != "float32":
        import keras

        keras.config.set_dtype_policy(args.dtype)
    backbone = keras_electra.ElectraBackbone.from_preset(args.preset)
    batch = common._batch(args, np)
    for _ in range(args.warmup):
        backbone.predict_on_batch(batch)
    start = time.perf_counter()
    for _ in range(args.steps):
        out = backbone.predict_on_batch(batch)
    np.asarray(out)
    return (time.perf_counter() - start) / args.steps


def run_transformers(args):
    import numpy as np
    import torch
    from transformers import ElectraModel

    d = common.preset_config(args.preset)["discriminator"]
    model = ElectraModel(common.hf_config(d)).eval()
    batch = {
        k: torch.from_numpy(v.astype("int64"))
        for k, v in common._batch(args, np).items()
    }
    inputs = dict(
        input_ids=batch["token_ids"],
        attention_mask=batch["padding_mask"],
        token_type_ids=batch["segment_ids"],
    )
    with torch.no_grad():
        for _ in range(args.warmup):
            model(**inputs)
        start = time.perf_counter()
        for _ in range(args.steps):
            model(**inputs)
    return (time.perf_counter() - start) / args.steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="electra_small")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--backends", default="jax,tensorflow,torch")
    parser.add_argument(
        "--dtype", default="float32", help="Keras dtype policy of our side"
    )
    parser.add_argument("--scaling", action="store_true")
    parser.add_argument(
        "--shapes", default="32x128,64x128,16x256,32x256,8x512,16x512"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    # Passed by the shared driver (`common.measure`); calls here are one
    # forward pass each.
    parser.add_argument(
        "--steps-per-execution", type=int, default=1, help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    measure = lambda name, run: common.measure(name, run, __file__)  # noqa: E731
    if args.worker:
        return common.worker(args, run_ours, run_transformers)
    if args.scaling:
        return common.scaling(args, forward_flops, measure)
    config = common.preset_config(args.preset)
    flops = forward_flops(config, args.batch_size, args.sequence_length)
    sides = ["transformers"] + args.backends.split(",")
    peaks = common.matmul_peaks(sides)
    tokens = args.batch_size * args.sequence_length
    print(
        f"{args.preset} discriminator forward, batch {args.batch_size} x "
        f"{args.sequence_length}, {args.steps} timed calls; "
        f"{flops / 1e9:.1f} GFLOP per call; float32 2048x2048 matmul peaks "
        f"(GFLOP/s): {common.describe_peaks(peaks)}"
    )
    rows = {name: measure(name, args) for name in sides}
    peaks = common.best_peaks(peaks, common.matmul_peaks(sides))
    print(
        "peaks again after the rows; the higher of each: "
        f"{common.describe_peaks(peaks)}"
    )
    common.print_comparison(rows, flops, peaks, tokens, "s/call")


if __name__ == "__main__":
    main()
