import keras
from keras_hub.layers import TransformerEncoder
from keras_hub.models import Backbone

from keras_electra.layers.electra_embedding import ElectraEmbedding
from keras_electra.layers.electra_embedding import check_vocabulary_multiple
from keras_electra.layers.initializers import electra_kernel_initializer
from keras_electra.layers.initializers import reference_default_initializer
from keras_electra.utils.preset_mixin import PresetMixin
from keras_electra.utils.torch_parameters import TorchParametersMixin


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraBackbone(TorchParametersMixin, PresetMixin, Backbone):
    """The ELECTRA encoder tower, as in Google's reference implementation.

    Token, position and segment embeddings are summed, normalised (LayerNorm,
    epsilon 1e-12) and dropped out; when `embedding_dim != hidden_dim` a dense
    projection maps them to `hidden_dim`; then `num_layers` post-LayerNorm
    transformer blocks with the exact (erf) GELU follow. There is no pooler:
    ELECTRA's "pooled" vector is simply the hidden state at position 0.

    The embedding block (`ElectraEmbedding`: the three tables and their
    LayerNorm) can be shared with another backbone by passing it as
    `embedding`; the projection always belongs to this backbone. This is how
    the generator shares the discriminator's embeddings. Sharing is not part of
    `get_config()`: `ElectraPretrainer` restores it when it is deserialised.

    Two options depart from the reference to keep an accelerator busy; both
    are off by default:
    - `attention_dropout=0.0` drops no attention probabilities (the
      reference drops them at `dropout`, 0.1), so Keras' `MultiHeadAttention`
      computes attention with the fused `keras.ops.dot_product_attention`
      instead of softmax, dropout and two einsums: a flash attention kernel
      where the backend has one (JAX: cuDNN on NVIDIA GPUs from Ampere on, in
      float16/bfloat16; PyTorch: `scaled_dot_product_attention`, whose
      memory-efficient kernel takes the padding mask; JAX on TPU: the splash
      kernel). TensorFlow has none: its fused op is the same composed
      computation. Residual and embedding dropout stay at `dropout`.
    - `pad_vocabulary_to_multiple_of=64` (or 128) pads the token table, and
      with it the generator's output projection and bias, to a multiple of
      that many rows for tensor cores. The tokenizer never produces the
      extra ids and the generator's head gives them a logit of -1e9, so
      sampling and losses are those of the real vocabulary. Exports to
      transformers and keras-hub drop the extra rows; imports (those two
      and TF1 checkpoints) add them, as zeros, when asked to pad.
      `vocabulary_size` stays the real size; `padded_vocabulary_size` is
      the table's.

    Args:
        vocabulary_size: int. Size of the token vocabulary.
        num_layers: int. Number of transformer blocks.
        num_heads: int. Attention heads per block.
        hidden_dim: int. Width of the transformer blocks.
        intermediate_dim: int. Width of the feed-forward layer in each block.
        embedding_dim: int. Width of the embedding tables. Defaults to
            `hidden_dim`.
        dropout: float. Dropout rate for embeddings, attention and hidden
            layers (attention probabilities too unless `attention_dropout`
            is set).
        max_sequence_length: int. Number of learned positions.
        num_segments: int. Number of segment ids.
        layer_norm_epsilon: float. Epsilon of every LayerNorm.
        embedding: optional `ElectraEmbedding` to share with another backbone.
        attention_dropout: float or None. Dropout rate of the attention
            probabilities; `None` (default, the reference) uses `dropout`.
            `0.0` lets Keras use its fused attention kernel (a departure from
            the reference; see above).
        pad_vocabulary_to_multiple_of: int or None. Pad the token table to a
            multiple of this many rows (64 or 128 for tensor cores; a
            departure from the reference, see above). `None` (default) keeps
            `vocabulary_size` rows.
        dtype: string or `keras.DTypePolicy` for computations and weights.

    Example:
    ```python
    import numpy as np
    import keras_electra

    backbone = keras_electra.ElectraBackbone(
        vocabulary_size=100,
        num_layers=2,
        num_heads=2,
        hidden_dim=32,
        intermediate_dim=64,
        embedding_dim=16,
        max_sequence_length=64,
    )
    inputs = {
        "token_ids": np.array([[2, 10, 11, 3, 0]]),
        "segment_ids": np.zeros((1, 5), "int32"),
        "padding_mask": np.array([[1, 1, 1, 1, 0]]),
    }
    backbone(inputs).shape  # (1, 5, 32)

    # Departures from the reference for accelerators: fused attention and a
    # token table of 128 rows (the generator never predicts the extra 28).
    fast = keras_electra.ElectraBackbone(
        vocabulary_size=100,
        num_layers=2,
        num_heads=2,
        hidden_dim=32,
        intermediate_dim=64,
        embedding_dim=16,
        max_sequence_length=64,
        attention_dropout=0.0,
        pad_vocabulary_to_multiple_of=64,
    )
    fast.padded_vocabulary_size  # 128
    fast(inputs).shape  # (1, 5, 32)
    ```
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        embedding_dim=None,
        dropout=0.1,
        max_sequence_length=512,
        num_segments=2,
        layer_norm_epsilon=1e-12,
        embedding=None,
        attention_dropout=None,
        pad_vocabulary_to_multiple_of=None,
        dtype=None,
        **kwargs,
    ):
        embedding_dim = hidden_dim if embedding_dim is None else embedding_dim
        if hidden_dim % num_heads != 0:
            raise ValueError(
                f"`hidden_dim` ({hidden_dim}) must be divisible by "
                f"`num_heads` ({num_heads})."
            )
        if attention_dropout is not None and not 0 <= attention_dropout < 1:
            raise ValueError(
                "`attention_dropout` must be None (the same as `dropout`) or "
                f"in [0, 1). Received: {attention_dropout!r}"
            )
        pad_vocabulary_to_multiple_of = check_vocabulary_multiple(
            pad_vocabulary_to_multiple_of
        )
        attention_rate = (
            dropout if attention_dropout is None else attention_dropout
        )
        # === Layers ===
        if embedding is None:
            embedding = ElectraEmbedding(
                vocabulary_size=vocabulary_size,
                embedding_dim=embedding_dim,
                max_sequence_length=max_sequence_length,
                num_segments=num_segments,
                dropout=dropout,
                layer_norm_epsilon=layer_norm_epsilon,
                pad_vocabulary_to_multiple_of=pad_vocabulary_to_multiple_of,
                dtype=dtype,
                name="embeddings",
            )
        else:
            _check_shared_embedding(
                embedding,
                vocabulary_size=vocabulary_size,
                embedding_dim=embedding_dim,
                max_sequence_length=max_sequence_length,
                num_segments=num_segments,
                pad_vocabulary_to_multiple_of=pad_vocabulary_to_multiple_of,
            )
        self.embedding = embedding
        self.embeddings_projection = None
        if hidden_dim != embedding_dim:
            self.embeddings_projection = keras.layers.Dense(
                hidden_dim,
                kernel_initializer=reference_default_initializer(),
                dtype=dtype,
                name="embeddings_projection",
            )
        self.transformer_layers = []
        for i in range(num_layers):
            self.transformer_layers.append(
                TransformerEncoder(
                    num_heads=num_heads,
                    intermediate_dim=intermediate_dim,
                    # "gelu" is keras.activations.gelu with
                    # approximate=False: the exact erf form BERT/ELECTRA use.
                    activation="gelu",
                    # The larger rate, so that every Dropout layer has its
                    # seed; `_set_dropout_rates` lowers the other below.
                    dropout=max(dropout, attention_rate),
                    layer_norm_epsilon=layer_norm_epsilon,
                    kernel_initializer=electra_kernel_initializer(),
                    normalize_first=False,
                    dtype=dtype,
                    name=f"transformer_layer_{i}",
                )
            )

        # === Functional model ===
        token_id_input = keras.Input(
            shape=(None,), dtype="int32", name="token_ids"
        )
        segment_id_input = keras.Input(
            shape=(None,), dtype="int32", name="segment_ids"
        )
        padding_mask_input = keras.Input(
            shape=(None,), dtype="int32", name="padding_mask"
        )
        x = self.embedding(token_id_input, segment_id_input)
        if self.embeddings_projection is not None:
            x = self.embeddings_projection(x)
        for layer in self.transformer_layers:
            x = layer(x, padding_mask=padding_mask_input)
            if attention_rate != dropout:
                _set_dropout_rates(layer, dropout, attention_rate)
        super().__init__(
            inputs={
                "token_ids": token_id_input,
                "segment_ids": segment_id_input,
                "padding_mask": padding_mask_input,
            },
            outputs=x,
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.layer_norm_epsilon = layer_norm_epsilon
        self.attention_dropout = attention_dropout
        self.pad_vocabulary_to_multiple_of = pad_vocabulary_to_multiple_of
        self.token_embedding = self.embedding.token_embedding

    @property
    def padded_vocabulary_size(self):
        """Rows of the token table: `vocabulary_size`, or more with
        `pad_vocabulary_to_multiple_of`."""
        return self.embedding.padded_vocabulary_size

    @staticmethod
    def get_layout_map(
        device_mesh,
        model_parallel_dim_name="model",
        data_parallel_dim_name="batch",
    ):
        """A `keras.distribution.LayoutMap` that shards ELECTRA's weights.

        keras-hub's convention (as `GemmaBackbone.get_layout_map`): the
        large kernels are split over the mesh's model axis and, across
        replicas, over its batch axis; everything else (biases, LayerNorm,
        position and segment embeddings, the MLM output bias) is replicated.
        The patterns match by layer name, so the same map shards both towers
        of an `ElectraPretrainer` and every fine-tuning task built on the
        backbone. Unlike Gemma's, it splits no vocabulary or head axis:
        BERT's 30,522-token vocabulary divides only by 2, and ELECTRA-Small's
        generator has one attention head; the embedding width (64 to 1024)
        and the head width (64, 32 for `electra_tiny`'s generator) divide by
        any model axis up to 8 (32 for the batch axis on `electra_tiny`).

        Sharding, with `model` and `batch` the two axis names:
        - word embeddings `[vocabulary, embedding]`: `(None, model)`;
        - attention query/key/value `[hidden, heads, head_dim]`:
          `(batch, None, model)`; attention output `[heads, head_dim,
          hidden]`: `(None, model, batch)`;
        - feed-forward in `[hidden, intermediate]`: `(batch, model)`;
          out `[intermediate, hidden]`: `(model, batch)`.

        Example:
        ```python
        import keras
        import keras_electra

        devices = keras.distribution.list_devices()
        mesh = keras.distribution.DeviceMesh(
            (1, len(devices)), ("batch", "model"), devices
        )
        layout_map = keras_electra.ElectraBackbone.get_layout_map(mesh)
        distribution = keras.distribution.ModelParallel(
            layout_map=layout_map, batch_dim_name="batch"
        )
        with distribution.scope():
            pretrainer = keras_electra.ElectraPretrainer.from_preset(
                "electra_tiny"
            )
        ```

        Args:
            device_mesh: `keras.distribution.DeviceMesh`.
            model_parallel_dim_name: str. The mesh axis weights are split
                over.
            data_parallel_dim_name: str. The mesh axis the batch is split
                over.

        Returns:
            `keras.distribution.LayoutMap`.
        """
        if not isinstance(device_mesh, keras.distribution.DeviceMesh):
            raise ValueError(
                "`device_mesh` must be a `keras.distribution.DeviceMesh`. "
                f"Received: {type(device_mesh).__name__}"
            )
        for name in (model_parallel_dim_name, data_parallel_dim_name):
            if name not in device_mesh.axis_names:
                raise ValueError(
                    f"The device mesh has no axis '{name}'. Its axes: "
                    f"{list(device_mesh.axis_names)}."
                )
        model = model_parallel_dim_name
        data = data_parallel_dim_name
        layout_map = keras.distribution.LayoutMap(device_mesh)
        # Keys are regular expressions matched against whole variable
        # paths ("embeddings/token_embedding/embeddings", ...).
        layout_map[".*token_embedding/embeddings"] = (None, model)
        layout_map[".*transformer_layer.*(query|key|value)/kernel"] = (
            data,
            None,
            model,
        )
        layout_map[".*transformer_layer.*attention_output/kernel"] = (
            None,
            model,
            data,
        )
        layout_map[
            ".*transformer_layer.*feedforward_intermediate_dense/kernel"
        ] = (
            data,
            model,
        )
        layout_map[".*transformer_layer.*feedforward_output_dense/kernel"] = (
            model,
            data,
        )
        return layout_map

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "hidden_dim": self.hidden_dim,
                "intermediate_dim": self.intermediate_dim,
                "embedding_dim": self.embedding_dim,
                "dropout": self.dropout,
                "max_sequence_length": self.max_sequence_length,
                "num_segments": self.num_segments,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "attention_dropout": self.attention_dropout,
                "pad_vocabulary_to_multiple_of": (
                    self.pad_vocabulary_to_multiple_of
                ),
            }
        )
        return config


def _set_dropout_rates(block, dropout, attention_dropout):
    """Give a built keras-hub `TransformerEncoder` (one rate for all its
    dropouts) its own rate for the attention probabilities.

    The block keeps its class and its variables (presets name them by the
    class), and only lowers rates (built at the larger one, every Dropout
    has its seed). `MultiHeadAttention` reads `_dropout` at call time: at 0
    it computes with `ops.dot_product_attention`.
    """
    attention = block._self_attention_layer
    attention._dropout = attention_dropout
    attention._dropout_layer.rate = attention_dropout
    block._self_attention_dropout.rate = dropout
    block._feedforward_dropout.rate = dropout


def _check_shared_embedding(embedding, **expected):
    if not isinstance(embedding, ElectraEmbedding):
        raise ValueError(
            "`embedding` must be an `ElectraEmbedding` layer to share, for "
            f"example `other_backbone.embedding`. Received: {embedding!r}"
        )
    for key, value in expected.items():
        if getattr(embedding, key) != value:
            raise ValueError(
                f"Cannot share an embedding block with {key}="
                f"{getattr(embedding, key)} in a backbone configured with "
                f"{key}={value}. Generator and discriminator must agree on "
                "vocabulary_size, embedding_dim, max_sequence_length, "
                "num_segments and pad_vocabulary_to_multiple_of."
            )
