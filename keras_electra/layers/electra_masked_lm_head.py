import keras
import numpy as np
from keras import ops
from keras_hub.layers import MaskedLMHead

# The logit of a token id the head never predicts (a padded table's extra
# rows): exp(-1e9 - max) is exactly 0 in float32, so softmax, sampling,
# argmax and the cross-entropy are those of the real ids alone.
NEVER_PREDICTED_LOGIT = -1e9


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraMaskedLMHead(MaskedLMHead):
    """keras-hub's `MaskedLMHead`, with float32 logits under mixed precision.

    Same computation (gather at the mask positions, dense with GELU,
    LayerNorm, matmul with the tied word embeddings, bias), but the logits
    and the bias are added in float32: keras-hub's layer adds a float32 bias
    to bfloat16 logits, which TensorFlow refuses, and ELECTRA's softmax,
    sampling and loss run in float32 anyway.

    With a token table padded for tensor cores (`ElectraBackbone(
    pad_vocabulary_to_multiple_of=...)`, a departure from the reference),
    `predicted_vocabulary_size` is the number of real ids: the logits of
    the table's extra rows are set to -1e9, so no softmax, sample or argmax
    ever picks them and the loss is that of the real ids. The logits keep
    the table's (padded) width.

    Args:
        predicted_vocabulary_size: int or None. The ids the head predicts,
            `0 .. predicted_vocabulary_size - 1`; `None` (default) predicts
            every row of the token table.
        **kwargs: `keras_hub.layers.MaskedLMHead`'s arguments.

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

    def __init__(self, predicted_vocabulary_size=None, **kwargs):
        super().__init__(**kwargs)
        if predicted_vocabulary_size is not None:
            predicted_vocabulary_size = int(predicted_vocabulary_size)
            if not 0 < predicted_vocabulary_size <= self.vocabulary_size:
                raise ValueError(
                    "`predicted_vocabulary_size` must be in [1, "
                    f"{self.vocabulary_size}] (the token table's rows). "
                    f"Received: {predicted_vocabulary_size}"
                )
        self.predicted_vocabulary_size = predicted_vocabulary_size

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
        unpredicted = self.vocabulary_size - (
            self.predicted_vocabulary_size or self.vocabulary_size
        )
        if unpredicted:
            # A constant: XLA folds it into the bias add's fusion.
            predicted = np.arange(self.vocabulary_size)
            predicted = predicted < self.predicted_vocabulary_size
            outputs = ops.where(predicted, outputs, NEVER_PREDICTED_LOGIT)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def get_config(self):
        config = super().get_config()
        config["predicted_vocabulary_size"] = self.predicted_vocabulary_size
        return config
