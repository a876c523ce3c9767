import keras
from keras_hub.models import Task

from keras_electra.layers.initializers import electra_kernel_initializer
from keras_electra.layers.initializers import reference_default_initializer
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.utils.preset_mixin import PresetMixin
from keras_electra.utils.torch_parameters import TorchParametersMixin


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraDiscriminator(TorchParametersMixin, PresetMixin, Task):
    """ELECTRA's discriminator: replaced token detection on every position.

    A backbone followed by the reference head: a dense layer `hidden_dim ->
    hidden_dim` with the exact GELU, then a dense layer to one logit per
    token (positive means "replaced").

    Args:
        backbone: `keras_electra.ElectraBackbone`.
        dtype: optional dtype policy for the head (defaults to the backbone's).

    Call inputs: a dict with `token_ids`, `segment_ids`, `padding_mask`.
    Output: logits `[batch, length]`.

    Example:
    ```python
    import numpy as np
    import keras_electra

    backbone = keras_electra.ElectraBackbone(
        vocabulary_size=100, num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=32,
    )
    discriminator = keras_electra.ElectraDiscriminator(backbone)
    logits = discriminator({
        "token_ids": np.array([[2, 4, 5, 3]]),
        "segment_ids": np.zeros((1, 4), "int32"),
        "padding_mask": np.ones((1, 4), "int32"),
    })
    logits.shape  # (1, 4)
    ```
    """

    backbone_cls = ElectraBackbone

    def __init__(self, backbone, dtype=None, **kwargs):
        # === Layers ===
        dtype = dtype or backbone.dtype_policy
        self.backbone = backbone
        self.rtd_dense = keras.layers.Dense(
            backbone.hidden_dim,
            activation="gelu",  # exact erf GELU
            kernel_initializer=electra_kernel_initializer(),
            dtype=dtype,
            name="rtd_dense",
        )
        self.rtd_logits = keras.layers.Dense(
            1,
            kernel_initializer=reference_default_initializer(),
            dtype=dtype,
            name="rtd_logits",
        )
        # === Functional model ===
        inputs = backbone.input
        x = backbone(inputs)
        x = self.rtd_dense(x)
        logits = keras.ops.squeeze(self.rtd_logits(x), axis=-1)
        super().__init__(inputs=inputs, outputs=logits, dtype=dtype, **kwargs)

    def compile(self, optimizer="auto", loss="auto", **kwargs):
        """Compile for plain replaced-token detection (labels: 1 = replaced)."""
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(5e-5)
        if loss == "auto":
            loss = keras.losses.BinaryCrossentropy(from_logits=True)
        super().compile(optimizer=optimizer, loss=loss, **kwargs)
