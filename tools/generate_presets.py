"""Regenerate the built-in preset folders from the architecture table below.

    python tools/generate_presets.py

Each folder is a keras-hub preset without weights: `config.json` (the
discriminator backbone, what `ElectraBackbone.from_preset` builds),
`task.json` (the whole `ElectraPretrainer`) and `metadata.json`.

Sizes follow the ELECTRA paper (Table 6) and Google's `configure_pretraining`:
the generator keeps the discriminator's depth and embedding width, its hidden
size is `round(hidden * fraction)`, its heads `max(1, hidden // 64)` and its
feed-forward width `4 * hidden`.
"""

import datetime
import json
import os
import pathlib

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402

import keras_electra  # noqa: E402
from keras_electra.utils.preset_utils import serialize_to_json  # noqa: E402

VOCABULARY_SIZE = 30522

# name: (layers, hidden, heads, ffn, embedding, generator fraction,
#        mask rate, learning rate, train steps, description)
# The tiny preset's rate: the reference trains Small at 5e-4 with batch 128
# and 10,000 warm-up steps; the tiny preset's runs use batch 32 and a warm-up
# of a tenth of a short run, while Adam without bias correction still runs
# 1.3-3x hot for its first ~1,000 steps. 1e-3 (what we first shipped)
# collapsed the discriminator's hidden states onto a few directions and
# fine-tuned far worse than 3e-4 (BENCHMARKS.md, issue #5, fourth round).
PRESETS = {
    "electra_tiny": (
        2,
        128,
        2,
        512,
        64,
        0.25,
        0.15,
        3e-4,
        1000,
        "A 2-layer ELECTRA for tests and CPU demos (not in the paper).",
    ),
    "electra_small": (
        12,
        256,
        4,
        1024,
        128,
        0.25,
        0.15,
        5e-4,
        1_000_000,
        "ELECTRA-Small (paper, Table 6): 14M-parameter discriminator.",
    ),
    "electra_base": (
        12,
        768,
        12,
        3072,
        768,
        1 / 3,
        0.15,
        2e-4,
        766_000,
        "ELECTRA-Base (paper, Table 6): 110M-parameter discriminator.",
    ),
    "electra_large": (
        24,
        1024,
        16,
        4096,
        1024,
        0.25,
        0.25,
        2e-4,
        400_000,
        "ELECTRA-Large (paper, Table 6): 335M-parameter discriminator.",
    ),
}


def build(name):
    (
        layers,
        hidden,
        heads,
        ffn,
        embedding,
        fraction,
        mask_rate,
        lr,
        steps,
        description,
    ) = PRESETS[name]
    generator_hidden = int(round(hidden * fraction))
    pretrainer = keras_electra.ElectraPretrainer.from_towers_config(
        vocabulary_size=VOCABULARY_SIZE,
        discriminator_config=dict(
            num_layers=layers,
            num_heads=heads,
            hidden_dim=hidden,
            intermediate_dim=ffn,
            embedding_dim=embedding,
            max_sequence_length=512,
        ),
        generator_config=dict(
            num_layers=layers,
            num_heads=max(1, generator_hidden // 64),
            hidden_dim=generator_hidden,
            intermediate_dim=4 * generator_hidden,
        ),
        mask_rate=mask_rate,
        learning_rate=lr,
        num_train_steps=steps,
        warmup_steps=10_000 if steps > 10_000 else steps // 10,
        name="electra_pretrainer",
    )
    return pretrainer, description


def main():
    root = pathlib.Path(keras_electra.__file__).resolve().parent / "presets"
    for name in PRESETS:
        pretrainer, description = build(name)
        folder = root / name
        folder.mkdir(exist_ok=True)
        (folder / "config.json").write_text(
            serialize_to_json(pretrainer.backbone)
        )
        (folder / "task.json").write_text(serialize_to_json(pretrainer))
        metadata = {
            "keras_version": keras.version(),
            "keras_hub_version": keras_electra.utils.keras_hub_version(),
            "keras_electra_version": keras_electra.__version__,
            "parameter_count": pretrainer.backbone.count_params(),
            "generator_parameter_count": (
                pretrainer.generator.backbone.count_params()
            ),
            "description": description,
            "date_saved": datetime.date.today().isoformat(),
            "tasks": ["ElectraPretrainer"],
        }
        (folder / "metadata.json").write_text(
            json.dumps(metadata, indent=4) + "\n"
        )
        print(
            f"{name}: discriminator backbone "
            f"{metadata['parameter_count']:,} parameters"
        )


if __name__ == "__main__":
    main()
