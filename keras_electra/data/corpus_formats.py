"""The file formats a corpus may come in: a registry keyed by file suffix.

A corpus file is read as one of:

- plain UTF-8 text (`.txt`, and any suffix not registered): one sentence or
  paragraph per line, a blank line between documents (Google's layout);
- text compressed with gzip, bzip2 or xz (`.gz`, `.bz2`, `.xz`), read as it
  is decompressed (Python's `gzip`, `bz2` and `lzma`);
- JSON lines (`.jsonl`, `.json`, plain or compressed as above: `.jsonl.gz`
  ...): one JSON object per line, each one document whose text is its
  `text_field` (`"text"` unless told);
- Parquet (`.parquet`, with the optional `pyarrow`: `pip install
  "keras-electra[parquet]"`): each row one document, its text in the column
  `text_field`, read one row group at a time.

A record (a JSON object, a Parquet row) is a document whatever its text
holds: its lines are its paragraphs (split into sentences when long) and
blank lines inside it end nothing.

`text_dataset` and `build_shards` mix a corpus by reading it in segments
of about 1 MiB in a seeded order (`text.file_segments`). A plain text or
plain JSON lines file is cut at byte offsets; a compressed stream cannot be
entered in the middle, so a compressed file is one segment however large;
a Parquet file is cut between row groups.

A file may be a local path or a URL (`gs://...`: `utils/file_system`,
TensorFlow's filesystem layer); a remote compressed file is decompressed
as it is read, a remote Parquet file read through a file object.

A new format is one `CorpusFormat` subclass and a `register_corpus_format`
call with its suffixes; the rest of the package asks `corpus_format(path)`.
This module imports no backend (`pyarrow` only when a Parquet file is
read).
"""

import bz2
import contextlib
import gzip
import json
import lzma
import os
import zlib

from keras_electra.utils import file_system

# Decompressed text is usually about this many times the compressed file:
# what decides whether `text_dataset` keeps a corpus' examples in memory.
COMPRESSION_RATIO = 4
# Parquet rows converted to Python strings at a time.
PARQUET_BATCH_ROWS = 1024

_OPENERS = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}
# What a damaged or cut-short compressed stream raises while it is read.
_STREAM_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError)


class CorpusError(ValueError):
    """A corpus that cannot be read; the message says which file and why."""


def _check_decode_option(on_decode_error):
    if on_decode_error not in ("stop", "skip"):
        raise ValueError(
            "`on_decode_error` must be 'stop' or 'skip'. Got "
            f"{on_decode_error!r}"
        )


def _where(number, offset, start):
    """A line's place in a message: its number, or, in a byte range, its
    byte offset (the lines before the range are not counted)."""
    return f"line {number}" if start == 0 else f"byte {offset}"


def _numbered_lines(path, f, on_decode_error, start=0, end=None, kind=None):
    """Yield `(number, offset, line)` for the lines of an open binary file
    (of a byte range of it, for a seekable one), decoded from UTF-8.

    `kind` names the compression of a compressed stream, whose damage is
    then reported as a `CorpusError`.
    """
    offset = 0  # of the next line, counted (no seek per line)
    if start > 0:
        # Move to the first line beginning at or after `start`.
        f.seek(start - 1)
        offset = start - 1 + len(f.readline())
    number = 0
    errors = _STREAM_ERRORS if kind else ()
    while end is None or offset < end:
        try:
            raw = f.readline()
        except errors as e:
            raise CorpusError(
                f"{path}, line {number + 1}: the {kind} stream is damaged "
                f"or cut short ({e}). Download or compress the file again."
            ) from None
        if not raw:
            return
        line_offset, offset = offset, offset + len(raw)
        number += 1
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            if on_decode_error == "skip":
                continue
            raise CorpusError(
                f"{path}, {_where(number, line_offset, start)}: bytes that "
                f"are not UTF-8 ({e.reason} at byte {e.start}). Re-encode "
                "the file as UTF-8 or pass --on-decode-error skip to drop "
                "such lines."
            ) from None
        yield number, line_offset, line


def read_lines(path, on_decode_error="stop", start=0, end=None):
    """Yield the stripped lines of a UTF-8 file, or of a byte range of it.

    Args:
        path: the file.
        on_decode_error: `"stop"` raises `CorpusError` naming the file and
            line (or byte offset, in a range) of the first invalid UTF-8
            bytes; `"skip"` drops such lines.
        start, end: read only the lines that *begin* at a byte offset in
            `[start, end)` (`end=None`: to the end of the file). Ranges that
            tile a file read each of its lines exactly once.

    Example:
    ```python
    from keras_electra.data.text import read_lines

    with open("corpus.txt", "w") as f:
        f.write("one line\\n\\nanother\\n")
    list(read_lines("corpus.txt"))  # ["one line", "", "another"]
    ```
    """
    _check_decode_option(on_decode_error)
    with file_system.open_file(path, "rb") as f:
        for _, _, line in _numbered_lines(path, f, on_decode_error, start, end):
            yield line.strip()


def _kind(value):
    """A JSON (or Python) value's kind, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def record_field(record, text_field, where, fix):
    """The value of `record[text_field]`; a `CorpusError` naming `where`
    and `fix` when `record` is no mapping or lacks the field."""
    if not hasattr(record, "keys") or not hasattr(record, "__getitem__"):
        raise CorpusError(
            f"{where}: {_kind(record)}, not an object. Each record must be "
            f'an object with its text in a field, such as {{"{text_field}": '
            '"..."}.'
        )
    if text_field not in record:
        names = [str(name) for name in list(record.keys())[:8]]
        raise CorpusError(
            f"{where}: no field '{text_field}' (its fields: "
            f"{', '.join(names) or 'none'}). {fix} to read another field."
        )
    return record[text_field]


def not_text(value, text_field, where, fix):
    """The error of a record whose field holds something other than text."""
    return CorpusError(
        f"{where}: field '{text_field}' holds {_kind(value)}, not text. "
        f"{fix} to read another field."
    )


class CorpusFormat:
    """One kind of corpus file: how to read it and cut it into segments.

    Attributes:
        name: str. The format, for messages.
        suffixes: tuple of str. The (lower-case) file name endings it reads.
        records: bool. `read` yields one text per document (JSON lines,
            Parquet); else it yields lines, a blank line ending a document.
        segmentable: bool. Byte ranges of a file can be read on their own
            (`read(path, start, end)` seeks); else a file is one segment
            (compressed streams), or the format cuts it its own way.
    """

    name = None
    suffixes = ()
    records = False
    segmentable = False

    def check(self, path, text_field=None):
        """Raise `CorpusError` if `path` cannot be read in this format;
        with `text_field`, also if its first record lacks that field."""

    def is_empty(self, path):
        """Whether the file holds no text at all."""
        return file_system.getsize(path) == 0

    def text_bytes(self, path):
        """About how many bytes of text the file holds."""
        return file_system.getsize(path)

    def segments(self, path, segment_bytes):
        """The `(start, end)` segments of the file, in the units `read`
        takes: byte ranges of about `segment_bytes` (one range for the
        whole file if it is not `segmentable`)."""
        size = file_system.getsize(path)
        if not self.segmentable:
            return [(0, size)]
        count = max(1, -(-size // segment_bytes))
        bounds = [size * i // count for i in range(count + 1)]
        return [(bounds[i], bounds[i + 1]) for i in range(count)]

    def read(
        self, path, start=0, end=None, on_decode_error="stop", text_field="text"
    ):
        """Yield the file's lines (stripped), or its records' texts, from
        the segment `[start, end)` (`end=None`: to the end)."""
        raise NotImplementedError

    def __repr__(self):
        return f"<corpus format {self.name!r}: {', '.join(self.suffixes)}>"


class PlainText(CorpusFormat):
    """UTF-8 text, read by byte ranges (`read_lines`)."""

    name = "text"
    suffixes = (".txt",)
    segmentable = True

    def read(
        self, path, start=0, end=None, on_decode_error="stop", text_field="text"
    ):
        return read_lines(path, on_decode_error, start, end)


class _LineFile(CorpusFormat):
    """A file of lines, plain (read by byte ranges) or compressed (a
    stream read from its start)."""

    def __init__(self, compression=None):
        self.compression = compression

    @contextlib.contextmanager
    def _open(self, path):
        if self.compression is None:
            with file_system.open_file(path, "rb") as f:
                yield f
        elif not file_system.has_scheme(path):
            with _OPENERS[self.compression](path, "rb") as f:
                yield f
        else:
            # A remote file: its bytes decompressed as they are read.
            with file_system.open_file(path, "rb") as raw:
                with _OPENERS[self.compression](raw, "rb") as f:
                    yield f

    def _lines(self, path, start, end, on_decode_error):
        _check_decode_option(on_decode_error)
        if self.compression is not None and start != 0:
            raise ValueError(
                f"A {self.compression} stream is read whole: got segment "
                f"({start}, {end}) of {path}."
            )
        if self.compression is not None:
            end = None  # the segment's end is the compressed file's size
        with self._open(path) as f:
            yield from _numbered_lines(
                path, f, on_decode_error, start, end, kind=self.compression
            )

    def is_empty(self, path):
        size = file_system.getsize(path)
        if self.compression is None or size == 0:
            return size == 0
        try:
            with self._open(path) as f:
                return not f.read(1)
        except _STREAM_ERRORS as e:
            raise CorpusError(
                f"{path}: not readable {self.compression} data ({e}). Check "
                "the file (its name says it is compressed), or download or "
                "compress it again."
            ) from None

    def text_bytes(self, path):
        size = file_system.getsize(path)
        return size * COMPRESSION_RATIO if self.compression else size


class CompressedText(_LineFile):
    """Text compressed with gzip, bzip2 or xz: one segment per file."""

    def __init__(self, compression):
        super().__init__(compression)
        self.name = f"{compression}-compressed text"
        self.suffixes = {"gzip": (".gz",), "bzip2": (".bz2",), "xz": (".xz",)}[
            compression
        ]

    def read(
        self, path, start=0, end=None, on_decode_error="stop", text_field="text"
    ):
        for _, _, line in self._lines(path, start, end, on_decode_error):
            yield line.strip()


class JsonLines(_LineFile):
    """One JSON object per line, each one document (its `text_field`);
    plain files are read by byte ranges, compressed ones whole."""

    records = True

    def __init__(self, compression=None):
        super().__init__(compression)
        self.segmentable = compression is None
        ends = {None: "", "gzip": ".gz", "bzip2": ".bz2", "xz": ".xz"}
        self.suffixes = tuple(
            suffix + ends[compression] for suffix in (".jsonl", ".json")
        )
        self.name = "JSON lines" + (
            f" ({compression}-compressed)" if compression else ""
        )

    def check(self, path, text_field=None):
        if text_field is not None:
            for _ in self.read(path, text_field=text_field):
                return

    def read(
        self, path, start=0, end=None, on_decode_error="stop", text_field="text"
    ):
        lines = self._lines(path, start, end, on_decode_error)
        for number, offset, line in lines:
            if not line.strip():
                continue
            where = f"{path}, {_where(number, offset, start)}"
            try:
                record = json.loads(line)
            except ValueError as e:
                raise CorpusError(
                    f"{where}: not JSON ({getattr(e, 'msg', e)}, column "
                    f"{getattr(e, 'colno', '?')}). A JSON lines file holds "
                    "one JSON object per line: fix or remove that line."
                ) from None
            value = record_field(
                record, text_field, where, "Pass --text-field NAME"
            )
            if not isinstance(value, str):
                raise not_text(
                    value, text_field, where, "Pass --text-field NAME"
                )
            yield value


class Parquet(CorpusFormat):
    """A Parquet table, one row per document (the column `text_field`),
    cut into segments between row groups and read a batch of rows at a
    time. Needs `pyarrow` (`pip install "keras-electra[parquet]"`)."""

    name = "Parquet"
    suffixes = (".parquet",)
    records = True

    def _file(self, path):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise CorpusError(
                f"{path} is a Parquet file: reading it needs pyarrow. "
                'Install it with: pip install "keras-electra[parquet]"'
            ) from None
        try:
            if file_system.has_scheme(path):
                # Read through a file object, closed when the table is let go.
                return pq.ParquetFile(file_system.open_file(path, "rb"))
            return pq.ParquetFile(path)
        except (OSError, ValueError) as e:
            raise CorpusError(
                f"{path}: not a readable Parquet file ({e})."
            ) from None

    def check(self, path, text_field=None):
        table = self._file(path)
        if text_field is not None:
            self._column(path, table, text_field)

    def _column(self, path, table, text_field):
        import pyarrow as pa

        schema = table.schema_arrow
        if text_field not in schema.names:
            raise CorpusError(
                f"{path}: no column '{text_field}' (its columns: "
                f"{', '.join(schema.names[:8]) or 'none'}). Pass --text-field "
                "NAME to read another column."
            )
        kind = schema.field(text_field).type
        textual = (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind)
            or getattr(pa.types, "is_string_view", lambda _: False)(kind)
        )
        if not textual:
            raise CorpusError(
                f"{path}: column '{text_field}' holds {kind}, not text. Pass "
                "--text-field NAME to read another column."
            )

    def is_empty(self, path):
        return self._file(path).metadata.num_rows == 0

    def text_bytes(self, path):
        meta = self._file(path).metadata
        return sum(
            meta.row_group(i).total_byte_size
            for i in range(meta.num_row_groups)
        )

    def segments(self, path, segment_bytes):
        """Runs of whole row groups of about `segment_bytes` (uncompressed)
        each: `(first group, end group)`."""
        meta = self._file(path).metadata
        segments, first, size = [], 0, 0
        for i in range(meta.num_row_groups):
            size += meta.row_group(i).total_byte_size
            if size >= segment_bytes:
                segments.append((first, i + 1))
                first, size = i + 1, 0
        if first < meta.num_row_groups or not segments:
            segments.append((first, meta.num_row_groups))
        return segments

    def read(
        self, path, start=0, end=None, on_decode_error="stop", text_field="text"
    ):
        _check_decode_option(on_decode_error)
        table = self._file(path)
        self._column(path, table, text_field)
        meta = table.metadata
        end = meta.num_row_groups if end is None else end
        if start >= end:
            return
        row = sum(meta.row_group(i).num_rows for i in range(start))
        batches = table.iter_batches(
            batch_size=PARQUET_BATCH_ROWS,
            row_groups=list(range(start, end)),
            columns=[text_field],
        )
        for batch in batches:
            for value in batch.column(0).to_pylist():
                row += 1
                if isinstance(value, bytes):
                    try:
                        value = value.decode("utf-8")
                    except UnicodeDecodeError as e:
                        if on_decode_error == "skip":
                            continue
                        raise CorpusError(
                            f"{path}, row {row}: bytes that are not UTF-8 "
                            f"({e.reason} at byte {e.start}). Re-encode the "
                            "column as UTF-8 or pass --on-decode-error skip "
                            "to drop such rows."
                        ) from None
                if not isinstance(value, str):
                    raise not_text(
                        value,
                        text_field,
                        f"{path}, row {row}",
                        "Fill or drop such rows, or pass --text-field NAME",
                    )
                yield value


class UnreadableFormat(CorpusFormat):
    """A format named by its suffix that is not read: `check` says what to
    do instead."""

    def __init__(self, name, suffixes, fix):
        self.name = name
        self.suffixes = tuple(suffixes)
        self.fix = fix

    def check(self, path, text_field=None):
        raise CorpusError(
            f"{path}: a {self.name} file, which keras-electra does not read. "
            f"{self.fix}"
        )

    def is_empty(self, path):
        self.check(path)

    def read(
        self, path, start=0, end=None, on_decode_error="stop", text_field="text"
    ):
        self.check(path)


CORPUS_FORMATS = {}


def register_corpus_format(corpus_format):
    """Read files ending in `corpus_format.suffixes` with it."""
    for suffix in corpus_format.suffixes:
        suffix = suffix.lower()
        if suffix in CORPUS_FORMATS:
            raise ValueError(
                f"The suffix {suffix!r} is read as "
                f"{CORPUS_FORMATS[suffix].name} already."
            )
        CORPUS_FORMATS[suffix] = corpus_format
    return corpus_format


PLAIN_TEXT = PlainText()


def corpus_format(path):
    """The format of a corpus file, by the longest registered suffix its
    name ends with; plain text for any other name.

    Example:
    ```python
    from keras_electra.data.corpus_formats import corpus_format

    corpus_format("wiki.jsonl.gz").name  # 'JSON lines (gzip-compressed)'
    corpus_format("books/part-0001").name  # 'text'
    ```
    """
    name = os.path.basename(os.fspath(path)).lower()
    for suffix in sorted(CORPUS_FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return CORPUS_FORMATS[suffix]
    return PLAIN_TEXT


_EXTRACT = (
    "Extract its files and pass them (compress each as .gz, .bz2 or .xz if "
    "need be)."
)
_BUILT_IN = (
    PLAIN_TEXT,
    *(CompressedText(kind) for kind in _OPENERS),
    *(JsonLines(kind) for kind in (None, *_OPENERS)),
    Parquet(),
    UnreadableFormat("zip archive", (".zip",), _EXTRACT),
    UnreadableFormat(
        "tar archive",
        (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz"),
        _EXTRACT,
    ),
    UnreadableFormat("7-Zip archive", (".7z",), _EXTRACT),
    UnreadableFormat(
        "zstandard-compressed",
        (".zst", ".zstd"),
        "Decompress it (zstd -d), or recompress it as .gz, .bz2 or .xz.",
    ),
)
for _format in _BUILT_IN:
    register_corpus_format(_format)
