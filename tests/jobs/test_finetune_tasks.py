"""`jobs/finetune_tasks.py`: the registry of fine-tuning tasks."""

import json

import numpy as np
import pytest
from helpers import run_without_backend

from keras_electra.jobs.finetune import finetune
from keras_electra.jobs.finetune_tasks import FINETUNING_TASKS
from keras_electra.jobs.finetune_tasks import TASK_OPTIONS
from keras_electra.jobs.finetune_tasks import FinetuningTask
from keras_electra.jobs.finetune_tasks import describe_outputs
from keras_electra.jobs.finetune_tasks import describe_result
from keras_electra.jobs.finetune_tasks import get_finetuning_task
from keras_electra.jobs.finetune_tasks import register_finetuning_task


@pytest.fixture
def registry():
    """`FINETUNING_TASKS`, restored after the test."""
    saved = dict(FINETUNING_TASKS)
    yield FINETUNING_TASKS
    FINETUNING_TASKS.clear()
    FINETUNING_TASKS.update(saved)


def test_the_registry_lists_classify_tag_and_qa():
    assert list(FINETUNING_TASKS) == ["classify", "tag", "qa"]
    for name, entry in FINETUNING_TASKS.items():
        assert entry.name == name and entry.help and entry.file_help
        assert set(entry.options) <= set(TASK_OPTIONS)
        assert entry.metrics and get_finetuning_task(name) is entry
    # What the command line prints and offers comes from the entries.
    assert FINETUNING_TASKS["classify"].metrics == (
        "accuracy",
        "macro_f1",
        "mse",
        "pearson",
    )
    assert FINETUNING_TASKS["tag"].metrics == ("accuracy",)
    assert FINETUNING_TASKS["qa"].metrics == ("exact_match", "f1")
    assert FINETUNING_TASKS["classify"].output_files == (
        "confusion_matrix.png",
    )
    assert FINETUNING_TASKS["tag"].options == FINETUNING_TASKS["qa"].options
    assert FINETUNING_TASKS["tag"].options == ()
    assert ", ".join(
        f"{t.file_help} ({k})" for k, t in FINETUNING_TASKS.items()
    ) == ("CSV/TSV (classify), word<TAB>tag (tag), SQuAD JSON or CSV (qa)")
    result = {"test_examples": 9, "accuracy": 0.9, "macro_f1": 0.8}
    result.update(confusion_matrix=[[1]], num_classes=2)
    assert describe_result("classify", result) == (
        "Test (9 examples): accuracy 0.9000, macro_f1 0.8000"
    )
    assert describe_result("qa", {"test_examples": 2, "f1": 0.5}) == (
        "Test (2 examples): f1 0.5000"
    )
    assert describe_outputs("classify", "run") == (
        "Model, metrics.json and confusion_matrix.png in run"
    )
    assert describe_outputs("tag", "run") == "Model and metrics.json in run"


def test_importing_the_registry_loads_no_backend():
    out = run_without_backend(
        "import keras_electra.jobs.finetune_tasks as tasks\n"
        "import keras_electra.jobs.finetune\n"
        "print(list(tasks.FINETUNING_TASKS))\n"
    )
    assert out.strip() == "['classify', 'tag', 'qa']"


def test_unknown_task_lists_the_choices():
    with pytest.raises(
        ValueError, match=r"Unknown task 'parse': use classify, tag or qa\."
    ):
        get_finetuning_task("parse")
    # Before the preset is even looked at.
    with pytest.raises(ValueError, match="`task` must be one of classify"):
        finetune("parse", "no/such/preset", "train.csv", "test.csv")


@pytest.mark.parametrize(
    "task, option, value",
    [
        ("tag", "num_classes", 3),
        ("tag", "text_column", "sentence"),
        ("qa", "pair_column", "context"),
        ("qa", "label_column", "answer"),
    ],
)
def test_a_task_refuses_the_options_it_does_not_take(task, option, value):
    with pytest.raises(ValueError, match=rf"'{task}' takes no `{option}`") as e:
        finetune(task, "no/such/preset", "a", "b", **{option: value})
    assert "option of classify" in str(e.value)


def test_registration_checks_the_entry(registry):
    class Nameless(FinetuningTask):
        pass

    with pytest.raises(ValueError, match="no `name`"):
        register_finetuning_task(Nameless)
    with pytest.raises(TypeError, match="must be a FinetuningTask"):
        register_finetuning_task(object())
    with pytest.raises(ValueError, match="'tag' already exists"):
        register_finetuning_task(type(FINETUNING_TASKS["tag"]))

    class Odd(FinetuningTask):
        name = "odd"
        options = ("vocabulary",)

    with pytest.raises(ValueError, match=r"unknown options \['vocabulary'\]"):
        register_finetuning_task(Odd)
    assert list(registry) == ["classify", "tag", "qa"]


class LengthTask(FinetuningTask):
    """A toy task: is a line longer than two words? One entry, own code."""

    name = "length"
    help = "short (two words or fewer) or long lines"
    file_help = "one text a line"
    metrics = ("accuracy",)
    output_files = ("lengths.json",)

    def read(self, job):
        def lines(path):
            with open(path, encoding="utf-8") as f:
                texts = [line.strip() for line in f if line.strip()]
            return texts, [int(len(t.split()) > 2) for t in texts]

        texts, labels = lines(job.train)
        test_texts, test_labels = lines(job.test)
        return texts, labels, test_texts, test_labels

    def build(self, job, data):
        from keras_electra.models.electra_text_classifier import (
            ElectraTextClassifier,
        )

        return self.model_with_preprocessor(
            job, ElectraTextClassifier, num_classes=2
        )

    def train(self, job, model, preprocessor, data):
        import tensorflow as tf

        texts, labels, _, _ = data
        index = job.subsample(len(texts))
        x = np.asarray(texts)[index]
        y = np.asarray(labels, "int32")[index]
        job.fit(model, tf.data.Dataset.from_tensor_slices((x, y)), len(y))
        return {"train_examples": len(index)}

    def evaluate(self, job, model, preprocessor, data):
        _, _, texts, labels = data
        logits = model.predict(np.asarray(texts), verbose=0)
        guesses = np.argmax(logits, -1)
        return {
            "test_examples": len(texts),
            "accuracy": float(np.mean(guesses == np.asarray(labels))),
            "long": int(guesses.sum()),
        }

    def write_files(self, output, result):
        with open(f"{output}/lengths.json", "w", encoding="utf-8") as f:
            json.dump({"long": result["long"]}, f)


def test_a_new_task_is_one_registry_entry(registry, preset, tmp_path):
    assert register_finetuning_task(LengthTask) is LengthTask
    assert list(registry) == ["classify", "tag", "qa", "length"]
    with pytest.raises(ValueError, match="use classify, tag, qa or length"):
        get_finetuning_task("size")
    texts = tmp_path / "lines.txt"
    texts.write_text(
        "".join(
            "good film\n" if i % 2 else "the dog runs a film\n"
            for i in range(8)
        )
    )
    out = tmp_path / "run"
    result = finetune(
        "length",
        preset,
        str(texts),
        str(texts),
        output=str(out),
        epochs=1,
        batch_size=4,
        sequence_length=8,
        max_train_examples=6,
        verbose=0,
    )
    assert result["task"] == "length" and result["pretrained"] is True
    assert result["train_examples"] == 6 and result["test_examples"] == 8
    assert 0 <= result["accuracy"] <= 1 and "seconds" in result
    assert json.loads((out / "metrics.json").read_text()) == result
    assert json.loads((out / "lengths.json").read_text()) == {
        "long": result["long"]
    }
    assert (out / "model" / "config.json").exists()
    assert describe_result("length", result).startswith(
        "Test (8 examples): accuracy "
    )
    # Task-specific options of the others are refused by name.
    with pytest.raises(ValueError, match="'length' takes no `num_classes`"):
        finetune("length", preset, str(texts), str(texts), num_classes=2)
