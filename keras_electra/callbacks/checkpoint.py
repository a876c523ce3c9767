import time

import keras

from keras_electra.utils import processes


class PeriodicCheckpoint(keras.callbacks.Callback):
    """Calls `save(step)` every `every` steps, and at the first log row
    `minutes` after the last save.

    The step is the whole run's (`log.step`, kept by the run's
    `TrainingLog`, which must come before this callback), so a run resumed
    from an interrupt between checkpoints keeps its checkpoint schedule.
    With several steps per execution the save falls on the first step the
    callback sees at or past a multiple of `every` (exactly on it when the
    steps per execution divide `every`). The time trigger is checked only
    at the log's rows (where the device is read anyway), and processes
    decide it together, so every process saves the same step. `save` does
    the atomic write. A run whose loss became NaN is not saved: before
    each save the log checks that the loss stayed finite.

    Args:
        save: callable taking the global step.
        every: steps between checkpoints.
        log: the run's `TrainingLog` (its `step` and rows; its `finite()`
            vetoes saving).
        minutes: also save at the first row this many minutes after the
            last save (None: by steps only).
    """

    def __init__(self, save, every, log, minutes=None):
        super().__init__()
        self.save = save
        self.every = int(every)
        self.log = log
        self.minutes = minutes
        self._seen = None
        self._saved_at = None

    def on_train_begin(self, logs=None):
        self._seen = self.log.step
        self._saved_at = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        step = self.log.step
        if self.log.nan_step is not None or step == self._seen:
            return
        previous, self._seen = self._seen, step
        due = step // self.every > previous // self.every
        if not due and self.minutes and self._at_row(step):
            late = time.monotonic() - self._saved_at >= 60 * self.minutes
            due = processes.any_process(late)
        if not due or not self.log.finite():
            return
        # Reading `self.model` brings JAX's training state back into the
        # model's variables before they are copied.
        self.model
        self.save(step)
        self._saved_at = time.monotonic()

    def _at_row(self, step):
        rows = self.log.last_window_steps
        return rows is not None and rows[1] == step
