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
