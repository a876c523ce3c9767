import json
import pathlib

import keras
import numpy as np
import pytest
from backend_utils import gradients
from helpers import SMALL_IDS
from helpers import deterministic_weights
from helpers import random_batch
from helpers import tiny_pretrainer
from helpers import to_numpy

import keras_electra
from keras_electra.models import electra_masking

REFERENCE = pathlib.Path(__file__).parent / "data" / "reference_logits.json"
SPECIAL = (
    SMALL_IDS["cls_token_id"],
    SMALL_IDS["sep_token_id"],
    SMALL_IDS["mask_token_id"],
    SMALL_IDS["pad_token_id"],
)


def _mask(batch, seed, mask_rate=0.15, slots=None):
    length = batch["token_ids"].shape[1]
    return {
        k: to_numpy(v)
        for k, v in electra_masking.mask_tokens(
            batch["token_ids"],
            batch["padding_mask"],
            seed=seed,
            mask_rate=mask_rate,
            max_predictions=slots or int((mask_rate + 0.005) * length),
            mask_token_id=SMALL_IDS["mask_token_id"],
            special_token_ids=SPECIAL,
        ).items()
    }


def _varied_batch(rows=64, length=64, seed=0):
    rng = np.random.default_rng(seed)
    batch = random_batch(
        rows, length, vocabulary_size=120, seed=seed, num_padding=0
    )
    for i in range(rows):  # real lengths from 3 to `length`
        n = int(rng.integers(3, length + 1))
        batch["token_ids"][i, n - 1] = SMALL_IDS["sep_token_id"]
        batch["token_ids"][i, n:] = 0
        batch["padding_mask"][i, n:] = 0
    # A [MASK] already in the text must never be chosen.
    batch["token_ids"][:, 1] = SMALL_IDS["mask_token_id"]
    return batch


def test_masking_rules_exact():
    batch = _varied_batch()
    seed = keras.random.SeedGenerator(3)
    tokens, real = batch["token_ids"], batch["padding_mask"].astype(bool)
    candidates = real & ~np.isin(tokens, SPECIAL)
    slots = int((0.15 + 0.005) * tokens.shape[1])
    for _ in range(5):
        out = _mask(batch, seed)
        selected = out["is_masked"].astype(bool)
        # Never [CLS], [SEP], [MASK] or padding.
        assert not (selected & ~candidates).any()
        # Exactly max(1, round(rate * real tokens)), capped by the slots and
        # by the number of candidates.
        expected = np.minimum(
            np.clip(np.round(real.sum(1) * 0.15), 1, slots), candidates.sum(1)
        )
        np.testing.assert_array_equal(selected.sum(1), expected)
        np.testing.assert_array_equal(out["mask_weights"].sum(1), expected)
        # Only [MASK] or the original token at selected positions (no random
        # tokens); untouched elsewhere.
        changed = out["masked_ids"] != tokens
        assert not (changed & ~selected).any()
        assert (out["masked_ids"][changed] == SMALL_IDS["mask_token_id"]).all()
        # The recorded ids are the originals at the recorded positions.
        rows = np.arange(tokens.shape[0])[:, None]
        w = out["mask_weights"] > 0
        np.testing.assert_array_equal(
            out["mask_ids"][w], tokens[rows, out["mask_positions"]][w]
        )


def test_masking_statistics_over_many_draws():
    batch = random_batch(128, 64, vocabulary_size=120, num_padding=0)
    seed = keras.random.SeedGenerator(11)
    tokens = batch["token_ids"]
    total_selected = total_masked = 0
    counts = np.zeros(tokens.shape[1])
    previous = None
    for _ in range(20):
        out = _mask(batch, seed)
        selected = out["is_masked"].astype(bool)
        total_selected += selected.sum()
        total_masked += (
            (out["masked_ids"] == SMALL_IDS["mask_token_id"]) & selected
        ).sum()
        counts += selected.sum(0)
        if previous is not None:  # dynamic: a new mask every call
            assert (previous != selected).any()
        previous = selected
    rate = total_masked / total_selected
    assert abs(rate - 0.85) < 0.015, rate  # 85% [MASK], 15% kept
    # round(0.15 * 64) = 10, capped by int((0.15 + 0.005) * 64) = 9 slots.
    assert total_selected == 20 * 128 * 9
    # Uniform over candidate positions (1..61): no position is favoured.
    inner = counts[1:-1]
    assert inner.std() / inner.mean() < 0.1
    assert counts[0] == 0 and counts[-1] == 0


def test_labels_treat_a_correct_guess_as_original():
    tokens = np.array([[2, 10, 11, 12, 13, 3, 0]], "int32")
    padding = np.array([[1, 1, 1, 1, 1, 1, 0]], "int32")
    positions = np.array([[1, 3, 4, 0]], "int32")
    weights = np.array([[1.0, 1.0, 1.0, 0.0]], "float32")
    sampled = np.array(
        [[10, 50, 13, 99]], "int32"
    )  # right, wrong, right, unused
    corrupted, labels = electra_masking.replace_tokens(
        tokens, positions, weights, sampled, padding
    )
    np.testing.assert_array_equal(
        to_numpy(corrupted), [[2, 10, 11, 50, 13, 3, 0]]
    )
    np.testing.assert_array_equal(to_numpy(labels), [[0, 0, 0, 1, 0, 0, 0]])


def test_gumbel_sampling_follows_the_softmax():
    logits = np.log(np.array([[0.7, 0.2, 0.1, 1e-9]] * 4000, "float32"))
    seed = keras.random.SeedGenerator(5)
    ids = to_numpy(electra_masking.gumbel_sample(logits, seed))
    freq = np.bincount(ids, minlength=4) / ids.size
    np.testing.assert_allclose(freq, [0.7, 0.2, 0.1, 0.0], atol=0.03)


def test_joint_step_outputs_and_loss_formula():
    pretrainer = tiny_pretrainer()
    batch = random_batch(4, 24)
    out = {k: to_numpy(v) for k, v in pretrainer(batch, training=False).items()}
    # The discriminator never sees [MASK].
    assert not (out["corrupted_ids"] == SMALL_IDS["mask_token_id"]).any()
    assert (out["masked_ids"] == SMALL_IDS["mask_token_id"]).any()
    # Labels: 1 exactly where the corrupted token differs, never on padding.
    np.testing.assert_array_equal(
        out["replaced_labels"],
        (out["corrupted_ids"] != batch["token_ids"]) * 1.0,
    )
    # loss = 1 * MLM + 50 * RTD, computed here with numpy.
    logits = out["generator_logits"].astype("float64")
    log_probs = logits - logits.max(-1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, out["mask_ids"][..., None], -1)[..., 0]
    w = out["mask_weights"]
    mlm = (nll * w).sum() / (w.sum() + 1e-6)
    x, z, m = (
        out["discriminator_logits"],
        out["replaced_labels"],
        out["padding_mask"],
    )
    bce = np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))
    rtd = (bce * m).sum() / (m.sum() + 1e-6)
    y_pred = pretrainer(batch, training=False)
    np.testing.assert_allclose(
        float(to_numpy(pretrainer.generator_loss(y_pred))) > 0, True
    )
    total = float(
        to_numpy(
            pretrainer.compute_loss(
                y_pred={
                    k: keras.ops.convert_to_tensor(v) for k, v in out.items()
                }
            )
        )
    )
    np.testing.assert_allclose(total, mlm + 50.0 * rtd, rtol=1e-5)


@pytest.mark.parametrize("path", ["call", "predict"])
def test_outputs_describe_one_corruption_of_the_input(path):
    """Every output agrees with the batch it came from, whether the model is
    called or runs compiled (`predict`): `mask_ids` are the original tokens
    at `mask_positions`, `masked_ids` hold [MASK] or the original there and
    the originals elsewhere, and the generator's guesses are what
    `corrupted_ids` holds at those positions."""
    pretrainer = tiny_pretrainer()
    batch = random_batch(4, 24)
    if path == "call":
        out = pretrainer(batch, training=True)
    else:
        out = pretrainer.predict(batch, verbose=0)
    out = {k: to_numpy(v) for k, v in out.items()}
    positions, real = out["mask_positions"], out["mask_weights"] > 0
    originals = np.take_along_axis(batch["token_ids"], positions, 1)
    np.testing.assert_array_equal(out["mask_ids"][real], originals[real])
    at_slots = np.take_along_axis(out["masked_ids"], positions, 1)[real]
    assert np.all(
        (at_slots == SMALL_IDS["mask_token_id"]) | (at_slots == originals[real])
    )
    elsewhere = np.ones_like(batch["token_ids"], bool)
    for row, (p, r) in enumerate(zip(positions, real)):
        elsewhere[row, p[r]] = False
    np.testing.assert_array_equal(
        out["masked_ids"][elsewhere], batch["token_ids"][elsewhere]
    )
    np.testing.assert_array_equal(
        out["corrupted_ids"][elsewhere], batch["token_ids"][elsewhere]
    )
    np.testing.assert_array_equal(
        np.take_along_axis(out["corrupted_ids"], positions, 1)[real],
        out["sampled_ids"][real],
    )


def test_no_gradient_reaches_the_generator_from_the_rtd_loss():
    pretrainer = tiny_pretrainer()
    batch = random_batch(4, 24)
    shared = {
        id(w) for w in pretrainer.discriminator.backbone.embedding.weights
    }
    generator_only = [
        w for w in pretrainer.generator.trainable_weights if id(w) not in shared
    ]
    discriminator_only = [
        w
        for w in pretrainer.discriminator.trainable_weights
        if id(w) not in shared
    ]
    variables = generator_only + discriminator_only
    rtd = gradients(
        lambda: pretrainer.discriminator_loss(pretrainer(batch, training=True)),
        variables,
    )
    n = len(generator_only)
    assert all(np.abs(g).max() == 0 for g in rtd[:n])
    assert sum(np.abs(g).sum() for g in rtd[n:]) > 0
    mlm = gradients(
        lambda: pretrainer.generator_loss(pretrainer(batch, training=True)),
        generator_only,
    )
    assert sum(np.abs(g).sum() for g in mlm) > 0


def test_same_weights_give_same_logits_on_every_backend():
    reference = json.loads(REFERENCE.read_text())
    pretrainer = tiny_pretrainer(vocabulary_size=reference["vocabulary_size"])
    deterministic_weights(pretrainer, seed=reference["weights_seed"])
    batch = {k: np.array(v, "int32") for k, v in reference["inputs"].items()}
    logits = to_numpy(pretrainer.discriminator(batch))
    np.testing.assert_allclose(
        logits, np.array(reference["discriminator_logits"]), atol=1e-5
    )
    gen_inputs = {
        **batch,
        "mask_positions": np.array(reference["mask_positions"], "int32"),
    }
    np.testing.assert_allclose(
        to_numpy(pretrainer.generator(gen_inputs)),
        np.array(reference["generator_logits"]),
        atol=1e-5,
    )


def test_metrics_are_reported_by_fit_and_evaluate():
    pretrainer = tiny_pretrainer()
    pretrainer.compile(num_train_steps=4, warmup_steps=0)
    data = random_batch(16, 24)
    history = pretrainer.fit(data, batch_size=4, epochs=1, verbose=0).history
    expected = {
        "loss",
        "generator_loss",
        "generator_accuracy",
        "discriminator_loss",
        "discriminator_accuracy",
        "discriminator_precision",
        "discriminator_recall",
        "replaced_fraction",
    }
    assert expected <= set(history)
    result = pretrainer.evaluate(
        data, batch_size=4, verbose=0, return_dict=True
    )
    assert expected <= set(result)
    assert 0.0 < result["replaced_fraction"] < 0.2
    np.testing.assert_allclose(
        result["loss"],
        result["generator_loss"] + 50 * result["discriminator_loss"],
        rtol=1e-4,
    )


def test_compile_rejects_a_loss():
    pretrainer = tiny_pretrainer()
    with pytest.raises(ValueError, match="computes its own loss"):
        pretrainer.compile(loss="mse")


@pytest.mark.parametrize("task", ["pretrainer", "text_classifier"])
def test_a_train_step_does_not_reuse_earlier_gradients(task, tmp_path):
    """A model that trained one step and a copy of its state take the same
    next step: no gradient of the first step is left over for the second.

    On PyTorch this needs every variable to be a registered torch parameter
    (`zero_grad` clears only those): without `TorchParametersMixin` the
    pretrainer that continued added its first step's gradients and its
    weights differed from the copy's by 0.028 here.
    """
    batch = random_batch(4, 24)
    if task == "pretrainer":
        data = (batch,)

        def build():
            return tiny_pretrainer()
    else:
        data = (batch, np.array([0, 1, 1, 0]))

        def build():
            backbone = tiny_pretrainer().backbone
            return keras_electra.ElectraTextClassifier(
                backbone, num_classes=2, dropout=0.0
            )

    trained = build()
    trained.compile(optimizer=keras.optimizers.SGD(0.1))
    trained.train_on_batch(*data)
    copy = build()
    copy.compile(optimizer=keras.optimizers.SGD(0.1))
    copy.optimizer.build(copy.trainable_variables)
    for source, target in (
        (trained.variables, copy.variables),
        (trained.optimizer.variables, copy.optimizer.variables),
    ):
        for a, b in zip(source, target):
            b.assign(to_numpy(a))
    trained.train_on_batch(*data)
    copy.train_on_batch(*data)
    for a, b in zip(trained.trainable_variables, copy.trainable_variables):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-6)
