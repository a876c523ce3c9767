"""Format-neutral weight maps and checks: the state dict every format meets in.

Every converter in this package goes through one intermediate form: a flat
dict of numpy arrays named and laid out as transformers names them
(`electra.encoder.layer.0.attention.self.query.weight`, linear weights as
`[out, in]`). transformers folders are that form already; TF1 checkpoints
are renamed into it (`tf1_checkpoint.py`); exports write it back out.

Over 400 lines: the variable map of all three towers and the checks every
format shares, in one place so each format's module stays small.
"""

import json
import warnings

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

# `ElectraBackbone` arguments no other format stores (departures from the
# reference, see its docstring): a conversion takes them as overrides and
# gives them to both towers.
BACKBONE_OPTIONS = ("attention_dropout", "pad_vocabulary_to_multiple_of")


def fit_rows(value, rows):
    """`value` with `rows` rows: the first ones, or zeros added after them
    (a token table padded for tensor cores, in and out of other formats)."""
    if value.shape[0] >= rows:
        return value[:rows]
    padding = np.zeros((rows - value.shape[0],) + value.shape[1:], value.dtype)
    return np.concatenate([value, padding])


class Entry:
    """One variable: its transformers name, the Keras variable and its kind.

    `rows`: for a table or vector indexed by token id, the real vocabulary
    size; the variable's rows beyond it (a padded token table's) are left
    out of the state and zero when loaded.
    """

    def __init__(self, key, variable, kind, in_dim=None, rows=None):
        self.key = key
        self.variable = variable
        self.kind = kind
        self.in_dim = in_dim
        self.rows = rows

    def from_keras(self):
        value = np.asarray(
            keras.ops.convert_to_numpy(self.variable.value), dtype="float32"
        )
        if self.kind == LINEAR:
            return np.ascontiguousarray(value.reshape(self.in_dim, -1).T)
        if self.kind == VECTOR:
            value = value.reshape(-1)
        if self.rows is not None:
            value = np.ascontiguousarray(value[: self.rows])
        return value

    def expected_shape(self):
        shape = tuple(self.variable.shape)
        if self.kind == LINEAR:
            return (int(np.prod(shape)) // self.in_dim, self.in_dim)
        if self.kind == VECTOR:
            shape = (int(np.prod(shape)),)
        if self.rows is not None:
            shape = (self.rows,) + shape[1:]
        return shape

    def to_keras(self, value):
        value = np.asarray(value, dtype="float32")
        if self.kind == LINEAR:
            value = value.T
        if self.rows is not None:
            value = fit_rows(value, int(self.variable.shape[0]))
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
        rows=embedding.vocabulary_size,
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
    embeddings, so it has no entry of its own; the output bias, like the
    word table, keeps its real vocabulary's rows only.
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
    yield Entry(
        "generator_lm_head.bias",
        head._bias,
        VECTOR,
        rows=backbone.vocabulary_size,
    )


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


#: transformers `ElectraConfig` field -> `ElectraBackbone` argument.
CONFIG_FIELDS = {
    "vocab_size": "vocabulary_size",
    "num_hidden_layers": "num_layers",
    "num_attention_heads": "num_heads",
    "hidden_size": "hidden_dim",
    "intermediate_size": "intermediate_dim",
    "embedding_size": "embedding_dim",
    "hidden_dropout_prob": "dropout",
    "max_position_embeddings": "max_sequence_length",
    "type_vocab_size": "num_segments",
    "layer_norm_eps": "layer_norm_epsilon",
}


DISCRIMINATOR_HEAD = "discriminator_predictions.dense.weight"


GENERATOR_HEAD = "generator_predictions.dense.weight"


class CheckpointError(ValueError):
    """A checkpoint that cannot be converted; the message says why."""


def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"Cannot read '{path}': {e}") from None


def backbone_config(config):
    """`ElectraBackbone` arguments from a transformers `ElectraConfig` dict."""
    defaults = {
        "embedding_size": config.get("hidden_size", 256),
        "hidden_dropout_prob": 0.1,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        "layer_norm_eps": 1e-12,
    }
    result = {}
    for field, argument in CONFIG_FIELDS.items():
        value = config.get(field, defaults.get(field))
        if value is None:
            raise CheckpointError(f"The ELECTRA config lacks '{field}'.")
        result[argument] = value
    # One dropout for both, as in the reference, unless the config says
    # otherwise.
    attention = config.get("attention_probs_dropout_prob")
    if attention is not None and attention != result["dropout"]:
        result["attention_dropout"] = attention
    return result


def strip_prefix(state):
    """Accept both `ElectraFor*` keys (`electra.` prefix) and `ElectraModel`
    keys (none); return the state with the prefix everywhere."""
    if any(k.startswith("electra.") for k in state):
        return state
    heads = (
        "discriminator_predictions.",
        "generator_predictions.",
        "generator_lm_head.",
    )
    return {
        (k if k.startswith(heads) else f"electra.{k}"): v
        for k, v in state.items()
    }


def load_state(model, state, source, prefix="electra.", skip=()):
    """Assign a transformers-style state to a model's variables.

    Raises `CheckpointError` naming the tensor and `source` for a missing
    tensor or a shape mismatch; returns the keys that were not used.
    """
    used = set()
    values = []
    for entry in entries_for(model, prefix):
        if entry.key in skip:
            continue
        if entry.key not in state:
            raise CheckpointError(
                f"The checkpoint '{source}' lacks the tensor '{entry.key}' "
                f"needed by the {type(model).__name__}."
            )
        value = state[entry.key]
        if tuple(value.shape) != entry.expected_shape():
            raise CheckpointError(
                f"Tensor '{entry.key}' in '{source}' has shape "
                f"{tuple(value.shape)}; the model built from its config "
                f"expects {entry.expected_shape()}."
            )
        values.append((entry, value))
        used.add(entry.key)
    for entry, value in values:
        entry.variable.assign(entry.to_keras(value))
    return sorted(set(state) - used)


def special_token_ids(tokenizer, config=None):
    """The pretrainer's special ids from a tokenizer (or BERT's defaults)."""
    if tokenizer is not None:
        return tokenizer.pretrainer_token_ids()
    if config is not None and config.get("pad_token_id") is not None:
        return {"pad_token_id": config["pad_token_id"]}
    return {}


def warn_unused(unused, source):
    unused = [k for k in unused if not k.endswith("position_ids")]
    if unused:
        shown = ", ".join(unused[:5]) + (" ..." if len(unused) > 5 else "")
        warnings.warn(
            f"{len(unused)} tensor(s) of '{source}' were not used: {shown}",
            stacklevel=3,
        )


def require_head(state, source, kind):
    """Check that a tower's state holds its pre-training head."""
    head, expected, other = {
        "discriminator": (
            DISCRIMINATOR_HEAD,
            "ElectraForPreTraining",
            "ElectraForMaskedLM",
        ),
        "generator": (
            GENERATOR_HEAD,
            "ElectraForMaskedLM",
            "ElectraForPreTraining",
        ),
    }[kind]
    if head not in state:
        raise CheckpointError(
            f"'{source}' has no '{head}' tensor, so it is not an {expected} "
            f"checkpoint (it may be an ElectraModel or an {other}). Load "
            f"the {kind} from an {expected} folder, or the encoder alone "
            "with ElectraBackbone."
        )


def build_pretrainer(d_config, g_config, dtype, kwargs, states=None):
    """An `ElectraPretrainer` from two towers' backbone arguments.

    `BACKBONE_OPTIONS` in `kwargs` apply to both towers.
    `tie_embeddings` in `kwargs` decides whether the towers share one
    embedding block; without it (or with `None`) they share one when the
    checkpoint's two blocks are the same (same width and, given `states`,
    the same values), as in every released ELECTRA pair, and each keeps its
    own otherwise (the reference's `untied_generator_embeddings`).
    """
    from keras_electra.models.electra_pretrainer import SHARED_BACKBONE_ARGS
    from keras_electra.models.electra_pretrainer import ElectraPretrainer

    kwargs = dict(kwargs)
    options = {k: kwargs.pop(k) for k in BACKBONE_OPTIONS if k in kwargs}
    d_config = {**d_config, **options}
    g_config = {**g_config, **options}
    tie = kwargs.pop("tie_embeddings", None)
    same_width = d_config["embedding_dim"] == g_config["embedding_dim"]
    if tie is None:
        tie = same_width and (states is None or not embeddings_differ(*states))
    elif tie and not same_width:
        raise CheckpointError(
            "`tie_embeddings=True` needs both towers' embeddings to have "
            f"one width, but the discriminator's are "
            f"{d_config['embedding_dim']} wide and the generator's "
            f"{g_config['embedding_dim']}. Load without `tie_embeddings` "
            "(or with `tie_embeddings=False`) to keep each tower's own."
        )
    d_config = dict(d_config)
    keep = () if tie else ("embedding_dim",)
    return ElectraPretrainer.from_towers_config(
        vocabulary_size=d_config.pop("vocabulary_size"),
        discriminator_config=d_config,
        generator_config={
            k: v
            for k, v in g_config.items()
            if k not in SHARED_BACKBONE_ARGS or k in keep
        },
        dtype=dtype,
        tie_embeddings=bool(tie),
        **kwargs,
    )


def _embedding_gaps(d_state, g_state):
    """(key, d value, g value, max |difference| or None when the shapes
    differ) for each embedding tensor both towers' states hold."""
    for key in EMBEDDING_KEYS:
        key = f"electra.{key}"
        if key not in g_state or key not in d_state:
            continue
        a, b = d_state[key], g_state[key]
        if a.shape != b.shape:
            yield key, a, b, None
        else:
            yield key, a, b, float(np.max(np.abs(a - b))) if a.size else 0.0


def embeddings_differ(d_state, g_state, atol=1e-6):
    """Whether the two towers' embedding blocks differ (shape or values)."""
    return any(
        gap is None or gap > atol
        for _, _, _, gap in _embedding_gaps(d_state, g_state)
    )


def load_pair(pretrainer, d_state, g_state, d_source, g_source):
    """Load both towers; a shared block comes from the discriminator.

    With an untied pretrainer (`tie_embeddings=False`) each tower loads its
    own embedding block.
    """
    if not pretrainer.tie_embeddings:
        for model, state, source in (
            (pretrainer.discriminator, d_state, d_source),
            (pretrainer.generator, g_state, g_source),
        ):
            warn_unused(load_state(model, state, source), source)
        return
    check_shared_embeddings(d_state, g_state, d_source, g_source)
    warn_unused(
        load_state(pretrainer.discriminator, d_state, d_source), d_source
    )
    embedding_keys = {f"electra.{k}" for k in EMBEDDING_KEYS}
    unused = load_state(
        pretrainer.generator, g_state, g_source, skip=embedding_keys
    )
    warn_unused(sorted(set(unused) - embedding_keys), g_source)


def check_shared_embeddings(d_state, g_state, d_source, g_source, atol=1e-6):
    """Warn when the two towers' copies of the embedding block differ."""
    differ = []
    for key, a, b, gap in _embedding_gaps(d_state, g_state):
        if gap is None:
            raise CheckpointError(
                f"'{key}' has shape {a.shape} in '{d_source}' but {b.shape} "
                f"in '{g_source}': these towers cannot share embeddings."
            )
        if gap > atol:
            differ.append(f"{key} (max difference {gap:.3g})")
    if differ:
        warnings.warn(
            "The generator's and the discriminator's embedding blocks "
            f"differ: {'; '.join(differ)}. ELECTRA shares one block; the "
            f"discriminator's ('{d_source}') is used for both, as "
            "`tie_embeddings=True` asks. Load without it to keep each "
            "tower's own block.",
            stacklevel=3,
        )
    return differ
