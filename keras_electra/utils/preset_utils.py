"""Finding presets: built-in names, local folders and remote handles.

A preset is a directory in keras-hub's format (`config.json`, `metadata.json`,
optionally `model.weights.h5`, `task.json`, `task.weights.h5`,
`tokenizer.json` and `assets/`). The built-in presets ship inside the package
(`keras_electra/presets/`, package data of the wheel); they hold
configurations only, since ELECTRA is pre-trained from scratch on the user's
text.

A preset may also live behind a URL that TensorFlow's filesystem layer
reads (`gs://bucket/run/preset`, `ram://...`; see `file_system`). Keras
reads and writes its `.h5` weights through h5py, on local files only, so
such a preset is copied into a local folder of this process (`local_copy`)
before it loads, and one is written into a local temporary folder and then
copied out (`atomic_directory`).
"""

import os
import pathlib

from keras_electra.utils import file_system

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
    and cached on first use), local folders and folders behind a URL of
    TensorFlow's filesystem layer (`gs://`, `ram://`: copied into a local
    folder first, see `local_copy`), and the handle unchanged for the hubs
    (`hf://`, `kaggle://`, `modelscope://`). Raises a `ValueError` that lists
    the built-in presets otherwise.
    """
    if not isinstance(preset, (str, os.PathLike)):
        raise ValueError(
            "A preset must be a name or a path, for example "
            f"'electra_small' or './my_electra'. Received: {preset!r}"
        )
    preset = os.fspath(preset)
    if is_filesystem_url(preset):
        return local_copy(preset)
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


# Hubs that keras-hub downloads from itself; any other `scheme://` is a
# path of TensorFlow's filesystem layer.
HUB_SCHEMES = ("hf", "kaggle", "modelscope", "http", "https")
# A remote preset's local copy in this process: URL -> (what it held, the
# local folder).
_LOCAL_COPIES = {}


def is_filesystem_url(preset):
    """Whether `preset` is a URL read through TensorFlow's filesystem layer
    (`gs://`, `ram://`, `s3://` with a plugin), not a hub's handle."""
    if not file_system.has_scheme(preset):
        return False
    return os.fspath(preset).split("://", 1)[0].lower() not in HUB_SCHEMES


def _listing(url):
    """What a remote folder holds: (relative name, size, mtime) of each
    file, or None where some mtime is unknown (`ram://`)."""
    import posixpath

    entries = []
    for folder, _, names in file_system.walk(url):
        for name in names:
            path = posixpath.join(folder, name)
            mtime = file_system.getmtime(path)
            if not mtime:
                return None
            entries.append(
                (
                    posixpath.relpath(path, url),
                    file_system.getsize(path),
                    mtime,
                )
            )
    return tuple(sorted(entries))


def local_copy(url):
    """A local folder holding the preset folder at `url` (copied on first
    use in this process, and again whenever its files' sizes or times
    change; on a filesystem that keeps no times, as `ram://`, at every
    call). Removed when the process ends.

    Raises a `ValueError` naming the fix when `url` holds no preset.

    Example:
    ```python
    from keras_electra.utils import file_system
    from keras_electra.utils import preset_utils

    with file_system.open_file("ram://run/preset/config.json", "w") as f:
        f.write("{}")
    folder = preset_utils.local_copy("ram://run/preset")  # a local folder
    ```
    """
    import atexit
    import shutil
    import tempfile

    url = os.fspath(url).rstrip("/")
    if not file_system.isfile(file_system.join(url, CONFIG_FILE)):
        raise ValueError(
            f"'{url}' is not a preset: it has no {CONFIG_FILE} (a preset "
            "being copied there is complete once its config.json is). "
            "Check the path, or save one there with `save_to_preset()`."
        )
    listing = _listing(url)
    known = _LOCAL_COPIES.get(url)
    if known is not None and listing is not None and known[0] == listing:
        return known[1]
    folder = tempfile.mkdtemp(prefix="keras_electra_preset-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    # An earlier copy stays until the process ends: what was loaded from
    # it may still read its files.
    file_system.copytree(url, folder)
    _LOCAL_COPIES[url] = (listing, folder)
    return folder


def get_preset_loader(preset):
    """The keras-hub `PresetLoader` that reads `preset`, whatever its format
    (the function `keras_electra.conversion` registers)."""
    return _registered("loader")(preset)


def preset_has_file(preset, filename):
    """True when a preset folder (local, or behind a filesystem URL) holds
    `filename`.

    Hub handles (`hf://`, `kaggle://`) are assumed to hold the standard
    files.
    """
    if is_filesystem_url(preset):
        return file_system.isfile(file_system.join(preset, filename))
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

    Local folders and filesystem URLs (`gs://`) are read directly (no
    keras-hub, so no backend import: `keras-electra info` stays fast); hub
    handles go through keras-hub.
    """
    import json

    if "://" not in preset or is_filesystem_url(preset):
        path = file_system.join(preset, filename)
        if not file_system.isfile(path):
            raise ValueError(f"The preset '{preset}' has no {filename}.")
        try:
            with file_system.open_file(path, encoding="utf-8") as f:
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

    A `path` behind a URL (`gs://`, `ram://`) has no atomic folder rename
    (an object store renames object by object): the block writes into a
    local temporary folder (Keras' `.h5` weights are written by h5py, on
    local files only), which is then copied to `path`, replacing what was
    there, with the files named in `last` copied after all others. A
    reader that requires those files (a checkpoint's `state.json`, a
    preset's `config.json`) never takes a partial copy for a whole one;
    a process killed during the copy leaves a partial `path` (a previous
    one is gone), which `RunFolder.remove_partial_writes` clears.

    Args:
        path: the folder to write.
        last: names of files (relative to the folder) copied last to a
            remote `path`.

    ```python
    with atomic_directory("run/checkpoint-100") as tmp:
        model.save_to_preset(tmp)
    ```
    """

    def __init__(self, path, last=(CONFIG_FILE,)):
        self.remote = file_system.has_scheme(path)
        self.url = os.fspath(path)
        self.last = tuple(last)
        self.path = None if self.remote else pathlib.Path(path)

    def __enter__(self):
        import tempfile

        if self.remote:
            self.tmp = pathlib.Path(
                tempfile.mkdtemp(prefix="keras_electra_write-")
            )
            return str(self.tmp)
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
        if self.remote:
            try:
                if file_system.exists(self.url):
                    file_system.rmtree(self.url)
                file_system.copytree(self.tmp, self.url, last=self.last)
            finally:
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
