import keras
from keras_hub.models import MaskedLM

from keras_electra.layers.electra_masked_lm_head import ElectraMaskedLMHead
from keras_electra.layers.initializers import electra_kernel_initializer
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_masked_lm_preprocessor import (
    ElectraMaskedLMPreprocessor,
)
from keras_electra.utils.preset_mixin import PresetMixin
from keras_electra.utils.torch_parameters import TorchParametersMixin


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraGenerator(TorchParametersMixin, PresetMixin, MaskedLM):
    """ELECTRA's generator: a small masked language model.

    A backbone followed by the MLM head of Google's reference code, computed
    only at `mask_positions`: gather the hidden states there, a dense layer to
    `embedding_dim` with the exact GELU, LayerNorm (epsilon 1e-12), a matmul
    with the (shared) word-embedding table and a per-token bias. Computing the
    head only at the ~15% masked positions instead of every position is what
    keeps the vocabulary-sized matmul cheap.

    A keras-hub `MaskedLM`: `compile()` defaults to its masked-LM loss and
    weighted accuracy, and with an `ElectraMaskedLMPreprocessor` it trains
    alone on raw strings (85% [MASK], 15% kept, no random tokens, as the
    joint pre-training masks). Inside `ElectraPretrainer` it is trained
    jointly with the discriminator instead.

    Args:
        backbone: `keras_electra.ElectraBackbone`. Usually smaller than the
            discriminator's and sharing its embedding block.
        preprocessor: optional `ElectraMaskedLMPreprocessor`; with it the
            model takes raw strings.
        dtype: optional dtype policy for the head (defaults to the backbone's).

    Call inputs: a dict with `token_ids`, `segment_ids`, `padding_mask`
    (`[batch, length]`) and `mask_positions` (`[batch, num_positions]`).
    Output: logits `[batch, num_positions, padded_vocabulary_size]`: one per
    row of the backbone's token table. With a table padded for tensor cores
    (`ElectraBackbone(pad_vocabulary_to_multiple_of=...)`, a departure from
    the reference) the extra rows' logits are -1e9, so they are never
    sampled or predicted and add nothing to the loss.

    Example:
    ```python
    import numpy as np
    import keras_electra

    backbone = keras_electra.ElectraBackbone(
        vocabulary_size=100, num_layers=1, num_heads=1, hidden_dim=8,
        intermediate_dim=16, embedding_dim=16, max_sequence_length=32,
    )
    generator = keras_electra.ElectraGenerator(backbone)
    logits = generator({
        "token_ids": np.array([[2, 4, 4, 3]]),
        "segment_ids": np.zeros((1, 4), "int32"),
        "padding_mask": np.ones((1, 4), "int32"),
        "mask_positions": np.array([[1, 2]]),
    })
    logits.shape  # (1, 2, 100)
    ```
    """

    backbone_cls = ElectraBackbone
    preprocessor_cls = ElectraMaskedLMPreprocessor

    def __init__(self, backbone, preprocessor=None, dtype=None, **kwargs):
        # === Layers ===
        dtype = dtype or backbone.dtype_policy
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.mlm_head = ElectraMaskedLMHead(
            token_embedding=backbone.token_embedding,
            predicted_vocabulary_size=backbone.vocabulary_size,
            intermediate_activation="gelu",  # exact erf GELU
            layer_norm_epsilon=backbone.layer_norm_epsilon,
            kernel_initializer=electra_kernel_initializer(),
            dtype=dtype,
            name="mlm_head",
        )
        # === Functional model ===
        inputs = {
            **backbone.input,
            "mask_positions": keras.Input(
                shape=(None,), dtype="int32", name="mask_positions"
            ),
        }
        sequence = backbone(
            {k: v for k, v in inputs.items() if k != "mask_positions"}
        )
        logits = self.mlm_head(
            sequence, mask_positions=inputs["mask_positions"]
        )
        super().__init__(inputs=inputs, outputs=logits, dtype=dtype, **kwargs)
