import keras

from keras_electra.utils import processes


class StopTogether(keras.callbacks.Callback):
    """Several training processes stop at the same batch, or none does.

    A process that stops alone (a signal it received first, a NaN loss in
    its slice of the batch) would leave the others waiting forever in the
    next gradient all-reduce. Placed after the callbacks that may stop
    training, this one stops every process when any of them asked to (one
    small all-reduce, which waits for the device, every `every` batches;
    nothing with a single process). The callbacks that stop one process
    alone (`StopOnSignal`) must stop only at those batches; the others
    (the log's last step and NaN checks) stop every process at once.

    Args:
        every: batches between checks (a multiple of the batches per
            execution).
    """

    def __init__(self, every=1):
        super().__init__()
        self.every = max(1, int(every))

    def on_train_batch_end(self, batch, logs=None):
        if processes.process_count() > 1 and (batch + 1) % self.every == 0:
            # `_model`, not `model`: on JAX, reading `model` copies the
            # training state back into the variables, at every batch.
            model = self._model
            model.stop_training = processes.any_process(model.stop_training)
