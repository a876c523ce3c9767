"""keras-electra's presets, as keras-hub lists its own.

`backbone_presets` holds one keras-hub preset entry per name (the fields of
keras-hub's `bert_presets.py`: `metadata` with `description`, `params` and
`path`, and `kaggle_handle`); `models/__init__.py` registers them with
keras-hub for `ElectraBackbone`, which every task and preprocessor reaches
through its `backbone_cls`, and for `ElectraTokenizer`, which has none. So
`ElectraBackbone.presets`, `ElectraPretrainer.presets`,
`ElectraTextClassifier.presets`, `ElectraTokenizer.presets`, ... list them
as `BertBackbone.presets` lists BERT's.

Two sources, read without building, fetching or converting anything:

- the built-in presets, folders inside the package
  (`preset_utils.builtin_presets()`): their `metadata.json` gives the
  description and the discriminator's parameter count, and the handle is
  the folder itself;
- Google's released pairs (`utils/released_presets.RELEASED`), which
  `from_preset` fetches and converts on first use
  (`conversion/released.py`); the description says so and names both
  `hf://` handles.

Loading stays keras-electra's own (`PresetMixin.from_preset`), whatever the
handle says.
"""

from keras_electra.utils import preset_utils
from keras_electra.utils.preset_info import PresetInfo
from keras_electra.utils.released_presets import RELEASED

# keras-hub's `path`: the model family (the folder of its models).
PATH = "electra"


def builtin_preset_entries():
    """keras-hub preset entries of the built-in presets."""
    entries = {}
    for name in preset_utils.builtin_presets():
        info = PresetInfo.read(name)
        metadata = info.metadata
        entries[name] = {
            "metadata": {
                "description": (
                    f"{metadata['description']} A configuration without "
                    "weights: pre-train it on your own text."
                ),
                "params": metadata["parameter_count"],
                "path": PATH,
            },
            "kaggle_handle": info.path,
        }
    return entries


def released_preset_entries():
    """keras-hub preset entries of Google's released pairs."""
    entries = {}
    for name in sorted(RELEASED):
        entry = RELEASED[name]
        entries[name] = {
            "metadata": {
                "description": (
                    f"{entry.description} Converted on first use: "
                    f"`from_preset` fetches {entry.discriminator} and "
                    f"{entry.generator}, converts the pair and caches it."
                ),
                "params": entry.parameter_count,
                "path": PATH,
            },
            # The name itself, not the discriminator's `hf://` handle:
            # keras-hub's `get_file` swaps a registered name for its handle
            # before it looks for a local folder, and a folder named like
            # a released preset is the user's own (`resolve_preset` loads
            # it rather than the released pair). With the name, keras-hub
            # reads such a folder as it did before the registration.
            "kaggle_handle": name,
        }
    return entries


backbone_presets = {**builtin_preset_entries(), **released_preset_entries()}
