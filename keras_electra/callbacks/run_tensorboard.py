import keras


class RunTensorBoard(keras.callbacks.TensorBoard):
    """Keras' `TensorBoard`, with batch summaries at the run's global step.

    Keras counts batches from 0 at each `fit`, so a resumed run wrote steps
    310-340 as 10-40 over the earlier curve. This starts the count at the
    step the run resumes from. With gradient accumulation, steps are
    optimizer updates: only the last of each update's `micro_batches`
    batches is reported.

    With a `TrainingLog` (`log`, before this callback in the list), the
    summaries are its rows: each metric over the window since the previous
    row, the same numbers as `log.csv`, rather than Keras' running values
    since the epoch (checkpoint chunk) began; no epoch summaries are
    written (a chunk's end is not a point of the curves).

    Args:
        log_dir: folder of the event files.
        start_step: the step the run (re)starts from.
        micro_batches: batches per optimizer update.
        log: the run's `TrainingLog`, or None for Keras' values.
        **kwargs: forwarded to `keras.callbacks.TensorBoard`.
    """

    def __init__(
        self, log_dir, start_step=0, micro_batches=1, log=None, **kwargs
    ):
        super().__init__(log_dir, **kwargs)
        self.start_step = int(start_step)
        self.micro_batches = max(1, int(micro_batches))
        self.log = log
        self._written = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        # Keras' private batch counter; checked by the resume test.
        self._global_train_batch = self.start_step

    def on_train_batch_begin(self, batch, logs=None):
        if batch % self.micro_batches == 0:
            super().on_train_batch_begin(batch // self.micro_batches, logs)

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.micro_batches:
            return
        if self.log is None:
            super().on_train_batch_end(batch // self.micro_batches, logs)
            return
        super().on_train_batch_end(batch // self.micro_batches, {})
        rows = self.log.last_window_steps
        if rows is None or rows[1] != self.log.step or rows == self._written:
            return
        # Every row, the last one too (Keras would keep only the steps
        # that are multiples of `update_freq`).
        self._written = rows
        with self._train_writer.as_default(), self.summary.record_if(True):
            for name, value in self.log.last_window.items():
                self.summary.scalar(f"batch_{name}", value, step=rows[1])

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, None if self.log is not None else logs)
