"""Reading raw text corpora as documents of sentences.

The accepted layout is the one of Google's `build_pretraining_dataset.py`:
plain UTF-8 text files where a blank line ends a document, with one sentence
or one paragraph per line. Lines longer than `max_line_words` words are
split into sentences.
"""

import glob
import os
import re

# A sentence ends at ., ! or ? (optionally followed by a closing quote or
# bracket) before whitespace and an upper-case letter, digit or opening quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")


class CorpusError(ValueError):
    """A corpus that cannot be read; the message says which file and why."""


def expand_inputs(inputs):
    """Turn files, globs and directories into a sorted list of files.

    Raises `CorpusError` when nothing matches or every file is empty.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    files = []
    for item in inputs:
        item = os.fspath(item)
        if os.path.isdir(item):
            for root, _, names in os.walk(item):
                files.extend(
                    os.path.join(root, n)
                    for n in names
                    if not n.startswith(".")
                )
        elif any(c in item for c in "*?["):
            files.extend(p for p in glob.glob(item) if os.path.isfile(p))
        elif os.path.isfile(item):
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
    if all(os.path.getsize(f) == 0 for f in files):
        raise CorpusError(
            f"The corpus is empty: {len(files)} file(s), all of 0 bytes "
            f"({files[0]}{', ...' if len(files) > 1 else ''})."
        )
    return files


def split_sentences(line, max_line_words=64):
    """Split a long line (a paragraph) into sentences; keep short lines."""
    if len(line.split()) <= max_line_words:
        return [line]
    return [s for s in _SENTENCE_END.split(line) if s.strip()]


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
    """
    if on_decode_error not in ("stop", "skip"):
        raise ValueError(
            "`on_decode_error` must be 'stop' or 'skip'. Got "
            f"{on_decode_error!r}"
        )
    with open(path, "rb") as f:
        offset = 0  # of the next line, counted (no seek per line)
        if start > 0:
            # Move to the first line beginning at or after `start`.
            f.seek(start - 1)
            offset = start - 1 + len(f.readline())
        number = 0
        while end is None or offset < end:
            raw = f.readline()
            if not raw:
                return
            line_offset, offset = offset, offset + len(raw)
            number += 1
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                if on_decode_error == "skip":
                    continue
                where = (
                    f"line {number}" if start == 0 else f"byte {line_offset}"
                )
                raise CorpusError(
                    f"{path}, {where}: bytes that are not UTF-8 "
                    f"({e.reason} at byte {e.start}). Re-encode the file as "
                    "UTF-8 or pass --on-decode-error skip to drop such lines."
                ) from None
            yield line.strip()


def file_segments(files, segment_bytes=1 << 20):
    """Split files into `(path, start, end)` byte ranges of about
    `segment_bytes`.

    `iter_documents` accepts these in place of paths; reading the segments
    of a corpus in a shuffled order is how `text_dataset` mixes it.
    """
    segments = []
    for path in files:
        size = os.path.getsize(path)
        count = max(1, -(-size // segment_bytes))
        bounds = [size * i // count for i in range(count + 1)]
        segments.extend((path, bounds[i], bounds[i + 1]) for i in range(count))
    return segments


def iter_documents(
    files,
    blank_lines_separate_documents=True,
    max_line_words=64,
    on_decode_error="stop",
):
    """Yield documents (lists of sentences) from a list of files.

    A file always ends a document; with `blank_lines_separate_documents` a
    blank line does too. An item of `files` may also be a `(path, start,
    end)` byte range from `file_segments`, which ends a document as well.
    """
    for item in files:
        path, start, end = item if isinstance(item, tuple) else (item, 0, None)
        document = []
        for line in read_lines(path, on_decode_error, start, end):
            if not line:
                if blank_lines_separate_documents and document:
                    yield document
                    document = []
                continue
            document.extend(split_sentences(line, max_line_words))
        if document:
            yield document
