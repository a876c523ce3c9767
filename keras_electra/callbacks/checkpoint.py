import keras


class PeriodicCheckpoint(keras.callbacks.Callback):
    """Calls `save(step)` at each epoch end (each chunk of `steps_per_epoch`).

    `keras_electra.jobs.pretrain` runs `fit` with `steps_per_epoch` equal to
    the checkpoint interval, so epoch ends are checkpoint times. `save` does
    the atomic write; a run that stopped on a NaN loss is not saved.

    Args:
        save: callable taking the global step.
        steps_per_epoch: steps between checkpoints.
        log: the run's `TrainingLog` (its `nan_step` vetoes saving).
    """

    def __init__(self, save, steps_per_epoch, log=None):
        super().__init__()
        self.save = save
        self.steps_per_epoch = int(steps_per_epoch)
        self.log = log

    def on_epoch_end(self, epoch, logs=None):
        if self.log is not None and self.log.nan_step is not None:
            return
        step = self.log.step if self.log else (epoch + 1) * self.steps_per_epoch
        if step % self.steps_per_epoch:
            return  # an epoch cut short (training stopped): not a checkpoint
        self.save(step)
