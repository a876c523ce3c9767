import inspect

from keras_hub.models import Backbone
from keras_hub.models import Preprocessor
from keras_hub.models import Task
from keras_hub.tokenizers import Tokenizer

from keras_electra.utils import preset_utils


class PresetMixin:
    """One `from_preset` for every keras-electra class and every format.

    Mixed in before the keras-hub base class (`Backbone`, `Task`,
    `Preprocessor`, `Tokenizer`). It asks `preset_utils.get_preset_loader`
    for the loader that fits the preset (a built-in name, a keras-electra
    preset folder, a transformers folder or `hf://` handle, a pair of
    transformers folders, a Google TF1 checkpoint or a keras-hub preset) and
    calls the loader method keras-hub's own base classes call: so a
    transformers folder loads into `ElectraTextClassifier.from_preset` the
    way a preset folder does.
    """

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Build this class from a preset or a checkpoint of another format.

        Args:
            preset: a built-in name (`keras_electra.presets()`), a preset
                folder written by `save_to_preset`, a remote handle
                (`hf://`, `kaggle://`), a transformers ELECTRA folder, a
                folder with transformers `discriminator/` and `generator/`
                subfolders, a Google TF1 checkpoint, or a keras-hub
                `ElectraBackbone` preset.
            load_weights: bool. Load the saved weights where the preset has
                them (built-in presets hold none: random weights).
            **kwargs: overrides of the constructor's arguments (`dtype`,
                `num_classes`, `sequence_length`, ...).
        """
        loader = preset_utils.get_preset_loader(preset)
        if issubclass(cls, Backbone):
            return loader.load_backbone(cls, load_weights, **kwargs)
        if issubclass(cls, Task):
            # As keras-hub: a new head size means new head weights.
            load_task_weights = "num_classes" not in kwargs
            return loader.load_task(
                cls, load_weights, load_task_weights, **kwargs
            )
        if issubclass(cls, Preprocessor):
            return loader.load_preprocessor(cls, **kwargs)
        if issubclass(cls, Tokenizer):
            return loader.load_tokenizer(cls, **kwargs)
        raise TypeError(f"{cls.__name__} cannot be loaded from a preset.")

    @classmethod
    def _add_missing_kwargs(cls, loader, kwargs):
        """A preprocessor built for a preset fits the preset's positions.

        keras-hub's hook for preprocessors a preset does not store: on top
        of the tokenizer, a default `sequence_length` longer than the
        backbone's positions (128 against a 64-position model) is lowered
        to them, so `from_preset` never builds inputs the model cannot take.
        """
        kwargs = super()._add_missing_kwargs(loader, kwargs)
        parameter = inspect.signature(cls.__init__).parameters.get(
            "sequence_length"
        )
        limit = _max_positions(getattr(loader, "config", None))
        if (
            "sequence_length" not in kwargs
            and parameter is not None
            and isinstance(parameter.default, int)
            and limit is not None
            and parameter.default > limit
        ):
            kwargs["sequence_length"] = limit
        return kwargs


def _max_positions(config):
    """Position count of a backbone config (ours or transformers')."""
    if not isinstance(config, dict):
        return None
    inner = config.get("config", config)
    value = inner.get(
        "max_sequence_length", inner.get("max_position_embeddings")
    )
    return int(value) if value else None
