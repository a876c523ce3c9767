import numbers

import keras
from keras_hub.layers import PositionEmbedding

from keras_electra.layers.initializers import electra_kernel_initializer


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraEmbedding(keras.layers.Layer):
    """ELECTRA's embedding block: three tables, a sum, LayerNorm and dropout.

    This is the block the generator and the discriminator share during
    pre-training. In Google's reference code every variable under
    `electra/embeddings` is shared between the two towers: the word, position
    and token-type tables *and* the LayerNorm that follows their sum. The
    projection from `embedding_dim` to each tower's `hidden_dim` is not part of
    the block: each tower keeps its own.

    `pad_vocabulary_to_multiple_of` is a departure from the reference, off by
    default: the token table gets extra rows up to the next multiple (e.g.
    30,522 -> 30,528 for 64), so that the generator's output matmul, whose
    width is the number of rows, has a size tensor cores tile evenly. No
    token id ever reaches those rows (the tokenizer has `vocabulary_size`
    ids) and the generator's head never predicts them
    (`ElectraMaskedLMHead(predicted_vocabulary_size=...)`); conversion to other
    formats drops them.

    Args:
        vocabulary_size: int. Number of token ids (the tokenizer's).
        embedding_dim: int. Width of the three tables.
        max_sequence_length: int. Number of learned positions.
        num_segments: int. Number of segment (token type) ids.
        dropout: float. Dropout rate applied after the LayerNorm.
        layer_norm_epsilon: float. LayerNorm epsilon (`1e-12` in the
            original).
        pad_vocabulary_to_multiple_of: int or None. Pad the token table to
            a multiple of this many rows (64 or 128 suit tensor cores);
            `None` (the reference) keeps `vocabulary_size` rows.
        dtype: string or `keras.DTypePolicy`. Forwarded to every sub-layer.

    Example:
    ```python
    import numpy as np
    import keras_electra

    embedding = keras_electra.layers.ElectraEmbedding(
        vocabulary_size=100, embedding_dim=16, max_sequence_length=32
    )
    token_ids = np.array([[2, 5, 7, 3]])
    segment_ids = np.zeros_like(token_ids)
    embedding(token_ids, segment_ids).shape  # (1, 4, 16)
    ```
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim,
        max_sequence_length=512,
        num_segments=2,
        dropout=0.1,
        layer_norm_epsilon=1e-12,
        pad_vocabulary_to_multiple_of=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = int(vocabulary_size)
        self.pad_vocabulary_to_multiple_of = check_vocabulary_multiple(
            pad_vocabulary_to_multiple_of
        )
        self.padded_vocabulary_size = padded_vocabulary_size(
            self.vocabulary_size, self.pad_vocabulary_to_multiple_of
        )
        self.embedding_dim = int(embedding_dim)
        self.max_sequence_length = int(max_sequence_length)
        self.num_segments = int(num_segments)
        self.dropout = float(dropout)
        self.layer_norm_epsilon = float(layer_norm_epsilon)

        self.token_embedding = keras.layers.ReversibleEmbedding(
            input_dim=self.padded_vocabulary_size,
            output_dim=self.embedding_dim,
            embeddings_initializer=electra_kernel_initializer(),
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.position_embedding = PositionEmbedding(
            sequence_length=self.max_sequence_length,
            initializer=electra_kernel_initializer(),
            dtype=self.dtype_policy,
            name="position_embedding",
        )
        self.segment_embedding = keras.layers.Embedding(
            input_dim=self.num_segments,
            output_dim=self.embedding_dim,
            embeddings_initializer=electra_kernel_initializer(),
            dtype=self.dtype_policy,
            name="segment_embedding",
        )
        # LayerNormalization computes in float32 under mixed policies.
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon,
            dtype=self.dtype_policy,
            name="layer_norm",
        )
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="dropout"
        )
        self._shared_tokens = _Untracked(None)

    def set_shared_token_table(self, shared):
        """Look tokens up in `stop_gradient(shared) + own table` (GDES).

        `shared` is another block's token embedding layer (the generator's,
        in `ElectraPretrainer(embedding_sharing="gdes")`); this block's own
        table becomes the residual, and no gradient reaches `shared` from
        here. Not part of the config: the pretrainer links its towers when
        it is built. `None` unlinks.
        """
        self._shared_tokens = _Untracked(shared)

    def build(self, token_ids_shape, segment_ids_shape=None):
        batch, length = token_ids_shape[0], token_ids_shape[1]
        self.token_embedding.build((batch, length))
        self.segment_embedding.build((batch, length))
        embedded_shape = (batch, length, self.embedding_dim)
        self.position_embedding.build(embedded_shape)
        self.layer_norm.build(embedded_shape)
        self.built = True

    def call(self, token_ids, segment_ids, training=None):
        tokens = self.token_embedding(token_ids)
        shared = self._shared_tokens.layer
        if shared is not None:
            tokens = keras.ops.stop_gradient(shared(token_ids)) + tokens
        positions = self.position_embedding(tokens)
        segments = self.segment_embedding(segment_ids)
        x = tokens + positions + segments
        x = self.layer_norm(x)
        return self.dropout_layer(x, training=training)

    def compute_output_shape(self, token_ids_shape, segment_ids_shape=None):
        return tuple(token_ids_shape) + (self.embedding_dim,)

    def compute_output_spec(self, token_ids, segment_ids=None, training=None):
        return keras.KerasTensor(
            self.compute_output_shape(token_ids.shape),
            dtype=self.compute_dtype,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "max_sequence_length": self.max_sequence_length,
                "num_segments": self.num_segments,
                "dropout": self.dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "pad_vocabulary_to_multiple_of": (
                    self.pad_vocabulary_to_multiple_of
                ),
            }
        )
        return config


def check_vocabulary_multiple(multiple):
    """`pad_vocabulary_to_multiple_of`, checked: None or a positive int."""
    if multiple is None:
        return None
    if (
        isinstance(multiple, bool)
        or not isinstance(multiple, numbers.Integral)
        or multiple < 1
    ):
        raise ValueError(
            "`pad_vocabulary_to_multiple_of` must be None or a positive "
            f"integer (64 or 128 suit tensor cores). Received: {multiple!r}"
        )
    return int(multiple)


def padded_vocabulary_size(vocabulary_size, multiple):
    """Rows of a token table of `vocabulary_size` ids padded to a multiple
    of `multiple` (`None`: no padding)."""
    if not multiple:
        return int(vocabulary_size)
    return -(-int(vocabulary_size) // multiple) * multiple


class _Untracked:
    """Holds a layer without making it a sublayer (Keras would track it,
    and save its weights a second time)."""

    __slots__ = ("layer",)

    def __init__(self, layer):
        self.layer = layer
