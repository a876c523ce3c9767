"""What does pre-training put into the encoder? Linear probes on frozen
features.

Fine-tuning (`finetune_pretrained_vs_random.py`) mixes two things: what the
pre-trained weights know and how fast they can still move. This benchmark
measures the first alone: it freezes the discriminator, takes its hidden
states after the embedding block and after every encoder layer, and trains a
softmax regression on them (wsj_pos: one vector per word, at its first
wordpiece; polarity and finefoods: the mean over the sentence's tokens).
The same probe on the same architecture with random weights is the baseline.

    python benchmarks/probe_pretrained_vs_random.py --preset runs/tiny/preset

This is a benchmark, not a test: a few minutes on 2 CPU cores.
"""

import os
import sys

import numpy as np
from _shared_tasks import task_benchmark_parser

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def layer_features(backbone, features):
    """[embedding block output, layer 1 output, ...] as numpy arrays."""
    import keras

    outputs = [
        backbone.embeddings_projection.output
        if backbone.embeddings_projection is not None
        else backbone.embedding.output
    ]
    outputs += [layer.output for layer in backbone.transformer_layers]
    model = keras.Model(backbone.inputs, outputs)
    inputs = {
        k: features[k] for k in ("token_ids", "segment_ids", "padding_mask")
    }
    return [
        np.asarray(x) for x in model.predict(inputs, batch_size=64, verbose=0)
    ]


def probe_accuracy(train_x, train_y, test_x, test_y, num_classes, seed):
    """Test accuracy of a softmax regression on standardised features."""
    import keras

    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((train_x.shape[1],)),
            keras.layers.Dense(
                num_classes, kernel_regularizer=keras.regularizers.L2(1e-4)
            ),
        ]
    )
    model.compile(
        keras.optimizers.Adam(1e-2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(
        (train_x - mean) / std, train_y, batch_size=1024, epochs=60, verbose=0
    )
    logits = model.predict((test_x - mean) / std, batch_size=4096, verbose=0)
    return float(np.mean(np.argmax(logits, -1) == test_y))


def tagging_data(tokenizer, data):
    import keras_electra
    from keras_electra.data.task_files import read_tagged_file

    words, tags = read_tagged_file(os.path.join(data, "wsj_pos/train.tsv"))
    test_words, test_tags = read_tagged_file(
        os.path.join(data, "wsj_pos/test.tsv")
    )
    names = sorted({t for sentence in tags for t in sentence})
    index = {t: i for i, t in enumerate(names)}
    preprocessor = keras_electra.ElectraTokenClassifierPreprocessor(
        tokenizer, sequence_length=128
    )
    splits = []
    for w, t in ((words, tags), (test_words, test_tags)):
        x, _, weight = preprocessor(w)
        keep = np.asarray(weight) > 0
        # One label per word kept after truncation; tags unseen in training
        # get -1, which no prediction matches.
        truth = np.asarray(
            [
                index.get(tag, -1)
                for sentence, kept in zip(t, keep.sum(1))
                for tag in sentence[:kept]
            ]
        )
        splits.append((x, lambda h, keep=keep: h[keep], truth))
    return splits, len(names)


def classification_data(tokenizer, data, name):
    import keras_electra
    from keras_electra.data.task_files import read_classification_file

    preprocessor = keras_electra.ElectraTextClassifierPreprocessor(
        tokenizer, sequence_length=128
    )
    splits = []
    for split in ("train", "test"):
        texts, _, labels = read_classification_file(
            os.path.join(data, name, f"{split}.csv")
        )
        x = preprocessor(x=texts)
        mask = np.asarray(x["padding_mask"], "float32")[..., None]

        def pool(h, mask=mask):
            return (h * mask).sum(1) / mask.sum(1)

        splits.append((x, pool, np.asarray(labels, "int32")))
    return splits, 2


def main():
    parser = task_benchmark_parser(
        __doc__.split("\n\n")[0], ["wsj_pos", "polarity", "finefoods"]
    )
    args = parser.parse_args()
    os.environ["KERAS_BACKEND"] = args.backend
    sys.path.insert(0, ROOT)
    import keras

    import keras_electra

    tokenizer = keras_electra.ElectraTokenizer.from_preset(args.preset)
    backbones = {}
    for pretrained in (True, False):
        keras.utils.set_random_seed(args.seed)
        backbones[pretrained] = keras_electra.ElectraBackbone.from_preset(
            args.preset, load_weights=pretrained
        )
    names = ["embeddings"] + [
        f"layer {i + 1}" for i in range(backbones[True].num_layers)
    ]
    rows = []
    for task in args.tasks:
        if task == "wsj_pos":
            splits, num_classes = tagging_data(
                tokenizer, os.path.join(args.data, "tasks")
            )
        else:
            splits, num_classes = classification_data(
                tokenizer, os.path.join(args.data, "tasks"), task
            )
        (train_x, train_select, train_y), (test_x, test_select, test_y) = splits
        scores = {}
        for pretrained, backbone in backbones.items():
            train_h = layer_features(backbone, train_x)
            test_h = layer_features(backbone, test_x)
            scores[pretrained] = [
                probe_accuracy(
                    train_select(a),
                    train_y,
                    test_select(b),
                    test_y,
                    num_classes,
                    args.seed,
                )
                for a, b in zip(train_h, test_h)
            ]
            label = "pre-trained" if pretrained else "random"
            print(
                f"{task:10s} {label:11s} "
                + ", ".join(
                    f"{name} {s:.4f}"
                    for name, s in zip(names, scores[pretrained])
                ),
                flush=True,
            )
        rows.append((task, scores))
    print()
    print("| task | features | pre-trained | random init | gain |")
    print("|---|---|---|---|---|")
    for task, scores in rows:
        for name, a, b in zip(names, scores[True], scores[False]):
            print(f"| {task} | {name} | {a:.4f} | {b:.4f} | {a - b:+.4f} |")


if __name__ == "__main__":
    main()
