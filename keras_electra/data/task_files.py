"""Reading fine-tuning task files, with errors that name file and line.

- classify: CSV or TSV with a header; the text column (default: the first
  column that is not the label), an optional second text column for sentence
  pairs, and a label column (default "label") of integers 0..n-1, of real
  values (regression), or of class names ("positive", "negative").
- tag: CoNLL style, one `word<TAB>tag` per line, a blank line between
  sentences.
- qa: SQuAD JSON (v1.1 or v2.0), or CSV with columns question, context,
  answer, answer_start (empty answer: unanswerable).
"""

import contextlib
import csv
import json
import math

from keras_electra.utils import file_system


class TaskFileError(ValueError):
    """A task file that cannot be read; the message names file and line."""


@contextlib.contextmanager
def _open(path):
    """The file for reading; a bad encoding is named with the file."""
    if not file_system.isfile(path):
        raise TaskFileError(f"'{path}' does not exist.")
    if file_system.getsize(path) == 0:
        raise TaskFileError(f"'{path}' is empty.")
    try:
        with file_system.open_file(
            path, "r", encoding="utf-8", newline=""
        ) as f:
            yield f
    except UnicodeDecodeError as e:
        raise TaskFileError(
            f"'{path}' is not UTF-8 text (byte {e.object[e.start : e.end]!r} "
            "cannot be read). Save it as UTF-8."
        ) from None


AUTO = "auto"  # `read_classification_file`: numbers or names, as found


def read_classification_file(
    path,
    text_column=None,
    pair_column=None,
    label_column="label",
    num_classes=None,
    class_names=AUTO,
):
    """`(texts, pairs or None, labels)` from a CSV/TSV file with a header.

    Labels are numbers (class ids `0..num_classes-1`, or real values when
    `num_classes=1`), or class names: strings such as "positive", returned
    as they are (without surrounding spaces) for the caller to number.

    Args:
        path: the file; `.tsv` and `.tab` files are tab-separated.
        text_column: default: the first column that is not the label.
        pair_column: the second text of sentence pairs, if any.
        label_column: the label column.
        num_classes: checks numeric labels (1: regression, real values).
        class_names: what the labels are: "auto" (numbers if the first
            label is one, else names; a file of both is refused), None
            (numbers only: a test file whose training file has class ids),
            or a list of names (a test file's labels must be names of the
            training file's classes).

    `classification_columns` names the columns this reads.
    """
    with _open(path) as f:
        reader = csv.DictReader(f, delimiter=_delimiter(path))
        columns = reader.fieldnames or []
        if label_column not in columns:
            raise TaskFileError(
                f"'{path}' has no column '{label_column}' (columns: "
                f"{', '.join(columns) or 'none'}). Name the label column with "
                "--label-column."
            )
        text_column = _text_columns(
            path, columns, text_column, pair_column, label_column
        )
        if num_classes == 1:
            class_names = None  # regression: real values
        texts, pairs, labels = [], [], []
        first = None  # (line, value) of the first label, under "auto"
        for line, row in enumerate(reader, start=2):
            value = (row.get(label_column) or "").strip()
            if not value:
                raise TaskFileError(
                    f"{path}, line {line}: no label (the '{label_column}' "
                    "column is empty)."
                )
            if class_names == AUTO:
                first = first or (line, value)
                label = _auto_label(path, line, value, first, num_classes)
            elif class_names is None:
                label = _number_label(
                    path, line, value, num_classes, ids_only=True
                )
            elif value in class_names:
                label = value
            else:
                raise TaskFileError(
                    f"{path}, line {line}: label {value!r} is not a class of "
                    f"the training file ({', '.join(class_names)})."
                )
            texts.append(row.get(text_column) or "")
            if pair_column:
                pairs.append(row.get(pair_column) or "")
            labels.append(label)
    if not texts:
        raise TaskFileError(f"'{path}' has a header but no examples.")
    return texts, (pairs if pair_column else None), labels


def classification_columns(
    path, text_column=None, pair_column=None, label_column="label"
):
    """The columns `read_classification_file` reads from `path` with these
    arguments: a dict of `text_column` (the default resolved: the first
    column that is not the label), `pair_column` and `label_column`."""
    with _open(path) as f:
        columns = read_columns(path, f)
    return dict(
        text_column=_text_columns(
            path, columns, text_column, pair_column, label_column
        ),
        pair_column=pair_column,
        label_column=label_column,
    )


def read_columns(path, f=None):
    """The column names of a CSV/TSV file's header (of the open file `f`,
    if given)."""
    if f is None:
        with _open(path) as f:
            return read_columns(path, f)
    return next(csv.reader(f, delimiter=_delimiter(path)), [])


def read_texts_file(
    path, text_column=None, pair_column=None, label_column=None
):
    """`(texts, pairs or None, labels or None, text_column)` from a CSV/TSV
    file with a header, for predictions: labels only with a `label_column`
    (kept as the file's strings), which the file must have.

    `text_column` defaults to the first column that is not `label_column`.
    """
    with _open(path) as f:
        reader = csv.DictReader(f, delimiter=_delimiter(path))
        columns = reader.fieldnames or []
        if label_column is not None and label_column not in columns:
            raise TaskFileError(
                f"'{path}' has no column '{label_column}' (columns: "
                f"{', '.join(columns) or 'none'}). Name its label column "
                "with --label-column, or leave it out."
            )
        text_column = _text_columns(
            path, columns, text_column, pair_column, label_column
        )
        has_labels = label_column is not None
        texts, pairs, labels = [], [], []
        for row in reader:
            texts.append(row.get(text_column) or "")
            if pair_column:
                pairs.append(row.get(pair_column) or "")
            if has_labels:
                labels.append((row.get(label_column) or "").strip())
    if not texts:
        raise TaskFileError(f"'{path}' has a header but no rows.")
    return (
        texts,
        pairs if pair_column else None,
        labels if has_labels else None,
        text_column,
    )


def _delimiter(path):
    return "\t" if str(path).endswith((".tsv", ".tab")) else ","


def _text_columns(path, columns, text_column, pair_column, label_column):
    """The text column (default: the first that is not the label), with
    both text columns checked; a missing one names the flag that sets it."""
    others = [c for c in columns if c != label_column]
    text_column = text_column or (others[0] if others else None)
    for name, flag in ((text_column, "text"), (pair_column, "pair")):
        if name is not None and name not in columns:
            raise TaskFileError(
                f"'{path}' has no column '{name}' (columns: "
                f"{', '.join(columns)}). Name the {flag} column with "
                f"--{flag}-column."
            )
    if text_column is None:
        raise TaskFileError(
            f"'{path}' has no text column (columns: "
            f"{', '.join(columns) or 'none'}). Add one, or name it with "
            "--text-column."
        )
    return text_column


def _number(value):
    try:
        return float(value)
    except ValueError:
        return None


def _auto_label(path, line, value, first, num_classes):
    """A number or a name, of the same kind as the file's first label."""
    first_line, first_value = first
    if _number(first_value) is None:
        if _number(value) is not None:
            raise TaskFileError(
                f"{path}, line {line}: label {value!r} is a number, unlike "
                f"line {first_line}'s {first_value!r}: use class names or "
                "numbers, not both."
            )
        return value
    if _number(value) is None:
        raise TaskFileError(
            f"{path}, line {line}: label {value!r} is not a number, unlike "
            f"line {first_line}'s {first_value!r}: use class names or "
            "numbers, not both."
        )
    return _number_label(path, line, value, num_classes)


def _number_label(path, line, value, num_classes, ids_only=False):
    label = _number(value)
    if label is None:
        why = ""
        if num_classes == 1:
            why = ": regression (--num-classes 1) needs numbers"
        elif ids_only:
            why = (
                ": the training file's labels are class ids, so this "
                "file's must be too (or use class names in both)"
            )
        raise TaskFileError(
            f"{path}, line {line}: label {value!r} is not a number{why}."
        )
    if not math.isfinite(label):
        raise TaskFileError(
            f"{path}, line {line}: label {value!r} is not a finite number."
        )
    if num_classes != 1:
        if (
            label != int(label)
            or label < 0
            or (num_classes is not None and label >= num_classes)
        ):
            limit = f"[0, {num_classes})" if num_classes else ">= 0"
            raise TaskFileError(
                f"{path}, line {line}: label {value!r} is outside the "
                f"classes {limit}. Labels must be integers "
                "0..num_classes-1 (--num-classes), or class names."
            )
        label = int(label)
    return label


def read_tagged_file(path):
    """`(sentences, tags)` from a `word<TAB>tag` file (blank line = new
    sentence)."""
    sentences, tags = [], []
    words, labels = [], []
    with _open(path) as f:
        for line_number, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                if words:
                    sentences.append(words)
                    tags.append(labels)
                    words, labels = [], []
                continue
            fields = line.split("\t")
            if len(fields) != 2 or not fields[0] or not fields[1].strip():
                raise TaskFileError(
                    f"{path}, line {line_number}: expected 'word<TAB>tag', "
                    f"found {line!r}."
                )
            words.append(fields[0])
            labels.append(fields[1].strip())
    if words:
        sentences.append(words)
        tags.append(labels)
    if not sentences:
        raise TaskFileError(f"'{path}' holds no sentences.")
    return sentences, tags


def read_qa_file(path):
    """`(questions, contexts, answers)`; answers are lists of
    `(text, start_char)` (empty for unanswerable questions)."""
    questions, contexts, answers = [], [], []
    if str(path).endswith(".json"):
        with _open(path) as f:
            try:
                data = json.load(f)["data"]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise TaskFileError(
                    f"'{path}' is not SQuAD JSON (a 'data' list of articles "
                    f"with paragraphs and qas): {e}"
                ) from None
        for a, article in enumerate(data):
            for p, paragraph in enumerate(article.get("paragraphs", [])):
                for q, qa in enumerate(paragraph.get("qas", [])):
                    where = (
                        f"{path}, article {a}, paragraph {p}, question "
                        f"{qa.get('id', q)!r}"
                        if isinstance(qa, dict)
                        else ""
                    )
                    question, context, answer = _squad_record(
                        where, paragraph, qa
                    )
                    questions.append(question)
                    contexts.append(context)
                    answers.append(answer)
    else:
        delimiter = "\t" if str(path).endswith(".tsv") else ","
        with _open(path) as f:
            reader = csv.DictReader(f, delimiter=delimiter)
            needed = {"question", "context", "answer", "answer_start"}
            missing = needed - set(reader.fieldnames or [])
            if missing:
                raise TaskFileError(
                    f"'{path}' lacks the column(s) {', '.join(sorted(missing))}"
                    " (a QA CSV has question, context, answer, answer_start)."
                )
            for line, row in enumerate(reader, start=2):
                questions.append(row["question"])
                contexts.append(row["context"])
                if row["answer"]:
                    try:
                        start = int(row["answer_start"])
                    except ValueError:
                        raise TaskFileError(
                            f"{path}, line {line}: answer_start "
                            f"{row['answer_start']!r} is not an integer."
                        ) from None
                    if (
                        not 0
                        <= start
                        <= len(row["context"]) - len(row["answer"])
                    ):
                        raise TaskFileError(
                            f"{path}, line {line}: answer_start {start} "
                            f"puts {row['answer']!r} outside its context."
                        )
                    answers.append([(row["answer"], start)])
                else:
                    answers.append([])
    if not questions:
        raise TaskFileError(f"'{path}' holds no questions.")
    return questions, contexts, answers


def _squad_record(where, paragraph, qa):
    """`(question, context, answers)` of one SQuAD question, checked."""
    for holder, key in ((qa, "question"), (paragraph, "context")):
        if not isinstance(holder, dict) or not isinstance(holder.get(key), str):
            raise TaskFileError(f"{where}: no {key!r} text.")
    context = paragraph["context"]
    found = [] if qa.get("is_impossible") else qa.get("answers")
    if not isinstance(found, list):
        raise TaskFileError(f"{where}: no 'answers' list.")
    answers = []
    for answer in found:
        text = answer.get("text") if isinstance(answer, dict) else None
        start = answer.get("answer_start") if isinstance(answer, dict) else None
        if not isinstance(text, str):
            raise TaskFileError(f"{where}: an answer has no 'text'.")
        try:
            start = int(start)
        except (TypeError, ValueError):
            raise TaskFileError(
                f"{where}: answer_start {start!r} is not an integer."
            ) from None
        if not 0 <= start <= len(context) - len(text):
            raise TaskFileError(
                f"{where}: answer_start {start} puts {text!r} outside its "
                f"context of {len(context)} characters."
            )
        answers.append((text, start))
    return qa["question"], context, answers
