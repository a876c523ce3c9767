"""`conversion/state_dict.py`: the format-neutral weight map and its errors."""

import os

import pytest
from conversion_helpers import make_hf_pair

import keras_electra
from keras_electra import conversion
from keras_electra.conversion.state_dict import CheckpointError


def test_missing_and_misplaced_weights_are_named(tmp_path):
    from safetensors.numpy import load_file
    from safetensors.numpy import save_file

    _, _, d_dir, g_dir = make_hf_pair(tmp_path)
    state = load_file(f"{d_dir}/model.safetensors")
    key = "electra.encoder.layer.1.attention.self.value.bias"
    del state[key]
    save_file(state, f"{d_dir}/model.safetensors", metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match=key.replace(".", r"\.")):
        conversion.load_transformers(d_dir)
    # A discriminator folder where a generator is expected.
    with pytest.raises(CheckpointError, match="not an ElectraForMaskedLM"):
        keras_electra.ElectraGenerator.from_preset(d_dir)
    os.remove(f"{d_dir}/model.safetensors")
    with pytest.raises(CheckpointError, match="no weights"):
        conversion.load_transformers(d_dir)
