import keras
from keras import ops
from keras_hub.layers import MaskedLMHead


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraMaskedLMHead(MaskedLMHead):
    """keras-hub's `MaskedLMHead`, with float32 logits under mixed precision.

    Same computation (gather at the mask positions, dense with GELU,
    LayerNorm, matmul with the tied word embeddings, bias), but the logits
    and the bias are added in float32: keras-hub's layer adds a float32 bias
    to bfloat16 logits, which TensorFlow refuses, and ELECTRA's softmax,
    sampling and loss run in float32 anyway.

    Example:
    ```python
    import numpy as np
    import keras

    embedding = keras.layers.ReversibleEmbedding(100, 16)
    embedding.build((None, None))
    head = ElectraMaskedLMHead(token_embedding=embedding,
                               intermediate_activation="gelu")
    hidden = np.random.rand(2, 8, 16).astype("float32")
    head(hidden, mask_positions=np.array([[1, 2], [0, 5]])).shape  # (2, 2, 100)
    ```
    """

    def call(self, inputs, mask_positions):
        positions = ops.expand_dims(mask_positions, axis=-1)
        x = ops.take_along_axis(inputs, positions, axis=1)
        x = self._intermediate_dense(x)
        x = self._intermediate_layer_norm(x)
        if self.token_embedding is not None:
            outputs = self.token_embedding(x, reverse=True)
        else:
            outputs = ops.matmul(x, self._kernel)
        outputs = ops.cast(outputs, "float32") + ops.cast(self._bias, "float32")
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs
