"""`RunCallbacks`: callbacks on the training thread, with device values."""

import keras
import numpy as np

from keras_electra.callbacks import RunCallbacks


class _Seen(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = []
        self.values = []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append(batch)
        self.values.append(logs["loss"])


def _model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_callbacks_get_the_backends_values_without_conversion():
    x = np.ones((8, 3), "float32")
    y = np.zeros((8, 1), "float32")
    model = _model()
    seen = _Seen()
    history = model.fit(
        x,
        y,
        batch_size=2,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=RunCallbacks([seen], model),
    )
    # One call per batch, in order, with the backend's own tensors (Keras'
    # list would have turned them into Python floats, waiting for the
    # device at every batch).
    assert seen.batches == [0, 1, 2, 3]
    assert not any(isinstance(v, float) for v in seen.values)
    values = [float(keras.ops.convert_to_numpy(v)) for v in seen.values]
    assert values[-1] < values[0]
    # Keras' history is still kept.
    assert len(history.history["loss"]) == 1


def test_with_several_steps_per_call_callbacks_see_each_calls_last_batch():
    x = np.ones((8, 3), "float32")
    y = np.zeros((8, 1), "float32")
    model = _model()
    if keras.config.backend() != "torch":
        model.steps_per_execution = 2
    seen = _Seen()
    model.fit(
        x,
        y,
        batch_size=2,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=RunCallbacks([seen], model),
    )
    expected = [0, 1, 2, 3] if keras.config.backend() == "torch" else [1, 3]
    assert seen.batches == expected
