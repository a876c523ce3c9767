"""Conversion of models with the backbone's accelerator options: a token
table padded to a multiple of 64 rows is trimmed to the real vocabulary in
every other format and padded again on import; the attention dropout goes
to and comes from transformers' `attention_probs_dropout_prob`."""

import json

import numpy as np
import pytest
from conversion_helpers import VOCAB
from conversion_helpers import assert_parity
from conversion_helpers import corrupted_batch
from conversion_helpers import hf_outputs
from conversion_helpers import keras_inputs
from conversion_helpers import make_hf_pair
from conversion_helpers import our_outputs
from conversion_helpers import transformers
from conversion_helpers import write_tf1_checkpoint
from helpers import to_numpy

import keras_electra
from keras_electra import conversion
from keras_electra.conversion import state_dict

PADDED = 128  # VOCAB (101) padded to a multiple of 64


def _real_ids_only(outputs):
    """`our_outputs` with the generator's logits of the real ids, after
    checking that the padding ids' are -1e9."""
    logits = outputs["generator_logits"]
    assert logits.shape[-1] == PADDED
    assert np.all(logits[..., VOCAB:] == -1e9)
    return {**outputs, "generator_logits": logits[..., :VOCAB]}


def test_padded_pair_converts_to_transformers_and_back(tmp_path):
    discriminator, generator, d_dir, g_dir = make_hf_pair(
        tmp_path / "in", "embedding_equals_hidden"
    )
    b = corrupted_batch(21, seed=3)
    reference = hf_outputs(discriminator, generator, b)
    padded, _ = conversion.load_transformers(
        d_dir, g_dir, pad_vocabulary_to_multiple_of=64
    )
    for tower in (padded.generator, padded.discriminator):
        assert tower.backbone.vocabulary_size == VOCAB
        assert tower.backbone.padded_vocabulary_size == PADDED
    table = to_numpy(padded.backbone.token_embedding.embeddings)
    assert not np.any(table[VOCAB:])  # imported padding rows are zeros
    assert_parity(_real_ids_only(our_outputs(padded, b)), reference)

    # Export: the real vocabulary only, loadable by transformers as is.
    out = tmp_path / "out"
    conversion.export_transformers(padded, out)
    loaded = {}
    for tower, cls in (
        ("discriminator", transformers.ElectraForPreTraining),
        ("generator", transformers.ElectraForMaskedLM),
    ):
        with open(out / tower / "config.json") as f:
            assert json.load(f)["vocab_size"] == VOCAB
        model, info = cls.from_pretrained(out / tower, output_loading_info=True)
        assert not any(info.values()), info
        loaded[tower] = model.eval()
    assert_parity(
        hf_outputs(loaded["discriminator"], loaded["generator"], b), reference
    )

    # And back: the same weights (padding rows zero again).
    again, _ = conversion.load_transformers(
        out / "discriminator",
        out / "generator",
        pad_vocabulary_to_multiple_of=64,
    )
    for a, b_ in zip(padded.weights, again.weights):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b_), err_msg=a.path)


def test_state_dict_trims_and_pads_the_table(tmp_path):
    _, _, _, g_dir = make_hf_pair(tmp_path)
    generator = conversion.load_transformers(
        generator=g_dir, pad_vocabulary_to_multiple_of=64
    )
    bias = generator.mlm_head._bias
    bias.assign(np.arange(PADDED, dtype="float32"))  # padding rows non-zero
    state = state_dict.state_from_model(generator)
    assert state["electra.embeddings.word_embeddings.weight"].shape[0] == VOCAB
    np.testing.assert_array_equal(
        state["generator_lm_head.bias"], np.arange(VOCAB, dtype="float32")
    )
    state_dict.load_state(generator, state, "state")
    expected = np.where(np.arange(PADDED) < VOCAB, np.arange(PADDED), 0)
    np.testing.assert_array_equal(to_numpy(bias), expected)
    # A table of any other size is still refused.
    state["generator_lm_head.bias"] = np.zeros(PADDED, "float32")
    with pytest.raises(state_dict.CheckpointError, match="lm_head.bias"):
        state_dict.load_state(generator, state, "state")


def test_padded_backbone_to_keras_hub_and_back(tmp_path):
    keras_hub = pytest.importorskip("keras_hub")
    _, _, d_dir, _ = make_hf_pair(tmp_path)
    backbone = keras_electra.ElectraBackbone.from_preset(
        d_dir, pad_vocabulary_to_multiple_of=64
    )
    out = tmp_path / "hub"
    conversion.export_keras_hub(backbone, out)
    hub = keras_hub.models.ElectraBackbone.from_preset(str(out))
    assert hub.vocab_size == VOCAB
    assert hub.token_embedding.embeddings.shape[0] == VOCAB
    b = corrupted_batch(19)
    x = keras_inputs(b, b["corrupted"])
    expected = to_numpy(backbone(x))
    for padding in (None, 64):
        again, _ = conversion.load_keras_hub(
            str(out), pad_vocabulary_to_multiple_of=padding
        )
        assert again.padded_vocabulary_size == (padding and PADDED or VOCAB)
        np.testing.assert_allclose(to_numpy(again(x)), expected, atol=1e-6)


def test_tf1_checkpoint_imports_padded(tmp_path):
    write_tf1_checkpoint(str(tmp_path), np.random.default_rng(0))
    plain, _ = conversion.load_tf1(tmp_path)
    padded, _ = conversion.load_tf1(
        tmp_path, pad_vocabulary_to_multiple_of=128, attention_dropout=0.0
    )
    vocabulary = plain.backbone.vocabulary_size  # 60
    for tower in (padded.generator, padded.discriminator):
        assert tower.backbone.padded_vocabulary_size == 128
        assert tower.backbone.attention_dropout == 0.0
    rng = np.random.default_rng(1)
    x = {
        "token_ids": rng.integers(5, vocabulary, (2, 16)).astype("int32"),
        "segment_ids": np.zeros((2, 16), "int32"),
        "padding_mask": np.ones((2, 16), "int32"),
        "mask_positions": np.array([[1, 4], [2, 9]], "int32"),
    }
    expected = to_numpy(plain.generator(x))
    got = to_numpy(padded.generator(x))
    np.testing.assert_allclose(got[..., :vocabulary], expected, atol=1e-5)
    assert np.all(got[..., vocabulary:] == -1e9)
    inputs = {k: v for k, v in x.items() if k != "mask_positions"}
    np.testing.assert_allclose(
        to_numpy(padded.discriminator(inputs)),
        to_numpy(plain.discriminator(inputs)),
        atol=1e-5,
    )


def test_attention_dropout_in_transformers_configs(tmp_path):
    _, _, d_dir, _ = make_hf_pair(tmp_path)  # both dropouts 0.0
    default = keras_electra.ElectraDiscriminator.from_preset(d_dir, dropout=0.1)
    fused = keras_electra.ElectraDiscriminator.from_preset(
        d_dir, dropout=0.1, attention_dropout=0.0
    )
    for model, expected, name in (
        (default, 0.1, "default"),
        (fused, 0.0, "fused"),
    ):
        conversion.export_transformers(model, tmp_path / name)
        with open(tmp_path / name / "config.json") as f:
            config = json.load(f)
        assert config["hidden_dropout_prob"] == 0.1
        assert config["attention_probs_dropout_prob"] == expected
        again = keras_electra.ElectraBackbone.from_preset(str(tmp_path / name))
        assert again.dropout == 0.1
        # One dropout for both, as the reference: no option set.
        assert again.attention_dropout == (None if expected else 0.0)
