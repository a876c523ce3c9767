import os
import re
import unicodedata

import keras
import numpy as np
from keras_hub.tokenizers import WordPieceTokenizer
from keras_hub.tokenizers import compute_word_piece_vocabulary

from keras_electra.tokenizers import basic_tokenization
from keras_electra.utils import file_system
from keras_electra.utils.keras_hub_private import (
    canonicalize_python_string_inputs,
)
from keras_electra.utils.keras_hub_private import is_int_dtype
from keras_electra.utils.keras_hub_private import preprocessing_function
from keras_electra.utils.keras_hub_private import restore_outer_shape
from keras_electra.utils.preset_mixin import PresetMixin

try:
    import tensorflow as tf
except ImportError:  # the Python path works without TensorFlow
    tf = None

# Special tokens, in the order a learned vocabulary puts them (ids 0..4).
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

# The reference's WordPiece turns words longer than this into [UNK].
MAX_INPUT_CHARS_PER_WORD = 200


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraTokenizer(PresetMixin, WordPieceTokenizer):
    """ELECTRA's WordPiece tokenizer, with the reference's normalisation.

    Splits text into words exactly as BERT's `BasicTokenizer` (which
    Google's ELECTRA uses) does: control and format characters are deleted,
    every Unicode space separates words, CJK ideographs stand alone,
    punctuation is split off, and, for the uncased models, words are
    lowercased with Python's rules and stripped of accents (NFD, then
    nonspacing marks removed), with no compatibility folding. Then
    greedy longest-match-first WordPiece, where a word longer than
    `max_input_chars_per_word` characters becomes `[UNK]`. The ids equal
    `transformers.BertTokenizer`'s pure-Python tokenizer with the same
    vocabulary and settings (tested on three corpora and every Unicode
    character); see `keras_electra.tokenizers.basic_tokenization`.

    Built on keras-hub's `WordPieceTokenizer`: inside `tf.data` or a
    `tf.function` the normalisation runs as TensorFlow graph ops (on every
    backend), elsewhere in plain Python. The special tokens [PAD], [UNK],
    [CLS], [SEP] and [MASK] must be in the vocabulary; their ids are
    exposed as `pad_token_id`, `unk_token_id`, `cls_token_id`,
    `sep_token_id` and `mask_token_id`, and `pretrainer_token_ids()` returns
    the keyword arguments `ElectraPretrainer` takes.

    Args:
        vocabulary: a list of tokens or the path of a `vocab.txt` file (one
            token per line, the id is the line number), local or a URL
            (`gs://...`, read through TensorFlow's filesystem layer).
        lowercase: bool. Lowercase each word (the uncased models).
        strip_accents: bool. Strip accents (done together with lowercasing
            in the uncased models).
        max_input_chars_per_word: int. Longer words become `[UNK]`. 200 in
            Google's code; `transformers` uses 100.
        special_tokens_in_strings: bool. If `True`, special tokens written
            in the text (`"[MASK]"`) are kept whole, as `transformers` does.
            The reference splits them like any text (`[`, `mask`, `]`),
            which is the default.
        **kwargs: forwarded to `keras_hub.tokenizers.WordPieceTokenizer`.

    Example:
    ```python
    import keras_electra

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "qu",
             "##ick", "fox", "."]
    tokenizer = keras_electra.ElectraTokenizer(vocabulary=vocab)
    tokenizer("The\u00a0quick fox.")  # [5, 6, 7, 8, 9]
    tokenizer.mask_token_id  # 4
    ```
    """

    # No `backbone_cls`: the tokenizer sits below the models (data reads
    # with it); `models/electra_presets.py` registers the built-in presets
    # for this class directly, so `ElectraTokenizer.presets` lists them.

    def __init__(
        self,
        vocabulary=None,
        lowercase=True,
        strip_accents=True,
        max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD,
        **kwargs,
    ):
        self._add_special_token("[PAD]", "pad_token")
        self._add_special_token("[UNK]", "unk_token")
        self._add_special_token("[CLS]", "cls_token")
        self._add_special_token("[SEP]", "sep_token")
        self._add_special_token("[MASK]", "mask_token")
        # Aliases keras-hub's packers read (as in its BertTokenizer).
        self._add_special_token("[CLS]", "start_token")
        self._add_special_token("[SEP]", "end_token")
        if isinstance(vocabulary, (str, os.PathLike)):
            vocabulary = read_vocabulary_file(vocabulary)
        elif vocabulary is not None:
            check_vocabulary(vocabulary, "the vocabulary list")
        for name in ("split", "split_on_cjk"):
            if not kwargs.pop(name, True):
                raise ValueError(
                    f"ElectraTokenizer always splits words as BERT does; "
                    f"`{name}=False` is not supported. Received: "
                    f"{name}=False. To tokenize pre-split words, pass "
                    "them as a list (each is tokenized on its own)."
                )
        if int(max_input_chars_per_word) < 1:
            raise ValueError(
                "`max_input_chars_per_word` must be 1 or more. Received: "
                f"{max_input_chars_per_word}"
            )
        self.max_input_chars_per_word = int(max_input_chars_per_word)
        kwargs.setdefault("oov_token", "[UNK]")
        super().__init__(
            vocabulary=vocabulary,
            lowercase=bool(lowercase),
            strip_accents=bool(strip_accents),
            **kwargs,
        )

    def get_config(self):
        config = super().get_config()
        config["max_input_chars_per_word"] = self.max_input_chars_per_word
        return config

    def pretrainer_token_ids(self):
        """The special ids, as keyword arguments of `ElectraPretrainer`."""
        return {
            "pad_token_id": self.pad_token_id,
            "cls_token_id": self.cls_token_id,
            "sep_token_id": self.sep_token_id,
            "mask_token_id": self.mask_token_id,
        }

    # === Word splitting (the reference's BasicTokenizer) ===

    def _special_tokens_pattern(self):
        tokens = self._special_tokens_for_splitting()
        if not tokens:
            return None
        tokens = sorted(set(tokens), key=len, reverse=True)
        return "|".join(re.escape(token) for token in tokens)

    def split_words(self, text):
        """The words WordPiece receives, for one Python string."""
        pattern = self._special_tokens_pattern()
        if pattern is None:
            parts = [text]
        else:
            parts = re.split(f"({pattern})", text)
        words = []
        for i, part in enumerate(parts):
            if i % 2:  # a special token written in the text
                words.append(part)
            else:
                words.extend(
                    basic_tokenization.split_words_python(
                        part, self.lowercase, self.strip_accents
                    )
                )
        return words

    def _split_words_tf(self, text):
        """[n] strings -> [n, (words)], as `split_words` does, with words
        over `max_input_chars_per_word` already replaced by the [UNK] token
        (the Python path does that in `_tokenize_word_python`)."""
        pattern = self._special_tokens_pattern()
        if pattern is None:
            words = basic_tokenization.split_words(
                text, self.lowercase, self.strip_accents
            )
        else:
            import tensorflow_text as tf_text

            # Cut the special tokens out first (as transformers does), split
            # the rest, then put each special token back as one word.
            parts = tf_text.regex_split(text, pattern, pattern)
            special = tf.strings.regex_full_match(parts.flat_values, pattern)
            plain = tf.where(special, "", parts.flat_values)
            split = basic_tokenization.split_words(
                plain, self.lowercase, self.strip_accents
            )
            kept = tf.RaggedTensor.from_row_lengths(
                tf.boolean_mask(parts.flat_values, special),
                tf.cast(special, tf.int64),
            )
            words = parts.with_flat_values(tf.concat([split, kept], axis=1))
            words = words.merge_dims(1, 2)
        # The reference's rule for long words, counted in characters.
        too_long = (
            tf.strings.length(words.flat_values, unit="UTF8_CHAR")
            > self.max_input_chars_per_word
        )
        return words.with_flat_values(
            tf.where(too_long, self.oov_token, words.flat_values)
        )

    # === WordPiece ===

    def _set_vocabulary_tf(self):
        import tensorflow_text as tf_text

        # Long words are handled by character count above; let every word
        # within it through (4 bytes is the longest UTF-8 character).
        self._fast_word_piece = tf_text.FastWordpieceTokenizer(
            vocab=self.vocabulary,
            token_out_type=self.compute_dtype,
            suffix_indicator=self.suffix_indicator,
            unknown_token=self.oov_token,
            max_bytes_per_word=4 * self.max_input_chars_per_word,
            no_pretokenization=True,
            support_detokenization=True,
        )

    def _tokenize_word_python(self, word):
        """Greedy longest-match-first WordPiece of one word."""
        if not word:
            return []
        if len(word) > self.max_input_chars_per_word:
            return [self.oov_token]
        pieces = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end]
                if start > 0:
                    piece = self.suffix_indicator + piece
                if piece in self._token_to_id_map:
                    break
                end -= 1
            else:
                return [self.oov_token]
            pieces.append(piece)
            start = end
        return pieces

    @preprocessing_function
    def _tokenize_tf(self, inputs):
        self._maybe_initialized_tf()
        if not isinstance(inputs, tf.RaggedTensor):
            inputs = tf.convert_to_tensor(inputs)
        if not inputs.dtype == tf.string:
            raise ValueError(
                "ElectraTokenizer takes strings. Received a tensor of dtype "
                f"{inputs.dtype.name}."
            )
        rank = inputs.shape.rank
        if isinstance(inputs, tf.RaggedTensor):
            flat = inputs.flat_values
        else:
            flat = tf.reshape(inputs, [-1])
        words = self._split_words_tf(flat)
        tokens = self._fast_word_piece.tokenize(words).merge_dims(-2, -1)
        if isinstance(inputs, tf.RaggedTensor):
            tokens = inputs.with_flat_values(tokens)
        elif rank is not None and rank >= 2:
            for size in reversed(inputs.shape.as_list()[1:]):
                if size is None:
                    raise ValueError(
                        "ElectraTokenizer needs the inner dimensions of a "
                        f"dense input to be known. Received shape "
                        f"{inputs.shape}; pass a ragged tensor instead."
                    )
                tokens = tf.RaggedTensor.from_uniform_row_length(tokens, size)
        if self.sequence_length:
            output_shape = tokens.shape.as_list()
            output_shape[-1] = self.sequence_length
            tokens = tokens.to_tensor(shape=output_shape)
        if rank == 0:
            tokens = tokens[0]
        return tokens

    def _tokenize_python(self, inputs):
        texts, batched, outer_shape = canonicalize_python_string_inputs(inputs)
        rows = []
        for text in texts:
            pieces = []
            for word in self.split_words(text):
                pieces.extend(self._tokenize_word_python(word))
            if is_int_dtype(self.compute_dtype):
                pieces = [self._token_to_id_map[piece] for piece in pieces]
            rows.append(pieces)
        if self.sequence_length:
            is_int = is_int_dtype(self.compute_dtype)
            pad = 0 if is_int else ""
            rows = [
                row[: self.sequence_length]
                + [pad] * (self.sequence_length - len(row))
                for row in rows
            ]
            if is_int:
                rows = np.array(rows, dtype=self.compute_dtype)
        if outer_shape is not None:
            return restore_outer_shape(rows, outer_shape)
        if not batched:
            rows = rows[0]
            if not self.sequence_length and is_int_dtype(self.compute_dtype):
                rows = np.array(rows, dtype=self.compute_dtype)
        return rows

    @classmethod
    def from_texts(
        cls,
        texts,
        vocabulary_size,
        lowercase=True,
        strip_accents=True,
        output_file=None,
    ):
        """Learn a WordPiece vocabulary from text and return a tokenizer.

        Args:
            texts: a `tf.data.Dataset` of strings, or a list of strings.
            vocabulary_size: the target size (the learned vocabulary can be
                a little smaller on small corpora).
            lowercase, strip_accents: normalisation, as in the tokenizer.
            output_file: optional path of a `vocab.txt` to write.
        """
        if int(vocabulary_size) <= len(SPECIAL_TOKENS):
            raise ValueError(
                f"`vocabulary_size` must exceed {len(SPECIAL_TOKENS)}, the "
                f"number of special tokens. Received: {vocabulary_size}"
            )
        if not isinstance(texts, tf.data.Dataset):
            texts = tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024)
        lowercase, strip_accents = bool(lowercase), bool(strip_accents)
        # Learn on the words the tokenizer will see: the same splitting and
        # normalisation, done here so that keras-hub's learner does none.
        words = texts.map(
            lambda text: basic_tokenization.split_words(
                tf.reshape(text, [-1]), lowercase, strip_accents
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        vocabulary = compute_word_piece_vocabulary(
            words,
            int(vocabulary_size),
            vocabulary_output_file=output_file,
            lowercase=False,
            strip_accents=False,
            split=False,
            reserved_tokens=list(SPECIAL_TOKENS),
        )
        if output_file is not None:
            vocabulary = read_vocabulary_file(output_file)
        # Keep only tokens the tokenizer can produce (the learner's own
        # character handling could in principle add others).
        usable = [t for t in vocabulary if t in SPECIAL_TOKENS or _usable(t)]
        if len(usable) != len(vocabulary):
            vocabulary = usable
            if output_file is not None:
                with open(output_file, "w", encoding="utf-8") as f:
                    f.write("\n".join(vocabulary) + "\n")
        return cls(
            vocabulary=vocabulary,
            lowercase=lowercase,
            strip_accents=strip_accents,
        )


def _usable(token):
    body = token[2:] if token.startswith("##") else token
    return bool(body) and not any(
        c.isspace() or unicodedata.category(c)[0] in "ZC" for c in body
    )


def read_vocabulary_file(path):
    """Read a `vocab.txt` (one token per line, local or a URL) and check its
    special tokens."""
    path = os.fspath(path)
    if not file_system.isfile(path):
        raise ValueError(
            f"Vocabulary file '{path}' does not exist. Pass the path of a "
            "vocab.txt (one token per line) or learn one with "
            "`keras-electra vocab`."
        )
    try:
        with file_system.open_file(path, encoding="utf-8") as f:
            vocabulary = [line.rstrip("\n").rstrip("\r") for line in f]
    except UnicodeDecodeError:
        raise ValueError(
            f"Vocabulary file '{path}' is not UTF-8 text: a vocab.txt holds "
            "one UTF-8 token per line."
        ) from None
    while vocabulary and vocabulary[-1] == "":
        vocabulary.pop()
    check_vocabulary(vocabulary, f"'{path}'")
    first = {}
    for line, token in enumerate(vocabulary, start=1):
        if token in first:
            raise ValueError(
                f"Vocabulary file '{path}' lists {token!r} twice (lines "
                f"{first[token]} and {line}); each token needs one line, "
                "whose number is its id. Remove the second."
            )
        first[token] = line
    return vocabulary


def check_vocabulary(vocabulary, where):
    if len(vocabulary) == 0:
        raise ValueError(f"The vocabulary in {where} is empty.")
    missing = [t for t in SPECIAL_TOKENS if t not in vocabulary]
    if missing:
        raise ValueError(
            f"The vocabulary in {where} lacks the special token(s) "
            f"{', '.join(missing)}, which ELECTRA needs. Add them (by "
            "convention at the top) or learn a vocabulary with "
            "`keras-electra vocab`."
        )
