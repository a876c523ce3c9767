import keras


class RunTensorBoard(keras.callbacks.TensorBoard):
    """Keras' `TensorBoard`, with batch summaries at the run's global step.

    Keras counts batches from 0 at each `fit`, so a resumed run wrote steps
    310-340 as 10-40 over the earlier curve. This starts the count at the
    step the run resumes from. With gradient accumulation, steps are
    optimizer updates: only the last of each update's `micro_batches`
    batches is reported.

    Args:
        log_dir: folder of the event files.
        start_step: the step the run (re)starts from.
        micro_batches: batches per optimizer update.
        **kwargs: forwarded to `keras.callbacks.TensorBoard`.
    """

    def __init__(self, log_dir, start_step=0, micro_batches=1, **kwargs):
        super().__init__(log_dir, **kwargs)
        self.start_step = int(start_step)
        self.micro_batches = max(1, int(micro_batches))

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        # Keras' private batch counter; checked by the resume test.
        self._global_train_batch = self.start_step

    def on_train_batch_begin(self, batch, logs=None):
        if batch % self.micro_batches == 0:
            super().on_train_batch_begin(batch // self.micro_batches, logs)

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.micro_batches == 0:
            super().on_train_batch_end(batch // self.micro_batches, logs)
