"""`conversion/keras_hub_preset.py`: keras-hub ELECTRA presets, both ways."""

import numpy as np
import pytest
from conversion_helpers import corrupted_batch
from conversion_helpers import keras_inputs
from conversion_helpers import make_hf_pair
from helpers import WORDS
from helpers import to_numpy

import keras_electra
from keras_electra import conversion
from keras_electra.conversion.state_dict import CheckpointError


def test_keras_hub_export_and_import(tmp_path):
    keras_hub = pytest.importorskip("keras_hub")
    _, _, d_dir, _ = make_hf_pair(tmp_path)
    discriminator = keras_electra.ElectraDiscriminator.from_preset(d_dir)
    tokenizer = keras_electra.ElectraTokenizer(vocabulary=WORDS)
    out = tmp_path / "hub"
    conversion.export_keras_hub(discriminator, out, tokenizer)

    hub = keras_hub.models.ElectraBackbone.from_preset(str(out))
    hub_tokenizer = keras_hub.models.ElectraTokenizer.from_preset(str(out))
    assert hub_tokenizer.get_vocabulary() == WORDS
    b = corrupted_batch(19)
    x = keras_inputs(b, b["corrupted"])
    theirs = to_numpy(hub(x)["sequence_output"])
    ours = to_numpy(discriminator.backbone(x))
    # Same weights; only keras-hub's tanh-approximate GELU differs.
    gap = np.max(np.abs(theirs - ours))
    assert 0 < gap < 1e-2, gap

    backbone = keras_electra.ElectraBackbone.from_preset(str(out))
    for a, b_ in zip(discriminator.backbone.weights, backbone.weights):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b_))
    imported, imported_tokenizer = conversion.load_keras_hub(str(out))
    assert imported_tokenizer.get_vocabulary() == WORDS
    with pytest.warns(UserWarning, match="random weights"):
        keras_electra.ElectraDiscriminator.from_preset(str(out))
    with pytest.raises(CheckpointError, match="no generator head"):
        keras_electra.ElectraGenerator.from_preset(str(out))
