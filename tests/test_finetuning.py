"""Fine-tuning tasks, preprocessors, the recipe's optimizer and the job."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import tiny_pretrainer
from helpers import to_numpy

import keras_electra
from keras_electra.data.task_files import TaskFileError
from keras_electra.data.task_files import read_classification_file
from keras_electra.data.task_files import read_tagged_file
from keras_electra.metrics.squad import exact_match
from keras_electra.metrics.squad import f1_score
from keras_electra.models.electra_token_classifier import (
    first_piece_predictions,
)
from keras_electra.optimizers import layerwise_learning_rate_multipliers

WORDS = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "the",
    "dog",
    "run",
    "##s",
    "cat",
    "good",
    "bad",
    "film",
    "who",
    "wrote",
    "it",
    "?",
    "jane",
    "austen",
    "did",
    ".",
    "a",
    "b",
    "c",
    ",",
]
VOCAB = WORDS + [f"w{i}" for i in range(120 - len(WORDS))]


@pytest.fixture(scope="module")
def tokenizer():
    return keras_electra.ElectraTokenizer(vocabulary=VOCAB)


@pytest.fixture(scope="module")
def preset(tmp_path_factory, tokenizer):
    """A tiny pre-trained-looking preset with its tokenizer."""
    path = tmp_path_factory.mktemp("preset") / "tiny"
    keras.utils.set_random_seed(0)
    tiny_pretrainer(dropout=0.0).save_to_preset(str(path), tokenizer=tokenizer)
    return str(path)


# --- the recipe ---------------------------------------------------------------


def test_layerwise_rates_follow_the_reference(preset):
    model = keras_electra.ElectraTextClassifier.from_preset(
        preset, num_classes=2, preprocessor=None
    )
    backbone = model.backbone
    rates = layerwise_learning_rate_multipliers(model, backbone, 0.5)
    word_table = backbone.embedding.token_embedding.embeddings.path
    projection = backbone.embeddings_projection.kernel.path
    block0 = backbone.transformer_layers[0]._feedforward_output_dense.bias.path
    block1 = backbone.transformer_layers[1]._feedforward_output_dense.bias.path
    head = model.output_dense.kernel.path
    # Reference exponents: n_layers + 2 - depth (2 layers, so 4, 4, 3, 2, 0).
    assert rates[word_table] == rates[projection] == 0.5**4
    assert rates[block0] == 0.5**3 and rates[block1] == 0.5**2
    assert rates[head] == 1.0
    assert len(rates) == len(model.trainable_weights)
    fixed = layerwise_learning_rate_multipliers(
        model, backbone, 0.5, reference_off_by_one=False
    )
    assert fixed[word_table] == 0.5**3 and fixed[block1] == 0.5
    assert fixed[head] == 1.0


def test_layerwise_rates_scale_the_updates(preset):
    model = keras_electra.ElectraTextClassifier.from_preset(
        preset, num_classes=2, dropout=0.0, preprocessor=None
    )
    model.compile(learning_rate=1e-3, layerwise_decay=0.5, weight_decay=0.0)
    assert model.optimizer.__class__.__name__ == "ElectraAdamW"
    x = {
        "token_ids": np.array([[2, 5, 6, 3, 0]] * 4, "int32"),
        "segment_ids": np.zeros((4, 5), "int32"),
        "padding_mask": np.array([[1, 1, 1, 1, 0]] * 4, "int32"),
    }
    y = np.array([0, 1, 0, 1])
    block0 = model.backbone.transformer_layers[0]._feedforward_output_dense.bias
    head = model.output_dense.bias
    before = [to_numpy(v).copy() for v in (block0, head)]
    model.train_on_batch(x, y)
    steps = [
        np.abs(to_numpy(v) - b).max() for v, b in zip((block0, head), before)
    ]
    # Adam without bias correction: the first step is ~lr * factor * 0.1 /
    # sqrt(0.001) per coordinate, so the ratio is the factor ratio 0.5 ** 3.
    np.testing.assert_allclose(steps[0] / steps[1], 0.5**3, rtol=0.05)


def test_recipe_by_size():
    from keras_electra.optimizers import finetuning_recipe

    sizes = {256: (3e-4, 0.8), 768: (1e-4, 0.8), 1024: (5e-5, 0.9)}
    for hidden, (lr, decay) in sizes.items():
        backbone = type("B", (), {"hidden_dim": hidden})()
        assert finetuning_recipe(backbone) == {
            "learning_rate": lr,
            "layerwise_decay": decay,
        }


# === Classification ===


def test_classifier_pairs_shapes_and_save_load(preset, tokenizer, tmp_path):
    preprocessor = keras_electra.ElectraTextClassifierPreprocessor(
        tokenizer, sequence_length=10
    )
    x = preprocessor(x=(["the dog runs", "good film"], ["the cat", "bad"]))
    # [CLS] the dog run ##s [SEP] the cat [SEP] [PAD]
    np.testing.assert_array_equal(
        to_numpy(x["token_ids"])[0], [2, 5, 6, 7, 8, 3, 5, 9, 3, 0]
    )
    np.testing.assert_array_equal(
        to_numpy(x["segment_ids"])[0], [0, 0, 0, 0, 0, 0, 1, 1, 1, 0]
    )
    model = keras_electra.ElectraTextClassifier.from_preset(
        preset, num_classes=3, preprocessor=None
    )
    assert model.predict(x, verbose=0).shape == (2, 3)
    model.compile(num_train_steps=4)
    model.fit(x, np.array([2, 0]), epochs=2, verbose=0)
    model.save_to_preset(str(tmp_path / "clf"))
    again = keras_electra.ElectraTextClassifier.from_preset(
        str(tmp_path / "clf"), preprocessor=None
    )
    np.testing.assert_allclose(
        again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5
    )
    # With the preset's tokenizer a preprocessor is attached: raw strings in.
    raw = keras_electra.ElectraTextClassifier.from_preset(preset, num_classes=3)
    assert isinstance(
        raw.preprocessor, keras_electra.ElectraTextClassifierPreprocessor
    )
    raw.preprocessor.sequence_length = 16  # the tiny model has 64 positions
    assert raw.predict(["the dog runs", "bad"], verbose=0).shape == (2, 3)
    # Inside tf.data too.
    ds = (
        tf.data.Dataset.from_tensor_slices(
            (["the dog runs", "good film"], [1, 0])
        )
        .batch(2)
        .map(lambda t, y: (preprocessor(t), y))
    )
    features, _ = next(iter(ds))
    assert features["token_ids"].shape == (2, 10)


def test_classifier_labels_outside_classes_are_named(preset):
    model = keras_electra.ElectraTextClassifier.from_preset(
        preset, num_classes=2, preprocessor=None
    )
    model.compile()
    x = {
        "token_ids": np.array([[2, 5, 3]], "int32"),
        "segment_ids": np.zeros((1, 3), "int32"),
        "padding_mask": np.ones((1, 3), "int32"),
    }
    with pytest.raises(ValueError, match=r"integers in \[0, 2\); found 2"):
        model.fit(x, np.array([2]), verbose=0)


def test_regression_head(preset):
    model = keras_electra.ElectraTextClassifier.from_preset(
        preset, num_classes=1, preprocessor=None
    )
    model.compile(num_train_steps=5)
    assert isinstance(model.loss, keras.losses.MeanSquaredError)
    x = {
        "token_ids": np.array([[2, 5, 3], [2, 6, 3]], "int32"),
        "segment_ids": np.zeros((2, 3), "int32"),
        "padding_mask": np.ones((2, 3), "int32"),
    }
    history = model.fit(x, np.array([0.5, 4.5], "float32"), epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


# --- token classification ----------------------------------------------------


def test_token_labels_on_first_wordpieces(tokenizer):
    preprocessor = keras_electra.ElectraTokenClassifierPreprocessor(
        tokenizer, sequence_length=8
    )
    words = [["The", "dog", "runs", "."], ["cats"]]
    tags = [[1, 2, 3, 4], [5]]
    x, y, w = preprocessor(words, tags)
    # runs -> run ##s: the tag on "run", weight 0 on "##s"; cats -> [UNK]? no:
    # "cats" -> cat ##s.
    np.testing.assert_array_equal(x["token_ids"][0], [2, 5, 6, 7, 8, 20, 3, 0])
    np.testing.assert_array_equal(y[0], [0, 1, 2, 3, 0, 4, 0, 0])
    np.testing.assert_array_equal(w[0], [0, 1, 1, 1, 0, 1, 0, 0])
    np.testing.assert_array_equal(x["token_ids"][1], [2, 9, 8, 3, 0, 0, 0, 0])
    np.testing.assert_array_equal(w[1], [0, 1, 0, 0, 0, 0, 0, 0])
    # The tf.data path gives the same arrays.
    ds = (
        tf.data.Dataset.from_tensor_slices(
            (tf.ragged.constant(words), tf.ragged.constant(tags))
        )
        .batch(2)
        .map(preprocessor)
    )
    tx, ty, tw = next(iter(ds))
    np.testing.assert_array_equal(tx["token_ids"].numpy(), x["token_ids"])
    np.testing.assert_array_equal(tx["padding_mask"].numpy(), x["padding_mask"])
    np.testing.assert_array_equal(ty.numpy(), y)
    np.testing.assert_array_equal(tw.numpy(), w)
    # Truncation keeps [SEP] and drops whole trailing words' labels.
    x, y, w = preprocessor([["the"] * 10], [[1] * 10])
    assert x["token_ids"][0, -1] == 3 and w[0].sum() == 6
    logits = np.zeros((1, 8, 3))
    logits[0, 1:7, 2] = 1.0
    assert first_piece_predictions(logits, w)[0].tolist() == [2] * 6


def test_token_classifier_trains_with_weights(preset, tokenizer):
    preprocessor = keras_electra.ElectraTokenClassifierPreprocessor(
        tokenizer, sequence_length=8
    )
    x, y, w = preprocessor([["the", "dog", "runs"]] * 4, [[0, 1, 2]] * 4)
    model = keras_electra.ElectraTokenClassifier.from_preset(
        preset, num_classes=3, preprocessor=None
    )
    assert model.predict(x, verbose=0).shape == (4, 8, 3)
    model.compile(num_train_steps=30, learning_rate=3e-3)
    history = model.fit(x, y, sample_weight=w, epochs=30, verbose=0)
    assert history.history["accuracy"][-1] == 1.0
    assert history.history["loss"][-1] < history.history["loss"][0]


# === Question answering ===


def qa_preprocessor(tokenizer, **kwargs):
    kwargs = {
        "sequence_length": 16,
        "doc_stride": 3,
        "max_question_length": 4,
        **kwargs,
    }
    return keras_electra.ElectraQuestionAnswererPreprocessor(
        tokenizer, **kwargs
    )


def test_qa_windows_stride_and_labels(tokenizer):
    p = qa_preprocessor(tokenizer)
    context = "a b c a b c Jane Austen did . a b c a b c a b"
    batch = p.encode(
        ["Who wrote it?"], [context], [("Jane Austen", context.index("Jane"))]
    )
    # Question: who wrote it ? -> 4 pieces; room = 16 - 4 - 3 = 9 context
    # pieces per window; 18 context pieces; starts 0, 3, 6, 9.
    assert [w["start"] for w in batch.windows] == [0, 3, 6, 9]
    assert batch.x["token_ids"].shape == (4, 16)
    # "jane" is context piece 6: position 6 - start + 6 in each window that
    # holds both pieces 6 and 7; the last window holds neither -> [CLS].
    assert batch.y["start_logits"].tolist() == [12, 9, 6, 0]
    assert batch.y["end_logits"].tolist() == [13, 10, 7, 0]
    np.testing.assert_array_equal(batch.x["segment_ids"][0], [0] * 6 + [1] * 10)


def test_qa_span_decoding(tokenizer):
    p = qa_preprocessor(tokenizer, sequence_length=24, doc_stride=8)
    context = "Jane Austen did, a b c."
    batch = p.encode(["who wrote it?", "who?"], [context, context])
    start = np.full((2, 24), -10.0)
    end = np.full((2, 24), -10.0)
    # Example 0: best span "Jane Austen" (context pieces 0..1 at 6..7); a
    # higher-scoring end before the start must be ignored.
    start[0, 6], end[0, 7], end[0, 5] = 5.0, 4.0, 9.0
    # Example 1 (question "who ?" = 2 pieces, context from 4): [CLS] wins.
    start[1, 0], end[1, 0] = 8.0, 8.0
    start[1, 4], end[1, 6] = 3.0, 3.0
    assert p.decode(batch, start, end) == ["Jane Austen", "Jane Austen did"]
    assert p.decode(batch, start, end, allow_no_answer=True) == [
        "Jane Austen",
        "",
    ]
    # The maximum answer length is in wordpieces.
    start[0, 6], end[0, 7] = 5.0, -10.0
    end[0, 10] = 4.0
    assert (
        p.decode(batch, start, end, max_answer_length=3)[0]
        != "Jane Austen did, a"
    )
    assert (
        p.decode(batch, start, end, max_answer_length=5)[0]
        == "Jane Austen did, a"
    )


def test_qa_model_and_metrics(preset, tokenizer):
    p = qa_preprocessor(tokenizer)
    batch = p.encode(
        ["who wrote it?"] * 2,
        ["jane austen did ."] * 2,
        [("jane austen", 0), None],
    )
    model = keras_electra.ElectraQuestionAnswerer.from_preset(preset)
    out = model.predict(batch.x, verbose=0)
    assert out["start_logits"].shape == (2, 16)
    # Padding can never be chosen.
    assert np.all(out["start_logits"][batch.x["padding_mask"] == 0] < -1e8)
    model.compile(num_train_steps=20, learning_rate=3e-3)
    history = model.fit(batch.x, batch.y, epochs=20, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert exact_match("The Jane Austen!", ["jane austen"]) == 1.0
    assert f1_score("jane austen wrote", ["jane austen"]) == pytest.approx(0.8)
    assert exact_match("", []) == 1.0
    with pytest.raises(ValueError, match="not at character 3"):
        p.encode(["who?"], ["jane austen"], [("jane", 3)])


# === Files and the job ===


def test_task_file_errors(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(TaskFileError, match="empty"):
        read_classification_file(str(empty))
    no_label = tmp_path / "no_label.csv"
    no_label.write_text("sentence,target\nhello,1\n")
    with pytest.raises(
        TaskFileError, match="no column 'label'.*sentence, target"
    ):
        read_classification_file(str(no_label))
    outside = tmp_path / "outside.csv"
    outside.write_text("sentence,label\nhello,1\nbye,3\n")
    with pytest.raises(TaskFileError, match="line 3: label '3' is outside"):
        read_classification_file(str(outside), num_classes=2)
    tags = tmp_path / "tags.tsv"
    tags.write_text("The\tDT\ndog\tNN\n\nruns VBZ\n")
    with pytest.raises(TaskFileError, match="line 4: expected 'word<TAB>tag'"):
        read_tagged_file(str(tags))


def test_finetune_command(preset, tmp_path, capsys):
    from keras_electra.cli import main

    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    rows = ["sentence,label"] + [
        f"{'good film' if i % 2 else 'bad film'} the dog,{i % 2}"
        for i in range(16)
    ]
    train.write_text("\n".join(rows) + "\n")
    test.write_text("\n".join(rows[:9]) + "\n")
    out = tmp_path / "run"
    assert (
        main(
            [
                "finetune",
                "--task",
                "classify",
                "--preset",
                preset,
                "--train",
                str(train),
                "--test",
                str(test),
                "--epochs",
                "8",
                "--batch-size",
                "8",
                "--sequence-length",
                "16",
                "--learning-rate",
                "3e-3",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "accuracy" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"] == 1.0  # a trivially separable task
    assert (out / "confusion_matrix.png").stat().st_size > 0
    assert keras_electra.ElectraTextClassifier.from_preset(str(out / "model"))

    # Regression (--num-classes 1): real-valued labels, MSE and Pearson.
    scores = tmp_path / "scores.csv"
    scores.write_text(
        "sentence,label\n"
        + "".join(
            f"{'good film' if i % 2 else 'bad film'},{2.5 * (i % 2) + 0.5}\n"
            for i in range(8)
        )
    )
    assert (
        main(
            [
                "finetune",
                "--task",
                "classify",
                "--preset",
                preset,
                "--train",
                str(scores),
                "--test",
                str(scores),
                "--epochs",
                "1",
                "--sequence-length",
                "8",
                "--num-classes",
                "1",
            ]
        )
        == 0
    )
    assert "mse" in capsys.readouterr().out
    # A test label outside the training classes is named with its line.
    unseen = tmp_path / "unseen.csv"
    unseen.write_text("sentence,label\ngood film,1\nbad film,2\n")
    assert (
        main(
            [
                "finetune",
                "--task",
                "classify",
                "--preset",
                preset,
                "--train",
                str(train),
                "--test",
                str(unseen),
            ]
        )
        == 2
    )
    assert "line 3: label '2' is outside" in capsys.readouterr().err

    tags = tmp_path / "tags.tsv"
    tags.write_text("the\tDT\ndog\tNN\nruns\tVBZ\n\nthe\tDT\ncat\tNN\n")
    assert (
        main(
            [
                "finetune",
                "--task",
                "tag",
                "--preset",
                preset,
                "--train",
                str(tags),
                "--test",
                str(tags),
                "--epochs",
                "1",
                "--sequence-length",
                "8",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "finetune",
                "--task",
                "classify",
                "--preset",
                preset,
                "--train",
                str(tags),
                "--test",
                str(tags),
            ]
        )
        == 2
    )
    assert "no column 'label'" in capsys.readouterr().err


def test_tagger_and_qa_save_load(preset, tmp_path):
    x = {
        "token_ids": np.array([[2, 13, 14, 3, 17, 18, 3, 0]], "int32"),
        "segment_ids": np.array([[0, 0, 0, 0, 1, 1, 1, 0]], "int32"),
        "padding_mask": np.array([[1, 1, 1, 1, 1, 1, 1, 0]], "int32"),
    }
    for cls, kwargs in (
        (keras_electra.ElectraTokenClassifier, {"num_classes": 4}),
        (keras_electra.ElectraQuestionAnswerer, {}),
    ):
        model = cls.from_preset(preset, preprocessor=None, **kwargs)
        path = str(tmp_path / cls.__name__)
        model.save_to_preset(path)
        again = cls.from_preset(path, preprocessor=None)
        keras.tree.map_structure(
            lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5),
            model.predict(x, verbose=0),
            again.predict(x, verbose=0),
        )


def test_qa_command_on_squad_json(preset, tmp_path):
    from keras_electra.cli import main

    context = "jane austen wrote it . a b c"
    data = {
        "data": [
            {
                "paragraphs": [
                    {
                        "context": context,
                        "qas": [
                            {
                                "id": "1",
                                "question": "who wrote it ?",
                                "answers": [
                                    {"text": "jane austen", "answer_start": 0}
                                ],
                            },
                            {
                                "id": "2",
                                "question": "who ?",
                                "is_impossible": True,
                                "answers": [],
                            },
                        ],
                    }
                ]
            }
        ]
    }
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data))
    out = tmp_path / "qa"
    assert (
        main(
            [
                "finetune",
                "--task",
                "qa",
                "--preset",
                preset,
                "--train",
                str(path),
                "--test",
                str(path),
                "--epochs",
                "1",
                "--sequence-length",
                "24",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_examples"] == 2 and 0 <= metrics["f1"] <= 1
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 2}')
    assert (
        main(
            [
                "finetune",
                "--task",
                "qa",
                "--preset",
                preset,
                "--train",
                str(bad),
                "--test",
                str(path),
            ]
        )
        == 2
    )
