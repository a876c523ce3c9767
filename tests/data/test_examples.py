"""`data/examples.py`: streaming examples from text."""

import json
import random

import numpy as np
import pytest
from helpers import needs_shared
from helpers import news_head
from helpers import two_domain_corpus

import keras_electra
from keras_electra.data import ExampleBuilder
from keras_electra.data import iter_examples
from keras_electra.data import text_dataset
from keras_electra.data.examples import TextOrder
from keras_electra.data.examples import _Segments
from keras_electra.data.text import CorpusError


@needs_shared
def test_examples_from_real_text(bert_tokenizer, tmp_path):
    path = news_head(tmp_path, 2000)
    examples = list(iter_examples([str(path)], bert_tokenizer, 64, seed=1))
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


def test_packing_whole_documents_equals_one_sentence_at_a_time():
    """`pack_documents` (ids tokenized in bulk) makes the examples, and the
    random draws, of `add_sentence`/`end_document`: lengths around every
    boundary (empty, short, half, overlong sentences; short targets)."""
    for trial in range(60):
        rng = random.Random(trial)
        length = rng.choice([5, 8, 16, 32])
        sizes = [0, 1, 2, 3, 5, 8, 13, 40]
        docs = [
            [
                [rng.randrange(10, 99) for _ in range(rng.choice(sizes))]
                for _ in range(rng.randrange(1, 9))
            ]
            for _ in range(rng.randrange(1, 6))
        ]
        settings = dict(
            cls_token_id=2,
            sep_token_id=3,
            seed=trial,
            single_segment_rate=rng.choice([0.1, 0.5]),
            short_sequence_rate=rng.choice([0.05, 0.5]),
        )
        builder = ExampleBuilder(length, **settings)
        expected = []
        for doc in docs:
            for sentence in doc:
                expected.append(builder.add_sentence(sentence))
            expected.append(builder.end_document())
        expected = [e for e in expected if e is not None]
        sentences = [s for doc in docs for s in doc]
        packed = ExampleBuilder(length, **settings).pack_documents(
            [t for s in sentences for t in s],
            [len(s) for s in sentences],
            [len(doc) for doc in docs],
        )
        assert len(packed["input_ids"]) == len(expected), trial
        for name, rows in packed.items():
            want = np.array([e[name] for e in expected]).reshape(rows.shape)
            np.testing.assert_array_equal(rows, want, err_msg=str(trial))
        count = ExampleBuilder(length, **settings).count_examples(
            [len(s) for s in sentences], [len(doc) for doc in docs]
        )
        assert count == len(expected)


@needs_shared
def test_graph_tokenization_packs_what_iter_examples_packs(
    bert_tokenizer, tmp_path
):
    """Every segment, tokenized by the graph inside tf.data and packed in
    bulk, gives exactly the examples of `iter_examples` (the Python
    tokenizer, one sentence at a time) with the same seed."""
    path = news_head(tmp_path, 700)
    order = TextOrder([str(path)], seed=5, segment_bytes=40_000)
    assert len(order.segments) > 3
    graph = _Segments(order, bert_tokenizer, 64, "stop", graph=True)
    seen = 0
    for segment, (ids, used, second) in graph.iterate(
        range(len(order.segments))
    ):
        expected = list(
            iter_examples(
                [order.segments[segment]],
                bert_tokenizer,
                64,
                seed=order.builder_seed(segment),
            )
        )
        assert len(ids) == len(expected) > 0
        want = np.array([e["input_ids"] for e in expected])
        np.testing.assert_array_equal(ids, want)
        np.testing.assert_array_equal(
            used, [e["input_mask"].sum() for e in expected]
        )
        starts = [
            np.flatnonzero(e["segment_ids"])[:1].tolist() or [u]
            for e, u in zip(expected, used)
        ]
        np.testing.assert_array_equal(second, np.ravel(starts))
        seen += 1
    assert seen == len(order.segments)


def _rows(dataset, count):
    rows = []
    for batch in dataset.take(count):
        rows.append(
            np.stack(
                [
                    batch["token_ids"].numpy(),
                    batch["segment_ids"].numpy(),
                    batch["padding_mask"].numpy(),
                ]
            )
        )
    return rows


def _same(a, b):
    return len(a) == len(b) and all((x == y).all() for x, y in zip(a, b))


# Two files of 80 one-line documents ("alpha ...", "beta ..."): 160
# examples of 32 ids (40 batches of 4) in 11 segments, 3 read side by side.
SMALL = dict(
    sequence_length=32, segment_bytes=800, streams=3, shuffle_buffer=24
)


@pytest.fixture(scope="module")
def small_text(tmp_path_factory):
    tok, files = two_domain_corpus(tmp_path_factory.mktemp("text"))
    for path in files:
        with open(path) as f:
            documents = f.read().split("\n\n")[:80]
        with open(path, "w") as f:
            f.write("\n\n".join(documents) + "\n")
    return tok, files


def _order(files, seed=0):
    return TextOrder(files, seed, segment_bytes=SMALL["segment_bytes"])


def test_text_dataset_graph_and_python_tokenization_agree(small_text):
    """The same batches, in the same order, across epochs."""
    tok, files = small_text
    graph = _rows(text_dataset(files, tok, 4, seed=3, **SMALL), 130)
    python = _rows(
        text_dataset(files, tok, 4, seed=3, graph_tokenization=False, **SMALL),
        130,
    )
    assert len(graph) == 130 and _same(graph, python)
    batch = graph[0]
    assert batch.shape == (3, 4, 32) and batch.dtype == np.int32
    other = _rows(text_dataset(files, tok, 4, seed=4, **SMALL), 130)
    assert not _same(graph, other)


def test_text_dataset_resumes_at_any_batch_without_reading_before(
    small_text,
):
    tok, files = small_text
    order = _order(files)
    source = _Segments(order, tok, 32, "stop", graph=True)
    segments = range(len(order.segments))
    per_epoch = sum(c for _, c in source.iterate(segments, count_only=True))
    assert per_epoch == 160 and len(order.segments) == 11
    epoch = per_epoch // 4
    fresh = _rows(text_dataset(files, tok, 4, **SMALL), 2 * epoch + 12)
    # Inside the first block, across the first and the second epoch's end,
    # with and without the examples kept in memory.
    for skip, cache in ((3, 0), (epoch - 2, 0), (2 * epoch + 1, 1 << 30)):
        resumed = text_dataset(
            files, tok, 4, skip_batches=skip, cache_bytes=cache, **SMALL
        )
        assert _same(_rows(resumed, 8), fresh[skip : skip + 8]), skip


def test_recorded_counts_spare_a_resumed_run_the_counting_pass(
    small_text, tmp_path, monkeypatch
):
    tok, files = small_text
    path = tmp_path / "counts.json"
    settings = dict(SMALL, cache_bytes=0, counts_file=str(path))
    # Past the first epoch (40 batches), every segment's count is known.
    fresh = _rows(text_dataset(files, tok, 4, **settings), 50)
    assert len(json.loads(path.read_text())["counts"]) == 11
    counting = []
    iterate = _Segments.iterate

    def spy(self, segments, count_only=False):
        counting.append(count_only)
        return iterate(self, segments, count_only)

    monkeypatch.setattr(_Segments, "iterate", spy)
    resumed = text_dataset(files, tok, 4, skip_batches=45, **settings)
    assert _same(_rows(resumed, 5), fresh[45:])
    assert counting == [False]  # the segments read, no counting pass
    # Counts recorded for another seed are not taken.
    other = text_dataset(files, tok, 4, seed=1, skip_batches=45, **settings)
    assert len(_rows(other, 1)) == 1 and counting[1:] == [True, False]


def test_text_dataset_epochs_hold_every_example_once(small_text):
    tok, files = small_text
    rows = np.concatenate(
        _rows(text_dataset(files, tok, 1, repeat=False, **SMALL), 10**6),
        axis=1,
    )[0]
    order = _order(files)
    expected = [
        e["input_ids"]
        for g, segment in enumerate(order.segments)
        for e in iter_examples([segment], tok, 32, seed=order.builder_seed(g))
    ]
    assert len(rows) == len(expected)
    # Each word count appears as often as the corpus has it.
    for word in (5, 6):
        assert (rows == word).sum() == sum((e == word).sum() for e in expected)
    # The corpus is mixed, not read file after file.
    first = rows[: len(rows) // 4]
    assert (first == 5).any() and (first == 6).any()
    # Resuming past the end of a single pass gives nothing.
    after = text_dataset(files, tok, 4, repeat=False, skip_batches=40, **SMALL)
    assert _rows(after, 1) == []


def test_text_dataset_errors_name_their_cause(tmp_path, small_text):
    tok, _ = small_text
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"alpha beta\n\nalpha \xff\xfe beta\n")
    with pytest.raises(Exception, match=r"bad.txt, line 3.*on-decode-error"):
        next(iter(text_dataset(str(bad), tok, 1, sequence_length=16)))
    skipped = text_dataset(
        str(bad), tok, 1, sequence_length=16, on_decode_error="skip"
    )
    assert next(iter(skipped))["token_ids"].shape == (1, 16)
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n  \n")
    with pytest.raises(Exception, match="packs into no examples"):
        next(iter(text_dataset(str(blank), tok, 1, sequence_length=16)))
    with pytest.raises(CorpusError, match="does not exist"):
        text_dataset(str(tmp_path / "none.txt"), tok, 1)
