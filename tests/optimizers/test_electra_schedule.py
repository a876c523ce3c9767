"""The learning-rate schedule: warm-up times linear decay."""

import numpy as np
from helpers import to_numpy

import keras_electra


def test_schedule_is_warmup_times_linear_decay():
    schedule = keras_electra.ElectraLearningRateSchedule(
        1e-3, warmup_steps=10, decay_steps=100
    )
    steps = [0, 5, 10, 50, 100, 120]
    got = [float(to_numpy(schedule(s))) for s in steps]
    expected = [1e-3 * min(1, s / 10) * max(0, 1 - s / 100) for s in steps]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)
