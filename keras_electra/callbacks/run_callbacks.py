import keras


class RunCallbacks(keras.callbacks.CallbackList):
    """Keras' `CallbackList` without a host sync at every batch.

    Keras converts every batch's logs (the loss and metric values, still
    on the device) to Python floats before it calls the callbacks, unless
    every callback is marked `async_safe`, in which case it calls them
    later from a thread. The first waits for the device at every step;
    the second lets a callback read the model's state a few steps after
    the step it was called for, so a log row or checkpoint would not be
    the step it says. This list calls its callbacks on the training
    thread, at the step they are called for, with the logs as the backend
    returned them (device values): a callback converts a value only when
    it needs it, which the run's callbacks do only at log rows and
    checkpoints. Between those, training dispatches steps without waiting
    for the device.

    Callbacks written for Keras' floats must convert the values they read
    (`float(logs["loss"])`), so only callbacks written for it belong in
    this list: `TrainingLog`, `PeriodicCheckpoint`, `RunTensorBoard`,
    `StopOnSignal`, `StopTogether`.

    Args:
        callbacks: the callbacks.
        model: the model `fit` trains.

    Example:

    ```python
    log = TrainingLog(100, log_every=10)
    model.fit(data, steps_per_epoch=100, callbacks=RunCallbacks([log], model))
    ```
    """

    def __init__(self, callbacks, model):
        super().__init__(
            callbacks, add_history=True, add_progbar=False, model=model
        )
        # Never from a thread: callbacks read the state of their own step.
        self._async_train = False

    def on_train_batch_end(self, batch, logs=None):
        for callback in self.callbacks:
            callback.on_train_batch_end(batch, logs=logs)
