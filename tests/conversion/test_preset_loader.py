"""`conversion/preset_loader.py`: one `from_preset` for every format."""

import json

import numpy as np
import pytest
from conversion_helpers import assert_parity
from conversion_helpers import corrupted_batch
from conversion_helpers import hf_outputs
from conversion_helpers import keras_inputs
from conversion_helpers import make_hf_pair
from conversion_helpers import our_outputs
from conversion_helpers import torch
from helpers import WORDS
from helpers import to_numpy

import keras_electra
from keras_electra import conversion
from keras_electra.conversion.state_dict import CheckpointError


def test_from_preset_reads_transformers_folders(tmp_path):
    discriminator, generator, d_dir, g_dir = make_hf_pair(tmp_path)
    b = corrupted_batch(17)
    reference = hf_outputs(discriminator, generator, b)

    ours = keras_electra.ElectraDiscriminator.from_preset(d_dir)
    np.testing.assert_allclose(
        to_numpy(ours(keras_inputs(b, b["corrupted"]))),
        reference["discriminator_logits"],
        atol=1e-4,
    )
    gen = keras_electra.ElectraGenerator.from_preset(g_dir)
    logits = gen(
        {
            **keras_inputs(b, b["masked"]),
            "mask_positions": b["positions"].astype("int32"),
        }
    )
    np.testing.assert_allclose(
        to_numpy(logits), reference["generator_logits"], atol=1e-4
    )
    backbone = keras_electra.ElectraBackbone.from_preset(d_dir)
    assert backbone.hidden_dim == 48 and backbone.embedding_dim == 16
    # A folder holding both towers loads as a pretrainer.
    pretrainer = keras_electra.ElectraPretrainer.from_preset(
        str(tmp_path), mask_rate=0.25
    )
    assert pretrainer.mask_rate == 0.25
    assert_parity(our_outputs(pretrainer, b), reference)
    with pytest.raises(CheckpointError, match="needs both towers"):
        keras_electra.ElectraPretrainer.from_preset(d_dir)


def test_fine_tuning_tasks_load_transformers_folders(tmp_path):
    discriminator, _, d_dir, _ = make_hf_pair(tmp_path)
    b = corrupted_batch(12)
    with torch.no_grad():
        hidden = discriminator.electra(
            input_ids=torch.tensor(b["corrupted"]),
            attention_mask=torch.tensor(b["padding_mask"]),
            token_type_ids=torch.tensor(b["segment_ids"]),
        ).last_hidden_state.numpy()
    classifier = keras_electra.ElectraTextClassifier.from_preset(
        d_dir, num_classes=3
    )
    assert classifier.preprocessor is None  # the folder has no vocab.txt
    np.testing.assert_allclose(
        to_numpy(classifier.backbone(keras_inputs(b, b["corrupted"]))),
        hidden,
        atol=1e-4,
    )
    assert classifier.predict(
        keras_inputs(b, b["corrupted"]), verbose=0
    ).shape == (3, 3)
    # With a vocabulary the task gets a preprocessor: raw strings in.
    out = tmp_path / "with_vocab"
    conversion.export_transformers(
        keras_electra.ElectraDiscriminator.from_preset(d_dir),
        out,
        keras_electra.ElectraTokenizer(vocabulary=WORDS),
    )
    tagger = keras_electra.ElectraTokenClassifier.from_preset(
        str(out), num_classes=4
    )
    assert isinstance(
        tagger.preprocessor, keras_electra.ElectraTokenClassifierPreprocessor
    )
    qa = keras_electra.ElectraQuestionAnswerer.from_preset(str(out))
    assert qa.backbone.hidden_dim == 48
    preprocessor = keras_electra.ElectraTextClassifierPreprocessor.from_preset(
        str(out), sequence_length=8
    )
    assert preprocessor.tokenizer.get_vocabulary() == WORDS


def test_not_an_electra_folder(tmp_path):
    folder = tmp_path / "bert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(CheckpointError, match="'bert' model"):
        keras_electra.ElectraDiscriminator.from_preset(str(folder))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        conversion.load_transformers(str(empty))
    with pytest.raises(CheckpointError, match="no TF1 checkpoint"):
        conversion.load_tf1(str(empty))


def test_mismatched_towers_are_named(tmp_path):
    _, _, d_dir, g_dir = make_hf_pair(tmp_path)
    config = json.loads(open(f"{g_dir}/config.json").read())
    for field, value in (("vocab_size", 90), ("max_position_embeddings", 9)):
        bad = {**config, field: value}
        with open(f"{g_dir}/config.json", "w") as f:
            json.dump(bad, f)
        with pytest.raises(CheckpointError, match=f"{field} differ"):
            conversion.load_transformers(d_dir, g_dir)
    # Different embedding widths are an untied pair; they cannot be tied.
    with open(f"{g_dir}/config.json", "w") as f:
        json.dump({**config, "embedding_size": 8}, f)
    with pytest.raises(CheckpointError, match="one width"):
        conversion.load_transformers(d_dir, g_dir, tie_embeddings=True)
