import os

import numpy as np
import pytest
import tensorflow as tf
from helpers import CORPUS
from helpers import VOCAB_FILE
from helpers import needs_shared

import keras_electra
from keras_electra.data import ExampleBuilder
from keras_electra.data import build_shards
from keras_electra.data import iter_documents
from keras_electra.data import iter_examples
from keras_electra.data import shard_dataset
from keras_electra.data.examples import mixed_examples
from keras_electra.data.text import CorpusError
from keras_electra.data.text import file_segments
from keras_electra.data.text import read_lines
from keras_electra.data.text import split_sentences


def _ids(tokenizer, text):
    out = tokenizer([text])
    return (out.to_list() if hasattr(out, "to_list") else out)[0]


def _news_head(tmp_path, lines=3000):
    """The first documents of the shared news corpus (blank-line separated)."""
    path = tmp_path / "news_head.txt"
    with open(CORPUS / "news.txt", encoding="utf-8") as f:
        text = "".join(line for _, line in zip(range(lines), f))
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tokenizer():
    return keras_electra.ElectraTokenizer(vocabulary=str(VOCAB_FILE))


@needs_shared
def test_tokenizer_uncased_and_special_ids(tokenizer):
    assert tokenizer.pretrainer_token_ids() == {
        "pad_token_id": 0,
        "cls_token_id": 101,
        "sep_token_id": 102,
        "mask_token_id": 103,
    }
    ids = _ids(tokenizer, "The CAFÉ was naïve.")
    assert ids == _ids(tokenizer, "the cafe was naive.")
    assert tokenizer.vocabulary_size() == 30522


@needs_shared
def test_tokenizer_preset_round_trip(tokenizer, tmp_path):
    tokenizer.save_to_preset(tmp_path / "p")
    # A preset folder needs a config.json; a tokenizer-only folder gets one
    # from a saved backbone in real use. Here we check the assets.
    vocab = tmp_path / "p" / "assets" / "tokenizer" / "vocabulary.txt"
    assert vocab.read_text(encoding="utf-8").split("\n")[103] == "[MASK]"


def test_vocabulary_without_special_tokens_is_refused(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n[UNK]\nthe\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[CLS\], \[SEP\], \[MASK\]"):
        keras_electra.ElectraTokenizer(vocabulary=str(path))
    with pytest.raises(ValueError, match="does not exist"):
        keras_electra.ElectraTokenizer(vocabulary=str(tmp_path / "nope.txt"))


@needs_shared
def test_learn_vocabulary_from_real_text(tmp_path):
    lines = (
        (CORPUS / "austen.txt").read_text(encoding="utf-8").splitlines()[:3000]
    )
    ds = tf.data.Dataset.from_tensor_slices(
        [line for line in lines if line]
    ).batch(256)
    out = tmp_path / "vocab.txt"
    learned = keras_electra.ElectraTokenizer.from_texts(
        ds, 600, output_file=str(out)
    )
    vocab = out.read_text(encoding="utf-8").split("\n")
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert 300 < learned.vocabulary_size() <= 600
    assert {"the", "and", "she", "##s"} <= set(vocab)
    assert learned.pretrainer_token_ids()["mask_token_id"] == 4
    ids = _ids(learned, "It is a truth universally acknowledged")
    assert 1 not in ids[:3]  # common words are known, not [UNK]


def test_learned_vocabulary_has_no_whitespace_tokens(tmp_path):
    # No-break and ideographic spaces survive normalisation; the learner
    # would otherwise keep " " and "## " as tokens the tokenizer never emits.
    texts = ["caf\u00e9 au\u00a0lait and te\u3000a, bread\u200b and jam"] * 50
    out = tmp_path / "vocab.txt"
    learned = keras_electra.ElectraTokenizer.from_texts(
        tf.data.Dataset.from_tensor_slices(texts).batch(8),
        60,
        output_file=str(out),
    )
    for vocabulary in (
        learned.get_vocabulary(),
        out.read_text(encoding="utf-8").split("\n")[:-1],
    ):
        assert all(t.strip() and t.strip() == t for t in vocabulary)
        assert not [
            t for t in vocabulary if t.startswith("##") and not t[2:].strip()
        ]
        assert "\u200b" not in "".join(vocabulary)


def test_sentence_splitting_and_documents(tmp_path):
    long = " ".join(["This is sentence number %d." % i for i in range(30)])
    assert len(split_sentences(long, max_line_words=20)) == 30
    assert split_sentences("Short line. Kept whole.", 20) == [
        "Short line. Kept whole."
    ]
    path = tmp_path / "t.txt"
    path.write_text("a b\nc d\n\n\ne f\n", encoding="utf-8")
    assert list(iter_documents([str(path)])) == [["a b", "c d"], ["e f"]]
    joined = list(
        iter_documents([str(path)], blank_lines_separate_documents=False)
    )
    assert joined == [["a b", "c d", "e f"]]


def test_example_builder_format():
    builder = ExampleBuilder(
        12,
        cls_token_id=2,
        sep_token_id=3,
        seed=0,
        single_segment_rate=0.0,
        short_sequence_rate=0.0,
    )
    assert builder.add_sentence([10, 11, 12]) is None
    assert builder.add_sentence([13, 14]) is None
    example = builder.add_sentence([15, 16, 17, 18, 19, 20, 21])
    ids = example["input_ids"].tolist()
    assert ids[0] == 2 and ids.count(3) == 2
    assert len(ids) == 12 and example["input_mask"].sum() == 12
    second = example["segment_ids"].tolist().index(1)
    assert ids[second - 1] == 3 and example["segment_ids"][-1] == 1


@needs_shared
def test_examples_from_real_text(tokenizer, tmp_path):
    path = _news_head(tmp_path, 2000)
    examples = list(iter_examples([str(path)], tokenizer, 64, seed=1))
    assert len(examples) > 100
    single = short = 0
    for ex in examples:
        ids, mask, seg = ex["input_ids"], ex["input_mask"], ex["segment_ids"]
        n = int(mask.sum())
        assert len(ids) == 64 and ids[0] == 101 and ids[n - 1] == 102
        assert (
            (ids[n:] == 0).all()
            and (mask[:n] == 1).all()
            and (seg[n:] == 0).all()
        )
        seps = np.flatnonzero(ids[:n] == 102)
        assert len(seps) in (1, 2)
        if len(seps) == 1:
            single += 1
            assert (seg[:n] == 0).all()
        else:
            # Segment B starts right after the first [SEP] and ends with one.
            assert (seg[: seps[0] + 1] == 0).all() and (
                seg[seps[0] + 1 : n] == 1
            ).all()
        assert not np.isin(ids[:n], [0, 103]).any()
        short += n < 40
    assert 0.03 < single / len(examples) < 0.3
    assert short > 0


def test_no_example_spans_two_documents(tmp_path):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "alpha", "beta"]
    tok = keras_electra.ElectraTokenizer(vocabulary=vocab)
    path = tmp_path / "docs.txt"
    docs = ["alpha alpha alpha\nalpha alpha", "beta beta\nbeta beta beta beta"]
    path.write_text("\n\n".join(docs * 20) + "\n", encoding="utf-8")
    for ex in iter_examples([str(path)], tok, 32, seed=0):
        words = set(ex["input_ids"][ex["input_mask"] == 1].tolist()) - {2, 3}
        assert len(words) == 1, words  # never alpha and beta together


def test_byte_segments_read_every_line_once(tmp_path):
    path = tmp_path / "lines.txt"
    lines = [f"line {i}" + " x" * (i % 17) for i in range(500)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for segment_bytes in (1, 7, 100, 1000, 10**6):
        segments = file_segments([str(path)], segment_bytes)
        assert segments[0][1] == 0 and segments[-1][2] == os.path.getsize(path)
        read = [
            line
            for _, a, b in segments
            for line in read_lines(path, "stop", a, b)
        ]
        assert read == lines, segment_bytes
    docs = list(iter_documents(file_segments([str(path)], 1000)))
    assert sum(docs, []) == lines


def _two_domain_corpus(tmp_path):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "alpha", "beta"]
    tok = keras_electra.ElectraTokenizer(vocabulary=vocab)
    for word in ("alpha", "beta"):
        docs = [" ".join([word] * (5 + i % 9)) for i in range(400)]
        (tmp_path / f"{word}.txt").write_text("\n\n".join(docs) + "\n")
    return tok, [str(tmp_path / "alpha.txt"), str(tmp_path / "beta.txt")]


def test_text_is_mixed_across_files_not_read_file_by_file(tmp_path):
    tok, files = _two_domain_corpus(tmp_path)
    in_order = list(iter_examples(files, tok, 32, seed=0))
    mixed = list(mixed_examples(files, tok, 32, seed=0, segment_bytes=500))
    # Every token is still read exactly once.
    count = lambda exs, w: sum(int((e["input_ids"] == w).sum()) for e in exs)  # noqa: E731
    for word in (5, 6):
        assert count(mixed, word) == count(in_order, word)
    # File by file, the first quarter is all "alpha"; mixed, both appear.
    quarter = len(mixed) // 4
    assert count(in_order[:quarter], 6) == 0
    assert count(mixed[:quarter], 5) > 0 and count(mixed[:quarter], 6) > 0
    # The order is a function of the seed (runs resume exactly).
    again = list(mixed_examples(files, tok, 32, seed=0, segment_bytes=500))
    assert all(
        (a["input_ids"] == b["input_ids"]).all() for a, b in zip(mixed, again)
    )


@needs_shared
def test_shards_round_trip_and_are_idempotent(tokenizer, tmp_path):
    path = _news_head(tmp_path, 1500)
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
    expected = list(iter_examples([str(path)], tokenizer, 64, seed=0))
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
    tok, files = _two_domain_corpus(tmp_path)
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
