import keras


class PeriodicCheckpoint(keras.callbacks.Callback):
    """Calls `save(step)` whenever the run's step is a multiple of `every`.

    The step is the whole run's (`log.step`, kept by the run's
    `TrainingLog`, which must come before this callback), so a run resumed
    from an interrupt between checkpoints keeps its checkpoint schedule.
    `save` does the atomic write; a run that stopped on a NaN loss is not
    saved.

    Args:
        save: callable taking the global step.
        every: steps between checkpoints.
        log: the run's `TrainingLog` (its `step`; its `nan_step` vetoes
            saving).
    """

    def __init__(self, save, every, log):
        super().__init__()
        self.save = save
        self.every = int(every)
        self.log = log

    def on_train_batch_end(self, batch, logs=None):
        if (
            self.log.nan_step is not None
            or not self.log.at_update
            or self.log.step % self.every
        ):
            return
        # Reading `self.model` brings JAX's training state back into the
        # model's variables before they are written.
        self.model
        self.save(self.log.step)
