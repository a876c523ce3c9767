"""Where each of our variables lives in a transformers ELECTRA state dict.

Every converter in this package goes through one intermediate form: a flat
dict of numpy arrays named and laid out as transformers names them
(`electra.encoder.layer.0.attention.self.query.weight`, linear weights as
`[out, in]`). transformers folders are that form already; TF1 checkpoints
are renamed into it (`tf1_checkpoint.py`); exports write it back out.
"""

import keras
import numpy as np

#: Names of the shared embedding block inside a tower's state (no prefix).
EMBEDDING_KEYS = (
    "embeddings.word_embeddings.weight",
    "embeddings.position_embeddings.weight",
    "embeddings.token_type_embeddings.weight",
    "embeddings.LayerNorm.weight",
    "embeddings.LayerNorm.bias",
)

# Kinds of entries: "table" arrays keep their shape; "vector" arrays are
# flattened; "linear" kernels are transposed between Keras' [in, out] (with
# the attention layers' head axes folded in) and torch's [out, in].
TABLE, VECTOR, LINEAR = "table", "vector", "linear"


class Entry:
    """One variable: its transformers name, the Keras variable and its kind."""

    def __init__(self, key, variable, kind, in_dim=None):
        self.key = key
        self.variable = variable
        self.kind = kind
        self.in_dim = in_dim

    def from_keras(self):
        value = np.asarray(
            keras.ops.convert_to_numpy(self.variable.value), dtype="float32"
        )
        if self.kind == LINEAR:
            return np.ascontiguousarray(value.reshape(self.in_dim, -1).T)
        if self.kind == VECTOR:
            return value.reshape(-1)
        return value

    def expected_shape(self):
        shape = tuple(self.variable.shape)
        if self.kind == LINEAR:
            return (int(np.prod(shape)) // self.in_dim, self.in_dim)
        if self.kind == VECTOR:
            return (int(np.prod(shape)),)
        return shape

    def to_keras(self, value):
        value = np.asarray(value, dtype="float32")
        if self.kind == LINEAR:
            value = value.T
        return value.reshape(tuple(self.variable.shape))


def _dense(prefix, layer, in_dim):
    yield Entry(f"{prefix}.weight", layer.kernel, LINEAR, in_dim)
    yield Entry(f"{prefix}.bias", layer.bias, VECTOR)


def _layer_norm(prefix, layer):
    yield Entry(f"{prefix}.weight", layer.gamma, VECTOR)
    yield Entry(f"{prefix}.bias", layer.beta, VECTOR)


def embedding_entries(embedding, prefix="electra."):
    """Entries of an `ElectraEmbedding` block."""
    p = f"{prefix}embeddings"
    yield Entry(
        f"{p}.word_embeddings.weight",
        embedding.token_embedding.embeddings,
        TABLE,
    )
    yield Entry(
        f"{p}.position_embeddings.weight",
        embedding.position_embedding.position_embeddings,
        TABLE,
    )
    yield Entry(
        f"{p}.token_type_embeddings.weight",
        embedding.segment_embedding.embeddings,
        TABLE,
    )
    yield from _layer_norm(f"{p}.LayerNorm", embedding.layer_norm)


def backbone_entries(backbone, prefix="electra.", include_embedding=True):
    """Entries of an `ElectraBackbone` (transformers' `ElectraModel`)."""
    if include_embedding:
        yield from embedding_entries(backbone.embedding, prefix)
    if backbone.embeddings_projection is not None:
        yield from _dense(
            f"{prefix}embeddings_project",
            backbone.embeddings_projection,
            backbone.embedding_dim,
        )
    hidden = backbone.hidden_dim
    for i, block in enumerate(backbone.transformer_layers):
        p = f"{prefix}encoder.layer.{i}"
        attention = block._self_attention_layer
        yield from _dense(
            f"{p}.attention.self.query", attention.query_dense, hidden
        )
        yield from _dense(
            f"{p}.attention.self.key", attention.key_dense, hidden
        )
        yield from _dense(
            f"{p}.attention.self.value", attention.value_dense, hidden
        )
        # The output kernel is [heads, head_dim, hidden]: its input axis is
        # the concatenation of the heads, `hidden` wide.
        yield from _dense(
            f"{p}.attention.output.dense", attention.output_dense, hidden
        )
        yield from _layer_norm(
            f"{p}.attention.output.LayerNorm", block._self_attention_layer_norm
        )
        yield from _dense(
            f"{p}.intermediate.dense",
            block._feedforward_intermediate_dense,
            hidden,
        )
        yield from _dense(
            f"{p}.output.dense",
            block._feedforward_output_dense,
            block.intermediate_dim,
        )
        yield from _layer_norm(
            f"{p}.output.LayerNorm", block._feedforward_layer_norm
        )


def discriminator_entries(discriminator, prefix="electra."):
    """Entries of an `ElectraDiscriminator` (`ElectraForPreTraining`)."""
    yield from backbone_entries(discriminator.backbone, prefix)
    hidden = discriminator.backbone.hidden_dim
    yield from _dense(
        "discriminator_predictions.dense", discriminator.rtd_dense, hidden
    )
    yield from _dense(
        "discriminator_predictions.dense_prediction",
        discriminator.rtd_logits,
        hidden,
    )


def generator_entries(generator, prefix="electra.", include_embedding=True):
    """Entries of an `ElectraGenerator` (`ElectraForMaskedLM`).

    The output projection (`generator_lm_head.weight`) is tied to the word
    embeddings, so it has no entry of its own.
    """
    backbone = generator.backbone
    yield from backbone_entries(backbone, prefix, include_embedding)
    head = generator.mlm_head
    yield from _dense(
        "generator_predictions.dense",
        head._intermediate_dense,
        backbone.hidden_dim,
    )
    yield from _layer_norm(
        "generator_predictions.LayerNorm", head._intermediate_layer_norm
    )
    yield Entry("generator_lm_head.bias", head._bias, VECTOR)


def entries_for(model, prefix="electra."):
    """Entries of a backbone, discriminator or generator."""
    from keras_electra.models.electra_backbone import ElectraBackbone
    from keras_electra.models.electra_discriminator import ElectraDiscriminator
    from keras_electra.models.electra_generator import ElectraGenerator

    if isinstance(model, ElectraDiscriminator):
        return list(discriminator_entries(model, prefix))
    if isinstance(model, ElectraGenerator):
        return list(generator_entries(model, prefix))
    if isinstance(model, ElectraBackbone):
        return list(backbone_entries(model, prefix))
    raise ValueError(
        "Expected an ElectraBackbone, ElectraDiscriminator or "
        f"ElectraGenerator. Received: {type(model).__name__}"
    )


def state_from_model(model, prefix="electra."):
    """The model's weights as a transformers-style state dict."""
    return {
        entry.key: entry.from_keras() for entry in entries_for(model, prefix)
    }
