"""`jobs/finetune.py`: the fine-tuning job and its command."""

import json

from helpers import once_per_suite

import keras_electra


def test_finetune_command(preset, tmp_path, capsys, monkeypatch):
    from keras_electra.cli import main

    monkeypatch.chdir(tmp_path)  # runs without --output write finetune_*/

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
    # Training commands say which backend and devices they run on.
    assert "keras-electra finetune | backend " in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"] == 1.0  # a trivially separable task
    assert (out / "confusion_matrix.png").stat().st_size > 0
    assert keras_electra.ElectraTextClassifier.from_preset(str(out / "model"))


# The command line's other paths: the regression head trains on every
# backend in test_electra_text_classifier.py and the tagging job in
# test_tag_job_trains_through_the_taggers_preprocessor below.
@once_per_suite
def test_finetune_command_regression_tags_and_refusals(
    preset, tmp_path, capsys, monkeypatch
):
    from keras_electra.cli import main

    monkeypatch.chdir(tmp_path)  # runs without --output write finetune_*/

    train = tmp_path / "train.csv"
    rows = ["sentence,label"] + [
        f"{'good film' if i % 2 else 'bad film'} the dog,{i % 2}"
        for i in range(16)
    ]
    train.write_text("\n".join(rows) + "\n")
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


def test_tag_job_trains_through_the_taggers_preprocessor(preset, tmp_path):
    import tensorflow as tf

    from keras_electra.jobs.finetune import finetune

    # Each word has one tag: learnable to 100% in a few epochs.
    sentences = [["the", "dog", "runs"], ["the", "cat"], ["a", "good", "film"]]
    tag_of = {"the": "DT", "a": "DT", "dog": "NN", "cat": "NN", "film": "NN"}
    tag_of.update(runs="VBZ", good="JJ")
    lines = []
    for i in range(12):
        words = sentences[i % 3]
        lines += [f"{w}\t{tag_of[w]}" for w in words] + [""]
    tags = tmp_path / "tags.tsv"
    tags.write_text("\n".join(lines) + "\n")
    result = finetune(
        "tag",
        preset,
        str(tags),
        str(tags),
        output=str(tmp_path / "run"),
        epochs=12,
        batch_size=4,
        sequence_length=8,
        learning_rate=3e-3,
        verbose=0,
    )
    assert result["accuracy"] == 1.0
    assert result["tags"] == ["DT", "JJ", "NN", "VBZ"]
    # The saved tagger carries its preprocessor: raw word lists go in.
    tagger = keras_electra.ElectraTokenClassifier.from_preset(
        str(tmp_path / "run" / "model")
    )
    assert tagger.preprocessor is not None
    logits = tagger.predict(tf.ragged.constant([["the", "cat"]]), verbose=0)
    # [CLS] the cat [SEP]: "the" is DT (0), "cat" is NN (2).
    assert logits[0, 1:3].argmax(-1).tolist() == [0, 2]
