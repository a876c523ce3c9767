"""`data/shards.py`: resumable TFRecord shards."""

import os

import keras
import pytest
from helpers import VOCAB_FILE
from helpers import needs_shared
from helpers import news_head
from helpers import two_domain_corpus

import keras_electra
from keras_electra.data import build_shards
from keras_electra.data import iter_documents
from keras_electra.data import iter_examples
from keras_electra.data import shard_dataset
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
