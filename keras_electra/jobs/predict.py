"""Predictions of a fine-tuned classifier on a file: `keras-electra predict`.

    keras-electra finetune --task classify --preset electra_run/preset \\
        --train train.csv --test test.csv --output reviews
    keras-electra predict reviews new.csv --output predictions.csv

`predict_file` reads the output folder of `finetune --task classify` (or
its `model/` preset), with the `classifier.json` the job keeps there (the
class names, and the text columns it read; see `ClassifyTask`), and a
CSV/TSV file with a header. It writes the file's text column(s), its label
column if there is one, the predicted class (its name when the model has
names) and one probability column per class. A label column is optional:
with one, the accuracy is reported too.
"""

import csv
import json
import os
import warnings

import numpy as np

from keras_electra.jobs.finetune_tasks import CLASSIFIER_FILE
from keras_electra.utils import file_system
from keras_electra.utils.option_errors import OptionError
from keras_electra.utils.option_errors import spell

CLASSIFIERS = ("ElectraTextClassifier", "ElectraClassifier")
# The other fine-tuned models, by the task that made them.
OTHER_TASKS = {
    "ElectraTokenClassifier": "a tagger (finetune --task tag)",
    "ElectraQuestionAnswerer": "a question answerer (finetune --task qa)",
}
HOW = (
    "pass the output folder of `keras-electra finetune --task classify` "
    "(or its model/ folder)"
)


def find_classifier(model):
    """The preset folder of a fine-tuned classifier, and what the job kept
    with it.

    Args:
        model: the output folder of `finetune(task="classify", output=...)`,
            or its `model/` folder.

    Returns: `(folder, facts)`; `facts` is the `classifier.json` dict
    (`class_names`, `num_classes`, `text_column`, `pair_column`,
    `label_column`) with `recorded=True`, or what the preset tells without
    one (an output of an earlier version: ids for names, default columns).

    Raises a `ValueError` that says what to pass instead: a folder that
    holds no fine-tuned classifier (a pre-training preset, a tagger).
    """
    from keras_electra.utils import preset_utils
    from keras_electra.utils.preset_info import PresetInfo

    model = os.fspath(model)
    if not file_system.isdir(model):
        raise ValueError(f"'{model}' is not a folder: {HOW}.")
    folder = model
    if file_system.isdir(file_system.join(model, "model")):
        folder = file_system.join(model, "model")
    config = file_system.join(folder, preset_utils.CONFIG_FILE)
    if not file_system.isfile(config):
        raise ValueError(f"'{model}' holds no fine-tuned model: {HOW}.")
    if preset_utils.is_filesystem_url(folder):
        # (gs://...: read from a local copy; Keras reads .h5 files locally.)
        folder = preset_utils.local_copy(folder)
    info = PresetInfo.read(folder)
    name = info.class_name
    if name in OTHER_TASKS:
        raise ValueError(
            f"'{model}' holds {OTHER_TASKS[name]}: predict reads text "
            "classifiers (finetune --task classify) only."
        )
    if info.task is None or name not in CLASSIFIERS:
        raise ValueError(
            f"'{model}' holds no fine-tuned classifier ({name}): {HOW}."
        )
    if not info.has_task_weights or not info.has_tokenizer:
        raise ValueError(
            f"'{model}' lacks its weights or tokenizer: fine-tune again "
            "with --output, or restore the folder."
        )
    facts = dict(
        recorded=False,
        class_names=None,
        num_classes=int(info.task_config["num_classes"]),
        text_column=None,
        pair_column=None,
        label_column="label",
    )
    path = os.path.join(folder, CLASSIFIER_FILE)
    if os.path.isfile(path):
        try:
            with open(path, encoding="utf-8") as f:
                kept = json.load(f)
            if not isinstance(kept, dict):
                raise ValueError("not a JSON object")
        except ValueError as e:  # JSON and UTF-8 errors too
            raise ValueError(
                f"'{path}' is not readable ({e}): restore it, or fine-tune "
                "again with --output."
            ) from None
        facts.update(kept, recorded=True)
    return folder, facts


def predict_file(
    model,
    file,
    output=None,
    *,
    text_column=None,
    pair_column=None,
    label_column=None,
    batch_size=32,
    command_line=False,
):
    """Classify the texts of a CSV/TSV file with a fine-tuned classifier.

    Args:
        model: the output folder of `finetune(task="classify", output=...)`
            or its `model/` folder.
        file: a CSV/TSV file with a header (tab-separated: `.tsv`, `.tab`).
        output: a CSV file to write (tab-separated if it ends in `.tsv`);
            None writes nothing (`write_predictions` writes the result to
            any open file, as the command line does to stdout).
        text_column, pair_column, label_column: the file's columns;
            default: those the model was fine-tuned on (by name: a file
            without them is refused; pairs only if it read pairs). A
            model without recorded columns reads the first column that
            is not the label. Labels are optional: the model's label
            column is read if the file has it; a given one must exist.
        batch_size: texts per prediction batch.
        command_line: spell options in `notes` as flags (`--label-column`),
            as the command line does.

    Returns: a dict: `header` and `rows` (the table written), `predictions`
    (class names, ids, or values for a regressor), `probabilities`
    (`[rows, classes]`; None for a regressor), `class_names`, `accuracy`
    and `labelled` (with a label column of the model's classes; else None
    and 0) and `notes` (why the labels gave no accuracy).
    """
    from keras_electra.data.task_files import read_columns
    from keras_electra.data.task_files import read_texts_file

    if output is not None:
        _check_output(os.fspath(output))
    folder, facts = find_classifier(model)
    single = facts["recorded"] and facts["pair_column"] is None
    if pair_column is not None and single:
        raise OptionError(
            "'{model}' was fine-tuned on single texts: leave out "
            "{o.pair_column}.",
            model=model,
        )
    columns = read_columns(file)
    if label_column is None:
        # The model's label column, if this file has one: labels are
        # optional here.
        label_column = facts["label_column"] or "label"
        label_column = label_column if label_column in columns else None
    if text_column is None:
        text_column = _recorded(file, columns, facts, "text")
    if pair_column is None:
        pair_column = _recorded(file, columns, facts, "pair")
    texts, pairs, labels, text_column = read_texts_file(
        file, text_column, pair_column, label_column
    )
    probabilities, predictions = _predict(folder, texts, pairs, batch_size)
    names = facts["class_names"]
    if probabilities is not None and names is not None:
        predictions = [names[i] for i in predictions]
    accuracy, labelled, notes = _accuracy(file, labels, predictions, facts)
    notes = [spell(note, command_line, **values) for note, values in notes]

    header = [text_column] + ([pair_column] if pairs is not None else [])
    header += [label_column] if labels is not None else []
    header += ["prediction"]
    if probabilities is not None:
        shown = names or range(probabilities.shape[1])
        header += [f"prob_{name}" for name in shown]
    rows = []
    for i, text in enumerate(texts):
        row = [text] + ([pairs[i]] if pairs is not None else [])
        row += [labels[i]] if labels is not None else []
        row += [_cell(predictions[i])]
        if probabilities is not None:
            row += [f"{p:.4f}" for p in probabilities[i]]
        rows.append(row)
    result = dict(
        header=header,
        rows=rows,
        predictions=list(predictions),
        probabilities=probabilities,
        class_names=names,
        accuracy=accuracy,
        labelled=labelled,
        notes=notes,
    )
    if output is not None:
        output = os.fspath(output)
        with file_system.open_file(
            output, "w", encoding="utf-8", newline=""
        ) as f:
            write_predictions(result, f, tab=output.endswith(".tsv"))
    return result


def write_predictions(result, f, tab=False):
    """Write `predict_file`'s table to an open text file as CSV (or TSV)."""
    writer = csv.writer(f, delimiter="\t" if tab else ",", lineterminator="\n")
    writer.writerow(result["header"])
    writer.writerows(result["rows"])


def _check_output(output):
    if file_system.isdir(output):
        raise ValueError(f"'{output}' is a folder: name a file to write.")
    if file_system.has_scheme(output):
        return  # object stores have no folders to check
    parent = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(parent):
        raise ValueError(f"'{parent}' does not exist: create it first.")


def _recorded(file, columns, facts, kind):
    """The `kind` ("text", "pair") column the model was fine-tuned on, which
    `file` must have; None when the model recorded none."""
    name = facts[f"{kind}_column"]
    if name is not None and name not in columns:
        raise OptionError(
            "'{file}' has no column '{name}', the {kind} column the model "
            "was fine-tuned on (columns: {columns}). Name the file's {kind} "
            "column with {o." + kind + "_column}.",
            file=file,
            name=name,
            kind=kind,
            columns=", ".join(columns) or "none",
        )
    return name


def _predict(folder, texts, pairs, batch_size):
    """`(probabilities or None, predicted ids or values)`."""
    from keras_electra.models.electra_text_classifier import (
        ElectraTextClassifier,
    )

    with warnings.catch_warnings():
        # The saved optimizer's state, which predictions do not need.
        warnings.filterwarnings("ignore", "Skipping variable loading for opt")
        classifier = ElectraTextClassifier.from_preset(folder)
    x = np.asarray(texts)
    if pairs is not None:
        x = (x, np.asarray(pairs))
    logits = np.asarray(classifier.predict(x, batch_size=batch_size, verbose=0))
    if classifier.num_classes == 1:
        return None, [float(v) for v in logits.reshape(-1)]
    logits = logits - logits.max(-1, keepdims=True)
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(-1, keepdims=True)
    return probabilities, [int(i) for i in probabilities.argmax(-1)]


def _accuracy(file, labels, predictions, facts):
    """`(accuracy, labelled rows, notes)` from the file's labels, if they
    are the model's classes (empty labels are skipped); a note is a
    `(template, values)` pair for `spell`."""
    if labels is None:
        return None, 0, []
    if facts["num_classes"] == 1:
        return None, 0, [("A regressor's predictions get no accuracy.", {})]
    names = facts["class_names"]
    known = names or [str(i) for i in range(facts["num_classes"])]
    pairs = []
    for line, (label, guess) in enumerate(zip(labels, predictions), start=2):
        if not label:
            continue
        if label not in known:
            return (
                None,
                0,
                [
                    (
                        "{file}, line {line}: label {label!r} is not a "
                        "class of the model ({known}): no accuracy. Name "
                        "the column of the model's labels with "
                        "{o.label_column}, or leave the labels out.",
                        dict(
                            file=file,
                            line=line,
                            label=label,
                            known=", ".join(known),
                        ),
                    )
                ],
            )
        pairs.append((label, str(guess)))
    if not pairs:
        return None, 0, []
    return float(np.mean([a == b for a, b in pairs])), len(pairs), []


def _cell(value):
    return f"{value:.4f}" if isinstance(value, float) else value
