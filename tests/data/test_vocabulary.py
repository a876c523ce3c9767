"""`data/vocabulary.py`: learning a WordPiece vocabulary from a corpus."""

import tensorflow as tf
from helpers import CORPUS
from helpers import needs_shared
from helpers import wordpiece_ids

import keras_electra


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
    ids = wordpiece_ids(learned, "It is a truth universally acknowledged")
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
