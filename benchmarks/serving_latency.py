"""CPU inference of an ELECTRA-Small sentence classifier, served every way
keras-electra offers, beside transformers, in one run, one table.

    python benchmarks/serving_latency.py --preset electra_small \\
        --sequence-length 128 --calls 30

Sides, each in its own process (a Keras backend is fixed at import):
- Keras on JAX, TensorFlow and PyTorch: the classifier's compiled
  `predict_on_batch` on token ids (XLA on JAX and TensorFlow, eager on
  PyTorch);
- the SavedModel of `keras-electra export --to saved-model`, loaded with
  TensorFlow and tensorflow_text alone: its `token_ids` signature, and its
  `serving_default` on raw strings (tokenization included);
- the ONNX file of `--to onnx` in ONNX Runtime (default CPU session);
- transformers' `ElectraForSequenceClassification` (eager PyTorch, under
  `torch.no_grad()`), of the same size.

The weights are random (speed does not depend on their values): the
classifier is built from the preset's architecture with 2 classes. Latency
is the median of `--calls` calls at batch 1; throughput is sequences per
second over `--calls` calls at batch 32; both after `--warmup` untimed
calls. Inputs are full-length (no padding), and the raw strings are
`--sequence-length - 2` words that are each one wordpiece.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB = os.path.join(
    os.path.dirname(os.path.dirname(HERE)),
    "shared",
    "data",
    "vocab",
    "bert_uncased_vocab.txt",
)
SIDES = (
    "keras-jax",
    "keras-tensorflow",
    "keras-torch",
    "savedmodel-ids",
    "savedmodel-strings",
    "onnxruntime",
    "transformers",
)


def _ids(batch, length, np, vocabulary_size):
    rng = np.random.default_rng(0)
    token_ids = rng.integers(5, vocabulary_size, (batch, length))
    token_ids[:, 0], token_ids[:, -1] = 2, 3
    return {
        "token_ids": token_ids.astype("int32"),
        "segment_ids": np.zeros((batch, length), "int32"),
        "padding_mask": np.ones((batch, length), "int32"),
    }


def _texts(batch, length):
    words = ["the", "of", "and", "to", "in", "was", "he", "is"]
    return [
        " ".join(words[(i + j) % len(words)] for j in range(length - 2))
        for i in range(batch)
    ]


def _time(fn, inputs, args):
    for _ in range(args.warmup):
        fn(inputs)
    times = []
    for _ in range(args.calls):
        start = time.perf_counter()
        fn(inputs)
        times.append(time.perf_counter() - start)
    return times


def _measure(fn, make_inputs, args):
    one = _time(fn, make_inputs(1), args)
    many = _time(fn, make_inputs(32), args)
    return {
        "latency_ms": 1000 * statistics.median(one),
        "throughput": 32 * len(many) / sum(many),
    }


def build(args, folder):
    """The classifier preset, SavedModel and ONNX file (TensorFlow)."""
    import keras

    import keras_electra
    from keras_electra.conversion import serving

    keras.utils.set_random_seed(0)
    backbone = keras_electra.ElectraBackbone.from_preset(args.preset)
    size = backbone.vocabulary_size
    if args.vocab and os.path.isfile(args.vocab):
        tokenizer = keras_electra.ElectraTokenizer(vocabulary=args.vocab)
    else:  # the test words, then fillers up to the preset's size
        words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        words += sorted(set(_texts(1, 12)[0].split()))
        tokenizer = keras_electra.ElectraTokenizer(
            vocabulary=words + [f"w{i}" for i in range(size - len(words))]
        )
    classifier = keras_electra.ElectraTextClassifier(
        backbone,
        num_classes=2,
        preprocessor=keras_electra.ElectraTextClassifierPreprocessor(
            tokenizer, sequence_length=args.sequence_length
        ),
    )
    classifier.save_to_preset(os.path.join(folder, "model"))
    tokenizer.save_to_preset(os.path.join(folder, "model"))
    serving.export_saved_model(classifier, os.path.join(folder, "served"))
    serving.export_onnx(classifier, os.path.join(folder, "model.onnx"))


def run_side(side, args, folder):
    import numpy as np

    config = json.load(open(os.path.join(folder, "model", "config.json")))
    vocabulary_size = config["config"]["vocabulary_size"]

    def ids(batch):
        return _ids(batch, args.sequence_length, np, vocabulary_size)

    if side.startswith("keras-"):
        import keras_electra
        from keras_electra.conversion import serving

        classifier = keras_electra.ElectraTextClassifier.from_preset(
            os.path.join(folder, "model"), preprocessor=None
        )
        inner = serving._inner_model(classifier)
        return _measure(inner.predict_on_batch, ids, args)
    if side.startswith("savedmodel"):
        import tensorflow as tf
        import tensorflow_text  # noqa: F401

        model = tf.saved_model.load(os.path.join(folder, "served"))
        if side == "savedmodel-ids":
            fn = model.signatures["token_ids"]
            return _measure(
                lambda x: fn(**{k: tf.constant(v) for k, v in x.items()}),
                ids,
                args,
            )
        fn = model.signatures["serving_default"]
        return _measure(
            lambda x: fn(text=tf.constant(x)),
            lambda b: _texts(b, args.sequence_length),
            args,
        )
    if side == "onnxruntime":
        import onnxruntime

        session = onnxruntime.InferenceSession(
            os.path.join(folder, "model.onnx")
        )
        return _measure(lambda x: session.run(None, x), ids, args)
    import torch
    from pretrain_throughput import hf_config
    from transformers import ElectraForSequenceClassification

    model = ElectraForSequenceClassification(
        hf_config(config["config"], num_labels=2)
    ).eval()

    def forward(x):
        with torch.no_grad():
            return model(
                input_ids=torch.from_numpy(x["token_ids"].astype("int64")),
                token_type_ids=torch.from_numpy(
                    x["segment_ids"].astype("int64")
                ),
                attention_mask=torch.from_numpy(
                    x["padding_mask"].astype("int64")
                ),
            ).logits

    return _measure(forward, ids, args)


def _child(args, role, folder):
    backend = "tensorflow"
    if role.startswith("keras-"):
        backend = role.split("-", 1)[1]
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, __file__, "--role", role, "--folder", folder]
    command += ["--preset", args.preset, "--vocab", args.vocab or ""]
    command += ["--sequence-length", str(args.sequence_length)]
    command += ["--calls", str(args.calls), "--warmup", str(args.warmup)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1][:120]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="electra_small")
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument(
        "--vocab",
        default=VOCAB,
        help="vocabulary file (default: the shared BERT uncased one if "
        "present, else a made-up one of the preset's size)",
    )
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--sides", nargs="+", default=SIDES, choices=SIDES)
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "build":
        build(args, args.folder)
        print("{}")
        return
    if args.role:
        print(json.dumps(run_side(args.role, args, args.folder)))
        return
    with tempfile.TemporaryDirectory() as folder:
        built = _child(args, "build", folder)
        if "error" in built:
            sys.exit(f"building the models failed: {built['error']}")
        rows = {side: _child(args, side, folder) for side in args.sides}
    print(
        f"{args.preset} classifier, length {args.sequence_length}, "
        f"{args.calls} calls after {args.warmup} warm-up, CPU"
    )
    print(f"{'side':<20}{'batch 1 (ms)':>14}{'batch 32 (seq/s)':>18}")
    for side, row in rows.items():
        if "error" in row:
            print(f"{side:<20}  failed: {row['error']}")
            continue
        print(f"{side:<20}{row['latency_ms']:>14.1f}{row['throughput']:>18.1f}")


if __name__ == "__main__":
    main()
