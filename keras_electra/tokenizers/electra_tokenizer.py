import os
import unicodedata

import keras
from keras_hub.tokenizers import WordPieceTokenizer
from keras_hub.tokenizers import compute_word_piece_vocabulary

from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.utils.preset_mixin import PresetMixin

# Special tokens, in the order a learned vocabulary puts them (ids 0..4).
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraTokenizer(PresetMixin, WordPieceTokenizer):
    """ELECTRA's WordPiece tokenizer (uncased, accents stripped by default).

    Built on keras-hub's `WordPieceTokenizer` (tensorflow-text underneath), so
    it runs inside `tf.data` pipelines on every backend. The special tokens
    [PAD], [UNK], [CLS], [SEP] and [MASK] must be in the vocabulary; their ids
    are exposed as `pad_token_id`, `unk_token_id`, `cls_token_id`,
    `sep_token_id` and `mask_token_id`, and `pretrainer_token_ids()` returns the
    keyword arguments `ElectraPretrainer` takes.

    Args:
        vocabulary: a list of tokens or the path of a `vocab.txt` file (one
            token per line, the id is the line number).
        lowercase: lowercase the text first (the uncased models).
        strip_accents: strip accents (done together with lowercasing in the
            original uncased models).
        **kwargs: forwarded to `keras_hub.tokenizers.WordPieceTokenizer`.

    Example:
    ```python
    import keras_electra

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "qu",
             "##ick", "fox"]
    tokenizer = keras_electra.ElectraTokenizer(vocabulary=vocab)
    tokenizer("The quick fox")  # [5, 6, 7, 8]
    tokenizer.mask_token_id  # 4
    ```
    """

    backbone_cls = ElectraBackbone

    def __init__(
        self, vocabulary=None, lowercase=True, strip_accents=True, **kwargs
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
        kwargs.setdefault("oov_token", "[UNK]")
        super().__init__(
            vocabulary=vocabulary,
            lowercase=lowercase,
            strip_accents=strip_accents,
            **kwargs,
        )

    def pretrainer_token_ids(self):
        """The special ids, as keyword arguments of `ElectraPretrainer`."""
        return {
            "pad_token_id": self.pad_token_id,
            "cls_token_id": self.cls_token_id,
            "sep_token_id": self.sep_token_id,
            "mask_token_id": self.mask_token_id,
        }

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
        vocabulary = compute_word_piece_vocabulary(
            texts,
            int(vocabulary_size),
            vocabulary_output_file=output_file,
            lowercase=lowercase,
            strip_accents=strip_accents,
            reserved_tokens=list(SPECIAL_TOKENS),
        )
        if output_file is not None:
            vocabulary = read_vocabulary_file(output_file)
        # The learner can keep tokens made of whitespace or control
        # characters the normaliser does not remove (e.g. U+00A0, U+200B):
        # they can never be produced by the tokenizer, so drop them.
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
    """Read a `vocab.txt` (one token per line) and check its special tokens."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(
            f"Vocabulary file '{path}' does not exist. Pass the path of a "
            "vocab.txt (one token per line) or learn one with "
            "`keras-electra vocab`."
        )
    with open(path, encoding="utf-8") as f:
        vocabulary = [line.rstrip("\n").rstrip("\r") for line in f]
    while vocabulary and vocabulary[-1] == "":
        vocabulary.pop()
    check_vocabulary(vocabulary, f"'{path}'")
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
