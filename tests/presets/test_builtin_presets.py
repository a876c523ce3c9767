"""The built-in presets (`keras_electra/presets/`): the paper's sizes."""

import json

import pytest

import keras_electra
from keras_electra.utils import preset_utils

# Parameter counts of the original models (discriminator backbone).
PAPER_COUNTS = {
    "electra_small": 13_483_008,
    "electra_base": 108_891_648,
    "electra_large": 334_092_288,
}


@pytest.mark.parametrize("name", sorted(PAPER_COUNTS))
def test_preset_metadata_matches_paper(name):
    folder = preset_utils.builtin_preset_dir() / name
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["parameter_count"] == PAPER_COUNTS[name]
    task = json.loads((folder / "task.json").read_text())["config"]
    disc = task["discriminator"]["config"]["backbone"]["config"]
    gen = task["generator"]["config"]["backbone"]["config"]
    assert gen["num_layers"] == disc["num_layers"]
    assert gen["embedding_dim"] == disc["embedding_dim"]
    assert disc["vocabulary_size"] == 30522
    fraction = {"electra_small": 4, "electra_base": 3, "electra_large": 4}[name]
    assert gen["hidden_dim"] * fraction == disc["hidden_dim"]
    assert gen["intermediate_dim"] * fraction == disc["intermediate_dim"]
    expected = {
        "electra_small": (0.15, 5e-4, 128),
        "electra_base": (0.15, 2e-4, 768),
        "electra_large": (0.25, 2e-4, 1024),
    }[name]
    assert (
        task["mask_rate"],
        task["learning_rate"],
        disc["embedding_dim"],
    ) == expected


def test_small_preset_builds_with_paper_parameter_count():
    backbone = keras_electra.ElectraBackbone.from_preset("electra_small")
    assert backbone.count_params() == PAPER_COUNTS["electra_small"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["electra_base", "electra_large"])
def test_large_presets_build_with_paper_parameter_count(name):
    backbone = keras_electra.ElectraBackbone.from_preset(name)
    assert backbone.count_params() == PAPER_COUNTS[name]


def test_unknown_preset_lists_available():
    with pytest.raises(
        ValueError, match="electra_small.*electra_tiny|electra_tiny"
    ):
        keras_electra.ElectraPretrainer.from_preset("electra_huge")
    with pytest.raises(ValueError, match="Built-in presets"):
        keras_electra.ElectraBackbone.from_preset("electra_huge")
