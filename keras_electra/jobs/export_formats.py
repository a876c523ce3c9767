"""The formats `keras-electra export` writes: one entry per format.

Plain data, importable without a backend (the command line reads it to
build `--to` and to choose the backend before Keras loads). Adding a
format is an entry here and its own writer function.
"""

import dataclasses
import importlib
import typing


@dataclasses.dataclass(frozen=True)
class ExportFormat:
    """One export target.

    Args:
        name: the `--to` value.
        writer: `"module:function"`, called as
            `function(model, output, tokenizer=..., overwrite=...)`.
        help: one line for `--help`.
        backend: the Keras backend the writer needs (`None`: any). The
            command line loads it whatever backend trained the preset:
            presets are backend-neutral.
    """

    name: str
    writer: str
    help: str
    backend: typing.Optional[str] = None

    def write(self, model, output, tokenizer=None, overwrite=False):
        module, function = self.writer.split(":")
        writer = getattr(importlib.import_module(module), function)
        return writer(model, output, tokenizer=tokenizer, overwrite=overwrite)


EXPORT_FORMATS = {
    f.name: f
    for f in (
        ExportFormat(
            "transformers",
            "keras_electra.conversion:export_transformers_folder",
            "transformers folders (a discriminator, and a generator for a "
            "pretrainer)",
        ),
        ExportFormat(
            "keras-hub",
            "keras_electra.conversion:export_keras_hub_folder",
            "a keras-hub ElectraBackbone preset",
        ),
        ExportFormat(
            "saved-model",
            "keras_electra.conversion.serving:export_saved_model",
            "a TensorFlow SavedModel of a fine-tuned task on raw strings "
            "(its preprocessor inside)",
            backend="tensorflow",
        ),
        ExportFormat(
            "onnx",
            "keras_electra.conversion.serving:export_onnx",
            "an ONNX file of a backbone or task on token ids",
            backend="tensorflow",
        ),
    )
}
