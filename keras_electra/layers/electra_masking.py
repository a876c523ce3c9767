"""ELECTRA's in-graph corruption: dynamic masking and Gumbel-max sampling.

Everything here is written with `keras.ops` and `keras.random` only, with
static shapes, so it runs inside a jit-compiled train step on TensorFlow, JAX
and PyTorch, on CPU, GPU or TPU, without a host round-trip.

Differences from Google's `pretrain_helpers.mask` (the reference), on purpose:
- Positions are drawn *without* replacement (top-k of uniform noise over the
  candidate positions). The reference draws them with replacement through
  `tf.random.categorical`, so duplicates silently lower its masking rate; ours
  masks exactly `num_to_predict` distinct positions.
- Unused prediction slots (when a sequence has fewer candidates than
  `num_to_predict`) get weight 0 and never touch the sequence. The reference
  points them at position 0 and relies on `scatter_update` ignoring it.
The count of positions, the candidate rules, the 85%/15% split between
[MASK] and the kept original (no random tokens), and the sampling follow the
reference exactly. `random_token_rate` adds BERT's random replacements for
the masked-LM baseline (80% [MASK], 10% random, 10% kept); ELECTRA uses none.
"""

from keras import ops
from keras import random


def _scatter_positions(positions, weights, length):
    """One-hot `[batch, slots, length]` int32 of the weighted slots."""
    one_hot = ops.one_hot(positions, length, dtype="int32")
    return one_hot * ops.expand_dims(ops.cast(weights, "int32"), -1)


def mask_tokens(
    token_ids,
    padding_mask,
    *,
    seed,
    mask_rate,
    max_predictions,
    mask_token_id,
    special_token_ids,
    mask_token_rate=0.85,
    random_token_rate=0.0,
    vocabulary_size=None,
):
    """Select positions to predict and write [MASK] into 85% of them.

    Args:
        token_ids: int `[batch, length]`.
        padding_mask: `[batch, length]`, 1 for real tokens.
        seed: a `keras.random.SeedGenerator` (the model's).
        mask_rate: fraction of the real tokens of each sequence to predict.
        max_predictions: static number of prediction slots.
        mask_token_id: id of [MASK].
        special_token_ids: ids never selected ([CLS], [SEP], [MASK], [PAD]).
        mask_token_rate: fraction of the selected positions that become
            [MASK]; the others keep their original token.
        random_token_rate: fraction of the selected positions that get a
            token drawn uniformly from the vocabulary (BERT: 0.1; ELECTRA:
            0, and then no extra random draw is made).
        vocabulary_size: the ids' range, needed with `random_token_rate`.

    Returns:
        A dict with `masked_ids` (`[batch, length]`), `mask_positions`,
        `mask_ids` (the original tokens there) and `mask_weights` (1.0 for
        real slots), each `[batch, slots]`, and `is_masked`
        (`[batch, length]` int32, 1 at the selected positions).
    """
    token_ids = ops.cast(token_ids, "int32")
    real = ops.cast(padding_mask, "bool")
    candidates = real
    for special in special_token_ids:
        candidates = ops.logical_and(
            candidates, ops.not_equal(token_ids, special)
        )
    batch_size, length = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
    slots = max_predictions
    if isinstance(length, int):
        slots = min(max_predictions, length)

    # How many to predict: round(mask_rate * real tokens), at least one, at
    # most `slots`, and never more than there are candidates.
    num_tokens = ops.sum(ops.cast(real, "float32"), axis=-1)
    num_to_predict = ops.cast(ops.round(num_tokens * mask_rate), "int32")
    num_to_predict = ops.clip(num_to_predict, 1, slots)
    num_candidates = ops.sum(ops.cast(candidates, "int32"), axis=-1)
    num_to_predict = ops.minimum(num_to_predict, num_candidates)
    slot_index = ops.expand_dims(ops.arange(slots, dtype="int32"), 0)
    mask_weights = ops.cast(
        ops.less(slot_index, ops.expand_dims(num_to_predict, -1)), "float32"
    )

    # Uniform choice without replacement: the top-k of uniform noise, with
    # non-candidates pushed below every candidate.
    noise = random.uniform((batch_size, length), seed=seed, dtype="float32")
    scores = ops.where(candidates, noise, -1.0)
    _, positions = ops.top_k(scores, slots)
    positions = ops.cast(positions, "int32")
    positions = positions * ops.cast(mask_weights, "int32")
    mask_ids = ops.take_along_axis(token_ids, positions, axis=1)
    mask_ids = mask_ids * ops.cast(mask_weights, "int32")

    # 85% of the selected positions become [MASK], 15% keep their token
    # (BERT: 80% [MASK], 10% a random token, 10% kept).
    draw = random.uniform((batch_size, slots), seed=seed, dtype="float32")
    use_mask = ops.less(draw, mask_token_rate)
    selected = _scatter_positions(positions, mask_weights, length)
    is_masked = ops.sum(selected, axis=1)
    to_mask = ops.sum(
        selected * ops.expand_dims(ops.cast(use_mask, "int32"), -1), axis=1
    )
    masked_ids = token_ids
    if random_token_rate:
        if vocabulary_size is None:
            raise ValueError(
                "`random_token_rate` needs `vocabulary_size` (the range of "
                "the random tokens)."
            )
        use_random = ops.logical_and(
            ops.logical_not(use_mask),
            ops.less(draw, mask_token_rate + random_token_rate),
        )
        random_ids = random.randint(
            (batch_size, slots), 0, vocabulary_size, seed=seed, dtype="int32"
        )
        random_ids = random_ids * ops.cast(use_random, "int32")
        written = ops.sum(selected * ops.expand_dims(random_ids, -1), axis=1)
        to_random = ops.sum(
            selected * ops.expand_dims(ops.cast(use_random, "int32"), -1),
            axis=1,
        )
        masked_ids = ops.where(to_random > 0, written, token_ids)
    masked_ids = ops.where(to_mask > 0, mask_token_id, masked_ids)
    return {
        "masked_ids": masked_ids,
        "mask_positions": positions,
        "mask_ids": mask_ids,
        "mask_weights": mask_weights,
        "is_masked": is_masked,
    }


def gumbel_sample(logits, seed, temperature=1.0):
    """Sample ids from `softmax(logits / temperature)` by Gumbel-max.

    No gradient flows through the result (nor into `logits` from it): the
    discriminator's loss must not train the generator.

    Args:
        logits: float `[..., vocabulary_size]`; cast to float32.
        seed: a `keras.random.SeedGenerator`.
        temperature: sampling temperature (1.0 in ELECTRA).

    Returns:
        int32 ids of shape `logits.shape[:-1]`.
    """
    logits = ops.stop_gradient(ops.cast(logits, "float32"))
    uniform = random.uniform(ops.shape(logits), seed=seed, dtype="float32")
    gumbel = -ops.log(-ops.log(uniform + 1e-9) + 1e-9)
    return ops.cast(ops.argmax(logits / temperature + gumbel, axis=-1), "int32")


def replace_tokens(token_ids, positions, weights, sampled_ids, padding_mask):
    """Write the sampled ids into the sequence and label what changed.

    Returns `(corrupted_ids, labels)`: labels are 1.0 only where the written
    token differs from the original, so a generator guess that happens to be
    right counts as "original", as in the reference.
    """
    token_ids = ops.cast(token_ids, "int32")
    length = ops.shape(token_ids)[1]
    selected = _scatter_positions(positions, weights, length)
    written = ops.sum(selected * ops.expand_dims(sampled_ids, -1), axis=1)
    is_written = ops.sum(selected, axis=1) > 0
    corrupted = ops.where(is_written, written, token_ids)
    changed = ops.logical_and(
        ops.not_equal(corrupted, token_ids), ops.cast(padding_mask, "bool")
    )
    return corrupted, ops.cast(changed, "float32")
