"""Fine-tuning that works on a small file: class names as labels, enough
updates by default, a warning when predictions collapse to one class, a
model kept by the command line, and `keras-electra predict`."""

import csv
import io
import json
import os
import sys

import pytest
from helpers import SHARED
from helpers import once_per_suite

from keras_electra.cli import main
from keras_electra.data.task_files import TaskFileError
from keras_electra.data.task_files import read_classification_file
from keras_electra.jobs.finetune import _Job
from keras_electra.jobs.finetune import default_epochs
from keras_electra.jobs.finetune import default_output
from keras_electra.jobs.finetune import finetune
from keras_electra.jobs.finetune_tasks import collapsed_class
from keras_electra.jobs.options import FinetuneConfig
from keras_electra.jobs.predict import predict_file
from keras_electra.utils.option_errors import OptionError
from keras_electra.utils.option_errors import spell

GOOD, BAD = "good film the dog", "bad film the dog"


def _csv(path, rows, header="sentence,label"):
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


def _named_rows(n):
    return [
        f"{GOOD if i % 2 else BAD},{'pos' if i % 2 else 'neg'}"
        for i in range(n)
    ]


# === The epochs rule, without training ===


def test_default_epochs_give_small_data_enough_updates():
    assert FinetuneConfig("classify", "p", "a", "b").epochs is None
    # 3 epochs when they make 60 updates or more.
    assert default_epochs(3200, 32) == 3  # polarity: 300 updates
    assert default_epochs(640, 32) == 3  # 20 a epoch: exactly 60
    assert default_epochs(608, 32) == 4  # 19 a epoch: 57 in 3
    # The new user's 160 rows: 5 updates a epoch, 12 epochs, 60 updates.
    assert default_epochs(160, 32) == 12
    assert default_epochs(100, 32) == 15
    # Never more than 20 epochs, even when that stays under 60 updates.
    assert default_epochs(64, 32) == 20
    assert default_epochs(1, 32) == 20
    assert default_epochs(16, 8) == 20


def test_the_shared_tasks_keep_three_epochs():
    """The published recipes (3 epochs) do not change under the rule."""
    tasks = SHARED / "tasks"
    if not tasks.exists():
        pytest.skip(f"shared data not found at {tasks}")
    for name in ("polarity", "finefoods"):
        with open(tasks / name / "train.csv", encoding="utf-8") as f:
            rows = sum(1 for _ in csv.DictReader(f))
        assert rows >= 3200 and default_epochs(rows, 32) == 3, name
    text = (tasks / "wsj_pos" / "train.tsv").read_text(encoding="utf-8")
    sentences = len([s for s in text.split("\n\n") if s.strip()])
    assert sentences == 800 and default_epochs(sentences, 32) == 3


def _note(n, epochs, steps, given=None, batch_size=32, **kwargs):
    """The line a job training `n` rows prints (options as flags)."""
    job = _Job(
        path="preset",
        tokenizer=None,
        train="train",
        test="test",
        epochs=given,
        batch_size=batch_size,
        sequence_length=16,
        learning_rate=1e-4,
        layerwise_decay=0.8,
        load_weights=True,
        max_train_examples=None,
        seed=0,
        verbose=1,
    )
    template, values = job._epochs_note(n, epochs, steps, **kwargs)
    return spell(template, command_line=True, **values)


def test_the_epochs_note_says_what_it_counts():
    assert _note(8, 20, 20, batch_size=8) == (
        "Training 8 examples for 20 epochs (20 updates of batch 8): small "
        "data gets up to 20 epochs, toward 60 updates; set --epochs to "
        "choose."
    )
    assert _note(8, 1, 1, given=1) == (
        "Training 8 examples for 1 epoch (1 update of batch 32)."
    )
    # The question answerer trains on windows, more than its questions.
    assert _note(700, 3, 66, unit="windows") == (
        "Training 700 windows for 3 epochs (66 updates of batch 32)."
    )


def test_default_output_is_a_new_folder(tmp_path):
    first = default_output("classify", str(tmp_path))
    assert first == str(tmp_path / "finetune_classify")
    # Reserved: made, empty, so that the next run cannot take it too.
    assert os.listdir(first) == []
    (tmp_path / "finetune_classify-2").write_text("a file counts too")
    assert default_output("classify", str(tmp_path)) == str(
        tmp_path / "finetune_classify-3"
    )
    assert default_output("classify", str(tmp_path)) == str(
        tmp_path / "finetune_classify-4"
    )


def test_collapsed_class():
    assert collapsed_class([0, 1, 0, 1], [1, 1, 1, 1]) == (1, 4)
    assert collapsed_class([0, 1, 0, 1], [1, 0, 1, 1]) is None
    # "Nearly all": 19 of 20 is 95%.
    assert collapsed_class([0, 1] * 10, [0] * 19 + [1]) == (0, 19)
    assert collapsed_class([0, 1] * 10, [0] * 18 + [1] * 2) is None
    # Labels that are one-sided too: predicting their class is no collapse.
    assert collapsed_class([0] * 19 + [1], [0] * 20) is None


# === Class names in task files ===


def test_class_names_are_read_and_checked(tmp_path):
    train = _csv(tmp_path / "train.csv", ["a film, positive", "b film,neg"])
    assert read_classification_file(train)[2] == ["positive", "neg"]
    assert read_classification_file(train, class_names=["neg", "positive"])[
        2
    ] == ["positive", "neg"]
    with pytest.raises(
        TaskFileError,
        match=r"line 3: label 'neg' is not a "
        r"class of the training file \(negative, positive\)",
    ):
        read_classification_file(train, class_names=["negative", "positive"])
    # Numbers keep their meaning: ids, checked as before.
    numbers = _csv(tmp_path / "numbers.csv", ["a film,1", "b film,0"])
    assert read_classification_file(numbers)[2] == [1, 0]
    mixed = _csv(tmp_path / "mixed.csv", ["a film,1", "b film,pos"])
    with pytest.raises(
        TaskFileError,
        match="line 3: label 'pos' is not a number, unlike line 2's '1'",
    ):
        read_classification_file(mixed)
    with pytest.raises(TaskFileError, match="regression .* needs numbers"):
        read_classification_file(train, num_classes=1)
    empty = _csv(tmp_path / "empty.csv", ["a film,pos", "b film,"])
    with pytest.raises(TaskFileError, match="line 3: no label"):
        read_classification_file(empty)
    # A test file of names for a training file of ids: says which to use.
    with pytest.raises(TaskFileError) as error:
        read_classification_file(train, num_classes=2, class_names=None)
    assert str(error.value) == (
        f"{train}, line 2: label 'positive' is not a number: the training "
        "file's labels are class ids, so this file's must be too (or use "
        "class names in both)."
    )


# === Training on class names, and predicting with them ===


@pytest.fixture(scope="module")
def named_run(preset, tmp_path_factory):
    """A classifier fine-tuned on class names with the default epochs."""
    root = tmp_path_factory.mktemp("named")
    train = _csv(root / "train.csv", _named_rows(16))
    # The test file's first column is an id that reads as the opposite
    # text: it is read by the training file's text column, by name.
    test = _csv(
        root / "test.csv",
        [
            f"{BAD if i % 2 else GOOD},{row}"
            for i, row in enumerate(_named_rows(16))
        ],
        header="id,sentence,label",
    )
    output = root / "run"
    result = finetune(
        "classify",
        preset,
        train,
        test,
        output=str(output),
        batch_size=8,
        sequence_length=16,
        learning_rate=3e-3,
        verbose=0,
    )
    return result, output


def test_class_names_round_trip(named_run):
    result, output = named_run
    assert result["class_names"] == ["neg", "pos"]
    assert result["num_classes"] == 2 and result["accuracy"] == 1.0
    # Rows and columns of the confusion matrix follow the names.
    assert result["confusion_matrix"] == [[8, 0], [0, 8]]
    # The rule gave 16 rows at batch 8 (2 updates a epoch) 20 epochs.
    assert result["epochs"] == 20 and result["updates"] == 40
    assert result["epochs_given"] is False and result["warnings"] == []
    assert json.loads((output / "metrics.json").read_text()) == result
    kept = json.loads((output / "model" / "classifier.json").read_text())
    assert kept == dict(
        class_names=["neg", "pos"],
        num_classes=2,
        # The column found as the default, by name.
        text_column="sentence",
        pair_column=None,
        label_column="label",
    )
    # Python's predictions use the names.
    new = _csv(output.parent / "new.csv", [f"{GOOD},", f"{BAD},"])
    predicted = predict_file(output, new)
    assert predicted["predictions"] == ["pos", "neg"]
    assert predicted["header"] == [
        "sentence",
        "label",
        "prediction",
        "prob_neg",
        "prob_pos",
    ]
    assert predicted["probabilities"].sum(-1) == pytest.approx([1, 1], 1e-5)
    assert predicted["accuracy"] is None  # empty labels are skipped
    # A new file with a leading id column: its texts are classified.
    ids = _csv(
        output.parent / "ids.csv",
        [f"{BAD},{GOOD}", f"{GOOD},{BAD}"],
        header="id,sentence",
    )
    predicted = predict_file(output, ids)
    assert predicted["predictions"] == ["pos", "neg"]
    assert predicted["header"][:2] == ["sentence", "prediction"]
    # A file without the model's text column is refused, not guessed at.
    other = _csv(output.parent / "other.csv", [GOOD], header="review")
    with pytest.raises(OptionError) as error:
        predict_file(output, other)
    assert str(error.value) == (
        f"'{other}' has no column 'sentence', the text column the model was "
        "fine-tuned on (columns: review). Name the file's text column with "
        "`text_column`."
    )
    assert predict_file(output, other, text_column="review")["predictions"] == [
        "pos"
    ]


def test_an_unseen_test_name_is_named_with_file_and_line(preset, tmp_path):
    train = _csv(tmp_path / "train.csv", _named_rows(4))
    test = _csv(tmp_path / "test.csv", [f"{GOOD},pos", f"{BAD},neutral"])
    with pytest.raises(TaskFileError) as error:
        finetune("classify", preset, train, test, verbose=0)
    assert str(error.value) == (
        f"{test}, line 3: label 'neutral' is not a class of the training "
        "file (neg, pos)."
    )


@once_per_suite  # the warning is plain Python (see test_collapsed_class)
def test_predictions_collapsed_to_one_class_warn(preset, tmp_path, capsys):
    train = _csv(tmp_path / "train.csv", _named_rows(8))
    # One text, two labels: the predictions cannot but be one class, after
    # any training (one update here).
    test = _csv(tmp_path / "test.csv", [f"{GOOD},pos", f"{GOOD},neg"] * 4)
    output = tmp_path / "run"
    result = finetune(
        "classify",
        preset,
        train,
        test,
        output=str(output),
        epochs=1,
        batch_size=8,
        sequence_length=16,
        learning_rate=1e-7,
        command_line=True,
    )
    (warning,) = result["warnings"]
    assert warning.startswith("8 of 8 test predictions are class '")
    assert "too few updates: 1" in warning
    assert "Raise `epochs`, or change `learning_rate`." in warning
    saved = json.loads((output / "metrics.json").read_text())
    assert saved["warnings"] == [warning]
    # Printed once, as the command line spells options.
    captured = capsys.readouterr()
    lines = [x for x in captured.err.splitlines() if x.startswith("Warning")]
    assert (
        len(lines) == 1
        and "Raise --epochs, or change --learning-rate" in (lines[0])
    )
    assert "Training 8 examples for 1 epoch (1 update of batch 8)." in (
        captured.out
    )


# === The command line: a kept model, and predict ===


@once_per_suite  # the command line's own work; training is tested above
def test_the_command_line_keeps_the_model_in_a_new_folder(
    preset, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    numbers = [f"{GOOD if i % 2 else BAD},{i % 2}" for i in range(8)]
    train = _csv(tmp_path / "train.csv", numbers)
    (tmp_path / "finetune_classify").mkdir()
    (tmp_path / "finetune_classify" / "mine.txt").write_text("keep")
    argv = ["finetune", "--task", "classify", "--preset", preset]
    argv += ["--train", train, "--test", train, "--epochs", "1"]
    assert main(argv + ["--sequence-length", "16"]) == 0
    out = capsys.readouterr().out
    # A given number of epochs is obeyed exactly, and said plainly.
    assert "Training 8 examples for 1 epoch (1 update of batch 32)." in out
    assert "metrics.json and confusion_matrix.png in finetune_classify-2" in out
    assert "Predict: keras-electra predict finetune_classify-2 FILE.csv" in out
    assert (tmp_path / "finetune_classify" / "mine.txt").read_text() == "keep"
    metrics = json.loads(
        (tmp_path / "finetune_classify-2" / "metrics.json").read_text()
    )
    # Numeric labels: no names, as before.
    assert "class_names" not in metrics and metrics["num_classes"] == 2
    assert metrics["epochs"] == 1 and metrics["epochs_given"] is True
    # Its predictions are class ids, to stdout.
    assert main(["predict", "finetune_classify-2", train]) == 0
    table = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert table[0] == ["sentence", "label", "prediction", "prob_0", "prob_1"]
    assert len(table) == 9 and {row[2] for row in table[1:]} <= {"0", "1"}


@once_per_suite
def test_a_failed_run_leaves_no_empty_folder(
    preset, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    train = _csv(tmp_path / "train.csv", [f"{GOOD},1"])
    test = _csv(tmp_path / "test.csv", [f"{GOOD},pos"])
    argv = ["finetune", "--task", "classify", "--preset", preset]
    assert main(argv + ["--train", train, "--test", test]) == 2
    assert "must be too" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["test.csv", "train.csv"]


def _broken_pipe():
    """A standard output whose reader has gone, as under `| head`."""
    read, write = os.pipe()
    os.close(read)
    return os.fdopen(write, "w")


@once_per_suite  # the command line's own work; predictions are tested above
def test_predict_command(named_run, tmp_path, capsys, monkeypatch):
    _, output = named_run
    labelled = _csv(
        tmp_path / "labelled.tsv",
        [f"{GOOD}\tpos", f"{BAD}\tneg"],
        header="sentence\tlabel",
    )
    written = tmp_path / "predictions.csv"
    # The model/ folder works as well as the output folder.
    argv = ["predict", str(output / "model"), labelled, "--output"]
    assert main(argv + [str(written)]) == 0
    out = capsys.readouterr().out
    assert "Accuracy on the 2 labelled rows: 1.0000" in out
    assert f"Wrote 2 predictions to {written}." in out
    rows = list(csv.DictReader(written.open(encoding="utf-8")))
    assert [r["prediction"] for r in rows] == ["pos", "neg"]
    assert float(rows[0]["prob_pos"]) > 0.5 > float(rows[1]["prob_pos"])
    # Without --output: the table alone on stdout.
    assert main(["predict", str(output), labelled]) == 0
    captured = capsys.readouterr()
    assert (
        captured.out.splitlines()[0]
        == "sentence,label,prediction,prob_neg,prob_pos"
    )
    assert "Accuracy on the 2 labelled rows" in captured.err
    # Labels that are not the model's classes give no accuracy, and say so.
    other = _csv(tmp_path / "other.csv", [f"{GOOD},great"])
    result = predict_file(output, other)
    assert result["accuracy"] is None and result["notes"] == [
        f"{other}, line 2: label 'great' is not a class of the model (neg, "
        "pos): no accuracy. Name the column of the model's labels with "
        "`label_column`, or leave the labels out."
    ]
    # `predict ... | head`: a reader that stops early is no error.
    stdout = _broken_pipe()
    monkeypatch.setattr(sys, "stdout", stdout)
    try:
        assert main(["predict", str(output), labelled]) == 0
    finally:
        monkeypatch.undo()
        stdout.close()
    assert "Traceback" not in capsys.readouterr().err
