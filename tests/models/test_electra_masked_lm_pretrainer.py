"""The masked-LM baseline (issue #15): BERT's 80/10/10 masking in the graph,
its loss at the masked positions, and its config and preset round trips."""

import keras
import numpy as np
import pytest
from helpers import SMALL_IDS
from helpers import random_batch
from helpers import to_numpy

import keras_electra
from keras_electra.layers import electra_masking


def tiny_masked_lm(vocabulary_size=120, seed=7, **kwargs):
    backbone = keras_electra.ElectraBackbone(
        vocabulary_size=vocabulary_size,
        num_layers=2,
        num_heads=2,
        hidden_dim=32,
        intermediate_dim=64,
        embedding_dim=16,
        max_sequence_length=64,
        dropout=0.0,
    )
    return keras_electra.ElectraMaskedLMPretrainer(
        backbone, seed=seed, **{**SMALL_IDS, **kwargs}
    )


def test_masking_is_80_10_10_over_the_chosen_positions():
    vocabulary_size = 1000
    batch = random_batch(64, 64, vocabulary_size=vocabulary_size, seed=3)
    seed = keras.random.SeedGenerator(11)
    counts = np.zeros(3)  # [MASK], another token, kept
    for _ in range(4):
        out = electra_masking.mask_tokens(
            batch["token_ids"],
            batch["padding_mask"],
            seed=seed,
            mask_rate=0.15,
            max_predictions=10,
            mask_token_id=SMALL_IDS["mask_token_id"],
            special_token_ids=(2, 3, 4, 0),
            mask_token_rate=0.8,
            random_token_rate=0.1,
            vocabulary_size=vocabulary_size,
        )
        masked = to_numpy(out["masked_ids"])
        positions = to_numpy(out["mask_positions"])
        weights = to_numpy(out["mask_weights"]) > 0
        original = np.take_along_axis(batch["token_ids"], positions, 1)
        written = np.take_along_axis(masked, positions, 1)[weights]
        original = original[weights]
        is_mask = written == SMALL_IDS["mask_token_id"]
        counts += [
            is_mask.sum(),
            (~is_mask & (written != original)).sum(),
            (written == original).sum(),
        ]
        # Nothing outside the chosen positions changes.
        outside = to_numpy(out["is_masked"]) == 0
        np.testing.assert_array_equal(
            masked[outside], batch["token_ids"][outside]
        )
        assert written.min() >= 0 and written.max() < vocabulary_size
    fractions = counts / counts.sum()
    # 2,560 positions: three standard errors are under 0.025.
    np.testing.assert_allclose(fractions, [0.8, 0.1, 0.1], atol=0.03)


def test_electra_masking_draws_no_random_tokens():
    batch = random_batch(32, 48, seed=5)
    out = electra_masking.mask_tokens(
        batch["token_ids"],
        batch["padding_mask"],
        seed=keras.random.SeedGenerator(2),
        mask_rate=0.15,
        max_predictions=7,
        mask_token_id=4,
        special_token_ids=(2, 3, 4, 0),
    )
    masked = to_numpy(out["masked_ids"])
    changed = masked != batch["token_ids"]
    assert changed.any() and np.all(masked[changed] == 4)


def test_loss_is_the_cross_entropy_at_the_masked_positions():
    model = tiny_masked_lm()
    batch = random_batch(4, 24)
    out = model(batch, training=False)
    logits = to_numpy(out["logits"])
    weights = to_numpy(out["mask_weights"])
    targets = to_numpy(out["mask_ids"])
    # The head runs at the prediction slots only.
    assert logits.shape == (4, model.num_slots(24), 120)
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
    expected = -(picked * weights).sum() / weights.sum()
    np.testing.assert_allclose(
        float(to_numpy(model.masked_lm_loss(out))), expected, rtol=1e-4
    )
    # The encoder reads the masked sequence: [MASK] where chosen.
    masked = to_numpy(out["masked_ids"])
    assert (masked == SMALL_IDS["mask_token_id"]).sum() > 0
    # Training on one batch lowers its loss.
    model.compile(learning_rate=3e-3, num_train_steps=30, warmup_steps=0)
    first = model.train_on_batch(batch, return_dict=True)["mlm_loss"]
    for _ in range(15):
        last = model.train_on_batch(batch, return_dict=True)["mlm_loss"]
    assert last < first - 0.3, (first, last)


def test_config_and_preset_round_trip(tmp_path):
    model = tiny_masked_lm(random_token_rate=0.05, mask_token_rate=0.85)
    config = model.get_config()
    restored = keras_electra.ElectraMaskedLMPretrainer.from_config(config)
    assert restored.get_config() == config
    assert restored.random_token_rate == 0.05
    assert restored.mask_token_rate == 0.85
    model.compile(learning_rate=1e-2, num_train_steps=5, warmup_steps=0)
    model.train_on_batch(random_batch(4, 24))
    preset = str(tmp_path / "mlm")
    model.save_to_preset(preset)
    loaded = keras_electra.ElectraMaskedLMPretrainer.from_preset(preset)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    # What fine-tuning loads is the trained encoder.
    backbone = keras_electra.ElectraBackbone.from_preset(preset)
    batch = random_batch(2, 16)
    np.testing.assert_allclose(
        to_numpy(backbone(batch)),
        to_numpy(model.backbone(batch)),
        atol=1e-5,
    )
    saved = tmp_path / "mlm.keras"
    model.save(saved)
    reloaded = keras.saving.load_model(saved)
    assert isinstance(reloaded, keras_electra.ElectraMaskedLMPretrainer)
    assert reloaded.random_token_rate == 0.05


def test_bad_settings_say_what_to_fix():
    with pytest.raises(ValueError, match="mask_token_rate \\+ random"):
        tiny_masked_lm(mask_token_rate=0.95, random_token_rate=0.1)
    with pytest.raises(ValueError, match="own loss"):
        tiny_masked_lm().compile(loss="mse")


def test_fine_tuning_tasks_load_an_mlm_preset_in_a_fresh_process(tmp_path):
    """The stored task class is checked on load: it must be registered
    without the user importing it."""
    import subprocess
    import sys

    preset = tmp_path / "mlm"
    tiny_masked_lm().save_to_preset(str(preset))
    code = (
        "import keras_electra\n"
        "model = keras_electra.ElectraTextClassifier.from_preset("
        f"{str(preset)!r}, num_classes=2, preprocessor=None)\n"
        "print(model.backbone.hidden_dim)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("32")
