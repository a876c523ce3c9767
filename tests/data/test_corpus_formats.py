"""`data/corpus_formats.py` and `data/documents.py`: corpora as users have
them (compressed text, JSON lines, Parquet, texts given in Python) read as
the plain text they hold."""

import bz2
import gzip
import importlib.util
import json
import lzma
import sys

import numpy as np
import pytest
import tensorflow as tf
from helpers import WORDS
from helpers import once_per_suite
from helpers import word_documents

import keras_electra
from keras_electra import cli
from keras_electra.data import Documents
from keras_electra.data import build_shards
from keras_electra.data import iter_documents
from keras_electra.data import iter_examples
from keras_electra.data import text_dataset
from keras_electra.data.corpus_formats import corpus_format
from keras_electra.data.text import CorpusError
from keras_electra.data.text import expand_inputs
from keras_electra.data.text import file_segments

HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None
needs_pyarrow = pytest.mark.skipif(not HAS_PYARROW, reason="needs pyarrow")
OPENERS = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}
FORMATS = ["txt.gz", "txt.bz2", "txt.xz", "jsonl", "jsonl.gz"] + (
    ["parquet"] if HAS_PYARROW else []
)
SETTINGS = dict(sequence_length=16, shuffle_buffer=8)


def _documents():
    return word_documents(seed=0, long_at=7)


def _write(folder, documents, field="text"):
    """The documents in every format: `{suffix: path}`."""
    text = "\n\n".join(documents) + "\n"
    paths = {"txt": folder / "corpus.txt"}
    paths["txt"].write_text(text, encoding="utf-8")
    lines = "".join(
        json.dumps({"id": i, field: d}) + "\n" for i, d in enumerate(documents)
    )
    for suffix, opener in OPENERS.items():
        paths[f"txt.{suffix}"] = folder / f"corpus.txt.{suffix}"
        with opener(paths[f"txt.{suffix}"], "wt", encoding="utf-8") as f:
            f.write(text)
    paths["jsonl"] = folder / "corpus.jsonl"
    paths["jsonl"].write_text(lines, encoding="utf-8")
    paths["jsonl.gz"] = folder / "corpus.jsonl.gz"
    with gzip.open(paths["jsonl.gz"], "wt", encoding="utf-8") as f:
        f.write(lines)
    if HAS_PYARROW:
        import pyarrow as pa
        import pyarrow.parquet as pq

        paths["parquet"] = folder / "corpus.parquet"
        table = pa.table({"id": list(range(len(documents))), field: documents})
        pq.write_table(table, paths["parquet"], row_group_size=6)
    return {k: str(v) for k, v in paths.items()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("formats")
    documents = _documents()
    tokenizer = keras_electra.ElectraTokenizer(vocabulary=WORDS)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    return documents, _write(folder, documents), tokenizer, str(vocab)


def _texts(documents):
    """The same documents given in Python, every way `Documents` takes."""
    return {
        "generator": lambda: (d for d in documents),
        "list": lambda: Documents(documents),
        "function": lambda: Documents(lambda: iter(documents)),
        "tf.data": lambda: tf.data.Dataset.from_tensor_slices(documents),
        "tf.data of dicts": lambda: tf.data.Dataset.from_tensor_slices(
            {"text": documents, "id": list(range(len(documents)))}
        ),
        "dicts": lambda: ({"text": d} for d in documents),
    }


def test_every_format_reads_the_documents_of_the_plain_file(corpus):
    documents, paths, _, _ = corpus
    expected = list(iter_documents([paths["txt"]]))
    assert len(expected) == 40 and len(expected[7]) == 20  # split
    for suffix in FORMATS:
        assert list(iter_documents([paths[suffix]])) == expected, suffix
    for name, texts in _texts(documents).items():
        assert list(iter_documents(texts())) == expected, name
    # Segments: byte ranges of plain JSON lines, runs of Parquet row
    # groups; a compressed file is one segment, whatever its size.
    for suffix in ("jsonl",) + (("parquet",) if HAS_PYARROW else ()):
        segments = file_segments([paths[suffix]], 200)
        assert len(segments) > 2, suffix
        assert list(iter_documents(segments)) == expected, suffix
    for suffix in ("txt.gz", "jsonl.gz"):
        assert len(file_segments([paths[suffix]], 200)) == 1
    assert corpus_format("A.JSONL.GZ").name == "JSON lines (gzip-compressed)"
    assert corpus_format("part-00001").name == "text"


def _rows(dataset):
    return np.concatenate(
        [np.stack([b[k].numpy() for k in sorted(b)], axis=1) for b in dataset]
    )


@once_per_suite  # tf.data and numpy alone, and some 10 s
def test_every_format_packs_the_examples_of_the_plain_file(corpus):
    """`iter_examples` and `text_dataset` (graph tokenization, one segment
    each) give the plain file's examples, in its order."""
    documents, paths, tok, _ = corpus
    expected = list(iter_examples([paths["txt"]], tok, 16, seed=3))
    want = np.stack([e["input_ids"] for e in expected])
    batches = _rows(
        text_dataset(paths["txt"], tok, 4, seed=3, repeat=False, **SETTINGS)
    )
    assert len(want) > 40 and len(batches) == len(want) // 4 * 4
    inputs = {suffix: [paths[suffix]] for suffix in FORMATS}
    inputs.update({k: v() for k, v in _texts(documents).items()})
    for name, source in inputs.items():
        examples = list(iter_examples(source, tok, 16, seed=3))
        got = np.stack([e["input_ids"] for e in examples])
        np.testing.assert_array_equal(got, want, err_msg=name)
    for name, source in inputs.items():
        if name in ("generator", "dicts"):  # read once by iter_examples
            source = _texts(documents)[name]()
        ds = text_dataset(source, tok, 4, seed=3, repeat=False, **SETTINGS)
        np.testing.assert_array_equal(_rows(ds), batches, err_msg=name)


def test_mixed_formats_resume_from_recorded_counts(corpus, tmp_path):
    """A corpus of several formats is mixed by segments (the compressed
    file one of them) and entered at any batch, from recorded counts."""
    _, paths, tok, _ = corpus
    files = [paths["txt.gz"], paths["jsonl"]]
    settings = dict(SETTINGS, segment_bytes=300, streams=2, cache_bytes=0)
    counts = tmp_path / "counts.json"
    fresh = list(
        text_dataset(files, tok, 4, counts_file=str(counts), **settings)
        .take(60)
        .as_numpy_iterator()
    )
    recorded = json.loads(counts.read_text())["counts"]
    assert len(recorded) == 1 + len(file_segments([paths["jsonl"]], 300))
    for skip in (5, 41):
        resumed = text_dataset(
            files,
            tok,
            4,
            skip_batches=skip,
            counts_file=str(counts),
            **settings,
        )
        for got, want in zip(resumed.take(4).as_numpy_iterator(), fresh[skip:]):
            np.testing.assert_array_equal(got["token_ids"], want["token_ids"])


def test_texts_given_in_python_repeat_and_resume_by_reading_through(corpus):
    documents, paths, tok, _ = corpus
    settings = dict(SETTINGS, segment_bytes=500)
    texts = Documents(documents)
    fresh = _rows(text_dataset(texts, tok, 4, **settings).take(40))
    # Two passes and more: each pass packs into the same examples.
    once = _rows(text_dataset(texts, tok, 4, repeat=False, **settings))
    assert len(fresh) == 160 > 2 * len(once)
    whole = len(once) // 8 * 8  # the blocks of 8 within the first pass
    np.testing.assert_array_equal(fresh[:whole], once[:whole])
    resumed = text_dataset(texts, tok, 4, skip_batches=25, **settings)
    np.testing.assert_array_equal(_rows(resumed.take(5)), fresh[100:120])
    # A generator is read once: repeat=True is refused, a second read too.
    with pytest.raises(CorpusError, match="can be read once.*repeat=False"):
        text_dataset((d for d in documents), tok, 4, **settings)
    generator = Documents(d for d in documents)
    assert len(list(iter_documents(generator))) == 40
    with pytest.raises(CorpusError, match="the generator was read already"):
        list(iter_documents(generator))
    # A list holds paths; a generator of paths is refused, not read as text.
    with pytest.raises(CorpusError, match="does not exist"):
        text_dataset(documents[:2], tok, 4, **settings)
    with pytest.raises(CorpusError, match="is the name of a file"):
        list(iter_documents(p for p in [paths["txt"]]))


def test_every_format_builds_the_shards_of_the_plain_file(corpus, tmp_path):
    documents, paths, _, vocab = corpus
    settings = dict(
        sequence_length=16, num_shards=2, num_processes=1, verbose=False
    )

    def records(inputs, name):
        result = build_shards(inputs, str(tmp_path / name), vocab, **settings)
        return [
            [r.numpy() for r in tf.data.TFRecordDataset(path)]
            for path in result["files"]
        ]

    expected = records(paths["txt"], "txt")
    assert all(len(shard) > 10 for shard in expected)
    sources = {s: paths[s] for s in ["txt.xz", "jsonl.gz", *FORMATS[5:]]}
    sources["generator"] = (d for d in documents)
    sources["tf.data"] = tf.data.Dataset.from_tensor_slices(documents)
    for name, source in sources.items():
        assert records(source, name.replace(".", "_")) == expected, name
    manifest = json.loads((tmp_path / "jsonl_gz" / "manifest.json").read_text())
    assert manifest["text_field"] == "text"
    # The same command line, with another field.
    folder = tmp_path / "field"
    folder.mkdir()
    body = _write(folder, documents, field="body")["jsonl.gz"]
    argv = ["build-data", "--corpus", body, "--vocab", vocab, "--output"]
    flags = ["--num-shards", "2", "--processes", "1", "--sequence-length"]
    assert cli.main([*argv, str(tmp_path / "cli"), *flags, "16"]) == 2
    assert (
        cli.main(
            [*argv, str(tmp_path / "cli"), *flags, "16", "--text-field", "body"]
        )
        == 0
    )
    got = [
        [r.numpy() for r in tf.data.TFRecordDataset(path)]
        for path in sorted((tmp_path / "cli").glob("shard-*.tfrecord"))
    ]
    assert got == expected


def test_the_text_field_option_is_a_recorded_pretrain_option(capsys):
    from keras_electra.jobs.options import PretrainConfig

    config = PretrainConfig(corpus=["a.jsonl"], text_field="body")
    assert config.to_json()["text_field"] == "body"
    with pytest.raises(SystemExit):
        cli.main(["pretrain", "--help"])
    text = capsys.readouterr().out
    assert "--text-field" in text and ".jsonl" in text and ".parquet" in text
    assert cli.main(["pretrain", "--text-field", ""]) == 2
    assert "--text-field must not be empty" in capsys.readouterr().err


def test_bad_records_name_the_file_the_line_and_the_fix(tmp_path, corpus):
    _, _, tok, _ = corpus
    cases = {
        "bad.jsonl": (
            b'{"text": "the fox"}\n\n{"text": "the dog"\n',
            r"bad.jsonl, line 3: not JSON .*fix or remove that line",
        ),
        "field.jsonl": (
            b'{"text": "the fox"}\n{"body": "the dog", "id": 2}\n',
            r"field.jsonl, line 2: no field 'text' \(its fields: body, id\)"
            r"\. Pass --text-field NAME",
        ),
        "null.json": (
            b'{"text": null}\n',
            r"null.json, line 1: field 'text' holds null, not text",
        ),
        "list.jsonl": (b'["the fox"]\n', r"list.jsonl, line 1: an array"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(CorpusError, match=message):
            list(iter_documents([str(tmp_path / name)]))
    # The field is looked for before any work.
    (tmp_path / "body.jsonl").write_bytes(b'{"body": "the dog"}\n')
    with pytest.raises(CorpusError, match="body.jsonl, line 1: no field"):
        expand_inputs(str(tmp_path / "body.jsonl"), "text")
    # Bytes that are not UTF-8, inside a compressed stream.
    latin = tmp_path / "latin.txt.gz"
    with gzip.open(latin, "wb") as f:
        f.write(b"the fox\n\nthe \xff dog\nthe dog\n")
    with pytest.raises(CorpusError, match=r"latin.txt.gz, line 3: bytes.*"):
        list(iter_documents([str(latin)]))
    skipped = list(iter_documents([str(latin)], on_decode_error="skip"))
    assert skipped == [["the fox"], ["the dog"]]
    with pytest.raises(Exception, match=r"latin.txt.gz, line 3.*decode-err"):
        next(iter(text_dataset(str(latin), tok, 1, sequence_length=16)))
    # Damaged, empty and unread compressed files.
    (tmp_path / "fake.txt.gz").write_bytes(b"the fox\n")
    with pytest.raises(CorpusError, match="fake.txt.gz: not readable gzip"):
        expand_inputs(str(tmp_path / "fake.txt.gz"))
    cut = tmp_path / "cut.txt.bz2"
    cut.write_bytes(bz2.compress(b"the fox\n" * 1000)[:-20])
    with pytest.raises(CorpusError, match="cut.txt.bz2, line .*cut short"):
        list(iter_documents([str(cut)]))
    with gzip.open(tmp_path / "empty.txt.gz", "wb"):
        pass
    with pytest.raises(CorpusError, match="empty.*without text"):
        expand_inputs(str(tmp_path / "empty.txt.gz"))
    (tmp_path / "a.zip").write_bytes(b"PK")
    with pytest.raises(CorpusError, match="a zip archive.*Extract"):
        expand_inputs(str(tmp_path / "a.zip"))


def test_bad_texts_given_in_python_name_the_document(corpus):
    _, _, tok, _ = corpus
    with pytest.raises(CorpusError, match="generator, document 2: int, not"):
        list(iter_documents(t for t in ["the fox", 3]))
    with pytest.raises(CorpusError, match="document 1: no field 'text'"):
        list(iter_documents({"body": t} for t in ["the fox"]))
    raw = tf.data.Dataset.from_tensor_slices([b"the fox", b"the \xff dog"])
    with pytest.raises(CorpusError, match="tf.data.Dataset, document 2: byt"):
        list(iter_documents(raw))
    assert list(iter_documents(raw, on_decode_error="skip")) == [["the fox"]]
    numbers = tf.data.Dataset.range(3)
    with pytest.raises(CorpusError, match="not one string per element"):
        text_dataset(numbers, tok, 1, repeat=False)
    with pytest.raises(CorpusError, match="The corpus is empty: the gen"):
        list(iter_documents(t for t in ["", "  "]))
    with pytest.raises(Exception, match="packs into no examples"):
        next(iter(text_dataset(Documents(["\x00"]), tok, 1, **SETTINGS)))


@needs_pyarrow
def test_parquet_errors_name_the_column_and_the_fix(tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"body": ["the fox", None], "n": [1, 2]}), path)
    with pytest.raises(CorpusError, match=r"no column 'text' \(its columns"):
        expand_inputs(str(path), "text")
    with pytest.raises(CorpusError, match="'n' holds int64, not text"):
        list(iter_documents([str(path)], text_field="n"))
    with pytest.raises(CorpusError, match="row 2: field 'body' holds null"):
        list(iter_documents([str(path)], text_field="body"))
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(CorpusError, match='pip install "keras-electra.parq'):
        expand_inputs(str(path))
