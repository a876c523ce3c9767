"""`layers/electra_masking.py`: ELECTRA's masking, sampling and labels."""

import keras
import numpy as np
from helpers import SMALL_IDS
from helpers import random_batch
from helpers import to_numpy

from keras_electra.layers import electra_masking

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
