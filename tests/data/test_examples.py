"""`data/examples.py`: streaming examples from text."""

import numpy as np
from helpers import needs_shared
from helpers import news_head

import keras_electra
from keras_electra.data import iter_examples


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
