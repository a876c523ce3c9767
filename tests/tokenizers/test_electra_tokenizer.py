"""`ElectraTokenizer`: uncased WordPiece with ELECTRA's special tokens."""

import pytest
import tensorflow as tf
from helpers import CORPUS
from helpers import VOCAB_FILE
from helpers import needs_shared
from helpers import once_per_suite
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


# === Parity with the reference's tokenizer ===

transformers_bert = pytest.importorskip(
    "transformers.models.bert.tokenization_bert_legacy"
)

UNICODE_LINES = [
    "foo\u00a0bar thin\u2009space ideographic\u3000space",
    "co\u00adoperate zero\u200bwidth a\x00b c",
    "\u2026 \ufb01ne \uff21\uff22 x\u00b2 Stra\u00dfe \ufffd \ue000",
    "\u4e2d\u6587\u5b57\u7b26 \u65e5\u672c\u8a9e\u304b\u306a "
    "\ud55c\uad6d\uc5b4",
    "Caf\u00e9 CAF\u00c9 cafe\u0301 na\u00efve \u00c5ngstr\u00f6m "
    "r\u00e9sum\u00e9",
    "emoji \U0001f600\U0001f44d\U0001f3fd "
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\x07bell\x1bescape\x7fdel \u0085nel \u2028line\u2029para\ttab",
    "\u039f\u0394\u039f\u03a3. \u0391\u03a3'\u03a3 \u03a3 \u03a3\u03a3",
    "don't stop-me (now) \u00ab\u00bb \u2014 \u00bfqu\u00e9? [MASK] [cls]",
    "x" * 99 + " " + "y" * 101 + " " + "z" * 201 + " " + "\u00e9" * 150,
    "antidisestablishmentarianism pneumonoultramicroscopic",
]


def reference_tokenizer(lowercase, max_chars=200):
    ref = transformers_bert.BertTokenizerLegacy(
        str(VOCAB_FILE), do_lower_case=lowercase
    )
    ref.wordpiece_tokenizer.max_input_chars_per_word = max_chars
    return ref


def reference_ids(ref, text):
    # `_tokenize(..., split_special_tokens=True)` is BertTokenizer's own
    # basic + WordPiece tokenization, without transformers' later rule that
    # keeps special tokens written in the text whole.
    return ref.convert_tokens_to_ids(
        ref._tokenize(text, split_special_tokens=True)
    )


def graph_ids(tokenizer, lines, batch_size=4096):
    call = tf.function(tokenizer)
    ids = []
    for start in range(0, len(lines), batch_size):
        ids.extend(
            call(tf.constant(lines[start : start + batch_size])).to_list()
        )
    return ids


@needs_shared
@pytest.mark.parametrize("lowercase", [True, False])
def test_ids_equal_transformers_on_a_unicode_file(lowercase, tmp_path):
    path = tmp_path / "unicode.txt"
    path.write_text("\n".join(UNICODE_LINES) + "\n", encoding="utf-8")
    tokenizer = keras_electra.ElectraTokenizer(
        vocabulary=str(VOCAB_FILE),
        lowercase=lowercase,
        strip_accents=lowercase,
    )
    ref = reference_tokenizer(lowercase)
    expected = [reference_ids(ref, line) for line in UNICODE_LINES]
    # tf.data from the file (the graph path), and the Python path.
    dataset = tf.data.TextLineDataset(str(path)).batch(64).map(tokenizer)
    from_file = [row for batch in dataset for row in batch.to_list()]
    assert from_file == expected
    python = [list(row) for row in tokenizer(UNICODE_LINES)]
    assert python == expected
    # The examples, spelled out.
    pieces = tokenizer.id_to_token
    if lowercase:
        assert [pieces(i) for i in python[0][:2]] == ["foo", "bar"]
        assert pieces(python[1][0]) == "cooperate"
        # No compatibility folding: the reference has no 'ab' for 'ＡＢ'.
        assert "ab" not in [pieces(i) for i in python[2]]


@needs_shared
def test_long_word_rule_and_special_tokens_in_strings():
    text = "a" + "b" * 120 + " [MASK] the[SEP]end"
    ours = keras_electra.ElectraTokenizer(vocabulary=str(VOCAB_FILE))
    assert list(ours(text)) == reference_ids(reference_tokenizer(True), text)
    short = keras_electra.ElectraTokenizer(
        vocabulary=str(VOCAB_FILE), max_input_chars_per_word=100
    )
    ref_short = reference_tokenizer(True, max_chars=100)
    assert list(short(text)) == reference_ids(ref_short, text)
    assert short(text)[0] == short.unk_token_id
    assert ours(text)[0] != ours.unk_token_id
    # transformers' default keeps special tokens written in the text whole.
    kept = keras_electra.ElectraTokenizer(
        vocabulary=str(VOCAB_FILE), special_tokens_in_strings=True
    )
    expected = reference_tokenizer(True).encode(text, add_special_tokens=False)
    assert list(kept(text)) == expected
    assert list(tf.function(kept)(tf.constant([text]))[0]) == expected
    assert kept.mask_token_id in list(kept(text))
    config = kept.get_config()
    assert config["special_tokens_in_strings"] is True
    assert short.get_config()["max_input_chars_per_word"] == 100
    with pytest.raises(ValueError, match="max_input_chars_per_word"):
        keras_electra.ElectraTokenizer(
            vocabulary=str(VOCAB_FILE), max_input_chars_per_word=0
        )
    with pytest.raises(ValueError, match="split=False"):
        keras_electra.ElectraTokenizer(vocabulary=str(VOCAB_FILE), split=False)


@needs_shared
@once_per_suite
@pytest.mark.parametrize("lowercase", [True, False])
def test_ids_equal_transformers_on_every_shared_corpus_line(lowercase):
    tokenizer = keras_electra.ElectraTokenizer(
        vocabulary=str(VOCAB_FILE),
        lowercase=lowercase,
        strip_accents=lowercase,
    )
    ref = reference_tokenizer(lowercase)
    for name in ("austen", "sotu", "news"):
        lines = (CORPUS / f"{name}.txt").read_text(encoding="utf-8")
        lines = lines.split("\n")
        expected = [reference_ids(ref, line) for line in lines]
        graph = graph_ids(tokenizer, lines)
        python = [list(row) for row in tokenizer(lines)]
        for i, line in enumerate(lines):
            assert graph[i] == expected[i], (name, i, line[:80])
            assert python[i] == expected[i], (name, i, line[:80])


def test_learned_vocabulary_uses_the_same_word_splitting(tmp_path):
    # Learning sees the words the tokenizer produces: a non-breaking space
    # separates, a soft hyphen disappears, accents go, 'ﬁ' is not folded.
    texts = ["Caf\u00e9\u00a0au co\u00adoperate \ufb01 lait."] * 40 + [
        "the lazy dog runs"
    ] * 40
    learned = keras_electra.ElectraTokenizer.from_texts(
        texts, vocabulary_size=60, output_file=str(tmp_path / "vocab.txt")
    )
    vocabulary = learned.get_vocabulary()
    for word in ("cafe", "au", "cooperate", "\ufb01", "lait", "."):
        assert word in vocabulary, word
    assert not any("\u00a0" in t or "\u00ad" in t for t in vocabulary)
    ids = learned("Caf\u00e9\u00a0au co\u00adoperate \ufb01 lait.")
    assert [learned.id_to_token(int(i)) for i in ids] == [
        "cafe",
        "au",
        "cooperate",
        "\ufb01",
        "lait",
        ".",
    ]
    assert (
        (tmp_path / "vocab.txt")
        .read_text(encoding="utf-8")
        .startswith("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n")
    )
