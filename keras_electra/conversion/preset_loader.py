"""keras-hub `PresetLoader`s: one `from_preset` path for every format.

keras-hub's base classes load through a loader chosen by the preset's format
(keras-hub's private `get_preset_loader`): `load_backbone`,
`load_task`, `load_preprocessor`, `load_tokenizer`. `get_preset_loader`
below does the same for the formats ELECTRA checkpoints come in, and every
keras-electra class's `from_preset` (`utils.preset_mixin.PresetMixin`) calls
it through `preset_utils.get_preset_loader`, where this module registers
it (the models sit below this package and never import it):

- a built-in name or a keras-electra preset folder:
  `ElectraKerasPresetLoader`;
- a transformers folder (`config.json` with `model_type`) or `hf://`
  handle: `TransformersPresetLoader`;
- a folder with transformers `discriminator/` and `generator/`, or a Google
  TF1 checkpoint (`model.ckpt-*`): `PairPresetLoader`;
- a keras-hub `ElectraBackbone` preset: `KerasHubPresetLoader`.

Fine-tuning tasks on a converted checkpoint get the converted encoder and a
preprocessor on the checkpoint's vocabulary (keras-hub's
`PresetLoader.load_task`); the towers and the pretrainer get their heads.
The pre-training tasks get an `ElectraPretrainerPreprocessor` where the
preset has a tokenizer (its `preprocessor.json` if saved, else one built on
the tokenizer; `sequence_length=...` sets its length), and none otherwise.
"""

import inspect
import os

from keras_electra.conversion import keras_hub_preset
from keras_electra.conversion import tf1_checkpoint
from keras_electra.conversion import transformers_checkpoint
from keras_electra.conversion.state_dict import CheckpointError
from keras_electra.layers.embedding_sharing import resolve_embedding_sharing
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_discriminator import ElectraDiscriminator
from keras_electra.models.electra_finetuning_mixin import check_sequence_length
from keras_electra.models.electra_generator import ElectraGenerator

# Registered with Keras before any `task.json` naming it is read (a
# fine-tuning task loaded from an MLM run's preset checks the stored class).
from keras_electra.models.electra_masked_lm_pretrainer import (
    ElectraMaskedLMPretrainer,
)
from keras_electra.models.electra_pretrainer import SHARED_BACKBONE_ARGS
from keras_electra.models.electra_pretrainer import SIZE_CHANGING_BACKBONE_ARGS
from keras_electra.models.electra_pretrainer import ElectraPretrainer
from keras_electra.utils import preset_utils
from keras_electra.utils.keras_hub_private import KerasPresetLoader
from keras_electra.utils.keras_hub_private import PresetLoader
from keras_electra.utils.preset_info import PresetInfo

TOWERS = ("discriminator", "generator")


def detect_format(preset):
    """ "keras", "transformers", "transformers-pair", "tf1" or "keras-hub".

    Raises a `ValueError` that lists the built-in presets for a name that is
    neither a built-in preset nor a readable checkpoint.
    """
    return _detect(preset)[0]


def _detect(preset):
    """`(format, path, config.json or None)`, reading config.json once."""
    if isinstance(preset, (str, os.PathLike)):
        preset = os.fspath(preset)
        local = "://" not in preset
        if (
            local
            and preset not in preset_utils.builtin_presets()
            and not os.path.isfile(
                os.path.join(preset, preset_utils.CONFIG_FILE)
            )
        ):
            if all(
                os.path.isfile(
                    os.path.join(preset, t, preset_utils.CONFIG_FILE)
                )
                for t in TOWERS
            ):
                return "transformers-pair", preset, None
            if os.path.isdir(preset) or os.path.isfile(preset + ".index"):
                try:
                    tf1_checkpoint.checkpoint_prefix(preset)
                    return "tf1", preset, None
                except CheckpointError:
                    pass
    # Resolves built-in names; says what is wrong with any other name.
    preset = preset_utils.resolve_preset(preset)
    config = transformers_checkpoint.read_folder_config(preset) or {}
    if "model_type" in config or "architectures" in config:
        return "transformers", preset, config
    if config.get("registered_name") == keras_hub_preset.KERAS_HUB_CLASS:
        return "keras-hub", preset, config
    return "keras", preset, config


def get_preset_loader(preset):
    """The loader for `preset`, whatever its format."""
    fmt, preset, config = _detect(preset)
    if fmt == "keras":
        return ElectraKerasPresetLoader(preset, config)
    if fmt == "transformers":
        return TransformersPresetLoader(preset, config)
    if fmt == "keras-hub":
        return KerasHubPresetLoader(preset, config)
    return PairPresetLoader(preset, config, fmt)


def pretraining_preprocessor(loader, cls, kwargs, has_tokenizer):
    """`kwargs` with `preprocessor` set for a pre-training task.

    A `preprocessor` given is kept. Otherwise, with a tokenizer in the
    preset, the loader's preprocessor for `cls.preprocessor_cls`: the
    preset's `preprocessor.json` if it holds one of that class, else one on
    the preset's tokenizer, of `sequence_length` tokens (when given; else
    the stored or default length, lowered to the backbone's positions).
    Without a tokenizer, None (the task then takes token ids only).
    """
    kwargs = dict(kwargs)
    length = kwargs.pop("sequence_length", None)
    if "preprocessor" in kwargs:
        if length is not None:
            raise ValueError(
                f"{cls.__name__}.from_preset takes `sequence_length` or "
                "`preprocessor`, not both: build the preprocessor with its "
                "`sequence_length`."
            )
        return kwargs
    if not has_tokenizer:
        if length is not None:
            raise ValueError(
                f"`sequence_length` sets the length of the preprocessor, but "
                f"'{loader.preset}' has no tokenizer to build one with. Save "
                "the preset with its tokenizer (`save_to_preset(path, "
                "tokenizer)`), or pass `preprocessor=ElectraPretrainer"
                "Preprocessor(tokenizer, sequence_length=...)`."
            )
        kwargs["preprocessor"] = None
        return kwargs
    settings = {} if length is None else {"sequence_length": length}
    preprocessor = loader.load_preprocessor(cls.preprocessor_cls, **settings)
    # Fewer positions asked for than the preset's: a length not given
    # follows them.
    limit = kwargs.get("max_sequence_length")
    if length is None and limit and preprocessor.sequence_length > limit:
        preprocessor.sequence_length = limit
    kwargs["preprocessor"] = preprocessor
    return kwargs


def check_pretrainer_overrides(cls, kwargs):
    """Refuse `from_preset` arguments the pretrainer does not take."""
    allowed = set(inspect.signature(cls.__init__).parameters) - {
        "self",
        "generator",
        "discriminator",
        "kwargs",
    }
    allowed |= set(SHARED_BACKBONE_ARGS) | {"dtype", "name", "generator_size"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ValueError(
            f"Unknown argument(s) {', '.join(unknown)} for "
            f"{cls.__name__}.from_preset. Accepted: "
            f"{', '.join(sorted(allowed))}."
        )


class ElectraKerasPresetLoader(KerasPresetLoader):
    """keras-hub's loader for our own preset folders, with three additions.

    Built-in presets hold configurations only, so weights are loaded only
    where the folder has them. A pre-training preset's towers load as
    `ElectraDiscriminator` / `ElectraGenerator` with their heads. And a
    pretrainer refuses overrides that cannot apply to its saved weights.
    """

    @property
    def info(self):
        """What the folder holds (`PresetInfo`), read once per loader."""
        if not hasattr(self, "_info"):
            self._info = PresetInfo.read(self.preset)
        return self._info

    def _has_weights(self):
        return self.info.has_weights

    def _stored_task(self):
        """`(class name, task.json)` of the stored task, or None."""
        if self.info.task is None:
            return None
        return self.info.class_name, self.info.task

    def load_backbone(self, cls, load_weights, **kwargs):
        load_weights = load_weights and self._has_weights()
        return super().load_backbone(cls, load_weights, **kwargs)

    def _resolve_dtype(self, config, kwargs):
        # keras-hub casts a saved float policy to the current one, but
        # fails on a saved mixed policy (`mixed_bfloat16` is not a dtype);
        # a mixed preset's weights are float32, cast like any float.
        if kwargs.get("dtype") is None:
            saved = (config.get("config", {}).get("dtype") or {}).get(
                "config", {}
            )
            if str(saved.get("name", "")).startswith("mixed_"):
                import keras

                return keras.config.dtype_policy()
        return super()._resolve_dtype(config, kwargs)

    def get_backbone_kwargs(self, **kwargs):
        # keras-hub hands `dtype` to a task config's "backbone"; a
        # pretrainer's holds two towers instead, and its `from_config`
        # applies `dtype` to both.
        if getattr(self, "_loading_towers", False):
            return {}, kwargs
        return super().get_backbone_kwargs(**kwargs)

    def load_tokenizer(self, cls, config_file=None, **kwargs):
        config_file = config_file or preset_utils.TOKENIZER_CONFIG_FILE
        if not preset_utils.preset_has_file(self.preset, config_file):
            raise ValueError(
                f"The preset '{self.preset}' has no tokenizer "
                f"({config_file}), which a task needs to read text. Save "
                "one with the model (`save_to_preset(path, tokenizer)`), "
                "pass `preprocessor=...` (or `preprocessor=None` to feed "
                "token ids), or, for a built-in preset, a vocabulary "
                "(`--vocab`; `keras-electra vocab` learns one)."
            )
        return super().load_tokenizer(cls, config_file, **kwargs)

    def _has_tokenizer(self):
        return preset_utils.preset_has_file(
            self.preset, preset_utils.TOKENIZER_CONFIG_FILE
        )

    def load_task(self, cls, load_weights, load_task_weights, **kwargs):
        load_weights = load_weights and self._has_weights()
        stored = self._stored_task()
        if issubclass(cls, ElectraPretrainer):
            return self._load_pretrainer(cls, stored, load_weights, kwargs)
        if issubclass(cls, ElectraMaskedLMPretrainer):
            kwargs = pretraining_preprocessor(
                self, cls, kwargs, self._has_tokenizer()
            )
        if (
            cls in (ElectraDiscriminator, ElectraGenerator)
            and stored is not None
            and stored[0] == ElectraPretrainer.__name__
        ):
            pretrainer = self._load_pretrainer(
                ElectraPretrainer,
                stored,
                load_weights,
                # A tower alone reads token ids.
                {"dtype": kwargs.pop("dtype", None), "preprocessor": None},
            )
            tower = getattr(pretrainer, cls.__name__[len("Electra") :].lower())
            pretrainer.gdes_unlink()  # a tower alone: one ordinary table
            return tower
        return super().load_task(cls, load_weights, load_task_weights, **kwargs)

    def _load_pretrainer(self, cls, stored, load_weights, kwargs):
        if stored is None:
            raise ValueError(
                f"The preset '{self.preset}' holds a backbone only (no "
                f"{preset_utils.TASK_CONFIG_FILE}), so it has no generator "
                "to pre-train with. Load it with "
                "`ElectraBackbone.from_preset`, or start from a built-in "
                "preset such as 'electra_small'."
            )
        class_name, config = stored
        if class_name != cls.__name__:
            raise ValueError(
                f"The preset '{self.preset}' holds a {class_name}, not an "
                f"{cls.__name__}."
            )
        kwargs = pretraining_preprocessor(
            self, cls, kwargs, self._has_tokenizer()
        )
        check_pretrainer_overrides(cls, kwargs)
        has_weights = load_weights and self.info.has_task_weights
        resized = _resizing_overrides(config, kwargs)
        if has_weights and resized:
            raise ValueError(
                f"Cannot change {', '.join(resized)} while loading the "
                f"weights of '{self.preset}': the saved weights have the "
                "stored shapes. Pass `load_weights=False` to start from "
                "random weights with the new sizes."
            )
        stored = resolve_embedding_sharing(
            config["config"].get("tie_embeddings"),
            config["config"].get("embedding_sharing"),
        )
        requested = stored
        if "tie_embeddings" in kwargs or "embedding_sharing" in kwargs:
            requested = resolve_embedding_sharing(
                kwargs.get("tie_embeddings"), kwargs.get("embedding_sharing")
            )
            # Both keys, so neither stored one contradicts the override.
            kwargs["embedding_sharing"] = requested
            kwargs["tie_embeddings"] = requested == "tied"
        if has_weights and requested != stored:
            raise ValueError(
                "Cannot change the embedding sharing (`embedding_sharing`, "
                f"`tie_embeddings`; stored: {stored!r}) while loading the "
                f"weights of '{self.preset}': the saved towers "
                f"{'share one' if stored == 'tied' else 'have separate'} "
                "embedding block(s). Pass `load_weights=False` to start "
                "from random weights."
            )
        if (
            stored == "tied"
            and requested == "untied"
            and "generator_size" not in kwargs  # which sets the width
        ):
            # Untying a tied architecture (random weights): the generator's
            # own block takes its hidden width, as the reference's
            # `untied_generator_embeddings` does. (GDES keeps the width:
            # the residual is added to a table of the same shape.)
            generator = config["config"]["generator"]["config"]["backbone"]
            kwargs.setdefault(
                "generator_embedding_dim", generator["config"]["hidden_dim"]
            )
        self._loading_towers = True
        try:
            pretrainer = super().load_task(cls, load_weights, True, **kwargs)
        finally:
            self._loading_towers = False
        if has_weights:
            pretrainer.gdes_from_merged()
        return pretrainer


def _resizing_overrides(config, kwargs):
    """The overrides in `kwargs` that change the shapes of a stored
    pretrainer's (`task.json` `config`) weights: `generator_size`, and the
    `SIZE_CHANGING_BACKBONE_ARGS` whose value differs from a tower's stored
    one (they apply to both towers; a preset saved before an argument
    existed holds its default, None)."""
    towers = [
        config["config"][tower]["config"]["backbone"]["config"]
        for tower in TOWERS
    ]
    resized = {"generator_size"} & set(kwargs)
    for key in set(SIZE_CHANGING_BACKBONE_ARGS) & set(kwargs):
        if any(tower.get(key) != kwargs[key] for tower in towers):
            resized.add(key)
    return sorted(resized)


class _ConvertedPresetLoader(PresetLoader):
    """Shared parts of the loaders for checkpoints of other libraries."""

    def check_backbone_class(self):
        return ElectraBackbone

    def _tokenizer(self):
        """The checkpoint's tokenizer or None, built once per loader (a task
        asks for it twice: for its preprocessor and to check it exists)."""
        if not hasattr(self, "_cached_tokenizer"):
            self._cached_tokenizer = self._make_tokenizer()
        return self._cached_tokenizer

    def load_tokenizer(self, cls, config_file=None, **kwargs):
        tokenizer = self._tokenizer()
        if tokenizer is None:
            raise CheckpointError(
                f"'{self.preset}' holds no vocabulary (vocab.txt), so no "
                "tokenizer can be built from it. Pass one: "
                "`ElectraTokenizer(vocabulary='vocab.txt')`."
            )
        return tokenizer

    def load_task(self, cls, load_weights, load_task_weights, **kwargs):
        """A fine-tuning task: the converted encoder, a new head and a
        preprocessor on the checkpoint's vocabulary (keras-hub's way);
        the MLM pretrainer one of its own, or none without a vocabulary."""
        if issubclass(cls, ElectraMaskedLMPretrainer):
            kwargs = pretraining_preprocessor(
                self, cls, kwargs, self._tokenizer() is not None
            )
        if (
            "preprocessor" not in kwargs
            and cls.preprocessor_cls is not None
            and self._tokenizer() is None
        ):
            kwargs["preprocessor"] = None
        return super().load_task(cls, load_weights, load_task_weights, **kwargs)


class TransformersPresetLoader(_ConvertedPresetLoader):
    """One transformers ELECTRA folder (or `hf://` handle).

    `ElectraForPreTraining` folders give a discriminator,
    `ElectraForMaskedLM` a generator, any of them (and `ElectraModel`) a
    backbone. A pretrainer needs both towers: a pair folder.
    """

    def _make_tokenizer(self):
        return transformers_checkpoint.tokenizer_from_folder(self.preset)

    def load_backbone(self, cls, load_weights, **kwargs):
        return transformers_checkpoint.load_model(
            self.preset, "backbone", load_weights=load_weights, **kwargs
        )

    def load_task(self, cls, load_weights, load_task_weights, **kwargs):
        if issubclass(cls, ElectraPretrainer):
            raise CheckpointError(
                f"'{self.preset}' holds a single transformers model. A "
                "pretrainer needs both towers: use keras_electra.conversion"
                ".load_transformers(discriminator, generator), or "
                "`keras-electra convert`, or a folder with discriminator/ "
                "and generator/ subfolders."
            )
        if cls in (ElectraDiscriminator, ElectraGenerator):
            kind = cls.__name__[len("Electra") :].lower()
            return transformers_checkpoint.load_model(
                self.preset, kind, load_weights=load_weights, **kwargs
            )
        return super().load_task(cls, load_weights, load_task_weights, **kwargs)


class PairPresetLoader(_ConvertedPresetLoader):
    """Both towers: transformers `discriminator/` + `generator/`, or TF1."""

    def __init__(self, preset, config, fmt):
        super().__init__(preset, config)
        self.fmt = fmt
        self._converted = None

    def _convert(self, load_weights=True, **kwargs):
        if self.fmt == "tf1":
            # A TF1 checkpoint has no config: the weights give the sizes.
            return tf1_checkpoint.load_pretrainer(self.preset, **kwargs)
        return transformers_checkpoint.load_pretrainer(
            os.path.join(self.preset, "discriminator"),
            os.path.join(self.preset, "generator"),
            load_weights=load_weights,
            **kwargs,
        )

    def _make_tokenizer(self):
        if self.fmt == "tf1":
            return self._pair()[1]
        return transformers_checkpoint.tokenizer_from_folder(
            os.path.join(self.preset, "discriminator")
        )

    def _pair(self, load_weights=True, dtype=None):
        # Converted once per loader for the default case (a task built from
        # a pair asks for the backbone and the tokenizer separately).
        if dtype is not None or not load_weights:
            return self._convert(load_weights, dtype=dtype)
        if self._converted is None:
            self._converted = self._convert()
        return self._converted

    def load_backbone(self, cls, load_weights, dtype=None, **kwargs):
        return self._pair(load_weights, dtype)[0].backbone

    def _load_pretrainer(self, cls, load_weights, kwargs):
        """The converted pair, with a preprocessor on the checkpoint's
        vocabulary (fitted to its positions unless `sequence_length` is
        given), or None without one."""
        kwargs = dict(kwargs)
        length = kwargs.pop("sequence_length", None)
        given = "preprocessor" in kwargs
        preprocessor = kwargs.pop("preprocessor", None)
        if length is not None and given:
            raise ValueError(
                f"{cls.__name__}.from_preset takes `sequence_length` or "
                "`preprocessor`, not both: build the preprocessor with its "
                "`sequence_length`."
            )
        check_pretrainer_overrides(cls, kwargs)
        pretrainer, tokenizer = self._convert(load_weights, **kwargs)
        if not given and tokenizer is not None:
            limit = pretrainer.backbone.max_sequence_length
            preprocessor = cls.preprocessor_cls(tokenizer)
            preprocessor.sequence_length = length or min(
                preprocessor.sequence_length, limit
            )
        check_sequence_length(pretrainer.backbone, preprocessor)
        pretrainer.preprocessor = preprocessor
        return pretrainer

    def load_task(self, cls, load_weights, load_task_weights, **kwargs):
        if issubclass(cls, ElectraPretrainer):
            return self._load_pretrainer(cls, load_weights, kwargs)
        if cls in (ElectraDiscriminator, ElectraGenerator):
            pretrainer = self._pair(load_weights, kwargs.get("dtype"))[0]
            return getattr(pretrainer, cls.__name__[len("Electra") :].lower())
        return super().load_task(cls, load_weights, load_task_weights, **kwargs)


class KerasHubPresetLoader(_ConvertedPresetLoader):
    """A keras-hub `ElectraBackbone` preset: an encoder, no heads."""

    def _make_tokenizer(self):
        return keras_hub_preset.load_tokenizer(self.preset)

    def load_backbone(self, cls, load_weights, **kwargs):
        return keras_hub_preset.load_backbone(
            self.preset, load_weights=load_weights, **kwargs
        )

    def load_task(self, cls, load_weights, load_task_weights, **kwargs):
        if issubclass(cls, (ElectraPretrainer, ElectraGenerator)):
            raise CheckpointError(
                f"'{self.preset}' is a keras-hub ElectraBackbone preset, "
                "which holds no generator head."
            )
        if cls is ElectraDiscriminator:
            return keras_hub_preset.load_discriminator(
                self.preset, load_weights=load_weights, **kwargs
            )
        return super().load_task(cls, load_weights, load_task_weights, **kwargs)


preset_utils.register_preset_format("loader", get_preset_loader)
