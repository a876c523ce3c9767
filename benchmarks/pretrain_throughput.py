"""Joint pre-training step throughput: keras-electra on each backend vs the
usual Hugging Face transformers joint step, in one run, one table.

    python benchmarks/pretrain_throughput.py --preset electra_small \
        --batch-size 8 --sequence-length 128 --steps 5

Each measurement runs in its own process (a Keras backend is fixed at
import), after `--warmup` untimed steps (compilation included there). Our
side runs all its steps in one `fit` call and times the steady-state steps
with a callback (a separate short `fit` per timing would add its per-call
set-up, about 0.5-1 s on TensorFlow, to every step).

FLOPs are counted analytically, the same count for both sides (the useful
work of ELECTRA's step): per tower and layer, 2*B*L*(4*H^2 + 2*H*F) for the
projections and feed-forward, plus 4*B*L^2*H for attention scores and
values; the embedding projection 2*B*L*E*H; the discriminator head
2*B*L*H^2; the generator head only at the P = int((rate + 0.005) * L) masked
positions, 2*B*P*(Hg*E + E*V). A training step counts 3x the forward
FLOPs. MFU is against this machine's float32 matmul peak, measured here with
a 2048x2048 numpy matmul.
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


def matmul_peak(n=2048, repeats=5):
    import numpy as np

    a = np.random.rand(n, n).astype("float32")
    b = np.random.rand(n, n).astype("float32")
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start)


# --- workers (run in a subprocess) -------------------------------------------


def run_ours(args):
    import numpy as np

    import keras_electra

    if args.dtype != "float32":
        import keras

        keras.config.set_dtype_policy(args.dtype)
    pretrainer = keras_electra.ElectraPretrainer.from_preset(args.preset)
    pretrainer.compile(num_train_steps=10_000)
    batch = _batch(args, np)
    data = {
        k: np.repeat(v, args.warmup + args.steps, axis=0)
        for k, v in batch.items()
    }
    return steady_state_seconds(
        lambda callback: pretrainer.fit(
            data,
            batch_size=args.batch_size,
            epochs=1,
            verbose=0,
            shuffle=False,
            callbacks=[callback],
        ),
        args.warmup,
    )


def steady_state_seconds(run, warmup):
    """Mean seconds per step of `run(callback)` after `warmup` steps.

    One `fit` call runs every step; a callback stamps the end of each batch,
    so the timed steps are Keras' own steady-state loop, without the
    per-call set-up (data adapter, first trace) that a separate short `fit`
    would add to each timing.
    """
    import keras

    stamps = []

    class Stamp(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            stamps.append(time.perf_counter())

    run(Stamp())
    timed = stamps[max(warmup, 1) - 1 :]
    return (timed[-1] - timed[0]) / (len(timed) - 1)


def run_transformers(args):
    import numpy as np
    import torch
    from transformers import ElectraConfig
    from transformers import ElectraForMaskedLM
    from transformers import ElectraForPreTraining

    config = preset_config(args.preset)
    d, g = config["discriminator"], config["generator"]

    def hf_config(c):
        return ElectraConfig(
            vocab_size=c["vocabulary_size"],
            embedding_size=c["embedding_dim"],
            hidden_size=c["hidden_dim"],
            num_hidden_layers=c["num_layers"],
            num_attention_heads=c["num_heads"],
            intermediate_size=c["intermediate_dim"],
            max_position_embeddings=c["max_sequence_length"],
        )

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
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
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
    peak = matmul_peak()
    tokens = args.batch_size * args.sequence_length
    print(
        f"{args.preset}, batch {args.batch_size} x {args.sequence_length}, "
        f"{args.steps} timed steps, ours in {args.dtype}; "
        f"{flops / 1e9:.1f} GFLOP per step; "
        f"measured fp32 matmul peak {peak / 1e9:.0f} GFLOP/s"
    )
    rows = {
        name: measure(name, args)
        for name in ["transformers"] + args.backends.split(",")
    }
    print_comparison(rows, flops, peak, tokens, "s/step")


def print_comparison(rows, flops, peak, tokens, unit):
    """The table of one run: each side against the transformers reference."""
    reference = rows.get("transformers")
    print(
        f"{'side':14s} {unit:>8s} {'tokens/s':>9s} {'vs HF':>6s} "
        f"{'GFLOP/s':>8s} {'MFU':>6s} {'peak RSS MB':>11s}"
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
            f"{ratio:6.2f} {achieved / 1e9:8.1f} {achieved / peak:6.1%} "
            f"{row['rss_mb']:11.0f}"
        )


def scaling(args, flops_fn, measure_fn):
    """One row per (batch, length): tokens/s, GFLOP/s and peak memory."""
    import copy

    peak = matmul_peak()
    backend = args.backends.split(",")[0]
    print(
        f"{args.preset}: {backend} vs transformers; measured fp32 matmul "
        f"peak {peak / 1e9:.0f} GFLOP/s"
    )
    print(
        f"{'batch x length':>14s} {'side':>12s} {'s/step':>8s} "
        f"{'tokens/s':>9s} {'GFLOP/s':>8s} {'MFU':>6s} {'peak RSS MB':>11s}"
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
                f"{achieved / 1e9:8.1f} {achieved / peak:6.1%} "
                f"{row['rss_mb']:11.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
