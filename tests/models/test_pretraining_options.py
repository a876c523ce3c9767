"""`ElectraPretrainer`'s options for the RTD study (issue #15): uniform
replacement, a temperature schedule and gradient-disentangled embedding
sharing (GDES), each through a training step, its config and a preset;
and the backbone's accelerator options (fused attention, a padded token
table) through both pre-training models and the parameter counts."""

import keras
import numpy as np
import pytest
from backend_utils import gradients
from helpers import SMALL_IDS
from helpers import given_corruption
from helpers import random_batch
from helpers import tiny_pretrainer
from helpers import to_numpy

import keras_electra


def _arrays(variables):
    return [to_numpy(v).copy() for v in variables]


def _moved(before, variables):
    return max(
        float(np.abs(to_numpy(v) - b).max()) for v, b in zip(variables, before)
    )


def test_uniform_replacement_labels_and_frozen_generator():
    pretrainer = tiny_pretrainer(replacement="uniform")
    batch = random_batch(8, 24)
    out = pretrainer(batch, training=False)
    positions = to_numpy(out["mask_positions"])
    weights = to_numpy(out["mask_weights"]) > 0
    corrupted = to_numpy(out["corrupted_ids"])
    sampled = to_numpy(out["sampled_ids"])
    labels = to_numpy(out["replaced_labels"])
    originals = batch["token_ids"]
    # Written at the chosen positions, labelled 1 only where they differ.
    written = np.take_along_axis(corrupted, positions, axis=1)
    np.testing.assert_array_equal(written[weights], sampled[weights])
    expected = (corrupted != originals).astype("float32")
    np.testing.assert_array_equal(labels, expected)
    # Uniform over the vocabulary: every id comes up, none dominates.
    draws = np.concatenate(
        [
            to_numpy(pretrainer(batch, training=False)["sampled_ids"])[weights]
            for _ in range(40)
        ]
    )
    counts = np.bincount(draws, minlength=120)
    assert counts.min() > 0 and counts.max() < 6 * counts.mean()
    # The generator's logits are all equal: its loss is log(vocabulary).
    np.testing.assert_allclose(
        float(to_numpy(pretrainer.generator_loss(out))), np.log(120), 1e-4
    )
    # Training moves the discriminator and the shared embeddings, never the
    # generator's own layers (they are left out of the step).
    shared = pretrainer.backbone.embedding.trainable_variables
    own = [
        v
        for v in pretrainer.generator.weights
        if not any(v is s for s in shared)
    ]
    assert own and not any(v.trainable for v in own)
    before_own, before_shared = _arrays(own), _arrays(shared)
    before_disc = _arrays(pretrainer.discriminator.trainable_variables)
    pretrainer.compile(learning_rate=1e-2, num_train_steps=10, warmup_steps=0)
    pretrainer.train_on_batch(batch)
    assert _moved(before_own, own) == 0.0
    assert _moved(before_shared, shared) > 1e-4
    assert (
        _moved(before_disc, pretrainer.discriminator.trainable_variables) > 1e-4
    )


def test_temperature_schedule_values_and_resume(tmp_path):
    pretrainer = tiny_pretrainer(
        temperature=1.0, temperature_start=3.0, temperature_steps=4
    )
    corruption = pretrainer.corruption
    expected = [3.0, 2.5, 2.0, 1.5, 1.0, 1.0]
    batch = random_batch(4, 24)
    seen = []
    pretrainer.compile(num_train_steps=10, warmup_steps=0)
    for _ in expected:
        seen.append(float(to_numpy(corruption.current_temperature())))
        pretrainer.train_on_batch(batch)
    np.testing.assert_allclose(seen, expected, rtol=1e-6)
    # Inference does not advance the schedule.
    pretrainer(batch, training=False)
    pretrainer.evaluate(batch, verbose=0)
    assert int(to_numpy(corruption.schedule_step)) == 6
    # The count is a variable of the model: saved and restored.
    pretrainer.save_to_preset(str(tmp_path / "p"))
    restored = keras_electra.ElectraPretrainer.from_preset(str(tmp_path / "p"))
    assert int(to_numpy(restored.corruption.schedule_step)) == 6
    assert restored.temperature_start == 3.0
    assert restored.temperature_steps == 4
    # Without a schedule there is no extra variable (older presets load).
    plain = tiny_pretrainer()
    assert plain.corruption.schedule_step is None
    assert len(corruption.weights) == len(plain.corruption.weights) + 1
    with pytest.raises(ValueError, match="temperature_steps"):
        tiny_pretrainer(temperature_start=2.0)
    with pytest.raises(ValueError, match="must be positive"):
        tiny_pretrainer(temperature=0.0)
    with pytest.raises(ValueError, match="replacement"):
        tiny_pretrainer(replacement="random")


def test_gdes_gradients_are_disentangled():
    """The shared table (the generator's) gets no RTD gradient; the
    residual (the discriminator's own table) gets no MLM gradient."""
    pretrainer = tiny_pretrainer(embedding_sharing="gdes")
    assert pretrainer.embedding_sharing == "gdes"
    assert pretrainer.tie_embeddings is False
    shared = pretrainer.generator.backbone.token_embedding.embeddings
    residual = pretrainer.discriminator.backbone.token_embedding.embeddings
    assert shared is not residual
    assert not np.any(to_numpy(residual))  # zero at the start
    # Positions given, so the masking is the same in both losses.
    batch = random_batch(4, 24, seed=3)
    positions = np.tile(np.array([[2, 5, 7]], "int32"), (4, 1))
    given = given_corruption(batch, positions, SMALL_IDS["mask_token_id"])

    def rtd():
        return pretrainer.discriminator_loss(pretrainer(given))

    def mlm():
        return pretrainer.generator_loss(pretrainer(given))

    rtd_shared, rtd_residual = gradients(rtd, [shared, residual])
    mlm_shared, mlm_residual = gradients(mlm, [shared, residual])
    assert not np.any(rtd_shared)
    assert not np.any(mlm_residual)
    assert np.abs(rtd_residual).max() > 0
    assert np.abs(mlm_shared).max() > 0


def test_gdes_presets_hold_the_merged_table(tmp_path):
    pretrainer = tiny_pretrainer(embedding_sharing="gdes")
    pretrainer.compile(learning_rate=1e-2, num_train_steps=10, warmup_steps=0)
    batch = random_batch(4, 24)
    for _ in range(2):
        pretrainer.train_on_batch(batch)
    shared = to_numpy(pretrainer.generator.backbone.token_embedding.embeddings)
    residual = to_numpy(
        pretrainer.discriminator.backbone.token_embedding.embeddings
    )
    assert np.abs(residual).max() > 0
    pretrainer.save_to_preset(str(tmp_path / "p"))
    # Saving leaves the residual exactly as it was.
    np.testing.assert_array_equal(
        to_numpy(pretrainer.discriminator.backbone.token_embedding.embeddings),
        residual,
    )
    # Fine-tuning loads one ordinary table: shared + residual.
    backbone = keras_electra.ElectraBackbone.from_preset(str(tmp_path / "p"))
    np.testing.assert_allclose(
        to_numpy(backbone.token_embedding.embeddings),
        shared + residual,
        rtol=1e-6,
        atol=1e-7,
    )
    discriminator = keras_electra.ElectraDiscriminator.from_preset(
        str(tmp_path / "p")
    )
    # Alone, it computes what the linked tower computes in the pretrainer.
    expected = pretrainer.discriminator(batch)
    np.testing.assert_allclose(
        to_numpy(discriminator(batch)), to_numpy(expected), atol=1e-5
    )
    # The pretrainer comes back with its residual, and computes the same.
    restored = keras_electra.ElectraPretrainer.from_preset(str(tmp_path / "p"))
    assert restored.embedding_sharing == "gdes"
    np.testing.assert_allclose(
        to_numpy(restored.discriminator.backbone.token_embedding.embeddings),
        residual,
        atol=1e-7,
    )
    # A tied architecture, and sharing changes only without weights.
    with pytest.raises(ValueError, match="Cannot change the embedding sharing"):
        keras_electra.ElectraPretrainer.from_preset(
            str(tmp_path / "p"), embedding_sharing="tied"
        )
    new = keras_electra.ElectraPretrainer.from_preset(
        "electra_tiny",
        vocabulary_size=120,
        embedding_sharing="gdes",
        **SMALL_IDS,
    )
    assert new.embedding_sharing == "gdes"
    with pytest.raises(ValueError, match="contradicts"):
        tiny_pretrainer(embedding_sharing="gdes", tie_embeddings=True)


@pytest.mark.parametrize(
    "options",
    [
        dict(replacement="uniform"),
        dict(temperature_start=2.0, temperature_steps=10),
        dict(embedding_sharing="gdes"),
        dict(embedding_sharing="untied"),
    ],
    ids=["uniform", "schedule", "gdes", "untied"],
)
def test_options_round_trip_through_config_and_keras_files(options, tmp_path):
    pretrainer = tiny_pretrainer(**options)
    config = pretrainer.get_config()
    for key, value in options.items():
        assert config[key] == value
    rebuilt = keras_electra.ElectraPretrainer.from_config(config)
    for key, value in options.items():
        assert getattr(rebuilt, key) == value
    pretrainer.compile(num_train_steps=10, warmup_steps=0)
    pretrainer.train_on_batch(random_batch(4, 24))
    path = str(tmp_path / "model.keras")
    pretrainer.save(path)
    loaded = keras.models.load_model(path)
    # The towers compute the same (for GDES: with the residual restored).
    batch = random_batch(2, 24, seed=5)
    for tower in ("discriminator", "generator"):
        inputs = dict(batch)
        if tower == "generator":
            inputs["mask_positions"] = np.tile(
                np.array([[1, 4]], "int32"), (2, 1)
            )
        np.testing.assert_allclose(
            to_numpy(getattr(loaded, tower)(inputs)),
            to_numpy(getattr(pretrainer, tower)(inputs)),
            atol=1e-5,
        )


# === The backbone's accelerator options through the pre-training models ===

# Fused attention and a token table of 128 rows for 120 ids.
ACCELERATOR_OPTIONS = dict(
    attention_dropout=0.0, pad_vocabulary_to_multiple_of=64
)


def test_pretrainer_with_accelerator_options_trains_and_round_trips(tmp_path):
    # From a built-in preset's configuration, as `pretrain` builds a new
    # run's model: the overrides apply to both towers, which keep one
    # embedding block.
    pretrainer = keras_electra.ElectraPretrainer.from_preset(
        "electra_tiny", vocabulary_size=120, **SMALL_IDS, **ACCELERATOR_OPTIONS
    )
    for tower in (pretrainer.discriminator, pretrainer.generator):
        assert tower.backbone.attention_dropout == 0.0
        assert tower.backbone.vocabulary_size == 120
        assert tower.backbone.padded_vocabulary_size == 128
    assert (
        pretrainer.generator.backbone.embedding
        is pretrainer.discriminator.backbone.embedding
    )
    assert pretrainer.generator.mlm_head.predicted_vocabulary_size == 120
    pretrainer.compile(learning_rate=1e-2, num_train_steps=10, warmup_steps=0)
    logs = pretrainer.train_on_batch(random_batch(4, 24), return_dict=True)
    assert np.isfinite(logs["loss"])

    path = str(tmp_path / "fast")
    pretrainer.save_to_preset(path)
    loaded = keras_electra.ElectraPretrainer.from_preset(path)
    for tower in (loaded.discriminator, loaded.generator):
        assert tower.backbone.get_config()["attention_dropout"] == 0.0
        assert (
            tower.backbone.get_config()["pad_vocabulary_to_multiple_of"] == 64
        )
    for a, b in zip(pretrainer.weights, loaded.weights):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b), err_msg=a.path)
    # Overrides that keep the saved shapes load the weights; another
    # padding needs new weights.
    same = keras_electra.ElectraPretrainer.from_preset(
        path, pad_vocabulary_to_multiple_of=64, attention_dropout=0.1
    )
    assert same.generator.backbone.attention_dropout == 0.1
    np.testing.assert_array_equal(
        to_numpy(same.backbone.token_embedding.embeddings),
        to_numpy(pretrainer.backbone.token_embedding.embeddings),
    )
    with pytest.raises(ValueError, match="change pad_vocabulary_to_multiple"):
        keras_electra.ElectraPretrainer.from_preset(
            path, pad_vocabulary_to_multiple_of=128
        )


def test_masked_lm_pretrainer_never_predicts_padding_rows(tmp_path):
    from keras_electra.models.electra_masked_lm_pretrainer import (
        ElectraMaskedLMPretrainer,
    )

    backbone = keras_electra.ElectraBackbone(
        vocabulary_size=120,
        num_layers=1,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        embedding_dim=8,
        max_sequence_length=32,
        **ACCELERATOR_OPTIONS,
    )
    mlm = ElectraMaskedLMPretrainer(backbone, seed=3, **SMALL_IDS)
    # The padding rows as tempting as possible: without the mask every
    # slot would predict one of them.
    bias = mlm.mlm_head._bias
    bias.assign(np.where(np.arange(128) < 120, 0.0, 50.0))
    batch = random_batch(4, 24)
    outputs = mlm.predict_on_batch(batch)
    logits = to_numpy(outputs["logits"])
    assert logits.shape[-1] == 128
    assert np.argmax(logits, -1).max() < 120
    np.testing.assert_array_equal(logits[..., 120:], -1e9)
    # BERT's random replacements draw real ids only.
    masked = to_numpy(outputs["masked_ids"])
    assert masked.max() < 120
    mlm.compile(learning_rate=1e-2, num_train_steps=10, warmup_steps=0)
    logs = mlm.train_on_batch(batch, return_dict=True)
    assert np.isfinite(logs["loss"]) and logs["loss"] < 20  # not 50 + ...

    path = str(tmp_path / "mlm")
    mlm.save_to_preset(path)
    loaded = ElectraMaskedLMPretrainer.from_preset(path)
    assert loaded.mlm_head.predicted_vocabulary_size == 120
    assert loaded.backbone.padded_vocabulary_size == 128
    assert loaded.backbone.attention_dropout == 0.0
    for a, b in zip(mlm.weights, loaded.weights):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b), err_msg=a.path)


@pytest.mark.parametrize("sharing", ["tied", "untied", "gdes"])
def test_parameter_counts_include_and_name_the_padding_rows(sharing):
    from keras_electra.utils import parameter_counts

    pretrainer = tiny_pretrainer(embedding_sharing=sharing)
    padded = keras_electra.ElectraPretrainer.from_config(
        {**pretrainer.get_config(), "pad_vocabulary_to_multiple_of": 64}
    )
    discriminator, generator = parameter_counts.pretrainer_towers(
        padded.backbone.get_config(),
        padded.generator.backbone.get_config(),
        sharing,
    )
    # What the models hold, padding rows included.
    assert discriminator.total == padded.discriminator.count_params()
    assert generator.total == padded.generator.count_params()
    distinct = discriminator.total + generator.total - generator.shared
    assert distinct == padded.count_params()
    # 8 padding rows: the discriminator's 16-wide table; the generator's
    # (16 wide tied, 8 untied) and its output bias.
    width = 8 if sharing == "untied" else 16
    assert discriminator.padding == 8 * 16
    assert generator.padding == 8 * width + 8
    lines = parameter_counts.describe_towers(discriminator, generator)
    assert f"{discriminator.padding:,} of them pad the token table" in lines[0]
    assert f"{generator.padding:,} of them pad the token table" in lines[1]
    both = generator.padding + (0 if sharing == "tied" else 8 * 16)
    assert f"({both:,} of them pad the token table" in lines[2]
    # Unpadded, the lines say nothing of padding.
    plain = parameter_counts.describe_towers(
        *parameter_counts.pretrainer_towers(
            pretrainer.backbone.get_config(),
            pretrainer.generator.backbone.get_config(),
            sharing,
        )
    )
    assert not any("pad" in line for line in plain)
