"""The fine-tuning tasks of `keras-electra finetune`: one registry entry each.

An entry says what its task reads, which model it fine-tunes, how it trains
and evaluates, which metrics it reports and which files it writes;
`keras_electra.jobs.finetune.finetune` looks the task up here and runs it.
A new task is one entry plus its own code:

```python
from keras_electra.jobs.finetune_tasks import FinetuningTask
from keras_electra.jobs.finetune_tasks import register_finetuning_task


@register_finetuning_task
class LengthTask(FinetuningTask):
    name = "length"
    help = "classify lines as short or long"
    file_help = "one text a line"
    metrics = ("accuracy",)

    def read(self, job):
        ...  # -> data: whatever `build`, `train` and `evaluate` need

    def build(self, job, data):
        ...  # -> (model, preprocessor)

    def train(self, job, model, preprocessor, data):
        ...  # job.fit(model, dataset, n) -> {"train_examples": n}

    def evaluate(self, job, model, preprocessor, data):
        ...  # -> {"test_examples": ..., "accuracy": ...}
```

This module imports no backend: the command line reads `FINETUNING_TASKS`
(names, help, file formats, options, metrics) to build its parser before the
Keras backend is chosen. The entries' methods import what they use.
"""

import json
import os
from types import SimpleNamespace

import numpy as np

from keras_electra.utils.option_errors import OptionError

# The task-specific options of `finetune()` (and of the command line); their
# defaults and help are `jobs/options.py`'s `FinetuneConfig`. A task takes
# those its entry lists in `options`; the others are refused unless they
# keep their default.
TASK_OPTIONS = ("num_classes", "text_column", "pair_column", "label_column")

# Kept with a fine-tuned classifier's preset (see `ClassifyTask`).
CLASSIFIER_FILE = "classifier.json"


class FinetuningTask:
    """A fine-tuning task: what `finetune()` reads, trains and reports.

    A task sets these class attributes:

    - `name`: the `--task` value (`finetune(task=...)`).
    - `help`: one line for the command line's help.
    - `file_help`: what its `--train` and `--test` files hold.
    - `options`: the task-specific options of `finetune()` that it takes
      (keys of `TASK_OPTIONS`); `read` receives them as keyword arguments.
    - `metrics`: the result keys the command line prints, in order (those
      absent from a result are skipped).
    - `output_files`: the files `write_files` may add to the output folder,
      beside `model/` and `metrics.json`.

    and implements the four steps of `run`:

    - `read(job, **options)`: read `job.train` and `job.test` (with the
      readers of `keras_electra.data.task_files`); returns the task's data,
      any object the next steps understand.
    - `build(job, data)`: `(model, preprocessor)` from the preset at
      `job.path`, with `job.tokenizer` and `job.load_weights`.
    - `train(job, model, preprocessor, data)`: fine-tunes through the shared
      `job.fit(model, data, n)` (`unit="windows"` when its `n` rows are
      not examples); returns the training sizes
      (`{"train_examples": n, ...}`).
    - `evaluate(job, model, preprocessor, data)`: the test metrics
      (`{"test_examples": n, <metrics>...}`).

    and may write extra files with `write_files(output, result)`, and
    files kept with the saved model with `write_model_files(folder,
    result)`.

    `job` holds the settings every task shares (see
    `keras_electra.jobs.finetune`): `path`, `tokenizer`, `train`, `test`,
    `batch_size`, `sequence_length`, `load_weights`, `seed`, `verbose`,
    `subsample(n)` (the indices of the training examples to use),
    `fit(model, data, n)` and `warn(template, **values)` (a one-line
    warning, with options named as `{o.epochs}`).
    """

    name = None
    help = ""
    file_help = ""
    options = ()
    metrics = ()
    output_files = ()

    def read(self, job, **options):
        raise NotImplementedError

    def build(self, job, data):
        raise NotImplementedError

    def train(self, job, model, preprocessor, data):
        raise NotImplementedError

    def evaluate(self, job, model, preprocessor, data):
        raise NotImplementedError

    def write_files(self, output, result):
        """Write the task's extra files (`output_files`) into `output`."""

    def write_model_files(self, folder, result):
        """Write files the saved model needs beside its preset (in the
        output's `model/` folder, `folder` while it is written)."""

    @staticmethod
    def model_with_preprocessor(job, model_cls, **kwargs):
        """`(model, preprocessor)`: a keras-hub task class from the preset,
        with its own preprocessor (`model_cls.preprocessor_cls`) on the
        job's tokenizer and sequence length, so `fit` takes raw inputs."""
        preprocessor = model_cls.preprocessor_cls(
            job.tokenizer, sequence_length=job.sequence_length
        )
        model = model_cls.from_preset(
            job.path,
            load_weights=job.load_weights,
            preprocessor=preprocessor,
            **kwargs,
        )
        return model, preprocessor

    def run(self, job, **options):
        """Read, build, train and evaluate: `(result, model)`."""
        data = self.read(job, **options)
        model, preprocessor = self.build(job, data)
        result = dict(self.train(job, model, preprocessor, data))
        result.update(self.evaluate(job, model, preprocessor, data))
        return result, model

    def describe(self, result):
        """The command line's line for a result: `Test (N examples): ...`."""
        shown = ", ".join(
            f"{key} {result[key]:.4f}" for key in self.metrics if key in result
        )
        return f"Test ({result['test_examples']} examples): {shown}"

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"


# A classifier's test predictions have collapsed when at least this share
# of them is one class while the test labels are less one-sided.
COLLAPSE_SHARE = 0.95


def collapsed_class(labels, predictions, share=COLLAPSE_SHARE):
    """The class (nearly) every prediction is, when the labels are not.

    Args:
        labels, predictions: class ids of the test examples.
        share: "nearly every": at least this share of the predictions.

    Returns: `(class id, count)` when at least `share` of the predictions
    are one class while no class holds `share` of the labels (a model that
    predicts the majority class of mixed labels); else None.
    """
    labels = np.asarray(labels).reshape(-1)
    predictions = np.asarray(predictions).reshape(-1)
    if not len(predictions):
        return None
    classes, counts = np.unique(predictions, return_counts=True)
    top = int(np.argmax(counts))
    _, label_counts = np.unique(labels, return_counts=True)
    if counts[top] < share * len(predictions):
        return None
    if label_counts.max() >= share * len(labels):
        return None  # the labels are one-sided too
    return int(classes[top]), int(counts[top])


# Name -> entry, in the order the command line lists them.
FINETUNING_TASKS = {}


def register_finetuning_task(entry):
    """Add a task to `FINETUNING_TASKS`; usable as a class decorator.

    Args:
        entry: a `FinetuningTask` instance, or a subclass (registered as an
            instance of itself).

    Returns: `entry`, unchanged.
    """
    task = entry() if isinstance(entry, type) else entry
    if not isinstance(task, FinetuningTask):
        raise TypeError(
            f"A fine-tuning task must be a FinetuningTask. Received: {entry!r}"
        )
    if not task.name or not isinstance(task.name, str):
        raise ValueError(f"{task!r} has no `name`.")
    if task.name in FINETUNING_TASKS:
        raise ValueError(f"A fine-tuning task {task.name!r} already exists.")
    unknown = [name for name in task.options if name not in TASK_OPTIONS]
    if unknown:
        raise ValueError(
            f"Task {task.name!r} lists unknown options {unknown}: the "
            f"task-specific options are {', '.join(TASK_OPTIONS)}."
        )
    FINETUNING_TASKS[task.name] = task
    return entry


def _one_of(names):
    names = list(names)
    if len(names) < 2:
        return "".join(names)
    return f"{', '.join(names[:-1])} or {names[-1]}"


def get_finetuning_task(name):
    """The registered task called `name`; a `ValueError` lists the others."""
    if name not in FINETUNING_TASKS:
        raise ValueError(
            f"Unknown task {name!r}: use {_one_of(FINETUNING_TASKS)}."
        )
    return FINETUNING_TASKS[name]


def describe_result(task_name, result):
    """`Test (N examples): accuracy 0.9000, macro_f1 0.8000` for a result of
    `finetune(task_name, ...)`: the task's `metrics` present in it."""
    return get_finetuning_task(task_name).describe(result)


def describe_outputs(task_name, output):
    """`Model, metrics.json and confusion_matrix.png in OUTPUT`: what
    `finetune(task_name, ..., output=OUTPUT)` writes."""
    files = ["Model", "metrics.json"]
    files += get_finetuning_task(task_name).output_files
    listed = f"{', '.join(files[:-1])} and {files[-1]}"
    return f"{listed} in {output}"


@register_finetuning_task
class ClassifyTask(FinetuningTask):
    """Sentence (or sentence-pair) classification, or regression.

    `ElectraTextClassifier` with its preprocessor over a CSV/TSV file with
    a header (see `read_classification_file`); `num_classes=1` regresses
    real-valued labels. Reports accuracy, macro F1 and the confusion matrix
    (drawn into `confusion_matrix.png`), or MSE and Pearson's r.

    Labels are class ids (0..n-1) or class names: strings such as
    "positive", whose classes are the training file's distinct names,
    sorted (`class_names` in the result; the confusion matrix's rows and
    columns follow them). A test file's names must be among them. When
    nearly all test predictions are one class while the labels are mixed,
    a warning says so (`collapsed_class`).

    The saved model keeps `classifier.json` beside its preset: the class
    names (None for ids), the number of classes and the columns it read
    (the text column by name, also when it was found as the first), for
    `keras-electra predict`. The test file is read by the same columns.
    A side file rather than the task's config (`task.json`): the
    classifier stays the plain keras-hub `TextClassifier` that
    `from_preset` and `export` know, the names are the job's (the model
    only has outputs), and the file reads without a backend.
    """

    name = "classify"
    help = "sentence (pair) classification; {o.num_classes} 1: regression"
    file_help = "CSV/TSV"
    options = ("num_classes", "text_column", "pair_column", "label_column")
    metrics = ("accuracy", "macro_f1", "mse", "pearson")
    output_files = ("confusion_matrix.png",)

    def read(
        self,
        job,
        num_classes=None,
        text_column=None,
        pair_column=None,
        label_column="label",
    ):
        from keras_electra.data.task_files import classification_columns
        from keras_electra.data.task_files import read_classification_file

        texts, pairs, labels = read_classification_file(
            job.train, text_column, pair_column, label_column, num_classes
        )
        # The columns read, the default text column resolved: the test
        # file and `predict` read the same ones, wherever they stand.
        columns = classification_columns(
            job.train, text_column, pair_column, label_column
        )
        if text_column is None:
            _check_text_column(job.test, job.train, columns["text_column"])
        class_names = None
        if isinstance(labels[0], str):
            class_names = sorted(set(labels))
            if len(class_names) < 2:
                raise OptionError(
                    "'{path}' has one class name ({name!r}): a classifier "
                    "needs examples of two or more classes.",
                    path=job.train,
                    name=class_names[0],
                )
            if num_classes not in (None, len(class_names)):
                raise OptionError(
                    "'{path}' has {count} class names ({names}), not "
                    "{o.num_classes} {given}: leave {o.num_classes} out "
                    "with class names.",
                    path=job.train,
                    count=len(class_names),
                    names=", ".join(class_names),
                    given=num_classes,
                )
            num_classes = len(class_names)
        elif num_classes is None:
            num_classes = int(max(labels)) + 1
        # Checked against the classes found in training, with file and line.
        test_texts, test_pairs, test_labels = read_classification_file(
            job.test,
            **columns,
            num_classes=num_classes,
            class_names=class_names,
        )
        if class_names is not None:
            ids = {name: i for i, name in enumerate(class_names)}
            labels = [ids[name] for name in labels]
            test_labels = [ids[name] for name in test_labels]
        return SimpleNamespace(
            texts=texts,
            pairs=pairs,
            labels=labels,
            test_texts=test_texts,
            test_pairs=test_pairs,
            test_labels=test_labels,
            num_classes=num_classes,
            class_names=class_names,
            columns=columns,
        )

    def build(self, job, data):
        from keras_electra.models.electra_text_classifier import (
            ElectraTextClassifier,
        )

        return self.model_with_preprocessor(
            job, ElectraTextClassifier, num_classes=data.num_classes
        )

    @staticmethod
    def _raw(texts, pairs):
        # The task's own preprocessor packs raw strings (or pairs).
        texts = np.asarray(texts)
        return texts if pairs is None else (texts, np.asarray(pairs))

    def train(self, job, model, preprocessor, data):
        import tensorflow as tf

        index = job.subsample(len(data.texts))
        dtype = "float32" if data.num_classes == 1 else "int32"
        y = np.asarray(data.labels, dtype)[index]
        x = self._raw(
            [data.texts[i] for i in index],
            None if data.pairs is None else [data.pairs[i] for i in index],
        )
        job.fit(model, tf.data.Dataset.from_tensor_slices((x, y)), len(y))
        return {"train_examples": int(len(index))}

    def evaluate(self, job, model, preprocessor, data):
        from keras_electra.metrics.classification import classification_report

        out = model.predict(
            self._raw(data.test_texts, data.test_pairs),
            batch_size=64,
            verbose=0,
        )
        result = {
            "test_examples": len(data.test_texts),
            "num_classes": data.num_classes,
        }
        if data.class_names is not None:
            result["class_names"] = data.class_names
        result["classifier"] = {
            "class_names": data.class_names,
            "num_classes": data.num_classes,
            **data.columns,
        }
        if data.num_classes == 1:
            predictions = np.asarray(out).reshape(-1)
            truth = np.asarray(data.test_labels, "float32")
            result["mse"] = float(np.mean((predictions - truth) ** 2))
            result["pearson"] = float(np.corrcoef(predictions, truth)[0, 1])
            return result
        predictions = np.argmax(out, -1)
        result.update(
            classification_report(
                data.test_labels, predictions, data.num_classes
            )
        )
        collapsed = collapsed_class(data.test_labels, predictions)
        if collapsed is not None:
            name = collapsed[0]
            if data.class_names is not None:
                name = repr(data.class_names[name])
            job.warn(
                "{count} of {total} test predictions are class {name} "
                "while the test labels hold {classes} classes: the model "
                "likely learned little beyond the commonest class (too few "
                "updates: {updates}, or an unsuitable learning rate). Raise "
                "{o.epochs}, or change {o.learning_rate}.",
                count=collapsed[1],
                total=len(predictions),
                name=name,
                classes=len(set(data.test_labels)),
                updates=job.updates,
            )
        return result

    def write_files(self, output, result):
        from keras_electra.utils.plotting import plot_confusion_matrix

        if "confusion_matrix" not in result:
            return  # regression
        from keras_electra.utils import file_system

        plot_confusion_matrix(
            result["confusion_matrix"],
            result.get("class_names")
            or [str(i) for i in range(result["num_classes"])],
            file_system.join(output, "confusion_matrix.png"),
            title=f"Test confusion matrix (accuracy {result['accuracy']:.3f})",
        )

    def write_model_files(self, folder, result):
        # `folder` is the local folder of the model being written (see
        # `finetune._write_outputs`), also for an output behind a URL.
        with open(
            os.path.join(folder, CLASSIFIER_FILE), "w", encoding="utf-8"
        ) as f:
            json.dump(result["classifier"], f, indent=2)
            f.write("\n")


def _check_text_column(test, train, text_column):
    """A test file without the training file's (default) text column is
    refused, not read by another column that stands first."""
    from keras_electra.data.task_files import TaskFileError
    from keras_electra.data.task_files import read_columns

    columns = read_columns(test)
    if text_column not in columns:
        raise TaskFileError(
            f"'{test}' has no column '{text_column}', the text column of "
            f"'{train}' (columns: {', '.join(columns) or 'none'}). Give "
            "both files the same text column."
        )


@register_finetuning_task
class TagTask(FinetuningTask):
    """Word tagging (part of speech, named entities).

    `ElectraTokenClassifier` with its preprocessor over CoNLL-style files
    (see `read_tagged_file`); each word's first wordpiece carries its tag.
    Reports word accuracy, with words cut off by `sequence_length` counted
    as errors.
    """

    name = "tag"
    help = "word tagging (part of speech, named entities)"
    file_help = "word<TAB>tag"
    metrics = ("accuracy",)

    def read(self, job):
        from keras_electra.data.task_files import read_tagged_file

        sentences, tags = read_tagged_file(job.train)
        test_sentences, test_tags = read_tagged_file(job.test)
        names = sorted({t for sentence in tags for t in sentence})
        return SimpleNamespace(
            sentences=sentences,
            tags=tags,
            test_sentences=test_sentences,
            test_tags=test_tags,
            names=names,
            ids={t: i for i, t in enumerate(names)},
        )

    def build(self, job, data):
        from keras_electra.models.electra_token_classifier import (
            ElectraTokenClassifier,
        )

        return self.model_with_preprocessor(
            job, ElectraTokenClassifier, num_classes=len(data.names)
        )

    def train(self, job, model, preprocessor, data):
        import tensorflow as tf

        index = job.subsample(len(data.sentences))
        # Word lists of different lengths: ragged tensors through tf.data,
        # and the tagger's preprocessor aligns the labels inside `fit`.
        words = tf.ragged.constant([data.sentences[i] for i in index])
        labels = tf.ragged.constant(
            [[data.ids[t] for t in data.tags[i]] for i in index],
            dtype="int32",
        )
        job.fit(
            model,
            tf.data.Dataset.from_tensor_slices((words, labels)),
            len(index),
        )
        return {"train_examples": int(len(index))}

    def evaluate(self, job, model, preprocessor, data):
        import tensorflow as tf

        from keras_electra.models.electra_token_classifier import (
            first_piece_predictions,
        )

        test_words = tf.ragged.constant(data.test_sentences)
        logits = model.predict(test_words, batch_size=64, verbose=0)
        # The same preprocessing marks each test word's first wordpiece.
        _, _, test_weights = preprocessor(test_words)
        predicted = first_piece_predictions(logits, test_weights)
        ids = data.ids
        correct = total = unseen = truncated = 0
        for guess, truth in zip(predicted, data.test_tags):
            truncated += len(truth) - len(guess)
            for g, t in zip(guess, truth):
                total += 1
                unseen += t not in ids
                correct += ids.get(t, -1) == int(g)
            total += len(truth) - len(guess)  # cut-off words count as errors
        return {
            "test_examples": len(data.test_sentences),
            "num_classes": len(data.names),
            "accuracy": correct / max(1, total),
            "test_words": total,
            "test_words_with_unseen_tags": unseen,
            "test_words_truncated": truncated,
            "tags": data.names,
        }


@register_finetuning_task
class QATask(FinetuningTask):
    """Extractive question answering (SQuAD v1.1 or v2.0).

    `ElectraQuestionAnswerer` over SQuAD JSON or CSV files (see
    `read_qa_file`). Its preprocessor's windows change the number of rows,
    so it encodes before the model (which takes no preprocessor). Reports
    SQuAD's exact match and F1.
    """

    name = "qa"
    help = "extractive question answering (SQuAD v1.1 or v2.0)"
    file_help = "SQuAD JSON or CSV"
    metrics = ("exact_match", "f1")

    def read(self, job):
        from keras_electra.data.task_files import read_qa_file

        questions, contexts, answers = read_qa_file(job.train)
        test_questions, test_contexts, test_answers = read_qa_file(job.test)
        return SimpleNamespace(
            questions=questions,
            contexts=contexts,
            answers=answers,
            test_questions=test_questions,
            test_contexts=test_contexts,
            test_answers=test_answers,
        )

    def build(self, job, data):
        from keras_electra.models import (
            electra_question_answerer_preprocessor as qa_preprocessing,
        )
        from keras_electra.models.electra_question_answerer import (
            ElectraQuestionAnswerer,
        )

        length = job.sequence_length
        preprocessor = qa_preprocessing.ElectraQuestionAnswererPreprocessor(
            job.tokenizer,
            sequence_length=length,
            doc_stride=max(1, length // 3),
            max_question_length=min(64, length // 4),
        )
        model = ElectraQuestionAnswerer.from_preset(
            job.path, load_weights=job.load_weights
        )
        return model, preprocessor

    def train(self, job, model, preprocessor, data):
        index = job.subsample(len(data.questions))
        # Windowing changes the number of rows, so it runs before the model
        # (the question answerer takes no preprocessor; see its docstring).
        batch = preprocessor.encode(
            [data.questions[i] for i in index],
            [data.contexts[i] for i in index],
            [data.answers[i][0] if data.answers[i] else None for i in index],
        )
        job.fit(model, (batch.x, batch.y), len(batch), unit="windows")
        return {"train_examples": int(len(index)), "train_windows": len(batch)}

    def evaluate(self, job, model, preprocessor, data):
        from keras_electra.metrics.squad import exact_match
        from keras_electra.metrics.squad import f1_score

        allow_no_answer = any(not a for a in data.answers + data.test_answers)
        predictions = preprocessor.answer(
            model,
            data.test_questions,
            data.test_contexts,
            allow_no_answer=allow_no_answer,
        )
        truths = [[text for text, _ in a] for a in data.test_answers]
        pairs = list(zip(predictions, truths))
        return {
            "test_examples": len(data.test_questions),
            "exact_match": float(np.mean([exact_match(*p) for p in pairs])),
            "f1": float(np.mean([f1_score(*p) for p in pairs])),
        }
