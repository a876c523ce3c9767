"""Tokenizer throughput on a shared corpus, side by side in one run.

    python benchmarks/tokenizer_throughput.py --corpus news --repeats 3

Rows: keras-electra's `ElectraTokenizer` in graph mode (a `tf.function`
over batches of lines, called one batch after another), in a parallel
`tf.data` map over the batches (what `text_dataset` runs: every core
tokenizes) and in Python (what an eager call runs, and what `build-data`
uses); keras-hub's `WordPieceTokenizer`
with the same vocabulary (our tokenizer before issue #13: its
normalisation differs from BERT's); transformers' pure-Python
`BertTokenizer` (`BertTokenizerLegacy`, the reference algorithm) and its
Rust-backed `BertTokenizer`. Every row tokenizes every line of the corpus;
the best of `--repeats` timings is printed, with how many lines give ids
different from the reference's.
"""

import argparse
import pathlib
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def best_time(function, repeats):
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default="news")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4096)
    args = parser.parse_args()

    from keras_electra.utils.backend_setup import load_backend

    load_backend()
    import tensorflow as tf
    from keras_hub.tokenizers import WordPieceTokenizer
    from transformers import BertTokenizer
    from transformers.models.bert.tokenization_bert_legacy import (
        BertTokenizerLegacy,
    )

    import keras_electra

    vocab = str(SHARED / "vocab" / "bert_uncased_vocab.txt")
    path = SHARED / "corpus" / f"{args.corpus}.txt"
    lines = path.read_text(encoding="utf-8").split("\n")
    size = args.batch_size
    batches = [lines[i : i + size] for i in range(0, len(lines), size)]

    ours = keras_electra.ElectraTokenizer(vocabulary=vocab)
    hub = WordPieceTokenizer(
        vocabulary=vocab, lowercase=True, strip_accents=True, oov_token="[UNK]"
    )
    legacy = BertTokenizerLegacy(vocab, do_lower_case=True)
    legacy.wordpiece_tokenizer.max_input_chars_per_word = 200
    fast = BertTokenizer(vocab, do_lower_case=True)

    def graph(tokenizer):
        call = tf.function(tokenizer)
        call(tf.constant(batches[0][:2]))  # trace outside the timing

        def run():
            out = []
            for batch in batches:
                out.extend(call(tf.constant(batch)).to_list())
            return out

        return run

    def tf_data(tokenizer):
        ds = tf.data.Dataset.from_tensor_slices(lines).batch(size)
        ds = ds.map(
            tokenizer,
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        ).prefetch(tf.data.AUTOTUNE)
        next(iter(ds))  # trace outside the timing

        def run():
            out = []
            for tokens in ds:
                out.extend(tokens.to_list())
            return out

        return run

    def python(tokenizer):
        return lambda: [list(map(int, row)) for row in tokenizer(lines)]

    rows = [
        ("keras-electra, graph (tf.function)", graph(ours)),
        ("keras-electra, graph (tf.data parallel map)", tf_data(ours)),
        ("keras-electra, Python", python(ours)),
        ("keras-hub WordPiece, graph", graph(hub)),
        ("keras-hub WordPiece, Python", python(hub)),
        (
            "transformers BertTokenizer (pure Python)",
            lambda: [
                legacy.convert_tokens_to_ids(
                    legacy._tokenize(line, split_special_tokens=True)
                )
                for line in lines
            ],
        ),
        (
            "transformers BertTokenizer (Rust)",
            lambda: fast(lines, add_special_tokens=False)["input_ids"],
        ),
    ]
    results = []
    for name, function in rows:
        seconds, ids = best_time(function, args.repeats)
        results.append((name, seconds, ids))
    reference = results[5][2]
    tokens = sum(len(row) for row in reference)
    print(
        f"{args.corpus}.txt: {len(lines):,} lines, {tokens:,} reference "
        f"tokens, {path.stat().st_size / 1e6:.1f} MB"
    )
    print(
        f"{'tokenizer':44s} {'seconds':>8s} {'tokens/s':>11s} {'lines off':>9s}"
    )
    for name, seconds, ids in results:
        off = sum(a != b for a, b in zip(ids, reference))
        print(f"{name:44s} {seconds:8.2f} {tokens / seconds:11,.0f} {off:9,d}")


if __name__ == "__main__":
    main()
