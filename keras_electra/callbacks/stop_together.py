import keras

from keras_electra.utils import processes


class StopTogether(keras.callbacks.Callback):
    """Several training processes stop at the same batch, or none does.

    A process that stops alone (a signal it received first, a NaN loss in
    its slice of the batch) would leave the others waiting forever in the
    next gradient all-reduce. Placed after the callbacks that may stop
    training, this one stops every process when any of them asked to (one
    small all-reduce, which waits for the device; nothing with a single
    process), at every batch, or with `log` only at the batches where the
    run's `TrainingLog` just wrote a row (the same steps on every process,
    where the device is read anyway). The callbacks that stop one process
    alone (`StopOnSignal`) must stop only at those batches; the others
    (the log's last step and NaN checks) stop every process at once.

    Args:
        log: the run's `TrainingLog` (before this callback in the list),
            or None to check at every batch.
    """

    def __init__(self, log=None):
        super().__init__()
        self.log = log

    def on_train_batch_end(self, batch, logs=None):
        if processes.process_count() > 1 and at_row(self.log):
            # `_model`, not `model`: on JAX, reading `model` copies the
            # training state back into the variables, at every batch.
            model = self._model
            model.stop_training = processes.any_process(model.stop_training)


def at_row(log):
    """Whether `log` (a `TrainingLog`) wrote a row at its current step
    (True without a log)."""
    if log is None:
        return True
    rows = log.last_window_steps
    return rows is not None and rows[1] == log.step
