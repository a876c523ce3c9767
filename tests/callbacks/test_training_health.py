"""`TrainingHealth`: one warning per kind, only after warm-up and a
sustained stretch, never repeated on resume. Pure Python: no model."""

import math

import pytest

from keras_electra.callbacks import TrainingHealth


def _windows(ratios, prior=0.41, generator=5.8, every=10):
    """Log rows: the discriminator's loss at `ratio` x its prior."""
    return [
        (
            (i + 1) * every,
            {
                "discriminator_loss": ratio * prior,
                "discriminator_prior_loss": prior,
                "discriminator_auc": 0.55,
                "generator_loss": generator,
            },
        )
        for i, ratio in enumerate(ratios)
    ]


def _run(health, rows, learning_rate=1e-4):
    return [
        warning
        for step, values in rows
        for warning in health.check(step, values, learning_rate)
    ]


def test_a_discriminator_that_sits_at_its_prior_is_reported_once():
    """The quick start's shape: learns (0.75) then sits at 0.99 from step
    100; the warning comes once the stretch has lasted `patience_steps`."""
    health = TrainingHealth(300, warmup_steps=30, vocabulary_size=4285)
    assert health.patience_steps == 30
    ratios = [1.4, 0.97, 0.76, 0.74, 0.78, 0.82, 0.86, 0.9, 0.94, 0.96]
    ratios += [0.98, 0.985, 0.984, 0.99] + [0.99] * 16
    warnings = _run(health, _windows(ratios))
    assert [(w["kind"], w["step"]) for w in warnings] == [
        ("discriminator_at_prior", 130)
    ]
    message = warnings[0]["message"]
    assert "since step 100" in message and "--temperature" in message
    assert "0.984 of the 0.410" in message and "AUC 0.55" in message


@pytest.mark.parametrize(
    "ratios",
    [
        [0.8] * 30,  # keeps learning (the --temperature 2 run)
        [0.99, 0.99, 0.99] + [0.8] * 27,  # at the prior in warm-up only
        [0.8, 0.99, 0.99, 0.8] * 8,  # brief stretches
    ],
)
def test_no_warning_while_the_discriminator_learns(ratios):
    health = TrainingHealth(300, warmup_steps=30, vocabulary_size=4285)
    assert _run(health, _windows(ratios)) == []


def test_kinds_reported_before_are_not_repeated():
    health = TrainingHealth(
        300,
        warmup_steps=30,
        vocabulary_size=4285,
        already=["discriminator_at_prior"],
    )
    assert _run(health, _windows([0.99] * 30)) == []


def test_generator_learning_rate_and_nan_warnings():
    health = TrainingHealth(300, warmup_steps=10, vocabulary_size=4285)
    uniform = math.log(4285)
    rows = _windows([0.8] * 10, generator=uniform)
    kinds = [w["kind"] for w in _run(health, rows)]
    assert kinds == ["generator_at_uniform"]
    health = TrainingHealth(300, warmup_steps=10, vocabulary_size=4285)
    rows = _windows([0.8] * 3)
    rows[1][1]["discriminator_auc"] = float("nan")
    warnings = _run(health, rows, learning_rate=0.0)
    assert [w["kind"] for w in warnings] == [
        "learning_rate_zero",
        "not_finite",
    ]
    assert "discriminator_auc" in warnings[1]["message"]
    # The last step's learning rate is 0 by design: no warning there.
    health = TrainingHealth(30, warmup_steps=3, vocabulary_size=4285)
    assert health.check(30, {}, 0.0) == []
    assert [w["kind"] for w in health.check(20, {}, 0.0)] == [
        "learning_rate_zero"
    ]


def test_patience_scales_with_the_run():
    assert TrainingHealth(300, 30, 100).patience_steps == 30
    assert TrainingHealth(5000, 500, 100).patience_steps == 500
    assert TrainingHealth(10**6, 10**4, 100).patience_steps == 1000
    assert TrainingHealth(100, 10, 100, patience_steps=7).patience_steps == 7
