import keras
from keras import ops
from keras_hub.layers import MultiSegmentPacker
from keras_hub.models import Preprocessor

from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer
from keras_electra.utils.keras_hub_private import preprocessing_function
from keras_electra.utils.preset_mixin import PresetMixin


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraPretrainerPreprocessor(PresetMixin, Preprocessor):
    """Raw text to the token ids `ElectraPretrainer` trains on.

    The preprocessor of both pre-training tasks (`ElectraPretrainer` and
    `ElectraMaskedLMPretrainer`): it tokenizes each string, packs it as
    `[CLS] tokens [SEP]`, truncated and padded to `sequence_length`, and
    returns a dict of `token_ids`, `segment_ids` (0) and `padding_mask` (1
    for real tokens), each int32 `[batch, sequence_length]`. A tuple of two
    batches of strings, `x=(first, second)`, packs pairs as
    `[CLS] first [SEP] second [SEP]` with segment ids 0 and 1, truncated
    `truncate`-wise. It does no masking: the pretrainers mask inside their
    compiled step, anew every epoch. With it attached, `fit` takes raw
    strings, or a `tf.data.Dataset` of them, on every backend; it runs
    inside `tf.data` (graph ops) and eagerly on Python strings.

    One string is one example. The reference (`build_pretraining_dataset.py`
    in google-research/electra) instead packs consecutive sentences of a
    document until a sequence is full, and sometimes splits it into two
    segments; a per-batch preprocessor cannot join examples, so for packed
    documents use `keras_electra.data.text_dataset` (on-the-fly) or
    pre-built shards, which give dicts of token ids. Such dicts (anything
    with `token_ids`) pass through this preprocessor unchanged, so a
    pretrainer that has one still trains on them.

    Args:
        tokenizer: an `ElectraTokenizer`.
        sequence_length: int. Padded length of each sequence. 128, the
            reference's for the small model and the `keras-electra
            pretrain` default; `from_preset` lowers it to the backbone's
            positions where they are fewer, and takes
            `sequence_length=...` to set it.
        truncate: "round_robin" or "waterfall": how pairs are cut to fit,
            as in keras-hub's `MultiSegmentPacker`.

    Example:
    ```python
    import keras_electra

    tokenizer = keras_electra.ElectraTokenizer(
        vocabulary=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]
    )
    preprocessor = keras_electra.ElectraPretrainerPreprocessor(
        tokenizer, sequence_length=6
    )
    x = preprocessor(["a b a", "b"])
    x["token_ids"]  # [[2, 5, 6, 5, 3, 0], [2, 6, 3, 0, 0, 0]]
    x["padding_mask"]  # [[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]]
    ```
    """

    backbone_cls = ElectraBackbone
    tokenizer_cls = ElectraTokenizer

    def __init__(
        self, tokenizer, sequence_length=128, truncate="round_robin", **kwargs
    ):
        super().__init__(**kwargs)
        if truncate not in ("round_robin", "waterfall"):
            raise ValueError(
                "`truncate` must be 'round_robin' or 'waterfall'. "
                f"Received: truncate={truncate!r}"
            )
        self.tokenizer = tokenizer
        self.packer = None
        self.sequence_length = int(sequence_length)
        self.truncate = truncate

    def build(self, input_shape):
        # Built here, not in `__init__`: a preset's tokenizer gets its
        # vocabulary (its special ids) only after construction.
        super().build(input_shape)
        self.packer = MultiSegmentPacker(
            start_value=self.tokenizer.cls_token_id,
            end_value=self.tokenizer.sep_token_id,
            pad_value=self.tokenizer.pad_token_id,
            truncate=self.truncate,
            sequence_length=self.sequence_length,
        )

    def call(self, x, y=None, sample_weight=None):
        if isinstance(x, dict):
            # Already token ids (`keras_electra.data`, shards): unchanged.
            return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
        if self._use_tf_workflow():
            return self._call_tf(x, y=y, sample_weight=sample_weight)
        return self._call_python(x, y=y, sample_weight=sample_weight)

    def _segments(self, x):
        """A tuple of segments (batches of strings) from `x`: one batch
        (a string, a list, an array, a tensor) is one segment; a tuple
        holds one or two."""
        segments = x if isinstance(x, tuple) else (x,)
        if not 1 <= len(segments) <= 2:
            raise ValueError(
                f"{type(self).__name__} takes one segment of text or a "
                f"pair, `x=(first, second)`. Received {len(segments)} "
                "segments."
            )
        return tuple(self.tokenizer(segment) for segment in segments)

    def _call_python(self, x, y=None, sample_weight=None):
        token_ids, segment_ids = self.packer(self._segments(x))
        padding_mask = ops.not_equal(token_ids, self.tokenizer.pad_token_id)
        x = {
            "token_ids": ops.cast(token_ids, "int32"),
            "segment_ids": ops.cast(segment_ids, "int32"),
            "padding_mask": ops.cast(padding_mask, "int32"),
        }
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

    @preprocessing_function
    def _call_tf(self, x, y=None, sample_weight=None):
        import tensorflow as tf

        token_ids, segment_ids = self.packer(self._segments(x))
        padding_mask = tf.not_equal(token_ids, self.tokenizer.pad_token_id)
        x = {
            "token_ids": tf.cast(token_ids, "int32"),
            "segment_ids": tf.cast(segment_ids, "int32"),
            "padding_mask": tf.cast(padding_mask, "int32"),
        }
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

    @property
    def sequence_length(self):
        """The padded length of the packed sequences."""
        return self._sequence_length

    @sequence_length.setter
    def sequence_length(self, value):
        self._sequence_length = int(value)
        if self.packer is not None:
            self.packer.sequence_length = int(value)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sequence_length": self.sequence_length,
                "truncate": self.truncate,
            }
        )
        return config
