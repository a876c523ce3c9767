"""Hugging Face transformers ELECTRA folders, in and out.

Reading needs no torch for `model.safetensors` (sharded or not); only a
legacy `pytorch_model.bin` needs torch to unpickle. Writing produces
`config.json`, `model.safetensors` and the tokenizer files that
`transformers.ElectraForPreTraining.from_pretrained` /
`ElectraForMaskedLM.from_pretrained` and `AutoTokenizer` read.
"""

import json
import os

import numpy as np

from keras_electra.conversion import state_dict
from keras_electra.conversion.state_dict import CONFIG_FIELDS
from keras_electra.conversion.state_dict import CheckpointError
from keras_electra.conversion.state_dict import backbone_config
from keras_electra.conversion.state_dict import build_pretrainer
from keras_electra.conversion.state_dict import load_pair
from keras_electra.conversion.state_dict import load_state
from keras_electra.conversion.state_dict import read_json
from keras_electra.conversion.state_dict import require_head
from keras_electra.conversion.state_dict import special_token_ids
from keras_electra.conversion.state_dict import strip_prefix
from keras_electra.conversion.state_dict import warn_unused
from keras_electra.utils import preset_utils

SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX_FILE = "model.safetensors.index.json"
PYTORCH_FILE = "pytorch_model.bin"
VOCABULARY_FILE = "vocab.txt"


# --- reading -----------------------------------------------------------------


class HubUnreachableError(CheckpointError):
    """A remote checkpoint that could not be reached (no network, or the
    Hub's offline mode) and has no cached copy."""

    reason = (
        "the Hugging Face Hub could not be reached (no network, or offline "
        "mode: HF_HUB_OFFLINE) and no copy is cached"
    )


def _exists(path, filename):
    if "://" in path:
        from keras_electra.utils.keras_hub_private import check_file_exists

        return check_file_exists(path, filename)
    return os.path.isfile(os.path.join(path, filename))


def _config_exists(path):
    """Whether the folder or handle has a config.json. A handle's hub not
    reached is said (keras-hub's `check_file_exists` reports it as a
    missing file: "not a checkpoint folder" would blame the handle)."""
    if "://" not in path:
        return _exists(path, preset_utils.CONFIG_FILE)
    try:
        preset_utils.get_file(path, preset_utils.CONFIG_FILE)
    except FileNotFoundError as e:
        if _unreachable(e):
            raise HubUnreachableError(
                f"Could not read '{path}': {HubUnreachableError.reason}. "
                "Check the connection, or convert a local copy: "
                "keras-electra convert --from transformers --discriminator "
                "FOLDER --output DIR."
            ) from None
        return False
    return True


def _unreachable(error):
    """Whether a missing remote file is the Hub not reached (huggingface_hub's
    `LocalEntryNotFoundError`: no connection or offline, nothing cached)."""
    try:
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:
        return False
    while error is not None:
        if isinstance(error, LocalEntryNotFoundError):
            return True
        error = error.__cause__ or error.__context__
    return False


def _local(path, filename):
    if "://" in path:
        return preset_utils.get_file(path, filename)
    return os.path.join(path, filename)


def read_folder_config(path):
    """The folder's config.json (transformers or keras-hub), or None."""
    if not _config_exists(path):
        return None
    return read_json(_local(path, preset_utils.CONFIG_FILE))


def read_config(path):
    """The transformers config of an ELECTRA folder, checked."""
    if not _config_exists(path):
        raise CheckpointError(
            f"'{path}' is not a transformers checkpoint folder: it has no "
            f"{preset_utils.CONFIG_FILE}."
        )
    config = read_json(_local(path, preset_utils.CONFIG_FILE))
    model_type = config.get("model_type")
    if model_type != "electra":
        raise CheckpointError(
            f"'{path}' holds a '{model_type}' model (config.json "
            "model_type), not an ELECTRA checkpoint. Expected "
            "model_type 'electra', as written by ElectraForPreTraining or "
            "ElectraForMaskedLM."
        )
    activation = config.get("hidden_act", "gelu")
    if activation != "gelu":
        raise CheckpointError(
            f"'{path}' uses hidden_act='{activation}'; keras-electra builds "
            "ELECTRA with the exact GELU ('gelu') only."
        )
    position_type = config.get("position_embedding_type", "absolute")
    if position_type != "absolute":
        raise CheckpointError(
            f"'{path}' uses position_embedding_type='{position_type}'; only "
            "'absolute' positions (ELECTRA's) are supported."
        )
    return config


def transformers_config(backbone, architecture):
    """A transformers `ElectraConfig` dict for one of our backbones.

    `vocab_size` is the real vocabulary's: a token table padded for tensor
    cores is written without its extra rows (`state_dict.Entry`).
    """
    config = {"architectures": [architecture], "model_type": "electra"}
    for field, argument in CONFIG_FIELDS.items():
        config[field] = getattr(backbone, argument)
    attention_dropout = backbone.attention_dropout
    if attention_dropout is None:
        attention_dropout = backbone.dropout
    config.update(
        attention_probs_dropout_prob=attention_dropout,
        hidden_act="gelu",
        initializer_range=0.02,
        pad_token_id=0,
        position_embedding_type="absolute",
        summary_activation="gelu",
        summary_last_dropout=0.1,
        summary_type="first",
        summary_use_proj=True,
        torch_dtype="float32",
    )
    return config


def read_state(path):
    """All tensors of a transformers folder as float32 numpy arrays."""
    if _exists(path, SAFETENSORS_INDEX_FILE):
        index = read_json(_local(path, SAFETENSORS_INDEX_FILE))
        files = sorted(set(index.get("weight_map", {}).values()))
        return _merge(_read_safetensors(_local(path, f)) for f in files)
    if _exists(path, SAFETENSORS_FILE):
        return _read_safetensors(_local(path, SAFETENSORS_FILE))
    if _exists(path, PYTORCH_FILE):
        return _read_pytorch(_local(path, PYTORCH_FILE))
    raise CheckpointError(
        f"'{path}' has a config.json but no weights: expected "
        f"{SAFETENSORS_FILE}, {SAFETENSORS_INDEX_FILE} or {PYTORCH_FILE}."
    )


def _merge(states):
    merged = {}
    for state in states:
        merged.update(state)
    return merged


def _read_safetensors(filename):
    try:
        from safetensors import safe_open
    except ImportError:
        raise CheckpointError(
            "Reading transformers checkpoints needs the `safetensors` "
            "package: pip install safetensors (or keras-electra[convert])."
        ) from None
    state = {}
    try:
        with safe_open(filename, framework="numpy") as f:
            for key in f.keys():
                state[key] = np.asarray(f.get_tensor(key), dtype="float32")
    except Exception as e:  # safetensors raises its own error types.
        raise CheckpointError(f"Cannot read '{filename}': {e}") from None
    return state


def _read_pytorch(filename):
    try:
        import torch
    except ImportError:
        raise CheckpointError(
            f"'{filename}' is a pickled PyTorch file, which needs torch to "
            "read. Install torch, or convert the folder to safetensors."
        ) from None
    try:
        state = torch.load(filename, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"Cannot read '{filename}': {e}") from None
    return {k: v.float().numpy() for k, v in state.items()}


# --- building models ---------------------------------------------------------


def tokenizer_from_folder(path):
    """An `ElectraTokenizer` from the folder's vocab.txt, or None."""
    if not _exists(path, VOCABULARY_FILE):
        return None
    from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer

    lowercase = True
    if _exists(path, "tokenizer_config.json"):
        tokenizer_config = read_json(_local(path, "tokenizer_config.json"))
        lowercase = tokenizer_config.get("do_lower_case", True)
    return ElectraTokenizer(
        vocabulary=_local(path, VOCABULARY_FILE),
        lowercase=lowercase,
        strip_accents=lowercase,
    )


def load_model(path, kind, dtype=None, load_weights=True, **overrides):
    """Build an `ElectraBackbone`/`ElectraDiscriminator`/`ElectraGenerator`
    from one transformers folder (`kind` is "backbone", "discriminator" or
    "generator")."""
    from keras_electra.models.electra_backbone import ElectraBackbone
    from keras_electra.models.electra_discriminator import ElectraDiscriminator
    from keras_electra.models.electra_generator import ElectraGenerator

    path = os.fspath(path)
    config = read_config(path)
    arguments = {**backbone_config(config), **overrides}
    state = strip_prefix(read_state(path)) if load_weights else None
    if state is not None and kind != "backbone":
        require_head(state, path, kind)
    backbone = ElectraBackbone(dtype=dtype, **arguments)
    if kind == "backbone":
        model = backbone
    elif kind == "discriminator":
        model = ElectraDiscriminator(backbone)
    elif kind == "generator":
        model = ElectraGenerator(backbone)
    else:
        raise ValueError(f"Unknown kind '{kind}'.")
    if state is not None:
        unused = load_state(model, state, path)
        if kind == "backbone":  # the heads are expected to stay behind
            unused = [k for k in unused if k.startswith("electra.")]
        warn_unused(unused, path)
    return model


def load_pretrainer(
    discriminator, generator, dtype=None, load_weights=True, **kwargs
):
    """An `ElectraPretrainer` from a pair of transformers folders.

    The towers share one embedding block when their copies are the same
    (every released pair); otherwise each keeps its own, as the reference's
    `untied_generator_embeddings` trains them. `tie_embeddings=True` forces
    sharing (the discriminator's copy is used, with a warning naming the
    tensors that differ); `False` keeps both.
    """
    discriminator, generator = os.fspath(discriminator), os.fspath(generator)
    d_hf_config = read_config(discriminator)
    d_config = backbone_config(d_hf_config)
    g_config = backbone_config(read_config(generator))
    for argument in ("vocabulary_size", "max_sequence_length", "num_segments"):
        if d_config[argument] != g_config[argument]:
            field = {v: k for k, v in CONFIG_FIELDS.items()}[argument]
            raise CheckpointError(
                f"The discriminator ('{discriminator}') and the generator "
                f"('{generator}') must read the same inputs, but their "
                f"{field} differ: {d_config[argument]} vs "
                f"{g_config[argument]}. Pass the generator that was "
                "pre-trained with this discriminator."
            )
    tokenizer = tokenizer_from_folder(discriminator) or tokenizer_from_folder(
        generator
    )
    states = None
    if load_weights:
        d_state = strip_prefix(read_state(discriminator))
        g_state = strip_prefix(read_state(generator))
        require_head(d_state, discriminator, "discriminator")
        require_head(g_state, generator, "generator")
        states = (d_state, g_state)
    pretrainer = build_pretrainer(
        d_config,
        g_config,
        dtype,
        {**special_token_ids(tokenizer, d_hf_config), **kwargs},
        states=states,
    )
    if states is not None:
        load_pair(pretrainer, *states, discriminator, generator)
    return pretrainer, tokenizer


# --- writing -----------------------------------------------------------------


def save_model(model, output_dir, tokenizer=None):
    """Write a discriminator or generator as a transformers folder."""
    from keras_electra.models.electra_discriminator import ElectraDiscriminator
    from keras_electra.models.electra_generator import ElectraGenerator

    if isinstance(model, ElectraDiscriminator):
        architecture = "ElectraForPreTraining"
    elif isinstance(model, ElectraGenerator):
        architecture = "ElectraForMaskedLM"
    else:
        raise ValueError(
            "Export an ElectraDiscriminator, an ElectraGenerator or an "
            f"ElectraPretrainer. Received: {type(model).__name__}"
        )
    try:
        from safetensors.numpy import save_file
    except ImportError:
        raise CheckpointError(
            "Writing transformers checkpoints needs the `safetensors` "
            "package: pip install safetensors (or keras-electra[convert])."
        ) from None
    state = state_dict.state_from_model(model)
    with preset_utils.atomic_directory(output_dir) as tmp:
        save_file(
            state,
            os.path.join(tmp, SAFETENSORS_FILE),
            metadata={"format": "pt"},
        )
        config = transformers_config(model.backbone, architecture)
        with open(
            os.path.join(tmp, preset_utils.CONFIG_FILE), "w", encoding="utf-8"
        ) as f:
            json.dump(config, f, indent=2, sort_keys=True)
            f.write("\n")
        if tokenizer is not None:
            save_tokenizer(tokenizer, tmp, model.backbone.max_sequence_length)


def save_tokenizer(tokenizer, output_dir, max_length=512):
    """vocab.txt and the two JSON files transformers' tokenizers read."""
    vocabulary = tokenizer.get_vocabulary()
    with open(
        os.path.join(output_dir, VOCABULARY_FILE), "w", encoding="utf-8"
    ) as f:
        f.write("\n".join(vocabulary) + "\n")
    special = {
        "pad_token": tokenizer.pad_token,
        "unk_token": tokenizer.unk_token,
        "cls_token": tokenizer.cls_token,
        "sep_token": tokenizer.sep_token,
        "mask_token": tokenizer.mask_token,
    }
    tokenizer_config = {
        "tokenizer_class": "ElectraTokenizer",
        "do_lower_case": bool(tokenizer.lowercase),
        "strip_accents": None if tokenizer.strip_accents else False,
        "tokenize_chinese_chars": True,
        "model_max_length": int(max_length),
        **special,
    }
    for name, content in (
        ("tokenizer_config.json", tokenizer_config),
        ("special_tokens_map.json", special),
    ):
        with open(os.path.join(output_dir, name), "w", encoding="utf-8") as f:
            json.dump(content, f, indent=2)
            f.write("\n")


def save_pretrainer(pretrainer, output_dir, tokenizer=None):
    """Both towers as `output_dir/discriminator` and `output_dir/generator`."""
    with preset_utils.atomic_directory(output_dir) as tmp:
        save_model(
            pretrainer.discriminator,
            os.path.join(tmp, "discriminator"),
            tokenizer,
        )
        save_model(
            pretrainer.generator, os.path.join(tmp, "generator"), tokenizer
        )
