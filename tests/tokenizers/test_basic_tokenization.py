"""BERT's basic tokenization, in graph and Python, against transformers.

The reference (Google's ELECTRA) tokenizes with BERT's `BasicTokenizer`;
`transformers` keeps the same code as `BasicTokenizer` (pure Python). Both
of our versions must give its words exactly, for every Unicode character
and for mixed strings that exercise the context-dependent steps (NFC
composition, final sigma, combining marks).
"""

import random
import sys

import pytest
import tensorflow as tf
from helpers import once_per_suite

from keras_electra.tokenizers import basic_tokenization

transformers_bert = pytest.importorskip(
    "transformers.models.bert.tokenization_bert_legacy"
)

SETTINGS = [(True, True), (False, False), (True, False), (False, True)]


def reference(lowercase, strip_accents):
    return transformers_bert.BasicTokenizer(
        do_lower_case=lowercase, strip_accents=strip_accents
    )


def graph_words(texts, lowercase, strip_accents):
    words = basic_tokenization.split_words(
        tf.constant(texts), lowercase, strip_accents
    )
    return [[w.decode("utf-8") for w in row] for row in words.to_list()]


def assert_same_words(texts, lowercase, strip_accents):
    ref = reference(lowercase, strip_accents)
    expected = [ref.tokenize(text) for text in texts]
    graph = graph_words(texts, lowercase, strip_accents)
    python = [
        basic_tokenization.split_words_python(text, lowercase, strip_accents)
        for text in texts
    ]
    for text, want, got_graph, got_python in zip(
        texts, expected, graph, python
    ):
        assert got_graph == want, (ascii(text), got_graph, want)
        assert got_python == want, (ascii(text), got_python, want)


def every_character():
    """Each codepoint alone and between letters, 512 per string."""
    chars = [
        chr(cp)
        for cp in range(sys.maxunicode + 1)
        if not 0xD800 <= cp <= 0xDFFF  # surrogates are not UTF-8
    ]
    texts = []
    for i in range(0, len(chars), 512):
        block = chars[i : i + 512]
        texts.append(" ".join(f"{c} a{c}b A{c}{c}" for c in block))
    return texts


@pytest.mark.parametrize("lowercase,strip_accents", SETTINGS)
def test_the_issue_cases(lowercase, strip_accents):
    texts = [
        "foo\u00a0bar thin\u2009space ideographic\u3000space",
        "co\u00adoperate zero\u200bwidth",
        "a\x00b c \ufffdx \ue000private \U000e0001tag",
        "\u2026 \ufb01ne \uff21\uff22 x\u00b2 Stra\u00dfe",
        "\u4e2d\u6587\u5b57 \u65e5\u672c\u8a9e\u304b\u306a",
        "caf\u00e9 CAF\u00c9 cafe\u0301 na\u00efve \u00c5ngstr\u00f6m",
        "emoji \U0001f600\U0001f44d\U0001f3fd "
        "family \U0001f468\u200d\U0001f469",
        "\x07bell\x1bescape\x7fdel \u0085nel \u2028line\u2029para",
        "\u039f\u0394\u039f\u03a3. \u0391\u03a3'\u03a3 \u03a3 \u03a3\u03a3",
        "don't stop-me (now) \u00ab\u00bb \u2014 dash \u00bfqu\u00e9?",
        "x" * 250 + " " + "\u00e9" * 150,
        "",
        "   \t\n  ",
    ]
    assert_same_words(texts, lowercase, strip_accents)


@pytest.mark.parametrize("lowercase,strip_accents", SETTINGS)
def test_random_mixtures(lowercase, strip_accents):
    # Characters whose handling depends on their neighbours.
    pool = list(
        "aAzZ\u03a3\u03c3\u0391'.:\u00b7 \t-\u0301\u0308\u0327\u0345"
        "\u00e9\u0130\u0131\u1100\u1161\u11a8\uac00\u200b\u200d\u00ad\u302e"
        "\u4e00\uf900\u2126\u212b\u1fef\u037e\u0f71\u0f72"
        "\u00df\ufb01\u0149\u1e9e\u01c5\x00\x01\ufffd"
    )
    rng = random.Random(0)
    texts = [
        "".join(rng.choice(pool) for _ in range(rng.randint(1, 16)))
        for _ in range(3000)
    ]
    assert_same_words(texts, lowercase, strip_accents)


@once_per_suite
@pytest.mark.parametrize(
    "lowercase,strip_accents", [(True, True), (False, False)]
)
def test_every_unicode_character(lowercase, strip_accents):
    assert_same_words(every_character(), lowercase, strip_accents)


def test_graph_version_runs_in_tf_data():
    dataset = tf.data.Dataset.from_tensor_slices(
        ["Caf\u00e9\u00a0au LAIT!", "\u039f\u0394\u039f\u03a3"]
    ).batch(2)
    words = dataset.map(basic_tokenization.split_words)
    row = next(iter(words)).to_list()
    assert row == [
        [b"cafe", b"au", b"lait", b"!"],
        ["\u03bf\u03b4\u03bf\u03c2".encode("utf-8")],
    ]
