"""`data/shards.py`: resumable TFRecord shards."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import VOCAB_FILE
from helpers import needs_shared
from helpers import news_head
from helpers import two_domain_corpus

import keras_electra
from keras_electra.data import build_shards
from keras_electra.data import iter_documents
from keras_electra.data import iter_examples
from keras_electra.data import shard_dataset
from keras_electra.data.examples import FEATURES
from keras_electra.data.shards import ShardOrder
from keras_electra.data.shards import record_counts
from keras_electra.data.text import CorpusError


@needs_shared
def test_shards_round_trip_and_are_idempotent(bert_tokenizer, tmp_path):
    path = news_head(tmp_path, 1500)
    out = tmp_path / "shards"
    result = build_shards(
        [str(path)],
        str(out),
        str(VOCAB_FILE),
        sequence_length=64,
        num_shards=3,
        num_processes=1,
        verbose=False,
    )
    assert len(result["files"]) == 3 and result["tokens"] > 0
    assert result["tokens_per_second"] > 0
    expected = list(iter_examples([str(path)], bert_tokenizer, 64, seed=0))
    ds = shard_dataset(str(out), batch_size=1, shuffle_buffer=0, repeat=False)
    rows = [b["token_ids"].numpy()[0] for b in ds]
    assert len(rows) == result["examples"]
    # Each shard packs its own documents; the tokens are the same overall.
    assert sum(int((r > 0).sum()) for r in rows) == pytest.approx(
        sum(int(e["input_mask"].sum()) for e in expected), rel=0.05
    )
    # Re-running skips finished shards.
    mtimes = [os.path.getmtime(f) for f in result["files"]]
    again = build_shards(
        [str(path)],
        str(out),
        str(VOCAB_FILE),
        sequence_length=64,
        num_shards=3,
        verbose=False,
    )
    assert again["examples"] == 0
    assert mtimes == [os.path.getmtime(f) for f in result["files"]]
    # A partial build (a shard deleted) rebuilds only what is missing.
    os.remove(result["files"][1])
    partial = build_shards(
        [str(path)],
        str(out),
        str(VOCAB_FILE),
        sequence_length=64,
        num_shards=3,
        verbose=False,
    )
    assert 0 < partial["examples"] < result["examples"]
    # A different build into the same folder is refused.
    with pytest.raises(ValueError, match="other inputs or settings"):
        build_shards(
            [str(path)],
            str(out),
            str(VOCAB_FILE),
            sequence_length=32,
            num_shards=3,
            verbose=False,
        )
    batch = next(iter(shard_dataset(str(out), batch_size=4)))
    assert set(batch) == {"token_ids", "segment_ids", "padding_mask"}
    assert tuple(batch["token_ids"].shape) == (4, 64)
    with pytest.raises(ValueError, match="length 64"):
        shard_dataset(str(out), batch_size=4, sequence_length=128)


def test_every_shard_samples_the_whole_corpus(tmp_path):
    tok, files = two_domain_corpus(tmp_path)
    vocab_file = tmp_path / "vocab.txt"
    vocab_file.write_text("\n".join(tok.get_vocabulary()) + "\n")
    out = tmp_path / "shards"
    result = build_shards(
        files,
        str(out),
        str(vocab_file),
        sequence_length=32,
        num_shards=4,
        num_processes=1,
        verbose=False,
    )
    words = {5: 0, 6: 0}
    for shard in result["files"]:
        rows = [
            b["token_ids"].numpy()[0]
            for b in shard_dataset(
                shard, batch_size=1, shuffle_buffer=0, repeat=False
            )
        ]
        # Each shard holds both files, not just the first one.
        assert all(any((r == w).any() for r in rows) for w in words), shard
        for w in words:
            words[w] += sum(int((r == w).sum()) for r in rows)
    expected = list(iter_examples(files, tok, 32, seed=0))
    for w in words:  # every document went to exactly one shard
        assert words[w] == sum(
            int((e["input_ids"] == w).sum()) for e in expected
        )


@pytest.fixture(scope="module")
def three_shards(tmp_path_factory):
    """Three shards of about 270 examples of 32 ids, in unequal numbers."""
    tmp_path = tmp_path_factory.mktemp("shards")
    tok, files = two_domain_corpus(tmp_path)
    vocab_file = tmp_path / "vocab.txt"
    vocab_file.write_text("\n".join(tok.get_vocabulary()) + "\n")
    out = tmp_path / "shards"
    result = build_shards(
        files,
        str(out),
        str(vocab_file),
        sequence_length=32,
        num_shards=3,
        num_processes=1,
        verbose=False,
    )
    return str(out), result["files"]


def _rows(dataset, count):
    return [
        np.stack([b[k].numpy() for k in sorted(b)]) for b in dataset.take(count)
    ]


def _same(a, b):
    return len(a) == len(b) and all((x == y).all() for x, y in zip(a, b))


def test_shards_are_read_in_rounds_and_parsed_in_whole_batches(three_shards):
    """Unshuffled, the records come two shards at a time (one of each in
    turn), in the epoch's order of the shards; parsing whole batches gives
    the examples that parsing each record gives."""
    out, files = three_shards
    order = ShardOrder(files, seed=0, cycle_length=2)
    shuffled = order.epoch_permutation(tf.constant(0, tf.int64)).numpy()
    records = [
        list(tf.data.TFRecordDataset(files[i]).as_numpy_iterator())
        for i in shuffled
    ]
    expected = []
    for group in (records[:2], records[2:]):
        for turn in range(max(map(len, group))):
            expected += [shard[turn] for shard in group if turn < len(shard)]
    spec = {name: tf.io.FixedLenFeature([32], tf.int64) for name in FEATURES}
    one_by_one = [tf.io.parse_single_example(r, spec) for r in expected]
    ds = shard_dataset(out, 5, shuffle_buffer=0, repeat=False, cycle_length=2)
    batches = list(ds)
    assert len(batches) == len(expected) // 5
    for i, batch in enumerate(batches):
        for name, key in (
            ("input_ids", "token_ids"),
            ("input_mask", "padding_mask"),
            ("segment_ids", "segment_ids"),
        ):
            want = np.stack(
                [e[name].numpy() for e in one_by_one[i * 5 : i * 5 + 5]]
            )
            np.testing.assert_array_equal(batch[key].numpy(), want)
            assert batch[key].dtype == tf.int32


def test_shards_resume_at_any_batch_without_reading_before(three_shards):
    """Batches n.. of a fresh dataset are the dataset made with
    `skip_batches=n`: inside a shuffle block, inside a round of shards,
    across an epoch's end and in a later epoch."""
    out, files = three_shards
    counts = record_counts(files)
    epoch = sum(counts) // 4
    for settings, skips in (
        (dict(shuffle_buffer=48, cycle_length=2), (5, epoch - 1)),
        (dict(shuffle_buffer=0, cycle_length=8), (counts[0] // 8,)),
        (dict(shuffle_buffer=48, cycle_length=8), (2 * epoch + 3,)),
    ):
        fresh = _rows(shard_dataset(out, 4, **settings), max(skips) + 6)
        for skip in skips:
            resumed = shard_dataset(out, 4, skip_batches=skip, **settings)
            assert _same(_rows(resumed, 6), fresh[skip : skip + 6]), (
                settings,
                skip,
            )
    # Each epoch has every record once, in another order (a shuffle block
    # of one epoch's size keeps the epochs apart).
    total = sum(counts)
    epochs = shard_dataset(out, 1, shuffle_buffer=total).rebatch(total)
    first, second = [rows.transpose(1, 0, 2) for rows in _rows(epochs, 2)]
    assert sorted(r.tobytes() for r in first) == sorted(
        r.tobytes() for r in second
    )
    assert not _same(first, second)
    # Resuming past the end of a single pass gives nothing.
    after = shard_dataset(out, 4, repeat=False, skip_batches=total // 4)
    assert _rows(after, 1) == []


def test_record_counts_without_their_records(three_shards, tmp_path):
    _, files = three_shards
    counts = record_counts(files)
    assert all(count > 0 for count in counts)
    # Shards without the record beside them (older builds) are counted.
    copy = tmp_path / "shard.tfrecord"
    copy.write_bytes(open(files[1], "rb").read())
    assert record_counts([str(copy)]) == [counts[1]]


def test_bad_corpus_inputs(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        list(
            iter_documents(
                keras_electra.data.expand_inputs([str(tmp_path / "x.txt")])
            )
        )
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(CorpusError, match="empty"):
        keras_electra.data.expand_inputs([str(empty)])
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"good line\nsecond\nbad \xff\xfe line\nlast\n")
    with pytest.raises(CorpusError, match=r"bad.txt, line 3.*on-decode-error"):
        list(iter_documents([str(bad)]))
    docs = list(iter_documents([str(bad)], on_decode_error="skip"))
    assert docs == [["good line", "second", "last"]]


@needs_shared
@pytest.mark.skipif(
    keras.config.backend() != "torch",
    reason="the input pipeline is tf.data on every backend; the torch suite",
)
def test_damaged_shards_are_named_and_only_they_rebuilt(micro_preset, tmp_path):
    import json

    from keras_electra.jobs.options import PretrainingError
    from keras_electra.jobs.pretrain import pretrain

    path = news_head(tmp_path, 600)
    out = tmp_path / "shards"

    def build():
        return build_shards(
            [str(path)],
            str(out),
            str(VOCAB_FILE),
            sequence_length=32,
            num_shards=3,
            num_processes=1,
            verbose=False,
        )

    files = build()["files"]
    record = json.loads(open(files[0] + ".json").read())
    assert record["bytes"] == os.path.getsize(files[0])
    assert record["records"] > 0 and len(record["sha256"]) == 64
    run = dict(
        preset=micro_preset,
        shards=str(out),
        vocabulary=str(VOCAB_FILE),
        batch_size=2,
        steps=2,
        verbose=0,
    )
    # A cut-off shard is named before any work.
    data = open(files[1], "rb").read()
    with open(files[1], "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(PretrainingError, match="shard-00001-of-00003"):
        pretrain(str(tmp_path / "run"), **run)
    assert not (tmp_path / "run").exists()
    # A shard of the right size whose records are corrupt: found in
    # training, named, and the run folder is left as it was.
    with open(files[1], "wb") as f:
        f.write(data[:40] + bytes(b ^ 0xFF for b in data[40:]))
    with pytest.raises(PretrainingError, match="shard-00001.*differs"):
        pretrain(str(tmp_path / "run"), **run)
    assert not (tmp_path / "run").exists()
    # build-data again rebuilds that shard only.
    untouched = [os.path.getmtime(files[i]) for i in (0, 2)]
    assert build()["examples"] > 0
    assert [os.path.getmtime(files[i]) for i in (0, 2)] == untouched
    assert open(files[1], "rb").read() == data
    assert pretrain(str(tmp_path / "run"), **run)["step"] == 2
