"""The data functions on URLs (`utils/file_system.py`): end to end on
TensorFlow's in-memory `ram://` filesystem, against the same corpus on
local disk."""

import gzip
import importlib.util
import json
import os
import subprocess
import sys
import uuid

import numpy as np
import pytest
import tensorflow as tf
from helpers import WORDS
from helpers import once_per_suite
from helpers import word_documents

import keras_electra
from keras_electra.data import build_shards
from keras_electra.data import iter_documents
from keras_electra.data import learn_vocabulary
from keras_electra.data import shard_dataset
from keras_electra.data import text_dataset
from keras_electra.data.shards import record_counts
from keras_electra.data.shards import shard_files
from keras_electra.data.shards import shard_problems
from keras_electra.data.text import CorpusError
from keras_electra.data.text import expand_inputs
from keras_electra.data.text import file_segments
from keras_electra.tokenizers.electra_tokenizer import read_vocabulary_file
from keras_electra.utils import file_system

HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None
SETTINGS = dict(sequence_length=16, shuffle_buffer=8)


def _documents():
    return word_documents(seed=1, long_at=5)


def _corpus_files(documents):
    """`{name: bytes}`: the documents as plain text, gzipped JSON lines
    and (with pyarrow) Parquet, plus a hidden file that is no corpus."""
    text = "\n\n".join(documents) + "\n"
    lines = "".join(json.dumps({"text": d}) + "\n" for d in documents)
    files = {
        "corpus.txt": text.encode("utf-8"),
        "more.jsonl.gz": gzip.compress(lines.encode("utf-8"), mtime=0),
        ".hidden.txt": b"not part of the corpus\n",
    }
    if HAS_PYARROW:
        import pyarrow as pa
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        table = pa.table({"text": documents})
        pq.write_table(table, sink, row_group_size=7)
        files["rows.parquet"] = sink.getvalue().to_pybytes()
    return files


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The same corpus and vocabulary in a local folder and on `ram://`:
    `(local folder, ram:// folder, tokenizer)`."""
    local = str(tmp_path_factory.mktemp("local"))
    remote = f"ram://keras_electra_test_{uuid.uuid4().hex}"
    files = _corpus_files(_documents())
    files_with_vocab = {
        **{f"corpus/{name}": data for name, data in files.items()},
        "vocab.txt": ("\n".join(WORDS) + "\n").encode("utf-8"),
    }
    for root in (local, remote):
        file_system.makedirs(file_system.join(root, "corpus"))
        for name, data in files_with_vocab.items():
            path = file_system.join(root, *name.split("/"))
            with file_system.open_file(path, "wb") as f:
                f.write(data)
    yield local, remote, keras_electra.ElectraTokenizer(vocabulary=WORDS)
    tf.io.gfile.rmtree(remote)


def _relative(paths, root):
    return [os.path.relpath(p, root).replace(os.sep, "/") for p in paths]


def test_file_system_on_ram():
    root = f"ram://keras_electra_test_{uuid.uuid4().hex}"
    folder = file_system.join(root, "a")
    assert folder == f"{root}/a" and file_system.abspath(folder) == folder
    assert file_system.has_scheme(folder) and file_system.is_in_memory(folder)
    assert not file_system.has_scheme("data/corpus.txt")
    assert not file_system.has_scheme(r"C:\data\corpus.txt")
    file_system.makedirs(folder)
    with pytest.raises(FileExistsError):
        file_system.makedirs(folder, exist_ok=False)
    path = file_system.join(folder, "notes.txt")
    with file_system.open_file(path, "w", encoding="utf-8") as f:
        f.write("first\nsecond é\n")
    assert file_system.getsize(path) == 16
    assert file_system.isfile(path) and not file_system.isdir(path)
    assert file_system.isdir(folder) and not file_system.isfile(folder)
    with file_system.open_file(path, "rb") as f:
        f.seek(3)  # the byte-range reader's seek and tell
        assert f.readline() == b"st\n" and f.tell() == 6
        assert f.read() == "second é\n".encode("utf-8")
    with file_system.open_file(path, encoding="utf-8") as f:
        assert f.read().splitlines() == ["first", "second é"]
    with file_system.open_file(file_system.join(folder, ".hidden"), "w") as f:
        f.write("x")
    assert file_system.glob(f"{folder}/*") == [path]
    assert file_system.glob(f"{folder}/.*") == [f"{folder}/.hidden"]
    assert file_system.glob(f"{root}/missing/*") == []
    assert sorted(file_system.listdir(folder)) == [".hidden", "notes.txt"]
    walked = [(d, sorted(f)) for d, _, f in file_system.walk(root)]
    assert walked == [(root, []), (folder, [".hidden", "notes.txt"])]
    moved = file_system.join(folder, "moved.txt")
    file_system.replace(path, moved)
    assert not file_system.exists(path) and file_system.getsize(moved) == 16
    # TensorFlow's errors come as the OSError Python raises.
    missing = file_system.join(folder, "missing.txt")
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        file_system.open_file(missing, "rb")
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        file_system.getsize(missing)
    with pytest.raises(IsADirectoryError):
        file_system.open_file(folder)
    with pytest.raises(ValueError, match="Mode 'r\\+'"):
        file_system.open_file(moved, "r+")
    file_system.remove(moved)
    assert not file_system.exists(moved)
    tf.io.gfile.rmtree(root)


def test_local_paths_do_not_import_tensorflow(tmp_path):
    script = (
        "import sys\n"
        "from keras_electra.utils import file_system as fs\n"
        "folder = fs.join(sys.argv[1], 'a')\n"
        "fs.makedirs(folder)\n"
        "with fs.open_file(fs.join(folder, 'x.txt'), 'w') as f:\n"
        "    f.write('x')\n"
        "assert fs.glob(fs.join(folder, '*.txt'))\n"
        "assert fs.getsize(fs.join(folder, 'x.txt')) == 1\n"
        "print(sorted(m for m in ('tensorflow', 'keras') "
        "if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_expand_inputs_and_documents_on_ram_equal_local(corpus):
    local, remote, _ = corpus
    expected = expand_inputs(file_system.join(local, "corpus"))
    names = ["corpus.txt", "more.jsonl.gz"]
    names += ["rows.parquet"] if HAS_PYARROW else []
    assert _relative(expected, local) == [f"corpus/{n}" for n in names]
    # A folder (the hidden file left out), a glob and a file.
    found = expand_inputs(file_system.join(remote, "corpus"))
    assert found == [f"{remote}/corpus/{name}" for name in names]
    assert expand_inputs(f"{remote}/corpus/*.txt") == [found[0]]
    assert expand_inputs([found[1]]) == [found[1]]
    for path, local_path in zip(found, expected):
        assert list(iter_documents([path])) == list(
            iter_documents([local_path])
        ), path
    # Byte ranges of the text file: the remote reader seeks as the local.
    # (A segment ends a document, so both are read in the same segments.)
    segments = file_segments([found[0]], 100)
    local_segments = file_segments([expected[0]], 100)
    assert len(segments) > 5
    assert [s[1:] for s in segments] == [s[1:] for s in local_segments]
    read = list(iter_documents(segments))
    assert read == list(iter_documents(local_segments))
    assert sum(map(len, read)) == sum(map(len, iter_documents([found[0]])))
    with pytest.raises(CorpusError, match="does not exist"):
        expand_inputs(f"{remote}/corpus/missing.txt")
    with pytest.raises(CorpusError, match="No files match"):
        expand_inputs(f"{remote}/corpus/*.csv")


def _rows(dataset):
    return np.concatenate(
        [np.stack([b[k].numpy() for k in sorted(b)], axis=1) for b in dataset]
    )


@once_per_suite  # tf.data and numpy alone, and some 5 s
def test_text_dataset_on_ram_equals_local(corpus):
    local, remote, tok = corpus
    settings = dict(SETTINGS, segment_bytes=300, streams=2, cache_bytes=0)
    want = _rows(
        text_dataset(
            file_system.join(local, "corpus"), tok, 4, repeat=False, **settings
        )
    )
    counts = f"{remote}/counts.json"
    got = _rows(
        text_dataset(
            file_system.join(remote, "corpus"),
            tok,
            4,
            repeat=False,
            counts_file=counts,
            **settings,
        )
    )
    assert len(want) > 40
    np.testing.assert_array_equal(got, want)
    # The example counts went to ram://, and a resumed run enters from them.
    with file_system.open_file(counts, encoding="utf-8") as f:
        recorded = json.load(f)["counts"]
    files = expand_inputs(f"{remote}/corpus")
    assert len(recorded) == len(file_segments(files, 300)) > 3
    resumed = text_dataset(
        f"{remote}/corpus",
        tok,
        4,
        repeat=False,
        skip_batches=3,
        counts_file=counts,
        **settings,
    )
    np.testing.assert_array_equal(_rows(resumed.take(2)), want[12:20])


def test_shards_built_on_ram_equal_local_shards(corpus, capsys):
    local, remote, _ = corpus
    settings = dict(sequence_length=16, num_shards=2)

    def build(root, **kwargs):
        return build_shards(
            file_system.join(root, "corpus"),
            file_system.join(root, "shards"),
            file_system.join(root, "vocab.txt"),
            **settings,
            **kwargs,
        )

    local_result = build(local, num_processes=1, verbose=False)
    # ram:// is this process' memory: the build stays in this process.
    result = build(remote, num_processes=2, verbose=True)
    assert "num_processes=2 lowered to 1: ram://" in capsys.readouterr().out
    assert result["examples"] == local_result["examples"] > 20
    files = shard_files(f"{remote}/shards")
    assert files == result["files"] and files[0].startswith(remote)
    assert record_counts(files) == record_counts(local_result["files"])
    assert shard_problems(files, checksums=True) == {}
    with file_system.open_file(f"{remote}/shards/manifest.json") as f:
        manifest = json.load(f)
    assert manifest["inputs"][0]["path"] == f"{remote}/corpus/corpus.txt"
    for path, local_path in zip(files, local_result["files"]):
        records = [r.numpy() for r in tf.data.TFRecordDataset(path)]
        local_records = [r.numpy() for r in tf.data.TFRecordDataset(local_path)]
        assert records == local_records, path
    # Built once: the same build again finds every shard in place.
    assert build(remote, num_processes=1, verbose=False)["examples"] == 0

    def batches(root):
        ds = shard_dataset(
            f"{root}/shards", batch_size=4, shuffle_buffer=8, repeat=False
        )
        return _rows(ds)

    np.testing.assert_array_equal(batches(remote), batches(local))


def test_vocabulary_learned_into_ram_equals_local(corpus):
    local, remote, _ = corpus
    kwargs = dict(vocabulary_size=40, max_lines=1000)
    local_file = os.path.join(local, "learned.txt")
    learn_vocabulary(
        os.path.join(local, "corpus"), output_file=local_file, **kwargs
    )
    remote_file = f"{remote}/learned.txt"
    tokenizer = learn_vocabulary(
        f"{remote}/corpus", output_file=remote_file, **kwargs
    )
    with open(local_file, "rb") as f:
        want = f.read()
    with file_system.open_file(remote_file, "rb") as f:
        assert f.read() == want
    assert not file_system.exists(f"{remote_file}.tmp")
    # A tokenizer reads its vocabulary file from ram:// too.
    vocabulary = read_vocabulary_file(remote_file)
    assert vocabulary == want.decode("utf-8").splitlines()
    again = keras_electra.ElectraTokenizer(vocabulary=remote_file)
    assert again.get_vocabulary() == tokenizer.get_vocabulary() == vocabulary
    text = "the quick brown fox jumps over the lazy dogs ."
    np.testing.assert_array_equal(again(text), tokenizer(text))
    with pytest.raises(ValueError, match="does not exist"):
        keras_electra.ElectraTokenizer(vocabulary=f"{remote}/missing.txt")
