import keras
from keras_hub.models import MaskedLMPreprocessor

from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer
from keras_electra.utils.preset_mixin import PresetMixin


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraMaskedLMPreprocessor(PresetMixin, MaskedLMPreprocessor):
    """Raw text to masked-LM examples, masked as ELECTRA masks.

    keras-hub's `MaskedLMPreprocessor` with our tokenizer and ELECTRA's
    corruption: of the selected positions (15%), 85% become [MASK] and 15%
    keep their token; none is replaced by a random token (BERT's 80/10/10
    is `mask_token_rate=0.8, random_token_rate=0.1`). Special tokens are
    never selected. It outputs `(x, y, sample_weight)`: `x` holds
    `token_ids` (masked), `segment_ids`, `padding_mask` and
    `mask_positions`; `y` the original ids at those positions and
    `sample_weight` 1 for real positions, 0 for unused slots.

    Use it to train an `ElectraGenerator` alone, or to feed a fixed
    corruption to `ElectraPretrainer` (which masks in the graph otherwise):
    `ds.map(lambda x, y, w: {**x, "mask_ids": y, "mask_weights": w})`.

    Args:
        tokenizer: `keras_electra.ElectraTokenizer`.
        sequence_length: int. Padded length of the packed sequence.
        truncate: string. "round_robin" or "waterfall", as in keras-hub.
        mask_selection_rate: float. Fraction of tokens to select.
        mask_selection_length: int. Static number of prediction slots.
        mask_token_rate: float. Fraction of selected tokens made [MASK].
        random_token_rate: float. Fraction made a random token (0 in
            ELECTRA).

    Example:
    ```python
    import keras_electra

    tokenizer = keras_electra.ElectraTokenizer(
        vocabulary=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]
    )
    preprocessor = keras_electra.ElectraMaskedLMPreprocessor(
        tokenizer, sequence_length=8, mask_selection_length=2
    )
    x, y, sample_weight = preprocessor(["a b a b"])
    x["mask_positions"].shape  # (1, 2)
    ```
    """

    backbone_cls = ElectraBackbone
    tokenizer_cls = ElectraTokenizer

    def __init__(
        self,
        tokenizer,
        sequence_length=128,
        truncate="round_robin",
        mask_selection_rate=0.15,
        mask_selection_length=20,
        mask_token_rate=0.85,
        random_token_rate=0.0,
        **kwargs,
    ):
        super().__init__(
            tokenizer,
            sequence_length=sequence_length,
            truncate=truncate,
            mask_selection_rate=mask_selection_rate,
            mask_selection_length=mask_selection_length,
            mask_token_rate=mask_token_rate,
            random_token_rate=random_token_rate,
            **kwargs,
        )
