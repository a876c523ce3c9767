"""`ElectraAdamW` and the pre-training compile defaults."""

import keras
import numpy as np
import pytest
from helpers import tiny_pretrainer
from helpers import to_numpy

import keras_electra


def _one_step(optimizer, value, gradient):
    variable = keras.Variable(np.array(value, "float32"), name="kernel")
    optimizer.apply(
        [keras.ops.convert_to_tensor(np.array(gradient, "float32"))], [variable]
    )
    return to_numpy(variable)


def test_adam_has_no_bias_correction():
    # After one step m = 0.1 g and v = 0.001 g^2, so without bias correction
    # the step is lr * 0.1 / sqrt(0.001) = 3.162 * lr per unit gradient sign
    # (Keras' corrected Adam would step by lr).
    lr = 0.01
    optimizer = keras_electra.ElectraAdamW(
        learning_rate=lr, weight_decay=0.0, global_clipnorm=None
    )
    value = _one_step(optimizer, [1.0, -2.0], [0.5, -0.25])
    step = (
        lr
        * 0.1
        * np.array([0.5, -0.25])
        / (np.sqrt(0.001 * np.array([0.5, -0.25]) ** 2) + 1e-6)
    )
    np.testing.assert_allclose(value, np.array([1.0, -2.0]) - step, rtol=1e-5)
    assert abs(1.0 - value[0]) > 3 * lr


def test_weight_decay_skips_bias_and_layer_norm():
    lr, decay = 0.1, 0.5
    optimizer = keras_electra.ElectraAdamW(
        learning_rate=lr, weight_decay=decay, global_clipnorm=None
    )
    kernel = keras.Variable(np.ones(2, "float32"), name="kernel")
    bias = keras.Variable(np.ones(2, "float32"), name="bias")
    gamma = keras.Variable(np.ones(2, "float32"), name="gamma")
    beta = keras.Variable(np.ones(2, "float32"), name="beta")
    zeros = keras.ops.zeros((2,))
    optimizer.apply([zeros] * 4, [kernel, bias, gamma, beta])
    np.testing.assert_allclose(to_numpy(kernel), 1.0 - lr * decay, rtol=1e-6)
    for v in (bias, gamma, beta):
        np.testing.assert_allclose(to_numpy(v), 1.0, rtol=1e-6)


def test_gradients_are_clipped_to_global_norm_one():
    optimizer = keras_electra.ElectraAdamW(learning_rate=0.01, weight_decay=0.0)
    assert optimizer.global_clipnorm == 1.0
    assert optimizer.epsilon == 1e-6 and optimizer.beta_2 == 0.999


def test_compile_defaults_use_the_paper_recipe():
    pretrainer = tiny_pretrainer(learning_rate=5e-4)
    pretrainer.compile(num_train_steps=1000)
    optimizer = pretrainer.optimizer
    assert isinstance(optimizer, keras_electra.ElectraAdamW)
    schedule = optimizer._learning_rate
    assert isinstance(schedule, keras_electra.ElectraLearningRateSchedule)
    assert schedule.learning_rate == 5e-4 and schedule.decay_steps == 1000
    # 10,000 warm-up steps at full scale, capped at a tenth of short runs.
    assert schedule.warmup_steps == 100
    pretrainer.compile(num_train_steps=1_000_000)
    assert pretrainer.optimizer._learning_rate.warmup_steps == 10_000
    assert pretrainer.optimizer.weight_decay == pytest.approx(0.01)


def test_accumulation_reads_the_schedule_at_the_update_count():
    schedule = keras_electra.ElectraLearningRateSchedule(
        1e-3, warmup_steps=2, decay_steps=10
    )
    optimizer = keras_electra.ElectraAdamW(
        learning_rate=schedule, gradient_accumulation_steps=4
    )
    variable = keras.Variable(np.ones((3,), "float32"))
    optimizer.build([variable])
    rates = []
    for _ in range(12):
        optimizer.apply([keras.ops.ones((3,))], [variable])
        rates.append(float(to_numpy(optimizer.learning_rate)))
    # 12 batches are 3 updates; the rate after batch b is the schedule's at
    # update b // 4 (Keras alone would read it at b).
    expected = [float(to_numpy(schedule(b // 4))) for b in range(1, 13)]
    np.testing.assert_allclose(rates, expected, rtol=1e-6)
    assert rates[3] != float(to_numpy(schedule(4)))
    with pytest.raises(ValueError, match="positive integer"):
        tiny_pretrainer().compile(gradient_accumulation_steps=0)


@pytest.mark.skipif(
    keras.backend.backend() == "tensorflow",
    reason="Keras' accumulation on TensorFlow differs from run to run "
    "(measured: 0.4-1.7% of a tensor's scale after one update, while the "
    "same run without accumulation is bitwise reproducible); compile() "
    "warns there",
)
def test_four_micro_batches_update_as_one_batch(preset):
    # A deterministic task (no dropout): 4 accumulated batches of 8 and one
    # batch of 32 give the same weights after 2 updates.
    rng = np.random.default_rng(0)
    token_ids = rng.integers(5, 24, (64, 12)).astype("int32")
    token_ids[:, 0], token_ids[:, -1] = 2, 3
    x = {
        "token_ids": token_ids,
        "segment_ids": np.zeros_like(token_ids),
        "padding_mask": np.ones_like(token_ids),
    }
    y = rng.integers(0, 2, 64)

    def train(batch_size, steps):
        keras.utils.set_random_seed(0)
        model = keras_electra.ElectraTextClassifier.from_preset(
            preset, num_classes=2, preprocessor=None, dropout=0.0
        )
        model.compile(
            num_train_steps=2,
            loss_reduction="sum_over_batch_size",
            gradient_accumulation_steps=steps,
        )
        model.fit(x, y, batch_size=batch_size, shuffle=False, verbose=0)
        # `iterations` counts updates (Keras divides by the accumulation).
        assert int(to_numpy(model.optimizer.iterations)) == 2
        return [to_numpy(w) for w in model.trainable_weights]

    accumulated, whole = train(8, 4), train(32, None)
    # Float noise only; a schedule read per batch, or a sum in place of the
    # mean, gives differences of the update's size.
    for a, b in zip(whole, accumulated):
        scale = max(float(np.max(np.abs(a))), 1e-2)
        assert float(np.max(np.abs(a - b))) < 1e-4 * scale


# Variables of several kinds: decayed kernels and embeddings, undecayed
# bias and LayerNorm weights; factors shared by some (one group each on
# PyTorch) and one variable left out (factor 1).
SHAPES = {
    "kernel_a": (4, 3),
    "bias": (3,),
    "kernel_b": (3, 5),
    "gamma": (5,),
    "beta": (5,),
    "embeddings": (7, 4),
}
FACTORS = {
    "kernel_a": 0.64,
    "bias": 0.64,
    "kernel_b": 0.8,
    "gamma": 0.8,
    "embeddings": 0.512,
}
# Gradient scales per step: global norms above 1 (clipped) and below.
GRADIENT_SCALES = (3.0, 0.05, 2.0, 0.01, 1.0, 0.5)


def _reference_adamw(
    values, grads_per_step, rates, factors, weight_decay, clipnorm
):
    """The update written out per variable in float64 numpy: clip to the
    global norm, decoupled decay except bias/gamma/beta, Adam without bias
    correction, each variable's rate scaled by its factor."""
    values = {k: v.astype("float64") for k, v in values.items()}
    m = {k: np.zeros_like(v) for k, v in values.items()}
    v2 = {k: np.zeros_like(v) for k, v in values.items()}
    for grads, rate in zip(grads_per_step, rates):
        grads = {k: g.astype("float64") for k, g in grads.items()}
        if clipnorm:
            norm = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
            scale = min(1.0, clipnorm / norm)
            grads = {k: g * scale for k, g in grads.items()}
        for k, g in grads.items():
            lr = rate * factors.get(k, 1.0)
            if not any(p in k for p in ("bias", "gamma", "beta")):
                values[k] = values[k] - lr * weight_decay * values[k]
            m[k] = 0.9 * m[k] + 0.1 * g
            v2[k] = 0.999 * v2[k] + 0.001 * g**2
            values[k] = values[k] - lr * m[k] / (np.sqrt(v2[k]) + 1e-6)
    return values


def _updates_case(seed=0):
    rng = np.random.default_rng(seed)
    values = {
        k: rng.normal(0, 1, s).astype("float32") for k, s in SHAPES.items()
    }
    grads = [
        {
            k: (scale * rng.normal(0, 1, s)).astype("float32")
            for k, s in SHAPES.items()
        }
        for scale in GRADIENT_SCALES
    ]
    return values, grads


def _run(optimizer, values, grads_per_step):
    variables = {
        k: keras.Variable(v, name=k, dtype="float32") for k, v in values.items()
    }
    rates = []
    for grads in grads_per_step:
        rates.append(float(to_numpy(optimizer.learning_rate)))
        optimizer.apply(
            [keras.ops.convert_to_tensor(grads[k]) for k in variables],
            list(variables.values()),
        )
    return {k: to_numpy(v) for k, v in variables.items()}, rates, variables


def _per_variable_paths():
    params = [pytest.param(True, id="default")]
    if keras.config.backend() == "torch":
        # The per-variable update the multi-tensor one replaced.
        params.append(pytest.param(False, id="per_variable"))
    return params


@pytest.mark.parametrize("foreach", _per_variable_paths())
@pytest.mark.parametrize("layerwise", [False, True], ids=["flat", "layerwise"])
def test_updates_match_a_per_variable_reference(foreach, layerwise):
    values, grads = _updates_case()
    schedule = keras_electra.ElectraLearningRateSchedule(
        0.05, warmup_steps=2, decay_steps=10
    )
    factors = FACTORS if layerwise else {}
    optimizer = keras_electra.ElectraAdamW(
        learning_rate=schedule,
        weight_decay=0.3,
        learning_rate_multipliers=factors or None,
    )
    optimizer._foreach = foreach
    got, rates, variables = _run(optimizer, values, grads)
    if layerwise:
        # Multipliers are keyed by path: here the variable names.
        assert all(variables[k].path == k for k in FACTORS)
    assert rates[0] == 0.0 and rates[2] > 0  # warm-up, then steps
    expected = _reference_adamw(values, grads, rates, factors, 0.3, 1.0)
    for k in SHAPES:
        np.testing.assert_allclose(got[k], expected[k], rtol=2e-5, atol=2e-6)
        # Every variable moved (after the warm-up's zero-rate step).
        assert np.max(np.abs(got[k] - values[k])) > 1e-3


@pytest.mark.parametrize("foreach", _per_variable_paths())
def test_updates_without_clipping_or_decay(foreach):
    values, grads = _updates_case(seed=1)
    optimizer = keras_electra.ElectraAdamW(
        learning_rate=0.01, weight_decay=0.0, global_clipnorm=None
    )
    optimizer._foreach = foreach
    got, rates, _ = _run(optimizer, values, grads)
    expected = _reference_adamw(values, grads, rates, {}, 0.0, None)
    for k in SHAPES:
        np.testing.assert_allclose(got[k], expected[k], rtol=2e-5, atol=2e-6)
    # Unclipped, the first step's gradient of norm ~3 x 10 moves the
    # kernels by about lr * 3.16 per coordinate, as without clipping.
    step = np.abs(got["kernel_a"] - values["kernel_a"])
    assert np.median(step) > 0.05


@pytest.mark.skipif(
    keras.config.backend() == "tensorflow",
    reason="Keras' accumulation on TensorFlow differs from run to run "
    "(see test_four_micro_batches_update_as_one_batch)",
)
@pytest.mark.parametrize("foreach", _per_variable_paths())
def test_accumulated_updates_match_the_reference(foreach):
    values, grads = _updates_case(seed=2)
    optimizer = keras_electra.ElectraAdamW(
        learning_rate=0.01,
        weight_decay=0.1,
        learning_rate_multipliers=FACTORS,
        gradient_accumulation_steps=2,
    )
    optimizer._foreach = foreach
    got, _, _ = _run(optimizer, values, grads)
    # Pairs of batches averaged into one update each, at the constant rate.
    means = [
        {k: (a[k] + b[k]) / 2 for k in a}
        for a, b in zip(grads[::2], grads[1::2])
    ]
    expected = _reference_adamw(
        values, means, [0.01] * len(means), FACTORS, 0.1, 1.0
    )
    for k in SHAPES:
        np.testing.assert_allclose(got[k], expected[k], rtol=2e-5, atol=2e-6)


def test_global_norm_clip_matches_keras():
    optimizer = keras_electra.ElectraAdamW()
    rng = np.random.default_rng(3)
    grads = [rng.normal(0, 1, s).astype("float32") for s in ((4, 3), (5,))]
    norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    for scale, expected in ((2.0, 1.0 / norm), (0.01, 0.01), (0.0, 0.0)):
        clipped = optimizer._clip_gradients(
            [keras.ops.convert_to_tensor(scale * g) for g in grads]
        )
        for g, c in zip(grads, clipped):
            np.testing.assert_allclose(to_numpy(c), expected * g, rtol=1e-5)
    # A non-finite norm makes every gradient NaN, as in Keras.
    bad = [keras.ops.convert_to_tensor(g) for g in grads]
    bad[1] = keras.ops.convert_to_tensor(np.array([np.inf] * 5, "float32"))
    clipped = optimizer._clip_gradients(bad)
    assert all(np.isnan(to_numpy(c)).all() for c in clipped)


@pytest.mark.skipif(
    keras.config.backend() != "torch", reason="PyTorch's dispatched operators"
)
def test_torch_update_runs_a_fixed_number_of_operators():
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        calls = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Count.calls += 1
            return func(*args, **(kwargs or {}))

    def calls_per_update(n, foreach):
        variables = [
            keras.Variable(np.ones((3, 2), "float32"), name=f"kernel_{i}")
            for i in range(n)
        ]
        grads = [keras.ops.ones((3, 2)) for _ in variables]
        optimizer = keras_electra.ElectraAdamW(learning_rate=1e-3)
        optimizer._foreach = foreach
        optimizer.apply(grads, variables)
        Count.calls = 0
        with Count():
            optimizer.apply(grads, variables)
        return Count.calls

    # Multi-tensor operators: as many calls for 40 variables as for 10.
    assert calls_per_update(40, True) == calls_per_update(10, True)
    assert calls_per_update(10, True) < 60
    # The per-variable update grows with the variables.
    assert calls_per_update(40, False) > 3 * calls_per_update(10, False)


def test_config_round_trip():
    schedule = keras_electra.ElectraLearningRateSchedule(
        0.05, warmup_steps=2, decay_steps=10
    )
    optimizer = keras_electra.ElectraAdamW(
        learning_rate=schedule,
        weight_decay=0.3,
        global_clipnorm=0.5,
        exclude_from_weight_decay_names=("bias", "norm"),
        learning_rate_multipliers=FACTORS,
    )
    config = optimizer.get_config()
    assert "_foreach" not in config
    restored = keras.optimizers.deserialize(
        keras.optimizers.serialize(optimizer)
    )
    assert isinstance(restored, keras_electra.ElectraAdamW)
    assert restored.get_config() == config
    assert restored.learning_rate_multipliers == FACTORS
    assert restored.exclude_from_weight_decay_names == ("bias", "norm")
    assert restored.global_clipnorm == 0.5
    # The restored optimizer updates as the original does.
    values, grads = _updates_case(seed=4)
    first, _, _ = _run(optimizer, values, grads[:3])
    second, _, _ = _run(restored, values, grads[:3])
    for k in SHAPES:
        np.testing.assert_allclose(first[k], second[k], rtol=1e-6)


@pytest.mark.skipif(
    keras.config.backend() != "torch",
    reason="the multi-tensor path is PyTorch's",
)
def test_pretraining_steps_match_the_per_variable_update():
    from helpers import random_batch

    def train(foreach):
        keras.utils.set_random_seed(0)
        pretrainer = tiny_pretrainer()
        initial = [to_numpy(w) for w in pretrainer.trainable_weights]
        pretrainer.compile(num_train_steps=10, warmup_steps=1)
        pretrainer.optimizer._foreach = foreach
        for seed in range(2):
            pretrainer.train_on_batch(random_batch(seed=seed))
        final = [to_numpy(w) for w in pretrainer.trainable_weights]
        return initial, final

    initial, fused = train(True)
    _, per_variable = train(False)
    for a, b in zip(fused, per_variable):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # The steps after the warm-up's zero rate moved the variables (all but
    # a few with near-zero gradients, such as the attention keys' biases).
    moved = [np.max(np.abs(a - s)) > 1e-4 for a, s in zip(fused, initial)]
    assert sum(moved) > 0.8 * len(moved)
