"""What a preset holds, read from its JSON files alone (no backend)."""

import dataclasses

from keras_electra.utils import preset_utils


@dataclasses.dataclass(frozen=True)
class PresetInfo:
    """The one reading of a keras-electra preset folder's contents.

    Every question about a preset (which class it holds, its backbone's
    sizes, whether it has weights or a tokenizer) is answered here, from
    `config.json`, `task.json` and `metadata.json`, without building a
    model or importing a backend.

    Example:
    ```python
    from keras_electra.utils.preset_info import PresetInfo

    info = PresetInfo.read("electra_small")
    info.class_name  # 'ElectraPretrainer'
    info.backbone_config["hidden_dim"]  # 256
    info.has_weights  # False: built-in presets hold configurations only
    ```
    """

    path: str
    backbone: dict
    task: dict = None
    metadata: dict = None
    has_weights: bool = False
    has_task_weights: bool = False
    has_tokenizer: bool = False

    @classmethod
    def read(cls, preset):
        """Resolve `preset` (a name or a folder) and read what it holds."""
        path = preset_utils.resolve_preset(preset)

        def has(name):
            return preset_utils.preset_has_file(path, name)

        def json_file(name):
            return preset_utils.load_json(path, name) if has(name) else None

        return cls(
            path=path,
            backbone=preset_utils.load_json(path, preset_utils.CONFIG_FILE),
            task=json_file(preset_utils.TASK_CONFIG_FILE),
            metadata=json_file(preset_utils.METADATA_FILE),
            has_weights=has(preset_utils.MODEL_WEIGHTS_FILE),
            has_task_weights=has(preset_utils.TASK_WEIGHTS_FILE),
            has_tokenizer=has(preset_utils.TOKENIZER_CONFIG_FILE),
        )

    @property
    def class_name(self):
        """The class the preset holds: its task's, else its backbone's."""
        source = self.task if self.task is not None else self.backbone
        return source.get("class_name")

    @property
    def backbone_config(self):
        """The backbone's constructor arguments."""
        return self.backbone.get("config", {})

    @property
    def converted_from(self):
        """What a converted preset came from (a dict: its format and the
        paths or handles), or None for a preset keras-electra trained or
        a built-in one. Such a preset records no pre-training settings."""
        if self.metadata and preset_utils.CONVERTED_FROM in self.metadata:
            return self.metadata[preset_utils.CONVERTED_FROM]
        # A released pair converted before its metadata said so.
        from keras_electra.utils.released_presets import SOURCE_FILE

        if "://" not in self.path and preset_utils.preset_has_file(
            self.path, SOURCE_FILE
        ):
            return {
                "format": "transformers",
                **preset_utils.load_json(self.path, SOURCE_FILE),
            }
        return None

    @property
    def task_config(self):
        """The task's constructor arguments (empty without a task)."""
        return (self.task or {}).get("config", {})

    @property
    def generator_backbone_config(self):
        """A pre-training preset's generator backbone arguments, or None."""
        generator = self.task_config.get("generator")
        if not isinstance(generator, dict):
            return None
        return generator["config"]["backbone"]["config"]
