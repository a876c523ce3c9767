"""Google's original TF1 ELECTRA checkpoints (`model.ckpt-*`).

The reference code (google-research/electra, `run_pretraining.py` and
`model/modeling.py`) names its variables like this:

    electra/embeddings/{word,position,token_type}_embeddings   (shared)
    electra/embeddings/LayerNorm/{gamma,beta}                  (shared)
    electra/embeddings_project/{kernel,bias}       discriminator projection
    electra/encoder/layer_N/...                    discriminator blocks
    generator/embeddings_project/..., generator/encoder/layer_N/...
    generator/embeddings/...      only with `untied_generator_embeddings`:
                                  the generator's own block (no projection)
    discriminator_predictions/dense/..., discriminator_predictions/dense_1/...
    generator_predictions/dense/..., generator_predictions/LayerNorm/...,
    generator_predictions/output_bias

They are renamed into transformers' names (kernels transposed to `[out,
in]`) and loaded with the same code as transformers folders. Optimizer
slots (`adam_m`, `adam_v`) and `global_step` are ignored. A TF1 checkpoint
stores no configuration: sizes come from the tensor shapes, and the number
of attention heads, which shapes do not determine, defaults to the
reference's rule `max(1, hidden_size // 64)` (right for every released
model); pass `num_heads` / `generator_num_heads` otherwise.
"""

import os
import re

import numpy as np

from keras_electra.conversion import state_dict as tc

_SCOPES = {"discriminator": "electra", "generator": "generator"}
_SKIP = re.compile(r"(adam_[mv]|global_step|beta[12]_power)$")


def _tf():
    try:
        import tensorflow as tf
    except ImportError:
        raise tc.CheckpointError(
            "Reading a TF1 checkpoint needs TensorFlow: pip install "
            "tensorflow (or keras-electra[tensorflow])."
        ) from None
    return tf


def checkpoint_prefix(path):
    """Resolve a folder or a `model.ckpt-N` prefix to a checkpoint prefix."""
    tf = _tf()
    path = os.fspath(path)
    if os.path.isdir(path):
        prefix = tf.train.latest_checkpoint(path)
        if prefix is None:
            candidates = sorted(
                f[: -len(".index")]
                for f in os.listdir(path)
                if f.endswith(".index")
            )
            if not candidates:
                raise tc.CheckpointError(
                    f"'{path}' holds no TF1 checkpoint (no 'checkpoint' "
                    "file and no '*.index' file)."
                )
            prefix = os.path.join(path, candidates[-1])
        return prefix
    if os.path.isfile(path + ".index"):
        return path
    if path.endswith(".index") and os.path.isfile(path):
        return path[: -len(".index")]
    raise tc.CheckpointError(
        f"'{path}' is not a TF1 checkpoint: expected a folder or a prefix "
        "such as 'electra_small/model.ckpt-1000000' (with a '.index' file "
        "next to it)."
    )


def _rename(name):
    """TF1 variable name -> (tower, transformers key, transpose)."""
    parts = name.split("/")
    scope = parts[0]
    if scope in ("electra", "generator"):
        tower = "discriminator" if scope == "electra" else "generator"
        if parts[1] == "embeddings":
            # The shared block; `generator/embeddings` only exists when the
            # generator's embeddings were untied.
            tower = "shared" if scope == "electra" else "generator"
        parts[0] = "electra"
    elif scope == "discriminator_predictions":
        tower = "discriminator"
        parts = [scope] + [
            "dense_prediction" if p == "dense_1" else p for p in parts[1:]
        ]
    elif scope == "generator_predictions":
        tower = "generator"
        if parts[1] == "output_bias":
            return tower, "generator_lm_head.bias", False
    else:
        return None, None, False
    leaf = parts[-1]
    transpose = leaf == "kernel"
    if leaf.endswith("_embeddings"):
        parts.append("weight")
    else:
        parts[-1] = {"kernel": "weight", "gamma": "weight", "beta": "bias"}.get(
            leaf, leaf
        )
    parts = [re.sub(r"^layer_(\d+)$", r"layer.\1", p) for p in parts]
    return tower, ".".join(parts), transpose


def read_states(path):
    """The discriminator's and the generator's transformers-style states."""
    tf = _tf()
    prefix = checkpoint_prefix(path)
    try:
        reader = tf.train.load_checkpoint(prefix)
    except Exception as e:
        raise tc.CheckpointError(
            f"Cannot read TF1 checkpoint '{prefix}': {e}"
        ) from None
    states = {"discriminator": {}, "generator": {}}
    shared = {}
    for name in reader.get_variable_to_shape_map():
        if _SKIP.search(name):
            continue
        tower, key, transpose = _rename(name)
        if tower is None:
            continue
        value = np.asarray(reader.get_tensor(name), dtype="float32")
        if transpose:
            value = np.ascontiguousarray(value.T)
        (shared if tower == "shared" else states[tower])[key] = value
    if "electra.embeddings.word_embeddings.weight" not in shared:
        raise tc.CheckpointError(
            f"'{prefix}' is not an ELECTRA checkpoint: it has no "
            "'electra/embeddings/word_embeddings' variable."
        )
    for state in states.values():
        for key, value in shared.items():
            state.setdefault(key, value)
    return prefix, states


def _count_layers(state):
    indices = {
        int(m.group(1))
        for k in state
        for m in [re.match(r"electra\.encoder\.layer\.(\d+)\.", k)]
        if m
    }
    return max(indices) + 1 if indices else 0


def config_from_state(state, num_heads=None):
    """A transformers-style ELECTRA config from one tower's tensor shapes."""
    words = state["electra.embeddings.word_embeddings.weight"]
    query = state.get("electra.encoder.layer.0.attention.self.query.weight")
    intermediate = state.get(
        "electra.encoder.layer.0.intermediate.dense.weight"
    )
    if query is None or intermediate is None:
        raise tc.CheckpointError(
            "The checkpoint lacks the first encoder block of a tower "
            "(electra/encoder/layer_0 or generator/encoder/layer_0)."
        )
    hidden = query.shape[0]
    heads = num_heads or max(1, hidden // 64)
    if hidden % heads:
        raise tc.CheckpointError(
            f"hidden size {hidden} is not divisible by {heads} heads; pass "
            "the right number of heads."
        )
    return {
        "model_type": "electra",
        "vocab_size": words.shape[0],
        "embedding_size": words.shape[1],
        "hidden_size": hidden,
        "num_hidden_layers": _count_layers(state),
        "num_attention_heads": heads,
        "intermediate_size": intermediate.shape[0],
        "max_position_embeddings": state[
            "electra.embeddings.position_embeddings.weight"
        ].shape[0],
        "type_vocab_size": state[
            "electra.embeddings.token_type_embeddings.weight"
        ].shape[0],
    }  # dropout and LayerNorm epsilon: backbone_config's (the reference's)


def load_pretrainer(
    path,
    num_heads=None,
    generator_num_heads=None,
    vocabulary=None,
    dtype=None,
    **kwargs,
):
    """An `ElectraPretrainer` (and tokenizer, when a vocabulary is found)
    from a TF1 ELECTRA checkpoint."""
    from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer

    prefix, states = read_states(path)
    d_state, g_state = states["discriminator"], states["generator"]
    for tower, state in states.items():
        if "electra.encoder.layer.0.attention.self.query.weight" not in state:
            raise tc.CheckpointError(
                f"'{prefix}' holds no {tower} encoder ('{_SCOPES[tower]}/"
                "encoder/layer_0'): a pre-training checkpoint holds both "
                "towers and their heads."
            )
        tc.require_head(state, prefix, tower)
    d_config = tc.backbone_config(config_from_state(d_state, num_heads))
    g_config = tc.backbone_config(
        config_from_state(g_state, generator_num_heads)
    )
    if vocabulary is None:
        candidate = os.path.join(os.path.dirname(prefix), "vocab.txt")
        vocabulary = candidate if os.path.isfile(candidate) else None
    tokenizer = ElectraTokenizer(vocabulary=vocabulary) if vocabulary else None
    ids = tokenizer.pretrainer_token_ids() if tokenizer else {}
    pretrainer = tc.build_pretrainer(
        d_config, g_config, dtype, {**ids, **kwargs}, states=(d_state, g_state)
    )
    tc.load_pair(pretrainer, d_state, g_state, prefix, prefix)
    return pretrainer, tokenizer
