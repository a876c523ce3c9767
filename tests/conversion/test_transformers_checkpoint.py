"""`conversion/transformers_checkpoint.py`: import and export of transformers
ELECTRA pairs, with logit and loss parity.
"""

import warnings

import numpy as np
import pytest
from conversion_helpers import CONFIGS
from conversion_helpers import assert_parity
from conversion_helpers import corrupted_batch
from conversion_helpers import hf_discriminator_logits
from conversion_helpers import hf_outputs
from conversion_helpers import keras_inputs
from conversion_helpers import make_hf_pair
from conversion_helpers import our_outputs
from conversion_helpers import torch
from conversion_helpers import transformers
from helpers import WORDS
from helpers import to_numpy

import keras_electra
from keras_electra import conversion


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("length", [13, 37])
def test_transformers_import_matches_logits_and_losses(tmp_path, name, length):
    discriminator, generator, d_dir, g_dir = make_hf_pair(tmp_path, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tied embeddings: no warning
        pretrainer, tokenizer = conversion.load_transformers(d_dir, g_dir)
    assert tokenizer is None
    # The embedding block is one object shared by both towers.
    assert (
        pretrainer.generator.backbone.embedding
        is pretrainer.discriminator.backbone.embedding
    )
    b = corrupted_batch(length)
    assert_parity(
        our_outputs(pretrainer, b), hf_outputs(discriminator, generator, b)
    )


def test_round_trip_export_import(tmp_path):
    discriminator, generator, d_dir, g_dir = make_hf_pair(
        tmp_path / "in", "embedding_equals_hidden"
    )
    pretrainer, _ = conversion.load_transformers(d_dir, g_dir)
    tokenizer = keras_electra.ElectraTokenizer(vocabulary=WORDS)
    out = tmp_path / "out"
    conversion.export_transformers(pretrainer, out, tokenizer)

    loaded = {}
    for tower, cls in (
        ("discriminator", transformers.ElectraForPreTraining),
        ("generator", transformers.ElectraForMaskedLM),
    ):
        model, info = cls.from_pretrained(out / tower, output_loading_info=True)
        assert not info["missing_keys"], info
        assert not info["unexpected_keys"], info
        assert not info["mismatched_keys"], info
        loaded[tower] = model.eval()
    b = corrupted_batch(21, seed=3)
    reference = hf_outputs(discriminator, generator, b)
    assert_parity(our_outputs(pretrainer, b), reference)
    exported = hf_outputs(loaded["discriminator"], loaded["generator"], b)
    assert_parity(exported, reference)
    # The tied output projection of the exported generator is the shared
    # word table.
    assert (
        loaded["generator"].generator_lm_head.weight.data_ptr()
        == loaded[
            "generator"
        ].electra.embeddings.word_embeddings.weight.data_ptr()
    )

    # Import again: identical weights, tokenizer and special ids kept.
    again, again_tokenizer = conversion.load_transformers(
        out / "discriminator", out / "generator"
    )
    for a, b_ in zip(pretrainer.weights, again.weights):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b_), err_msg=a.path)
    assert again_tokenizer.get_vocabulary() == WORDS
    assert again.mask_token_id == 4 and again.cls_token_id == 2

    # transformers' own tokenizer reads the exported files the same way.
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(
        out / "discriminator"
    )
    text = "The quick brown foxes jumps over the lazy dog."
    ours = [2] + [int(i) for i in to_numpy(tokenizer(text))] + [3]
    assert hf_tokenizer(text)["input_ids"] == ours


def test_untied_pretrainer_exports_and_imports_both_tables(tmp_path):
    pretrainer, _ = conversion.load_transformers(
        *make_hf_pair(tmp_path / "in", "embedding_equals_hidden")[2:],
        tie_embeddings=False,
    )
    gen_table = pretrainer.generator.backbone.token_embedding.embeddings
    gen_table.assign(to_numpy(gen_table) + 0.5)
    out = tmp_path / "out"
    conversion.export_transformers(
        pretrainer, out, keras_electra.ElectraTokenizer(vocabulary=WORDS)
    )
    # The two blocks differ, so they load as two (no flag needed); forcing
    # one shared block warns and keeps the discriminator's.
    untied, _ = conversion.load_transformers(
        out / "discriminator", out / "generator"
    )
    assert not untied.tie_embeddings
    with pytest.warns(UserWarning, match="tie_embeddings=True"):
        tied, _ = conversion.load_transformers(
            out / "discriminator", out / "generator", tie_embeddings=True
        )
    assert tied.tie_embeddings
    for tower in ("generator", "discriminator"):
        np.testing.assert_array_equal(
            to_numpy(
                getattr(untied, tower).backbone.token_embedding.embeddings
            ),
            to_numpy(
                getattr(pretrainer, tower).backbone.token_embedding.embeddings
            ),
        )


def test_forcing_tied_embeddings_warns_and_uses_the_discriminators(tmp_path):
    discriminator, _, d_dir, g_dir = make_hf_pair(tmp_path, tie=False)
    with pytest.warns(UserWarning, match="discriminator's .* is used"):
        pretrainer, _ = conversion.load_transformers(
            d_dir, g_dir, tie_embeddings=True
        )
    np.testing.assert_array_equal(
        to_numpy(pretrainer.generator.backbone.token_embedding.embeddings),
        discriminator.electra.embeddings.word_embeddings.weight.detach().numpy(),
    )


def test_untied_generator_of_its_own_width_round_trips(tmp_path):
    # The reference's `untied_generator_embeddings`: the generator's own
    # block is as wide as its hidden layer, with no projection. transformers
    # writes such a generator with embedding_size == hidden_size.
    discriminator, generator, d_dir, g_dir = make_hf_pair(
        tmp_path / "in", "untied_generator", tie=False
    )
    assert not hasattr(generator.electra, "embeddings_project")
    pretrainer, _ = conversion.load_transformers(d_dir, g_dir)
    assert not pretrainer.tie_embeddings
    g_backbone = pretrainer.generator.backbone
    assert g_backbone.embedding_dim == g_backbone.hidden_dim == 16
    assert g_backbone.embeddings_projection is None
    b = corrupted_batch(12)
    assert_parity(
        our_outputs(pretrainer, b), hf_outputs(discriminator, generator, b)
    )
    out = tmp_path / "out"
    conversion.export_transformers(pretrainer, out)
    for tower, model in (
        ("discriminator", discriminator),
        ("generator", generator),
    ):
        reloaded = type(model).from_pretrained(out / tower).eval()
        for (name, a), (_, b_) in zip(
            model.state_dict().items(), reloaded.state_dict().items()
        ):
            np.testing.assert_array_equal(a.numpy(), b_.numpy(), err_msg=name)
    again, _ = conversion.load_transformers(
        out / "discriminator", out / "generator"
    )
    assert not again.tie_embeddings
    # Untying a built-in (random) architecture gives the same layout.
    untied = keras_electra.ElectraPretrainer.from_preset(
        "electra_small", tie_embeddings=False, load_weights=False
    )
    g_backbone = untied.generator.backbone
    assert g_backbone.embedding_dim == g_backbone.hidden_dim == 64
    assert g_backbone.embeddings_projection is None


def test_pytorch_bin_checkpoints_load(tmp_path):
    discriminator, _, d_dir, _ = make_hf_pair(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    torch.save(discriminator.state_dict(), bin_dir / "pytorch_model.bin")
    (bin_dir / "config.json").write_text(
        (tmp_path / "discriminator" / "config.json").read_text()
    )
    model = keras_electra.ElectraDiscriminator.from_preset(str(bin_dir))
    b = corrupted_batch(11)
    np.testing.assert_allclose(
        to_numpy(model(keras_inputs(b, b["corrupted"]))),
        hf_discriminator_logits(discriminator, b),
        atol=1e-4,
    )
