"""`ElectraTokenizer`: uncased WordPiece with ELECTRA's special tokens."""

import pytest
from helpers import needs_shared
from helpers import wordpiece_ids

import keras_electra


@needs_shared
def test_tokenizer_uncased_and_special_ids(bert_tokenizer):
    assert bert_tokenizer.pretrainer_token_ids() == {
        "pad_token_id": 0,
        "cls_token_id": 101,
        "sep_token_id": 102,
        "mask_token_id": 103,
    }
    ids = wordpiece_ids(bert_tokenizer, "The CAFÉ was naïve.")
    assert ids == wordpiece_ids(bert_tokenizer, "the cafe was naive.")
    assert bert_tokenizer.vocabulary_size() == 30522


@needs_shared
def test_tokenizer_preset_round_trip(bert_tokenizer, tmp_path):
    bert_tokenizer.save_to_preset(tmp_path / "p")
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
