"""Google's released pairs, fetched and converted on first use.

The table of names and handles is `keras_electra.utils.released_presets`;
this module does the work that needs the converters: fetch both
transformers towers, convert them into one `ElectraPretrainer` (the
reference's shared embedding block, the paper's settings for the size) and
save a preset with the vocabulary that came with them in the cache. It
registers `resolve` with `preset_utils`, so every `from_preset(name)` and
`resolve_preset(name)` reaches it.
"""

import json
import os

from keras_electra.conversion import transformers_checkpoint
from keras_electra.utils import preset_utils
from keras_electra.utils.released_presets import RELEASED
from keras_electra.utils.released_presets import SOURCE_FILE
from keras_electra.utils.released_presets import cache_dir
from keras_electra.utils.released_presets import is_cached
from keras_electra.utils.released_presets import source


def resolve(name):
    """The local preset folder of a released pair, converting it first if
    it is not cached yet."""
    entry = RELEASED[name]
    folder = os.path.join(cache_dir(), name)
    if is_cached(folder, entry):
        return folder
    offline = _offline_variable()
    if offline:
        raise ValueError(
            f"The released preset '{name}' is not in the cache ({folder}) "
            f"and {offline} is set, so it cannot be fetched. With a "
            f"local copy of {entry.discriminator} and {entry.generator}, "
            "convert it once: keras-electra convert --from transformers "
            "--discriminator DISC_FOLDER --generator GEN_FOLDER --output "
            "DIR, then use DIR as the preset."
        )
    print(
        f"Fetching and converting '{name}' ({entry.discriminator} and "
        f"{entry.generator}); it is cached in {folder} for later runs.",
        flush=True,
    )
    try:
        pretrainer, tokenizer = transformers_checkpoint.load_pretrainer(
            entry.discriminator, entry.generator, **entry.settings
        )
    except transformers_checkpoint.HubUnreachableError:
        raise ValueError(
            f"Could not fetch the released preset '{name}' from "
            f"{entry.discriminator} and {entry.generator}: "
            f"{transformers_checkpoint.HubUnreachableError.reason}. Check "
            "the connection (or a Hugging Face mirror: HF_ENDPOINT); or, "
            "with a local copy of both folders: keras-electra convert "
            "--from transformers --discriminator DISC_FOLDER --generator "
            "GEN_FOLDER --output DIR, then use DIR as the preset."
        ) from None
    except OSError as e:  # network, missing remote files
        reason = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise ValueError(
            f"Could not fetch the released preset '{name}' from "
            f"{entry.discriminator} and {entry.generator} (the network? "
            f"{reason}). Check the connection (or a Hugging Face mirror: "
            "HF_ENDPOINT); or, with a local copy of both folders: "
            "keras-electra convert --from transformers --discriminator "
            "DISC_FOLDER --generator GEN_FOLDER --output DIR, then use DIR "
            "as the preset."
        ) from None
    if tokenizer is None:
        raise ValueError(
            f"The released preset '{name}' came without a vocab.txt "
            f"({entry.discriminator}); it cannot be continued without its "
            "vocabulary."
        )
    os.makedirs(cache_dir(), exist_ok=True)
    preset_utils.save_converted(  # atomic
        pretrainer,
        folder,
        tokenizer,
        {"format": "transformers", **source(entry)},
    )
    # Written last: a folder without it is an unfinished conversion.
    with open(os.path.join(folder, SOURCE_FILE), "w", encoding="utf-8") as f:
        json.dump(source(entry), f, indent=2)
        f.write("\n")
    return folder


def _offline_variable():
    """The variable that puts the Hub in offline mode, if one does (read as
    huggingface_hub reads them: 1, ON, YES or TRUE), else None."""
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        value = os.environ.get(variable, "").upper()
        if value in ("1", "ON", "YES", "TRUE"):
            return variable
    return None


preset_utils.register_preset_format("released", resolve)
