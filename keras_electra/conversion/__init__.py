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

`from_preset` on every class accepts the same folders directly, through the
keras-hub `PresetLoader`s of `preset_loader.py`; `keras-electra convert`
and `keras-electra export` are the command-line forms.
"""

import os

from keras_electra.conversion import keras_hub_preset
from keras_electra.conversion import released  # noqa: F401 - registers
from keras_electra.conversion import tf1_checkpoint
from keras_electra.conversion import transformers_checkpoint
from keras_electra.conversion.preset_loader import detect_format
from keras_electra.conversion.preset_loader import get_preset_loader
from keras_electra.conversion.state_dict import CheckpointError


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
    """Import one of Google's TF1 checkpoints.

    Returns `(ElectraPretrainer, tokenizer)`.
    """
    return tf1_checkpoint.load_pretrainer(
        path,
        num_heads=num_heads,
        generator_num_heads=generator_num_heads,
        vocabulary=vocabulary,
        dtype=dtype,
        **kwargs,
    )


def load_keras_hub(preset, dtype=None, load_weights=True, **kwargs):
    """Import a keras-hub `ElectraBackbone` preset.

    Returns `(ElectraBackbone, tokenizer)`.
    """
    backbone = keras_hub_preset.load_backbone(
        preset, dtype=dtype, load_weights=load_weights, **kwargs
    )
    return backbone, keras_hub_preset.load_tokenizer(preset)


def export_keras_hub(model, output_dir, tokenizer=None):
    """Write the (discriminator's) backbone as a keras-hub preset."""
    if hasattr(model, "discriminator"):
        model = model.discriminator
    return keras_hub_preset.save_backbone(model, output_dir, tokenizer)


def _refuse_non_empty(output_dir, overwrite):
    from keras_electra.utils import file_system

    output_dir = os.fspath(output_dir)
    if overwrite or not file_system.isdir(output_dir):
        return
    if file_system.listdir(output_dir):
        raise CheckpointError(
            f"'{output_dir}' exists and is not empty. Choose a new folder "
            "or pass --overwrite to replace what it holds."
        )


def export_transformers_folder(model, output_dir, tokenizer=None, **kwargs):
    """`export_transformers` for `keras-electra export`: refuses a folder
    that holds files unless `overwrite=True`."""
    _refuse_non_empty(output_dir, kwargs.pop("overwrite", False))
    return export_transformers(model, output_dir, tokenizer)


def export_keras_hub_folder(model, output_dir, tokenizer=None, **kwargs):
    """`export_keras_hub` for `keras-electra export`: refuses a folder that
    holds files unless `overwrite=True`."""
    _refuse_non_empty(output_dir, kwargs.pop("overwrite", False))
    return export_keras_hub(model, output_dir, tokenizer)
