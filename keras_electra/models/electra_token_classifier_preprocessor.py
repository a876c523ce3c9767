import keras
import numpy as np
from keras_hub.layers import StartEndPacker
from keras_hub.models import Preprocessor
from keras_hub.src.utils.tensor_utils import preprocessing_function

from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer
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
    for `first_piece_predictions`). Runs inside
    `tf.data` on any backend.

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
    y               # [[0, 1, 2, 3, 3, 0, 0, 0]]
    weight          # [[0, 1, 1, 1, 0, 0, 0, 0]]
    ```
    """

    backbone_cls = ElectraBackbone
    tokenizer_cls = ElectraTokenizer

    def __init__(self, tokenizer, sequence_length=128, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
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
        if isinstance(words, np.ndarray):
            words = words.tolist()
        words = [[_to_str(w) for w in sample if _to_str(w)] for sample in words]
        length = self.sequence_length
        pieces = self.tokenizer(words) if words else []
        token_ids = np.full(
            (len(words), length), self.tokenizer.pad_token_id, "int32"
        )
        weights = np.zeros((len(words), length), "int32")
        tags = np.zeros((len(words), length), "int32")
        for row, sample in enumerate(pieces):
            ids = [self.tokenizer.cls_token_id]
            first = [0]
            word_index = [0]
            for w, word_pieces in enumerate(sample):
                word_pieces = list(word_pieces)
                ids += word_pieces
                first += [1] + [0] * (len(word_pieces) - 1)
                word_index += [w] * len(word_pieces)
            ids, first, word_index = (
                ids[: length - 1],
                first[: length - 1],
                word_index[: length - 1],
            )
            ids.append(self.tokenizer.sep_token_id)
            first.append(0)
            token_ids[row, : len(ids)] = ids
            weights[row, : len(first)] = first
            if labels is not None:
                sample_labels = np.asarray(labels[row], "int64")
                aligned = [int(sample_labels[i]) for i in word_index]
                tags[row, 1 : len(aligned)] = aligned[1:]
        padding_mask = np.zeros_like(token_ids)
        for row, sample in enumerate(pieces):
            padding_mask[row, : min(length, sum(map(len, sample)) + 2)] = 1
        features = {
            "token_ids": token_ids,
            "segment_ids": np.zeros_like(token_ids),
            "padding_mask": padding_mask,
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
        segment_ids = tf.zeros_like(token_ids)
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
        config.update({"sequence_length": self.sequence_length})
        return config


def _to_str(word):
    return word.decode("utf-8") if isinstance(word, bytes) else str(word)
