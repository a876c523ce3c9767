"""Checkpoint conversion: transformers, Google's TF1 checkpoints, keras-hub.

```python
from keras_electra import conversion

# A transformers pair (e.g. google/electra-small-{discriminator,generator}
# downloaded to local folders, or `hf://` handles) -> one pretrainer with
# the embedding block shared.
pretrainer, tokenizer = conversion.load_transformers(
    "electra-small-discriminator", "electra-small-generator"
)
conversion.export_transformers(pretrainer, "exported", tokenizer)
```

`from_preset` on every model class accepts the same folders directly (see
`load_foreign_preset`); `keras-electra convert` and `keras-electra export`
are the command-line forms.
"""

import os

from keras_electra.conversion import keras_hub_preset
from keras_electra.conversion import tf1_checkpoint
from keras_electra.conversion import transformers_checkpoint
from keras_electra.conversion.transformers_checkpoint import CheckpointError

TOWERS = ("discriminator", "generator")
#: Formats that hold both towers (converted through a pretrainer).
PAIR_FORMATS = ("tf1", "transformers-pair")


def load_transformers(
    discriminator=None, generator=None, dtype=None, load_weights=True, **kwargs
):
    """Import transformers ELECTRA folders (or `hf://` handles).

    With both folders: returns `(ElectraPretrainer, tokenizer)`. With only
    `discriminator` (an `ElectraForPreTraining` folder): returns an
    `ElectraDiscriminator`; with only `generator` (`ElectraForMaskedLM`): an
    `ElectraGenerator`. `tokenizer` is an `ElectraTokenizer` built from the
    folder's vocab.txt, or None.
    """
    if discriminator and generator:
        return transformers_checkpoint.load_pretrainer(
            discriminator,
            generator,
            dtype=dtype,
            load_weights=load_weights,
            **kwargs,
        )
    if discriminator or generator:
        kind = "discriminator" if discriminator else "generator"
        return transformers_checkpoint.load_model(
            discriminator or generator,
            kind,
            dtype=dtype,
            load_weights=load_weights,
            **kwargs,
        )
    raise ValueError(
        "Pass a `discriminator` folder, a `generator` folder or both."
    )


def export_transformers(model, output_dir, tokenizer=None):
    """Write a pretrainer (`output_dir/{discriminator,generator}`), a
    discriminator or a generator as transformers folders."""
    if hasattr(model, "generator") and hasattr(model, "discriminator"):
        return transformers_checkpoint.save_pretrainer(
            model, output_dir, tokenizer
        )
    return transformers_checkpoint.save_model(model, output_dir, tokenizer)


def load_tf1(
    path,
    num_heads=None,
    generator_num_heads=None,
    vocabulary=None,
    dtype=None,
    **kwargs,
):
    """Import one of Google's TF1 checkpoints: `(ElectraPretrainer, tokenizer)`."""
    return tf1_checkpoint.load_pretrainer(
        path,
        num_heads=num_heads,
        generator_num_heads=generator_num_heads,
        vocabulary=vocabulary,
        dtype=dtype,
        **kwargs,
    )


def load_keras_hub(preset, dtype=None, load_weights=True, **kwargs):
    """Import a keras-hub `ElectraBackbone` preset: `(ElectraBackbone, tokenizer)`."""
    backbone = keras_hub_preset.load_backbone(
        preset, dtype=dtype, load_weights=load_weights, **kwargs
    )
    return backbone, keras_hub_preset.load_tokenizer(preset)


def export_keras_hub(model, output_dir, tokenizer=None):
    """Write the (discriminator's) backbone as a keras-hub preset."""
    if hasattr(model, "discriminator"):
        model = model.discriminator
    return keras_hub_preset.save_backbone(model, output_dir, tokenizer)


# --- format detection for from_preset -----------------------------------------


def detect_format(preset):
    """ "tf1", "transformers", "transformers-pair", "keras-hub" or None
    (a keras-electra preset)."""
    preset = os.fspath(preset)
    local = "://" not in preset
    if local and not os.path.isfile(os.path.join(preset, "config.json")):
        if all(
            os.path.isfile(os.path.join(preset, t, "config.json"))
            for t in TOWERS
        ):
            return "transformers-pair"
        if os.path.isdir(preset) or os.path.isfile(preset + ".index"):
            try:
                tf1_checkpoint.checkpoint_prefix(preset)
                return "tf1"
            except CheckpointError:
                return None
        return None
    config = transformers_checkpoint.read_folder_config(preset)
    if config is None:
        return None
    if "model_type" in config or "architectures" in config:
        return "transformers"
    if config.get("registered_name") == keras_hub_preset.KERAS_HUB_CLASS:
        return "keras-hub"
    return None


def load_foreign_preset(cls, preset, load_weights=True, **kwargs):
    """Build `cls` from a checkpoint that is not a keras-electra preset.

    Returns None when `preset` is a keras-electra preset (or a built-in
    name). Otherwise converts transformers folders, pairs of them
    (`discriminator/` and `generator/` subfolders, as `export_transformers`
    writes), TF1 checkpoints and keras-hub presets into the class asked for,
    or raises a `CheckpointError` saying why that class cannot come from it.
    """
    fmt = detect_format(preset)
    if fmt is None:
        return None
    name = cls.__name__
    kind = {
        "ElectraBackbone": "backbone",
        "ElectraDiscriminator": "discriminator",
        "ElectraGenerator": "generator",
        "ElectraPretrainer": "pretrainer",
    }.get(name)
    if kind is None:
        return _load_task_or_preprocessor(
            cls, preset, fmt, load_weights, kwargs
        )
    dtype = kwargs.pop("dtype", None)
    if fmt in PAIR_FORMATS:
        pretrainer, _ = _foreign_pretrainer(
            preset,
            fmt,
            load_weights,
            dtype,
            **(kwargs if kind == "pretrainer" else {}),
        )
        if kind == "pretrainer":
            return pretrainer
        if kind == "backbone":
            return pretrainer.backbone
        return getattr(pretrainer, kind)
    if kind == "pretrainer":
        raise CheckpointError(
            f"'{preset}' holds a single {fmt} model. A pretrainer needs "
            "both towers: use keras_electra.conversion.load_transformers("
            "discriminator, generator), or `keras-electra convert`, or a "
            "folder with discriminator/ and generator/ subfolders."
        )
    if fmt == "transformers":
        return transformers_checkpoint.load_model(
            preset, kind, dtype=dtype, load_weights=load_weights, **kwargs
        )
    # keras-hub
    if kind == "generator":
        raise CheckpointError(
            f"'{preset}' is a keras-hub ElectraBackbone preset, which holds "
            "no generator head."
        )
    if kind == "discriminator":
        return keras_hub_preset.load_discriminator(
            preset, dtype=dtype, load_weights=load_weights, **kwargs
        )
    return keras_hub_preset.load_backbone(
        preset, dtype=dtype, load_weights=load_weights, **kwargs
    )


def _foreign_pretrainer(preset, fmt, load_weights, dtype, **kwargs):
    """`(pretrainer, tokenizer)` from a TF1 checkpoint or a transformers pair."""
    if fmt == "tf1":
        return load_tf1(preset, dtype=dtype, **kwargs)
    return transformers_checkpoint.load_pretrainer(
        os.path.join(preset, "discriminator"),
        os.path.join(preset, "generator"),
        dtype=dtype,
        load_weights=load_weights,
        **kwargs,
    )


def _foreign_backbone_and_tokenizer(preset, fmt, load_weights, dtype):
    """The (discriminator's) backbone and the tokenizer of a foreign checkpoint."""
    if fmt in PAIR_FORMATS:
        pretrainer, tokenizer = _foreign_pretrainer(
            preset, fmt, load_weights, dtype
        )
        return pretrainer.backbone, tokenizer
    if fmt == "transformers":
        backbone = transformers_checkpoint.load_model(
            preset, "backbone", dtype=dtype, load_weights=load_weights
        )
        return backbone, transformers_checkpoint.tokenizer_from_folder(preset)
    backbone, tokenizer = load_keras_hub(
        preset, dtype=dtype, load_weights=load_weights
    )
    return backbone, tokenizer


def _load_task_or_preprocessor(cls, preset, fmt, load_weights, kwargs):
    """A fine-tuning task (on the converted discriminator backbone, with a
    preprocessor on the checkpoint's vocabulary) or a preprocessor."""
    dtype = kwargs.pop("dtype", None)
    if hasattr(cls, "tokenizer_cls") and not hasattr(cls, "preprocessor_cls"):
        # A preprocessor: only the vocabulary is needed.
        _, tokenizer = _foreign_backbone_and_tokenizer(
            preset, fmt, False, dtype
        )
        if tokenizer is None:
            raise CheckpointError(
                f"'{preset}' holds no vocabulary (vocab.txt)."
            )
        return cls(tokenizer=tokenizer, **kwargs)
    backbone, tokenizer = _foreign_backbone_and_tokenizer(
        preset, fmt, load_weights, dtype
    )
    if "preprocessor" not in kwargs:
        preprocessor_cls = getattr(cls, "preprocessor_cls", None)
        kwargs["preprocessor"] = (
            preprocessor_cls(tokenizer=tokenizer)
            if preprocessor_cls is not None and tokenizer is not None
            else None
        )
    return cls(backbone=backbone, **kwargs)
