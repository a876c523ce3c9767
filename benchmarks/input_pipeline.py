"""Input pipelines side by side: on-the-fly text and shards, before and
after issue 26, and how long a resumed run waits for its first batch.

    python benchmarks/input_pipeline.py              # the shared corpora
    python benchmarks/input_pipeline.py --seconds 4  # shorter windows

Rows, all on the same corpus (by default the three shared corpora, 27 MB)
and vocabulary (BERT's uncased), batches of 128 x 128:

- text, before: `text_dataset` as it was before issue 26 (a Python
  generator tokenizing with the Python tokenizer, one example at a time
  into `tf.data`, a sliding shuffle buffer), kept below for comparison;
- text, now: the graph tokenizer in a parallel `tf.data` map, packing in
  bulk (`text_dataset(cache_bytes=0)`: what every epoch of a large corpus
  costs), and the later epochs of a corpus small enough to keep its
  examples (`text_dataset()` entered past its first epoch);
- shards, before: each record parsed, then batched (as before issue 26);
- shards, now: `shard_dataset` (batched, then parsed).

Resumed, the text rows count the examples of the corpus' segments first
(one pass of tokenization, whatever the position), except with a
`counts_file` written by the run before ("counts recorded").

Each row runs in its own process: after the first batch, batches are read
for `--seconds`; printed are the time to the first batch, sequences per
second of wall time and per second of the process' CPU time (the cores are
shared: CPU time is the steadier figure), and the ratio to each shard row.
The second table gives the time to the first batch of a dataset resumed at
batch 10, 10,000 and 100,000 (`skip_batches`; best of two, a new
tokenizer each time, in one process per row); the pipelines from before
issue 26 skip through the data at their reading speed, so past batch 10
their times are estimated from the measured rate (marked ~).

The shards are built once into `--shards` (default: a folder in the
system's temporary directory), with `build_shards`.
"""

import argparse
import gc
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
CORPORA = ("news", "sotu", "austen")
RESUME_AT = (10, 10_000, 100_000)


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# === The pipelines from before issue 26, for comparison ===


def old_text_dataset(files, tokenizer, batch_size, length, skip_batches):
    """`text_dataset` before issue 26: Python tokenizer, per-example
    generator, 16 streams of 1 MiB segments drawn at random, a sliding
    shuffle buffer of 10,000, `skip` to resume."""
    import numpy as np
    import tensorflow as tf

    from keras_electra.data.examples import FEATURES
    from keras_electra.data.examples import iter_examples
    from keras_electra.data.examples import to_model_inputs
    from keras_electra.data.text import file_segments

    def mixed(seed):
        rng = np.random.default_rng(seed)
        segments = file_segments(files, 1 << 20)
        queue = [segments[i] for i in rng.permutation(len(segments))]
        queue.reverse()

        def open_stream():
            seed = int(rng.integers(2**31))
            return iter_examples([queue.pop()], tokenizer, length, seed=seed)

        active = [open_stream() for _ in range(min(16, len(queue)))]
        while active:
            index = int(rng.integers(len(active)))
            example = next(active[index], None)
            if example is not None:
                yield example
            elif queue:
                active[index] = open_stream()
            else:
                active.pop(index)

    def generate():
        epoch = 0
        while True:
            yield from mixed(epoch)
            epoch += 1

    signature = {name: tf.TensorSpec([length], tf.int32) for name in FEATURES}
    ds = tf.data.Dataset.from_generator(generate, output_signature=signature)
    ds = ds.map(to_model_inputs).shuffle(10_000, seed=0)
    ds = ds.batch(batch_size, drop_remainder=True).skip(skip_batches)
    return ds.prefetch(tf.data.AUTOTUNE)


def old_shard_dataset(path, batch_size, skip_batches):
    """`shard_dataset` before issue 26: each record parsed, then batched."""
    import tensorflow as tf

    from keras_electra.data.examples import FEATURES
    from keras_electra.data.examples import to_model_inputs
    from keras_electra.data.shards import read_sequence_length
    from keras_electra.data.shards import shard_files

    files = shard_files(path)
    length = read_sequence_length(files)
    spec = {
        name: tf.io.FixedLenFeature([length], tf.int64) for name in FEATURES
    }
    ds = tf.data.Dataset.from_tensor_slices(files)
    ds = ds.shuffle(len(files), seed=0).repeat()
    ds = ds.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), 8),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    ds = ds.map(
        lambda r: to_model_inputs(tf.io.parse_single_example(r, spec)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    ds = ds.shuffle(10_000, seed=0).batch(batch_size, drop_remainder=True)
    return ds.skip(skip_batches).prefetch(tf.data.AUTOTUNE)


# === One measurement (in its own process) ===


def make_dataset(args, skip):
    from keras_electra.data import shard_dataset
    from keras_electra.data import text_dataset
    from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer

    tokenizer = ElectraTokenizer(vocabulary=args.vocab)
    files = args.corpus
    b, n = args.batch_size, args.sequence_length
    if args.row == "text-before":
        return old_text_dataset(files, tokenizer, b, n, skip)
    if args.row == "text-now":
        return text_dataset(
            files, tokenizer, b, n, skip_batches=skip, cache_bytes=0
        )
    if args.row == "text-kept":
        return text_dataset(files, tokenizer, b, n, skip_batches=skip)
    if args.row == "text-counted":
        return text_dataset(
            files,
            tokenizer,
            b,
            n,
            skip_batches=skip,
            cache_bytes=0,
            counts_file=args.counts_file,
        )
    if args.row == "shards-before":
        return old_shard_dataset(args.shards, b, skip)
    if args.row == "shards-now":
        return shard_dataset(args.shards, b, skip_batches=skip)
    raise ValueError(args.row)


def measure(args):
    from keras_electra.utils.backend_setup import load_backend

    load_backend()
    import tensorflow as tf

    # Build the tokenizer's tables and trace it before the clock starts.
    from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer

    warm = ElectraTokenizer(vocabulary=args.vocab)
    next(iter(tf.data.Dataset.from_tensors(["a b"]).map(warm)))

    if args.row == "text-counted":
        # The run before (untimed) records the segments' counts.
        args.counts_file = os.path.join(tempfile.mkdtemp(), "counts.json")
        first_batch(args, 1000)
    skips = [int(n) for n in args.skip.split(",")]
    if args.seconds <= 0:  # times to the first batch, best of two each
        result = {
            "first": [
                min(first_batch(args, n) for _ in range(2)) for n in skips
            ]
        }
        print("RESULT " + json.dumps(result), flush=True)
        return
    start = time.perf_counter()
    iterator = iter(make_dataset(args, skips[0]))
    next(iterator)
    result = {"first": time.perf_counter() - start}
    start, cpu, batches = time.perf_counter(), cpu_seconds(), 0
    while time.perf_counter() - start < args.seconds or batches < 3:
        next(iterator)
        batches += 1
    wall = time.perf_counter() - start
    sequences = batches * args.batch_size
    result.update(
        wall_rate=sequences / wall,
        cpu_rate=sequences / max(cpu_seconds() - cpu, 1e-9),
    )
    print("RESULT " + json.dumps(result), flush=True)


def first_batch(args, skip):
    """Seconds from making the dataset to its first batch; the dataset's
    threads are stopped before returning."""
    start = time.perf_counter()
    iterator = iter(make_dataset(args, skip))
    next(iterator)
    seconds = time.perf_counter() - start
    del iterator
    gc.collect()
    time.sleep(1)
    return seconds


def run(args, row, skip="0", seconds=0.0):
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--row",
        row,
        "--skip",
        str(skip),
        "--seconds",
        str(seconds),
        "--shards",
        args.shards,
        "--vocab",
        args.vocab,
        "--batch-size",
        str(args.batch_size),
        "--sequence-length",
        str(args.sequence_length),
        "--corpus",
        *args.corpus,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"{row} failed:\n{done.stderr[-3000:]}")


def ensure_shards(args):
    from keras_electra.utils.backend_setup import load_backend

    load_backend()
    from keras_electra.data import build_shards

    if not os.path.exists(os.path.join(args.shards, "manifest.json")):
        print(f"Building shards into {args.shards} (once) ...", flush=True)
    build_shards(
        args.corpus,
        args.shards,
        args.vocab,
        sequence_length=args.sequence_length,
        num_shards=16,
        verbose=False,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--corpus",
        nargs="+",
        default=[os.path.join(SHARED, "corpus", f"{c}.txt") for c in CORPORA],
    )
    parser.add_argument(
        "--vocab",
        default=os.path.join(SHARED, "vocab", "bert_uncased_vocab.txt"),
    )
    parser.add_argument("--shards", default=None)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--row", default=None)
    parser.add_argument("--skip", default="0")
    args = parser.parse_args()
    if args.shards is None:
        key = hashlib.sha256(
            json.dumps([args.corpus, args.vocab, args.sequence_length]).encode()
        ).hexdigest()[:12]
        args.shards = os.path.join(
            tempfile.gettempdir(), f"keras_electra_input_pipeline_{key}"
        )
    if args.row:
        measure(args)
        return

    ensure_shards(args)
    size = sum(os.path.getsize(f) for f in args.corpus) / 1e6
    names = "+".join(
        os.path.splitext(os.path.basename(f))[0] for f in args.corpus
    )
    print(
        f"batch {args.batch_size} x {args.sequence_length}, corpus {names} "
        f"({size:.1f} MB), {os.path.basename(args.vocab)}, "
        f"{os.cpu_count()} cores, load average at start "
        f"{os.getloadavg()[0]:.1f}"
    )
    rows = [
        ("text, before (Python tokenizer)", "text-before", 0),
        ("text, now: graph tokenizer, 1st epoch", "text-now", 0),
        ("text, now: later epochs (kept)", "text-kept", 400),
        ("shards, before (parse, then batch)", "shards-before", 0),
        ("shards, now (batch, then parse)", "shards-now", 0),
    ]
    results = {}
    for label, row, skip in rows:
        results[row] = run(args, row, str(skip), args.seconds)
    old, new = results["shards-before"], results["shards-now"]
    print(
        f"\n{'pipeline':40s} {'1st batch':>9s} {'seq/s':>8s} "
        f"{'seq/CPU-s':>9s} {'/ shards before':>15s} {'/ shards now':>12s}"
    )
    for label, row, skip in rows:
        r = results[row]
        first = "(resumed)" if skip else f"{r['first']:.1f}s"
        print(
            f"{label:40s} {first:>9s} {r['wall_rate']:8,.0f} "
            f"{r['cpu_rate']:9,.0f} "
            f"{r['wall_rate'] / old['wall_rate']:7.2f} (CPU "
            f"{r['cpu_rate'] / old['cpu_rate']:.2f}) "
            f"{r['wall_rate'] / new['wall_rate']:5.2f} (CPU "
            f"{r['cpu_rate'] / new['cpu_rate']:.2f})"
        )

    print(f"\n{'time to the first batch, resumed at batch':42s}", end="")
    print("".join(f"{n:>10,d}" for n in RESUME_AT))
    resumed = [
        ("text, before (skips through)", "text-before", True),
        ("text, now (no examples kept)", "text-now", False),
        ("text, now (examples kept)", "text-kept", False),
        ("text, now (counts recorded, none kept)", "text-counted", False),
        ("shards, before (skips through)", "shards-before", True),
        ("shards, now", "shards-now", False),
    ]
    for label, row, skips_through in resumed:
        if skips_through:  # too slow to wait for past batch 10
            first = run(args, row, str(RESUME_AT[0]))["first"][0]
            rate = results[row]["wall_rate"]
            cells = [f"{first:.1f}s"] + [
                f"~{first + n * args.batch_size / rate:,.0f}s"
                for n in RESUME_AT[1:]
            ]
        else:
            times = run(args, row, ",".join(map(str, RESUME_AT)))["first"]
            cells = [f"{t:.1f}s" for t in times]
        print(f"{label:42s}" + "".join(f"{c:>10s}" for c in cells))


if __name__ == "__main__":
    main()
