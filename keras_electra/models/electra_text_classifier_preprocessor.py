import keras
from keras_hub.models import TextClassifierPreprocessor

from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer
from keras_electra.utils.preset_mixin import PresetMixin


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraTextClassifierPreprocessor(
    PresetMixin, TextClassifierPreprocessor
):
    """Raw sentences (or sentence pairs) to ELECTRA inputs.

    keras-hub's `TextClassifierPreprocessor` with our tokenizer: tokenize,
    pack `[CLS] a [SEP] (b [SEP])` with segment ids 0/1, truncate round-robin
    and pad to `sequence_length`. It runs inside `tf.data` (any backend) and
    eagerly on Python strings.

    Args:
        tokenizer: an `ElectraTokenizer`.
        sequence_length: padded length (128 in ELECTRA's GLUE runs).
        truncate: "round_robin" or "waterfall", as in keras-hub.

    Example:
    ```python
    import keras_electra

    tokenizer = keras_electra.ElectraTokenizer(
        vocabulary=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]
    )
    preprocessor = keras_electra.ElectraTextClassifierPreprocessor(
        tokenizer, sequence_length=8
    )
    x = preprocessor(x=(["a b"], ["b"]))
    x["token_ids"]  # [[2, 5, 6, 3, 6, 3, 0, 0]]
    ```
    """

    backbone_cls = ElectraBackbone
    tokenizer_cls = ElectraTokenizer

    def __init__(
        self, tokenizer, sequence_length=128, truncate="round_robin", **kwargs
    ):
        super().__init__(
            tokenizer,
            sequence_length=sequence_length,
            truncate=truncate,
            **kwargs,
        )


# The earlier name, kept for code and saved models that use it.
ElectraClassifierPreprocessor = ElectraTextClassifierPreprocessor
keras.saving.get_custom_objects()[
    "keras_electra>ElectraClassifierPreprocessor"
] = ElectraTextClassifierPreprocessor
