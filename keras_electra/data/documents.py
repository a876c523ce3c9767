"""Texts given in Python, not files, as a corpus: one document each.

`text_dataset`, `build_shards`, `iter_examples` and `iter_documents` take,
in place of paths, any iterable of strings (a generator over a streamed
Hugging Face dataset: `(row["text"] for row in stream)`) or a
`tf.data.Dataset` of string scalars. A list or tuple is read as paths, as
always: wrap a list of texts in `Documents(texts)`.
"""

import collections.abc
import os
import sys

from keras_electra.data.corpus_formats import CorpusError
from keras_electra.data.corpus_formats import not_text
from keras_electra.data.corpus_formats import record_field
from keras_electra.utils import file_system

# The fix for texts read once where they must be read again.
READ_AGAIN = (
    "texts that can be read again: a list (Documents([...])), a "
    "tf.data.Dataset, or a function that returns a new iterator each time "
    "(Documents(lambda: ...))."
)


def _dataset_class():
    tf = sys.modules.get("tensorflow")  # a dataset means it is imported
    return getattr(getattr(tf, "data", None), "Dataset", None)


def is_dataset(value):
    """Whether `value` is a `tf.data.Dataset` (without importing
    TensorFlow)."""
    cls = _dataset_class()
    return cls is not None and isinstance(value, cls)


class Documents:
    """A corpus of texts given in Python: each text is one document.

    A text's lines are its paragraphs (a long line is split into
    sentences, as in a text file); blank lines inside it end nothing.
    Texts that are blank are skipped.

    Reading again: a list, a tuple, a `tf.data.Dataset`, a function that
    returns an iterable (called once per read) or any iterable that is not
    an iterator (such as a Hugging Face `IterableDataset`) is read anew
    each time, so `text_dataset(repeat=True)` can take it. An iterator
    (a generator) can be read once: reading it again raises `CorpusError`.

    Args:
        texts: the documents: an iterable of strings (or of UTF-8 bytes,
            or of dicts holding the text in `text_field`), a
            `tf.data.Dataset` of string scalars (or of dicts of them), or
            a function that returns such an iterable.
        name: str. What messages call them (default: from their type).

    Example:
    ```python
    from keras_electra.data import Documents, iter_documents

    texts = Documents(["A first document.\\nIts second line.", "Another."])
    list(iter_documents(texts))
    # [['A first document.', 'Its second line.'], ['Another.']]
    ```
    """

    def __init__(self, texts, name=None):
        if isinstance(texts, (str, bytes, os.PathLike)):
            raise CorpusError(
                "Documents takes an iterable of texts, one document each, "
                "not one string: wrap it in a list."
            )
        if not (
            is_dataset(texts)
            or isinstance(texts, collections.abc.Iterable)
            or callable(texts)
        ):
            raise CorpusError(
                "Documents takes an iterable of texts, a tf.data.Dataset of "
                "strings or a function that returns an iterable. Got "
                f"{type(texts).__name__}."
            )
        self.source = texts
        self.name = name or _describe(texts)
        self._read = False
        self._guess_paths = False  # set by `as_documents`

    @property
    def readable_again(self):
        """Whether each read starts from the first text again."""
        return not isinstance(self.source, collections.abc.Iterator)

    def check(self, text_field="text"):
        """Raise `CorpusError` now for what can be checked before reading:
        a `tf.data.Dataset` that does not yield one string per element."""
        if is_dataset(self.source):
            self._dataset(text_field)

    def _dataset(self, text_field):
        import tensorflow as tf

        ds = self.source
        spec = ds.element_spec
        if isinstance(spec, dict):
            if text_field not in spec:
                raise CorpusError(
                    f"{self.name} yields dicts without '{text_field}' (its "
                    f"keys: {', '.join(map(str, spec))}). Pass "
                    "text_field=NAME to read another key."
                )
            ds = ds.map(lambda row: row[text_field])
            spec = ds.element_spec
        if not (
            isinstance(spec, tf.TensorSpec)
            and spec.dtype == tf.string
            and spec.shape.rank == 0
        ):
            raise CorpusError(
                f"{self.name} yields {spec}, not one string per element: "
                "unbatch it (ds.unbatch()) or map each element to its text."
            )
        return ds

    def _iterable(self, text_field):
        if not self.readable_again:
            if self._read:
                raise CorpusError(
                    f"{self.name} was read already: an iterator (such as a "
                    f"generator) can be read once. Pass {READ_AGAIN}"
                )
            self._read = True
        if is_dataset(self.source):
            return self._dataset(text_field).as_numpy_iterator()
        if isinstance(self.source, collections.abc.Iterable):
            return self.source
        texts = self.source()
        if not isinstance(texts, collections.abc.Iterable):
            raise CorpusError(
                f"{self.name} returned {type(texts).__name__}, not an "
                "iterable of texts."
            )
        return texts

    def texts(self, on_decode_error="stop", text_field="text"):
        """Yield the texts (str) that are not blank.

        Raises `CorpusError`, naming the document (counted from 1), for an
        item that is not text or bytes that are not UTF-8 (with
        `on_decode_error="skip"`, such lines are dropped), and when no text
        at all was read.
        """
        if on_decode_error not in ("stop", "skip"):
            raise ValueError(
                "`on_decode_error` must be 'stop' or 'skip'. Got "
                f"{on_decode_error!r}"
            )
        found = False
        for number, item in enumerate(self._iterable(text_field), start=1):
            where = f"{self.name}, document {number}"
            text = self._text(item, where, on_decode_error, text_field)
            if not text.strip():
                continue
            if not found:
                found = True
                self._refuse_a_path(text, where)
            yield text
        if not found:
            raise CorpusError(
                f"The corpus is empty: {self.name} yielded no text. Pass "
                "texts that are not blank."
            )

    def chunks(self, chunk_bytes, on_decode_error="stop", text_field="text"):
        """Yield lists of consecutive texts of about `chunk_bytes` bytes of
        UTF-8 each (a text is never cut): the segments of a stream."""
        chunk, size = [], 0
        for text in self.texts(on_decode_error, text_field):
            chunk.append(text)
            size += len(text.encode("utf-8"))
            if size >= chunk_bytes:
                yield chunk
                chunk, size = [], 0
        if chunk:
            yield chunk

    def _text(self, item, where, on_decode_error, text_field):
        fix = "Pass text_field=NAME"
        if isinstance(item, dict) or (
            hasattr(item, "keys") and hasattr(item, "__getitem__")
        ):
            value = record_field(item, text_field, where, fix)
            if not isinstance(value, (str, bytes)):
                raise not_text(value, text_field, where, fix)
            item = value
        if isinstance(item, str):
            return item
        if isinstance(item, bytes):
            return _decode(item, where, on_decode_error)
        if isinstance(item, os.PathLike):
            raise CorpusError(
                f"{where} is a path ({os.fspath(item)}): a list or tuple "
                "holds paths, any other iterable holds texts. Pass the "
                "paths in a list."
            )
        raise CorpusError(
            f"{where}: {type(item).__name__}, not text. Give strings (one "
            "document each), or dicts with the text in `text_field`."
        )

    def _refuse_a_path(self, text, where):
        """A bare iterable whose first text names a file was most likely
        meant as paths (`glob.iglob(...)`): refused, not trained on."""
        if (
            self._guess_paths
            and len(text) < 4096
            and "\n" not in text
            and (
                os.path.isfile(text)
                # A URL (gs://...) names a file too, found or not.
                or (file_system.has_scheme(text) and " " not in text.strip())
            )
        ):
            raise CorpusError(
                f"{where} is the name of a file ({text}): a list or tuple "
                "holds paths, any other iterable holds texts. Pass the "
                "paths in a list, or texts in Documents(...)."
            )

    def __repr__(self):
        return f"<Documents: {self.name}>"


def _decode(raw, where, on_decode_error):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        if on_decode_error == "skip":
            lines = []
            for line in raw.split(b"\n"):
                try:
                    lines.append(line.decode("utf-8"))
                except UnicodeDecodeError:
                    pass
            return "\n".join(lines)
        raise CorpusError(
            f"{where}: bytes that are not UTF-8 ({e.reason} at byte "
            f"{e.start}). Re-encode the text as UTF-8 or pass "
            "on_decode_error='skip' (--on-decode-error skip) to drop such "
            "lines."
        ) from None


def _describe(texts):
    if is_dataset(texts):
        return "the tf.data.Dataset"
    if isinstance(texts, collections.abc.Generator):
        return "the generator"
    return f"the {type(texts).__name__}"


def as_documents(inputs):
    """`inputs` as `Documents` when they hold texts, else None (paths).

    Paths are a string, an `os.PathLike`, or a list or tuple; a
    `Documents`, a `tf.data.Dataset` and any other iterable hold texts.
    """
    if isinstance(inputs, Documents):
        return inputs
    if isinstance(inputs, (str, bytes, os.PathLike, list, tuple)):
        return None
    if is_dataset(inputs) or isinstance(inputs, collections.abc.Iterable):
        documents = Documents(inputs)
        documents._guess_paths = True
        return documents
    return None
