import keras
import numpy as np
from keras_hub.layers import StartEndPacker
from keras_hub.models import Preprocessor

from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer
from keras_electra.utils.keras_hub_private import preprocessing_function
from keras_electra.utils.preset_mixin import PresetMixin

try:
    import tensorflow as tf
except ImportError:  # pragma: no cover - keras-hub needs tf-text anyway
    tf = None


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraTokenClassifierPreprocessor(PresetMixin, Preprocessor):
    """Words and per-word labels to wordpieces and aligned labels.

    Each word is split into wordpieces; the word's label goes to its first
    wordpiece and the others get sample weight 0 (ignored by the loss and
    the metrics), as in BERT's and ELECTRA's tagging recipes. The sequence
    is packed as `[CLS] pieces [SEP]`, truncated and padded to
    `sequence_length`; [CLS], [SEP] and padding get weight 0 too.

    Inputs: `words`, a batch of word lists (a `tf.RaggedTensor` of strings
    in `tf.data`, or Python lists), and optionally `y`, the same shape of
    integer labels. Outputs `(x, y, sample_weight)` with `y` and
    `sample_weight` of shape `[batch, sequence_length]` (without labels, `y`
    is zeros and `sample_weight` still marks each word's first wordpiece,
    for `first_piece_predictions`). Runs inside `tf.data` on any backend.
    A word with no wordpiece (an empty string, a lone zero-width space) gets
    no position, and the labels of the words after it stay aligned.

    Args:
        tokenizer: `keras_electra.ElectraTokenizer`.
        sequence_length: int. Packed length, [CLS] and [SEP] included.
        segment_id: int. The segment id of every real token: 1, as the
            reference's tagging tasks give (padding gets 0); pass 0 to use
            the first segment's embedding instead.

    Example:
    ```python
    import keras_electra

    tokenizer = keras_electra.ElectraTokenizer(vocabulary=[
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "dog", "run",
        "##s",
    ])
    preprocessor = keras_electra.ElectraTokenClassifierPreprocessor(
        tokenizer, sequence_length=8
    )
    x, y, weight = preprocessor([["The", "dog", "runs"]], [[1, 2, 3]])
    x["token_ids"]  # [[2, 5, 6, 7, 8, 3, 0, 0]]
    y               # [[0, 1, 2, 3, 0, 0, 0, 0]]
    weight          # [[0, 1, 1, 1, 0, 0, 0, 0]]
    ```
    """

    backbone_cls = ElectraBackbone
    tokenizer_cls = ElectraTokenizer

    def __init__(self, tokenizer, sequence_length=128, segment_id=1, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        if int(segment_id) not in (0, 1):
            raise ValueError(
                f"`segment_id` must be 0 or 1. Received: {segment_id}"
            )
        self.segment_id = int(segment_id)
        self.packer = None

    def build(self, input_shape):
        super().build(input_shape)
        self.packer = StartEndPacker(
            start_value=self.tokenizer.cls_token_id,
            end_value=self.tokenizer.sep_token_id,
            pad_value=self.tokenizer.pad_token_id,
            sequence_length=self.sequence_length,
            return_padding_mask=True,
        )
        self.zero_packer = StartEndPacker(
            start_value=0,
            end_value=0,
            pad_value=0,
            sequence_length=self.sequence_length,
        )

    def call(self, x, y=None, sample_weight=None):
        if self._use_tf_workflow():
            return self._call_tf(x, y=y)
        return self._call_python(x, y)

    def _call_python(self, words, labels=None):
        # Word lists of any lengths; keras-hub's packers add [CLS]/[SEP],
        # truncate and pad. A word with no wordpiece (an empty string, a
        # zero-width space) gets no position and its label is skipped.
        words = [[_to_str(w) for w in row] for row in _rows(words)]
        labels = None if labels is None else _rows(labels)
        for r, row in enumerate(labels or []):
            if len(row) != len(words[r]):
                raise ValueError(
                    f"Row {r} has {len(words[r])} words but {len(row)} "
                    "labels: give one label per word."
                )
        pieces = self.tokenizer(words) if words else []
        flat, first, aligned = [], [], []
        for r, row in enumerate(pieces):
            row_labels = None if labels is None else labels[r]
            ids, flags, tags = [], [], []
            for w, word_pieces in enumerate(row):
                n = len(word_pieces)
                ids += [int(i) for i in word_pieces]
                flags += [1] + [0] * (n - 1) if n else []
                tags += [0 if row_labels is None else int(row_labels[w])] * n
            flat.append(ids)
            first.append(flags)
            aligned.append(tags)
        token_ids, padding_mask = self.packer(flat)
        weights = np.asarray(self.zero_packer(first), "int32")
        tags = np.asarray(self.zero_packer(aligned), "int32")
        token_ids = np.asarray(token_ids, "int32")
        features = {
            "token_ids": token_ids,
            "segment_ids": self.segment_id * np.asarray(padding_mask, "int32"),
            "padding_mask": np.asarray(padding_mask, "int32"),
        }
        return features, tags * weights, weights

    @preprocessing_function
    def _call_tf(self, x, y=None, sample_weight=None):
        words = x
        if not isinstance(words, tf.RaggedTensor):
            words = tf.RaggedTensor.from_tensor(words, padding="")
        pieces = self.tokenizer(words)  # [batch, words, pieces]
        if pieces.shape.rank == 2:  # a batch of one-piece words
            pieces = tf.RaggedTensor.from_row_lengths(
                pieces.flat_values, tf.ones_like(pieces.flat_values, "int64")
            )
        per_word = pieces.values  # [all words, pieces]
        first = tf.cast(
            tf.ragged.range(per_word.row_lengths()).flat_values == 0, "int32"
        )
        flat = pieces.merge_dims(1, 2)  # [batch, pieces]
        token_ids, padding_mask = self.packer(flat)
        padding_mask = tf.cast(padding_mask, "int32")
        weights = self.zero_packer(flat.with_flat_values(first))
        segment_ids = self.segment_id * padding_mask
        features = {
            "token_ids": token_ids,
            "segment_ids": segment_ids,
            "padding_mask": padding_mask,
        }
        if y is None:  # zeros: the weights still mark the words
            return features, tf.zeros_like(token_ids), weights
        labels = y
        if not isinstance(labels, tf.RaggedTensor):
            labels = tf.RaggedTensor.from_tensor(
                labels, lengths=words.row_lengths()
            )
        labels = tf.cast(labels.flat_values, "int32")
        piece_labels = tf.gather(labels, per_word.value_rowids())
        labels = self.zero_packer(flat.with_flat_values(piece_labels))
        return features, labels * weights, weights

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sequence_length": self.sequence_length,
                "segment_id": self.segment_id,
            }
        )
        return config


def _rows(values):
    """Rows of a batch as Python lists (lists, arrays or tensors)."""
    if hasattr(values, "to_list"):
        return values.to_list()
    if hasattr(values, "tolist"):
        return values.tolist()
    return [list(row) for row in values]


def _to_str(word):
    return word.decode("utf-8") if isinstance(word, bytes) else str(word)
