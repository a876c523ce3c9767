from keras_electra.utils import preset_utils


class PresetMixin:
    """`from_preset` for keras-electra tasks: built-in names and no weights.

    Resolves built-in preset names to the packaged folders (with an error that
    lists them for unknown names) and, since built-in presets carry only
    configurations, skips weight loading when the folder holds no weights.
    Everything else is keras-hub's own preset loader.
    """

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        preset = preset_utils.resolve_preset(preset)
        if load_weights and not preset_utils.preset_has_file(
            preset, preset_utils.MODEL_WEIGHTS_FILE
        ):
            load_weights = False
        return super().from_preset(preset, load_weights=load_weights, **kwargs)
