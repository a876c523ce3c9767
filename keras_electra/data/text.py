"""Reading raw corpora as documents of sentences.

The reference layout is the one of Google's `build_pretraining_dataset.py`:
plain UTF-8 text files where a blank line ends a document, with one sentence
or one paragraph per line. Lines longer than `max_line_words` words are
split into sentences. Compressed text, JSON lines and Parquet files are
read too (`corpus_formats`: one JSON object or Parquet row per document),
and so are texts given in Python (`Documents`: one document each).
Files may be local paths or URLs (`gs://...`, any scheme TensorFlow's
filesystem layer knows: `utils/file_system`).
"""

import os
import re

# Re-exported: the package imports them from here.
from keras_electra.data.corpus_formats import CorpusError  # noqa: F401
from keras_electra.data.corpus_formats import corpus_format
from keras_electra.data.corpus_formats import read_lines  # noqa: F401
from keras_electra.data.documents import Documents
from keras_electra.data.documents import as_documents
from keras_electra.data.documents import is_dataset
from keras_electra.utils import file_system

# A sentence ends at ., ! or ? (optionally followed by a closing quote or
# bracket) before whitespace and an upper-case letter, digit or opening quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")


def expand_inputs(inputs, text_field=None):
    """Turn files, globs and directories into a sorted list of files.

    Each may be local or a URL (`gs://bucket/corpus/*.txt`): see
    `keras_electra.utils.file_system`.

    Raises `CorpusError` when nothing matches, every file is empty, a file
    is in a format that is not read (or needs `pyarrow`), or, given
    `text_field`, the first JSON lines or Parquet file lacks that field.
    """
    if isinstance(inputs, Documents) or is_dataset(inputs):
        raise CorpusError(
            "Expected files, globs or folders, not texts: texts given in "
            "Python are read by text_dataset, build_shards, iter_examples "
            "and iter_documents."
        )
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    files = []
    for item in inputs:
        item = os.fspath(item)
        if file_system.isdir(item):
            for root, _, names in file_system.walk(item):
                files.extend(
                    file_system.join(root, n)
                    for n in names
                    if not n.startswith(".")
                )
        elif any(c in item for c in "*?["):
            files.extend(
                p for p in file_system.glob(item) if file_system.isfile(p)
            )
        elif file_system.isfile(item):
            files.append(item)
        else:
            raise CorpusError(
                f"Corpus input '{item}' does not exist. Pass text files, "
                "globs (quoted, like 'data/*.txt') or directories."
            )
    files = sorted(set(files))
    if not files:
        raise CorpusError(
            f"No files match {list(map(os.fspath, inputs))}. Pass text "
            "files, globs or directories that contain text files."
        )
    checked = set()
    for path in files:
        fmt = corpus_format(path)
        # The field is looked for in the first file of each format only.
        fmt.check(path, text_field if fmt not in checked else None)
        checked.add(fmt)
    if all(file_system.getsize(f) == 0 for f in files):
        raise CorpusError(
            f"The corpus is empty: {len(files)} file(s), all of 0 bytes "
            f"({files[0]}{', ...' if len(files) > 1 else ''})."
        )
    if all(corpus_format(f).is_empty(f) for f in files):
        raise CorpusError(
            f"The corpus is empty: {len(files)} file(s), all without text "
            f"once decompressed ({files[0]}"
            f"{', ...' if len(files) > 1 else ''}). Pass files that hold "
            "text."
        )
    return files


def split_sentences(line, max_line_words=64):
    """Split a long line (a paragraph) into sentences; keep short lines."""
    if len(line.split()) <= max_line_words:
        return [line]
    return [s for s in _SENTENCE_END.split(line) if s.strip()]


def file_segments(files, segment_bytes=1 << 20):
    """Split files into `(path, start, end)` segments of about
    `segment_bytes`.

    Text and plain JSON lines are cut at byte offsets; a compressed file is
    one segment (a compressed stream is read from its start); a Parquet
    file is cut between row groups (`start` and `end` count row groups).
    `iter_documents` accepts these in place of paths; reading the segments
    of a corpus in a shuffled order is how `text_dataset` mixes it.
    """
    segments = []
    for path in files:
        bounds = corpus_format(path).segments(path, segment_bytes)
        segments.extend((path, start, end) for start, end in bounds)
    return segments


def text_bytes(files):
    """About how many bytes of text `files` hold (compressed files: an
    estimate; Parquet: the row groups' uncompressed size)."""
    return sum(corpus_format(path).text_bytes(path) for path in files)


def uses_text_field(files):
    """Whether any of `files` is read through `text_field` (JSON lines,
    Parquet)."""
    return any(corpus_format(path).records for path in files)


def _document(text, max_line_words):
    """A record's text as one document: its lines, split into sentences."""
    document = []
    for line in text.split("\n"):
        line = line.strip()
        if line:
            document.extend(split_sentences(line, max_line_words))
    return document


def iter_documents(
    files,
    blank_lines_separate_documents=True,
    max_line_words=64,
    on_decode_error="stop",
    text_field="text",
):
    """Yield documents (lists of sentences) from a list of files, or from
    texts given in Python.

    A file always ends a document; with `blank_lines_separate_documents` a
    blank line of a text file does too. An item of `files` may also be a
    `(path, start, end)` segment from `file_segments`, which ends a
    document as well. A JSON object (its `text_field`), a Parquet row (its
    column `text_field`) and a text of `Documents` are one document each.

    `files` may instead be texts (not a list or tuple): a `Documents`, a
    `tf.data.Dataset` of strings or any other iterable of strings, one
    document each (see `Documents`; an iterator is read once).

    Example:
    ```python
    from keras_electra.data import iter_documents

    with open("corpus.txt", "w") as f:
        f.write("First document.\\nIts second line.\\n\\nAnother.\\n")
    list(iter_documents(["corpus.txt"]))
    # [['First document.', 'Its second line.'], ['Another.']]
    list(iter_documents(iter(["First document.", "Another."])))
    # [['First document.'], ['Another.']]
    ```
    """
    documents = as_documents(files)
    if documents is not None:
        items = [documents]
    elif isinstance(files, (str, os.PathLike)):
        items = [files]
    else:
        items = files
    for item in items:
        if isinstance(item, Documents):
            texts = item.texts(on_decode_error, text_field)
            records = True
        else:
            path, start, end = (
                item if isinstance(item, tuple) else (item, 0, None)
            )
            fmt = corpus_format(path)
            texts = fmt.read(path, start, end, on_decode_error, text_field)
            records = fmt.records
        if records:
            for text in texts:
                document = _document(text, max_line_words)
                if document:
                    yield document
            continue
        document = []
        for line in texts:
            if not line:
                if blank_lines_separate_documents and document:
                    yield document
                    document = []
                continue
            document.extend(split_sentences(line, max_line_words))
        if document:
            yield document
