import json
import math

import keras
import numpy as np
import pytest
from helpers import random_batch
from helpers import tiny_pretrainer
from helpers import to_numpy

import keras_electra
from keras_electra.utils import preset_utils

BACKBONE_ARGS = dict(
    vocabulary_size=50,
    num_layers=2,
    num_heads=2,
    hidden_dim=16,
    intermediate_dim=32,
    embedding_dim=8,
    max_sequence_length=32,
)


def test_backbone_shapes_and_config_round_trip():
    backbone = keras_electra.ElectraBackbone(**BACKBONE_ARGS)
    batch = random_batch(2, 12, vocabulary_size=50)
    out = backbone(batch)
    assert tuple(out.shape) == (2, 12, 16)
    config = backbone.get_config()
    for key, value in BACKBONE_ARGS.items():
        assert config[key] == value
    clone = keras_electra.ElectraBackbone.from_config(config)
    assert clone.count_params() == backbone.count_params()
    clone.set_weights(backbone.get_weights())
    np.testing.assert_allclose(to_numpy(clone(batch)), to_numpy(out), atol=1e-6)
    # No projection when embedding and hidden sizes agree.
    same = keras_electra.ElectraBackbone(
        **{**BACKBONE_ARGS, "embedding_dim": 16}
    )
    assert same.embeddings_projection is None
    assert backbone.embeddings_projection is not None


def test_backbone_has_no_pooler_and_uses_exact_gelu():
    backbone = keras_electra.ElectraBackbone(**BACKBONE_ARGS)
    names = [w.path for w in backbone.weights]
    assert not any("pool" in n for n in names)
    activation = backbone.transformer_layers[0].activation
    x = np.array([-1.5, 0.3, 2.0], "float32")
    exact = 0.5 * x * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x]))
    tanh = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    got = to_numpy(activation(keras.ops.convert_to_tensor(x)))
    np.testing.assert_allclose(got, exact, atol=1e-6)
    assert np.abs(got - tanh).max() > 1e-5  # not the tanh approximation


def test_padding_does_not_change_real_positions():
    backbone = keras_electra.ElectraBackbone(
        **{**BACKBONE_ARGS, "dropout": 0.0}
    )
    batch = random_batch(2, 12, vocabulary_size=50, num_padding=3)
    out = to_numpy(backbone(batch))
    changed = {k: v.copy() for k, v in batch.items()}
    changed["token_ids"][:, -3:] = 7  # different tokens under the padding
    out2 = to_numpy(backbone(changed))
    np.testing.assert_allclose(out[:, :-3], out2[:, :-3], atol=1e-5)


def test_generator_and_discriminator_shapes():
    pretrainer = tiny_pretrainer()
    batch = random_batch(3, 20)
    logits = pretrainer.discriminator(batch)
    assert tuple(logits.shape) == (3, 20)
    gen_inputs = {**batch, "mask_positions": np.array([[1, 2, 5]] * 3, "int32")}
    gen_logits = pretrainer.generator(gen_inputs)
    assert tuple(gen_logits.shape) == (3, 3, 120)
    # The generator head only looks at the given positions.
    other = {**gen_inputs, "mask_positions": np.array([[5, 2, 1]] * 3, "int32")}
    swapped = to_numpy(pretrainer.generator(other))
    np.testing.assert_allclose(
        swapped[:, 0], to_numpy(gen_logits)[:, 2], atol=1e-5
    )


def test_embedding_block_is_shared_once():
    pretrainer = tiny_pretrainer()
    gen, disc = pretrainer.generator.backbone, pretrainer.discriminator.backbone
    assert gen.embedding is disc.embedding
    shared = {id(w) for w in disc.embedding.weights}
    assert len(shared) == 5  # word, position, segment tables + LayerNorm
    names = sorted(w.path for w in disc.embedding.weights)
    assert any("layer_norm" in n for n in names)
    # Each tower keeps its own projection (hidden sizes differ).
    assert gen.embeddings_projection is not disc.embeddings_projection
    total = len(pretrainer.generator.weights) + len(
        pretrainer.discriminator.weights
    )
    assert len(pretrainer.weights) == total - len(shared)
    ids = [id(w) for w in pretrainer.trainable_weights]
    assert len(ids) == len(set(ids))
    # The generator head multiplies by the shared word-embedding table.
    assert pretrainer.generator.mlm_head.token_embedding is disc.token_embedding


def test_sharing_requires_matching_sizes():
    disc = keras_electra.ElectraBackbone(**BACKBONE_ARGS)
    with pytest.raises(ValueError, match="vocabulary_size"):
        keras_electra.ElectraBackbone(
            **{**BACKBONE_ARGS, "vocabulary_size": 51, "hidden_dim": 8},
            embedding=disc.embedding,
        )


def test_pretrainer_config_round_trip_keeps_sharing():
    pretrainer = tiny_pretrainer(mask_rate=0.2, discriminator_weight=40.0)
    config = json.loads(preset_utils.serialize_to_json(pretrainer))
    clone = keras.saving.deserialize_keras_object(config)
    assert clone.mask_rate == 0.2 and clone.discriminator_weight == 40.0
    assert (
        clone.generator.backbone.embedding
        is clone.discriminator.backbone.embedding
    )
    assert clone.count_params() == pretrainer.count_params()
    for key in ("generator", "discriminator"):
        assert (
            getattr(clone, key).backbone.get_config()
            == getattr(pretrainer, key).backbone.get_config()
        )


def test_untied_embeddings_round_trip(tmp_path):
    pretrainer = tiny_pretrainer(tie_embeddings=False)
    gen, disc = pretrainer.generator.backbone, pretrainer.discriminator.backbone
    assert gen.embedding is not disc.embedding
    assert pretrainer.generator.mlm_head.token_embedding is gen.token_embedding
    total = len(pretrainer.generator.weights) + len(
        pretrainer.discriminator.weights
    )
    assert len(pretrainer.weights) == total  # nothing shared
    config = json.loads(preset_utils.serialize_to_json(pretrainer))
    clone = keras.saving.deserialize_keras_object(config)
    assert not clone.tie_embeddings
    assert (
        clone.generator.backbone.embedding
        is not clone.discriminator.backbone.embedding
    )
    assert clone.count_params() == pretrainer.count_params()
    # Both tables survive a preset round trip.
    table = gen.token_embedding.embeddings
    table.assign(np.full(table.shape, 0.25, "float32"))
    pretrainer.save_to_preset(str(tmp_path / "p"))
    loaded = keras_electra.ElectraPretrainer.from_preset(str(tmp_path / "p"))
    np.testing.assert_array_equal(
        to_numpy(loaded.generator.backbone.token_embedding.embeddings), 0.25
    )
    np.testing.assert_array_equal(
        to_numpy(loaded.discriminator.backbone.token_embedding.embeddings),
        to_numpy(disc.token_embedding.embeddings),
    )
    with pytest.raises(ValueError, match="tie_embeddings"):
        keras_electra.ElectraPretrainer.from_preset(
            str(tmp_path / "p"), tie_embeddings=True
        )
    tied = tiny_pretrainer()
    with pytest.raises(ValueError, match="own embedding block"):
        keras_electra.ElectraPretrainer(
            tied.generator, tied.discriminator, tie_embeddings=False
        )


@pytest.mark.parametrize("tie", [True, False])
def test_generator_softmax_moves_discriminator_embeddings_only_when_tied(tie):
    # Rows of tokens the discriminator does not see (neither in the text nor
    # sampled) get no RTD gradient, but a tied MLM softmax pushes every row.
    pretrainer = tiny_pretrainer(tie_embeddings=tie)
    pretrainer.compile(optimizer=keras.optimizers.SGD(1.0))
    batch = random_batch(8, 24, vocabulary_size=60)
    # The step's corruption, drawn from the same seed state as the step.
    state = to_numpy(pretrainer.seed_generator.state).copy()
    seen = np.unique(
        to_numpy(pretrainer(batch, training=True)["corrupted_ids"])
    )
    pretrainer.seed_generator.state.assign(state)
    unseen = np.setdiff1d(np.arange(120), seen)
    assert len(unseen) > 20
    table = pretrainer.discriminator.backbone.token_embedding.embeddings
    before = to_numpy(table)[unseen].copy()
    pretrainer.train_on_batch(batch)
    moved = np.abs(to_numpy(table)[unseen] - before).max()
    assert (moved > 1e-6) if tie else (moved == 0.0)


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


def test_from_preset_overrides_and_rejects_unknown_arguments():
    pretrainer = keras_electra.ElectraPretrainer.from_preset(
        "electra_tiny",
        vocabulary_size=100,
        mask_rate=0.25,
        max_sequence_length=64,
    )
    assert pretrainer.mask_rate == 0.25
    for tower in (pretrainer.generator, pretrainer.discriminator):
        assert tower.backbone.vocabulary_size == 100
        assert tower.backbone.max_sequence_length == 64
    with pytest.raises(ValueError, match="Unknown argument"):
        keras_electra.ElectraPretrainer.from_preset(
            "electra_tiny", mask_rat=0.2
        )


def test_save_to_preset_and_reload_gives_identical_outputs(tmp_path):
    pretrainer = tiny_pretrainer()
    batch = random_batch(2, 16)
    path = tmp_path / "preset"
    pretrainer.save_to_preset(path)
    for name in (
        "config.json",
        "model.weights.h5",
        "task.json",
        "task.weights.h5",
        "metadata.json",
    ):
        assert (path / name).exists(), name
    reloaded = keras_electra.ElectraPretrainer.from_preset(path)
    gen_inputs = {**batch, "mask_positions": np.array([[1, 3]] * 2, "int32")}
    np.testing.assert_array_equal(
        to_numpy(reloaded.discriminator(batch)),
        to_numpy(pretrainer.discriminator(batch)),
    )
    np.testing.assert_array_equal(
        to_numpy(reloaded.generator(gen_inputs)),
        to_numpy(pretrainer.generator(gen_inputs)),
    )
    # The backbone alone loads for fine-tuning: the discriminator's.
    backbone = keras_electra.ElectraBackbone.from_preset(path)
    np.testing.assert_array_equal(
        to_numpy(backbone(batch)),
        to_numpy(pretrainer.discriminator.backbone(batch)),
    )
    with pytest.raises(ValueError, match="load_weights=False"):
        keras_electra.ElectraPretrainer.from_preset(path, vocabulary_size=99)


def test_backbone_only_preset_is_not_a_pretrainer(tmp_path):
    backbone = keras_electra.ElectraBackbone(**BACKBONE_ARGS)
    backbone.save_to_preset(tmp_path / "b")
    with pytest.raises(ValueError, match="backbone only"):
        keras_electra.ElectraPretrainer.from_preset(tmp_path / "b")


def test_mixed_precision_policy():
    keras.config.set_dtype_policy("mixed_bfloat16")
    pretrainer = tiny_pretrainer()
    assert (
        pretrainer.discriminator.backbone.embedding.token_embedding.embeddings.dtype
        == "float32"
    )
    out = pretrainer(random_batch(2, 16), training=False)
    # Losses and sampling inputs are float32 whatever the compute dtype.
    assert (
        keras.backend.standardize_dtype(out["generator_logits"].dtype)
        == "float32"
    )
    assert (
        keras.backend.standardize_dtype(out["discriminator_logits"].dtype)
        == "float32"
    )
    assert np.isfinite(float(to_numpy(pretrainer.compute_loss(y_pred=out))))
