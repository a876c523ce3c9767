"""Google's released ELECTRA pairs, by preset name, for continued pre-training.

`ElectraPretrainer.from_preset("electra_base_uncased_en")` (and every other
`from_preset`, and `keras-electra pretrain --preset ...`) resolves these
names on first use: the transformers discriminator and generator are
fetched from their `hf://` handles, converted (one shared embedding block,
the reference's layout; the paper's learning rate and mask rate for the
size) and saved as a keras-electra preset with the vocabulary that came
with them, in a cache folder that later calls read
directly. The cache is `$KERAS_ELECTRA_CACHE`, else
`$KERAS_HOME/keras_electra/released` (`~/.keras/...`); a cached preset
records the handles it came from and is rebuilt if they change.
"""

import dataclasses
import json
import os

SOURCE_FILE = "released_from.json"


@dataclasses.dataclass(frozen=True)
class ReleasedPreset:
    """Where one released pair lives and what it is."""

    discriminator: str
    generator: str
    description: str
    # ElectraPretrainer arguments the paper used at this size (Table 6).
    settings: dict = dataclasses.field(default_factory=dict)
    # The converted discriminator backbone's parameters (Google's
    # configurations, the built-in sizes'), so listing presets need not
    # fetch the checkpoints to count them.
    parameter_count: int = None


RELEASED = {
    "electra_small_uncased_en": ReleasedPreset(
        discriminator="hf://google/electra-small-discriminator",
        generator="hf://google/electra-small-generator",
        description=(
            "Google's ELECTRA-Small pair: a 12-layer, 256-wide, 14M-parameter "
            "discriminator and its generator (sizes read from the "
            "checkpoints). Uncased English, 30,522-token vocabulary."
        ),
        settings={"learning_rate": 5e-4, "mask_rate": 0.15},
        parameter_count=13_483_008,
    ),
    "electra_base_uncased_en": ReleasedPreset(
        discriminator="hf://google/electra-base-discriminator",
        generator="hf://google/electra-base-generator",
        description=(
            "Google's ELECTRA-Base pair: a 12-layer, 768-wide, 110M-parameter "
            "discriminator and its generator (sizes read from the "
            "checkpoints). Uncased English, 30,522-token vocabulary."
        ),
        settings={"learning_rate": 2e-4, "mask_rate": 0.15},
        parameter_count=108_891_648,
    ),
    "electra_large_uncased_en": ReleasedPreset(
        discriminator="hf://google/electra-large-discriminator",
        generator="hf://google/electra-large-generator",
        description=(
            "Google's ELECTRA-Large pair: a 24-layer, 1024-wide, "
            "335M-parameter discriminator and its generator (sizes read "
            "from the checkpoints). Uncased English, 30,522-token "
            "vocabulary."
        ),
        settings={"learning_rate": 2e-4, "mask_rate": 0.25},
        parameter_count=334_092_288,
    ),
}


def released_presets():
    """Sorted names of the released pairs."""
    return sorted(RELEASED)


def cache_dir():
    """The folder converted released presets are kept in."""
    root = os.environ.get("KERAS_ELECTRA_CACHE")
    if not root:
        home = os.environ.get("KERAS_HOME") or os.path.join(
            os.path.expanduser("~"), ".keras"
        )
        root = os.path.join(home, "keras_electra", "released")
    return root


def source(entry):
    return {
        "discriminator": entry.discriminator,
        "generator": entry.generator,
        "settings": entry.settings,
    }


def is_cached(folder, entry):
    path = os.path.join(folder, SOURCE_FILE)
    if not os.path.isfile(path):
        return False
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f) == source(entry)
    except (OSError, ValueError):
        return False
