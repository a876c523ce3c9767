"""Finding presets: built-in names, local folders and remote handles.

A preset is a directory in keras-hub's format (`config.json`, `metadata.json`,
optionally `model.weights.h5`, `task.json`, `task.weights.h5`,
`tokenizer.json` and `assets/`). The built-in presets ship inside the package
(`keras_electra/presets/`, package data of the wheel); they hold
configurations only, since ELECTRA is pre-trained from scratch on the user's
text.
"""

import os
import pathlib

CONFIG_FILE = "config.json"
TASK_CONFIG_FILE = "task.json"
MODEL_WEIGHTS_FILE = "model.weights.h5"
TASK_WEIGHTS_FILE = "task.weights.h5"
METADATA_FILE = "metadata.json"
TOKENIZER_CONFIG_FILE = "tokenizer.json"


def builtin_preset_dir():
    """Where the built-in preset folders live: inside the package."""
    return pathlib.Path(__file__).resolve().parent.parent / "presets"


def builtin_presets():
    """Sorted names of the built-in presets."""
    root = builtin_preset_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / CONFIG_FILE).is_file())


def released_presets():
    """Sorted names of Google's released pairs (converted on first use)."""
    from keras_electra.utils import released_presets as released

    return released.released_presets()


# === Formats registered from above ===
# Reading a preset of another format (a transformers folder, a TF1
# checkpoint, a released pair to convert) takes code that builds models
# (`keras_electra.conversion`), which sits above this module. As keras-hub
# registers its presets and loaders, that package registers its entry
# points here when it is imported; the package root (`keras_electra/
# __init__.py`) adds the hook that imports it at the first lookup, so that
# `import keras_electra` loads no backend and nothing here imports upward.
_REGISTERED = {}
_IMPORT_HOOKS = []


def register_preset_format(kind, function):
    """Register `function` as this module's `kind` entry point.

    Kinds: `"loader"` (a preset -> the keras-hub `PresetLoader` that reads
    it) and `"released"` (a released pair's name -> its converted local
    folder).
    """
    _REGISTERED[kind] = function


def add_format_import_hook(hook):
    """`hook()` imports the package that registers the preset formats; it is
    called once, at the first lookup that needs them."""
    _IMPORT_HOOKS.append(hook)


def _registered(kind):
    while kind not in _REGISTERED and _IMPORT_HOOKS:
        _IMPORT_HOOKS[0]()  # an error here shows; the hook stays for a retry
        _IMPORT_HOOKS.pop(0)
    if kind not in _REGISTERED:
        raise RuntimeError(
            f"No preset {kind} is registered: import keras_electra (the "
            "package root registers the formats)."
        )
    return _REGISTERED[kind]


def resolve_preset(preset):
    """Turn a preset name or path into something keras-hub's loader reads.

    Returns a local directory for built-in names, released pairs (converted
    and cached on first use) and local folders, and the handle unchanged
    for remote schemes (`hf://`, `kaggle://`, `gs://`). Raises a
    `ValueError` that lists the built-in presets otherwise.
    """
    if not isinstance(preset, (str, os.PathLike)):
        raise ValueError(
            "A preset must be a name or a path, for example "
            f"'electra_small' or './my_electra'. Received: {preset!r}"
        )
    preset = os.fspath(preset)
    if "://" in preset:
        return preset
    if preset in builtin_presets():
        return str(builtin_preset_dir() / preset)
    if preset in released_presets() and not os.path.exists(preset):
        # Google's pairs: fetched and converted once, then cached.
        return _registered("released")(preset)
    path = pathlib.Path(preset).expanduser()
    if path.is_dir():
        if not (path / CONFIG_FILE).is_file():
            raise ValueError(
                f"The folder '{preset}' is not a preset: it has no "
                f"{CONFIG_FILE}. Save one with `save_to_preset()` or "
                "convert a checkpoint with `keras-electra convert`."
            )
        return str(path)
    raise ValueError(
        f"Unknown preset '{preset}': it is neither a built-in preset nor an "
        f"existing folder. Built-in presets: {', '.join(builtin_presets())}; "
        f"Google's released pairs: {', '.join(released_presets())}."
    )


def get_preset_loader(preset):
    """The keras-hub `PresetLoader` that reads `preset`, whatever its format
    (the function `keras_electra.conversion` registers)."""
    return _registered("loader")(preset)


def preset_has_file(preset, filename):
    """True when a local preset folder holds `filename`.

    Remote handles are assumed to hold the standard files.
    """
    if "://" in preset:
        return True
    return os.path.isfile(os.path.join(preset, filename))


def serialize_to_json(obj):
    """A Keras object's config as keras-hub writes it into preset JSON files."""
    import json

    import keras

    def strip(config):
        if isinstance(config, dict):
            return {
                key: strip(value)
                for key, value in config.items()
                if key not in ("build_config", "compile_config")
            }
        return config

    config = strip(keras.saving.serialize_keras_object(obj))
    return json.dumps(config, indent=4) + "\n"


def load_json(preset, filename):
    """Read a JSON file of a preset (local or remote).

    Local folders are read directly (no keras-hub, so no backend import:
    `keras-electra info` stays fast); remote handles go through keras-hub.
    """
    import json

    if "://" not in preset:
        path = os.path.join(preset, filename)
        if not os.path.isfile(path):
            raise ValueError(f"The preset '{preset}' has no {filename}.")
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except (ValueError, UnicodeDecodeError) as e:
            raise ValueError(
                f"'{path}' is not readable JSON ({e}). Restore the preset "
                "(save it again with `save_to_preset`, or convert the "
                "checkpoint again)."
            ) from None
    from keras_electra.utils import keras_hub_private

    return keras_hub_private.load_json(preset, filename)


def get_file(preset, filename):
    """Local path of a preset file, downloading it for remote handles."""
    from keras_electra.utils import keras_hub_private

    return keras_hub_private.get_file(preset, filename)


class atomic_directory:
    """Write a directory in full or not at all.

    Files are written into a temporary sibling folder, which replaces
    `path` only once the block finishes without error. A crash mid-write
    leaves any previous `path` untouched (at worst a stale `.tmp-*` sibling).

    ```python
    with atomic_directory("run/checkpoint-100") as tmp:
        model.save_to_preset(tmp)
    ```
    """

    def __init__(self, path):
        self.path = pathlib.Path(path)

    def __enter__(self):
        import tempfile

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = pathlib.Path(
            tempfile.mkdtemp(
                prefix=f".{self.path.name}.tmp-", dir=self.path.parent
            )
        )
        os.chmod(self.tmp, 0o755)  # mkdtemp makes it private
        return str(self.tmp)

    def __exit__(self, exc_type, exc, tb):
        import shutil

        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        _fsync_tree(self.tmp)
        old = None
        if self.path.exists():
            old = self.path.with_name(f".{self.path.name}.old-{os.getpid()}")
            os.replace(self.path, old)
        os.replace(self.tmp, self.path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return False


# The `metadata.json` key of a converted preset: where its weights came from.
# Such a preset records no pre-training of its own: its task.json holds
# `ElectraPretrainer`'s defaults (`num_train_steps`, ...), which describe
# nothing, so `keras-electra info` says "not recorded" instead.
CONVERTED_FROM = "converted_from"


def save_converted(model, preset_dir, tokenizer=None, source=None):
    """Save a converted model (and its tokenizer) as a preset, atomically,
    its `metadata.json` recording `source` under `CONVERTED_FROM` (a dict:
    the format and the paths or handles converted)."""
    import json

    with atomic_directory(preset_dir) as tmp:
        if hasattr(model, "generator"):  # a pretrainer saves its tokenizer
            model.save_to_preset(tmp, tokenizer=tokenizer)
        else:
            model.save_to_preset(tmp)
            if tokenizer is not None:
                tokenizer.save_to_preset(tmp)
        path = os.path.join(tmp, METADATA_FILE)
        with open(path, encoding="utf-8") as f:
            metadata = json.load(f)
        metadata[CONVERTED_FROM] = source or {}
        with open(path, "w", encoding="utf-8") as f:
            json.dump(metadata, f, indent=4)
            f.write("\n")


def _fsync_tree(root):
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as f:
                os.fsync(f.fileno())
