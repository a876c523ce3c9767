from keras_electra.utils import preset_utils


class PresetMixin:
    """`from_preset` for keras-electra tasks: built-in names and no weights.

    Resolves built-in preset names to the packaged folders (with an error that
    lists them for unknown names) and, since built-in presets carry only
    configurations, skips weight loading when the folder holds no weights.
    Checkpoints in other formats (transformers folders, Google's TF1
    checkpoints, keras-hub presets) are converted on the fly
    (`keras_electra.conversion`). Everything else is keras-hub's own preset
    loader.
    """

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        # keras-hub reads task.json's class before choosing how to load; a
        # pre-training preset's class must be registered for that.
        import keras_electra.models.electra_pretrainer  # noqa: F401
        from keras_electra.conversion import load_foreign_preset

        if preset not in preset_utils.builtin_presets():
            model = load_foreign_preset(
                cls, preset, load_weights=load_weights, **kwargs
            )
            if model is not None:
                return model
        preset = preset_utils.resolve_preset(preset)
        if load_weights and not preset_utils.preset_has_file(
            preset, preset_utils.MODEL_WEIGHTS_FILE
        ):
            load_weights = False
        return super().from_preset(preset, load_weights=load_weights, **kwargs)
