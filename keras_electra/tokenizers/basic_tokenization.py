"""BERT's basic tokenization, as the reference runs it, in graph and Python.

Google's ELECTRA tokenizes with BERT's `BasicTokenizer` before WordPiece:

1. drop NUL, U+FFFD and every control or format character (Unicode
   category C*, except tab, newline and carriage return);
2. turn every whitespace character into a space;
3. put spaces around CJK ideographs;
4. (transformers, since 2023) NFC-normalise;
5. split on whitespace; lowercase each word (Python's `str.lower`), then,
   when stripping accents, NFD-decompose it and drop nonspacing marks (Mn);
6. split each word on punctuation (ASCII symbols and category P*).

No compatibility folding (NFKC) happens anywhere: `…`, `ﬁ` and full-width
letters stay what they are.

`split_words` does the same with TensorFlow ops, so it runs inside
`tf.data`: every step above is a per-character map, and the maps are
tables built once per process from Python's own `unicodedata` (the same
database `transformers.BertTokenizer` consults). Characters are decoded,
mapped with one gather, re-encoded and split on spaces. Python's
final-sigma rule (`"ΟΔΟΣ".lower()` ends in `ς`) is the one
context-dependent step; it is applied with a regular expression, only to
batches that hold a capital sigma. Without accent stripping, NFC runs
between the cleaning and the folding maps, as in transformers; with it,
NFC cannot change the result (stripping decomposes again), so cleaning and
folding are one map.

`split_words_python` is the plain-Python version, used by the tokenizer
outside `tf.function` and by the tests as the second opinion.
"""

import functools
import unicodedata

import numpy as np

NUM_CODEPOINTS = 0x110000
CAPITAL_SIGMA = 0x3A3
FINAL_SIGMA = "\u03c2"

# BERT's definition of a "Chinese character" (the CJK ideograph blocks).
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def is_cjk(cp):
    return any(low <= cp <= high for low, high in _CJK_RANGES)


def is_punctuation(char):
    """BERT's rule: ASCII non-alphanumeric symbols, or Unicode P*."""
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def is_dropped(char, category=None):
    """Removed by the cleaning step: NUL, U+FFFD, control/format (C*).

    `category` (the character's Unicode category) saves the lookup when
    the caller has it already.
    """
    if char in "\t\n\r":
        return False
    category = category or unicodedata.category(char)
    return char in "\x00\ufffd" or category.startswith("C")


def is_space(char):
    """A separator: BERT's whitespace (Zs, tab, newline) or `str.isspace`."""
    return char.isspace() or unicodedata.category(char) == "Zs"


def _clean(char):
    if is_dropped(char):
        return ""
    if is_space(char):
        return " "
    if is_cjk(ord(char)):
        return f" {char} "
    return char


def _space_punctuation(char):
    """Punctuation stands alone; a space stays a (plain) space."""
    if is_punctuation(char):
        return f" {char} "
    return " " if char.isspace() else char


class _CachedMap(dict):
    """A `str.translate` table that computes each character once."""

    def __init__(self, function):
        super().__init__()
        self._function = function

    def __missing__(self, cp):
        value = self._function(chr(cp))
        self[cp] = value
        return value


# `str.translate` tables for the three per-character steps (the same for
# every setting; filled as characters are seen).
_CLEAN = _CachedMap(_clean)
_NO_MARKS = _CachedMap(lambda c: None if unicodedata.category(c) == "Mn" else c)
_PUNCTUATION = _CachedMap(_space_punctuation)


def _strip_accents(text):
    return unicodedata.normalize("NFD", text).translate(_NO_MARKS)


def _fold(char, lowercase, strip_accents):
    text = char.lower() if lowercase else char
    if strip_accents:
        text = _strip_accents(text)
    return text.translate(_PUNCTUATION)


def split_words_python(text, lowercase=True, strip_accents=True):
    """BERT's basic tokenization of one string, in Python.

    Args:
        text: str.
        lowercase: bool. Lowercase each word (`str.lower`).
        strip_accents: bool. Drop accents (NFD, then remove Mn).

    Returns:
        The list of words WordPiece receives.
    """
    text = unicodedata.normalize("NFC", text.translate(_CLEAN))
    words = []
    for word in text.split():
        if lowercase:
            word = word.lower()
        if strip_accents:
            word = _strip_accents(word)
        words.extend(word.translate(_PUNCTUATION).split())
    return words


# === Graph version ===


def _codepoint_categories():
    return [unicodedata.category(chr(cp)) for cp in range(NUM_CODEPOINTS)]


@functools.lru_cache(maxsize=None)
def _numpy_map(stage, lowercase, strip_accents):
    """Per-codepoint map as (starts, lengths, values) arrays.

    A codepoint `cp` maps to `values[starts[cp]:starts[cp] + lengths[cp]]`;
    a negative start `-(cp + 1)` means "maps to itself" (most codepoints),
    which keeps `values` small.
    """
    categories = _codepoint_categories()
    starts = -np.arange(1, NUM_CODEPOINTS + 1, dtype=np.int64)
    lengths = np.ones(NUM_CODEPOINTS, dtype=np.uint8)
    values = []
    for cp, category in enumerate(categories):
        char = chr(cp)
        if is_dropped(char, category):
            # Cleaning deletes it ("fold" runs after cleaning: never sees it).
            lengths[cp] = 0
            continue
        if stage == "clean":
            mapped = _clean(char)
        elif stage == "fold":
            mapped = _fold(char, lowercase, strip_accents)
        else:
            mapped = "".join(
                _fold(c, lowercase, strip_accents) for c in _clean(char)
            )
        if mapped == char:
            continue
        lengths[cp] = len(mapped)
        starts[cp] = len(values)
        values.extend(ord(c) for c in mapped)
    return (
        starts.astype(np.int32),
        lengths,
        np.asarray(values + [0], dtype=np.int32),
    )


def _ranges(flags):
    """Sorted (first, last) codepoint runs where `flags` is true."""
    flags = np.asarray(flags, dtype=np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags, [0]])))
    return list(zip(edges[0::2], edges[1::2] - 1))


def _re2_class(ranges):
    parts = []
    for first, last in ranges:
        if first == last:
            parts.append(f"\\x{{{first:X}}}")
        else:
            parts.append(f"\\x{{{first:X}}}-\\x{{{last:X}}}")
    return "[" + "".join(parts) + "]"


@functools.lru_cache(maxsize=None)
def final_sigma_pattern():
    """An RE2 pattern marking the capital sigmas `str.lower` makes final.

    Python lowercases Σ to ς when a cased letter precedes it and none
    follows, skipping case-ignorable characters both ways. The classes are
    read off `str.lower` itself, so they match the running Python; the
    characters the cleaning step deletes count as ignorable (deleting and
    skipping agree). Group 1 is the context before, group 2 after.
    """
    cased = np.zeros(NUM_CODEPOINTS, dtype=bool)
    ignorable = np.zeros(NUM_CODEPOINTS, dtype=bool)
    for cp in range(NUM_CODEPOINTS):
        char = chr(cp)
        if is_dropped(char):
            ignorable[cp] = True
            continue
        after_space = (" " + char + "\u03a3").lower()[-1] == FINAL_SIGMA
        after_letter = ("A" + char + "\u03a3").lower()[-1] == FINAL_SIGMA
        cased[cp] = after_space
        ignorable[cp] = after_letter and not after_space
    other = ~(cased | ignorable)
    cased_class = _re2_class(_ranges(cased))
    ignorable_class = _re2_class(_ranges(ignorable))
    other_class = _re2_class(_ranges(other))
    return (
        f"({cased_class}{ignorable_class}*)\\x{{3A3}}"
        f"({ignorable_class}*(?:{other_class}|$))"
    )


_TENSOR_CACHE = {}


def _tensor_map(stage, lowercase, strip_accents):
    import tensorflow as tf

    if stage == "clean":  # the same for every setting
        lowercase = strip_accents = False
    key = (stage, lowercase, strip_accents)
    if key not in _TENSOR_CACHE:
        starts, lengths, values = _numpy_map(*key)
        with tf.init_scope():
            _TENSOR_CACHE[key] = (
                tf.constant(starts),
                tf.constant(lengths),
                tf.constant(values),
            )
    return _TENSOR_CACHE[key]


def _map_codepoints(codepoints, table):
    """Apply a per-codepoint map to a ragged [batch, chars] int32 tensor."""
    import tensorflow as tf

    starts, lengths, values = table
    flat = codepoints.flat_values
    first = tf.gather(starts, flat)
    count = tf.cast(tf.gather(lengths, flat), tf.int32)
    index = tf.ragged.range(first, first + count).flat_values
    mapped = tf.where(
        index < 0, -index - 1, tf.gather(values, tf.maximum(index, 0))
    )
    row_lengths = tf.math.unsorted_segment_sum(
        count, codepoints.value_rowids(), codepoints.nrows()
    )
    return tf.RaggedTensor.from_row_lengths(mapped, row_lengths, validate=False)


# ASCII control characters BERT deletes (all but tab, newline, return) and
# its ASCII punctuation (every non-alphanumeric printable symbol).
_ASCII_CONTROL = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]"
_ASCII_PUNCTUATION = "([!-/:-@\\[-`{-~])"


def split_words(text, lowercase=True, strip_accents=True):
    """BERT's basic tokenization of a batch of strings, with TensorFlow ops.

    Pure-ASCII rows (most of most corpora) take a short path of regular
    expressions; the others the per-character maps. The two give the same
    words on ASCII text.

    Args:
        text: a rank-1 string `tf.Tensor`.
        lowercase: bool. Lowercase each word as `str.lower` does.
        strip_accents: bool. Drop accents (NFD, then remove Mn).

    Returns:
        A `tf.RaggedTensor` of words, [batch, (words)].
    """
    import tensorflow as tf

    lowercase, strip_accents = bool(lowercase), bool(strip_accents)
    is_ascii = tf.strings.regex_full_match(text, "[\\x00-\\x7f]*")
    ascii_rows = tf.cast(tf.where(is_ascii)[:, 0], tf.int32)
    other_rows = tf.cast(tf.where(~is_ascii)[:, 0], tf.int32)
    words = tf.concat(
        [
            _split_ascii(tf.gather(text, ascii_rows), lowercase),
            _split_any(tf.gather(text, other_rows), lowercase, strip_accents),
        ],
        axis=0,
    )
    order = tf.math.invert_permutation(tf.concat([ascii_rows, other_rows], 0))
    return tf.gather(words, order)


def _split_ascii(text, lowercase):
    import tensorflow as tf

    text = tf.strings.regex_replace(text, _ASCII_CONTROL, "")
    if lowercase:
        text = tf.strings.lower(text)
    text = tf.strings.regex_replace(text, _ASCII_PUNCTUATION, " \\1 ")
    return tf.strings.split(text)


def _split_any(text, lowercase, strip_accents):
    import tensorflow as tf

    codepoints = tf.strings.unicode_decode(
        text, "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    if lowercase:
        # Python's final sigma is the only step that looks at neighbours.
        def with_final_sigmas():
            marked = tf.strings.regex_replace(
                text, final_sigma_pattern(), "\\1" + FINAL_SIGMA + "\\2"
            )
            return tf.strings.unicode_decode(
                marked, "UTF-8", errors="replace", replacement_char=0xFFFD
            )

        codepoints = tf.cond(
            tf.reduce_any(tf.equal(codepoints.flat_values, CAPITAL_SIGMA)),
            with_final_sigmas,
            lambda: codepoints,
        )
    if strip_accents:
        # Decomposing again makes NFC moot: clean and fold in one map.
        codepoints = _map_codepoints(
            codepoints, _tensor_map("both", lowercase, strip_accents)
        )
    else:
        import tensorflow_text as tf_text

        codepoints = _map_codepoints(
            codepoints, _tensor_map("clean", lowercase, strip_accents)
        )
        normalized = tf_text.normalize_utf8(
            tf.strings.unicode_encode(codepoints, "UTF-8"), "NFC"
        )
        codepoints = _map_codepoints(
            tf.strings.unicode_decode(normalized, "UTF-8"),
            _tensor_map("fold", lowercase, strip_accents),
        )
    return tf.strings.split(tf.strings.unicode_encode(codepoints, "UTF-8"))
