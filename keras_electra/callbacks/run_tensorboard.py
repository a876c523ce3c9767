import keras


class RunTensorBoard(keras.callbacks.TensorBoard):
    """Keras' `TensorBoard`, with batch summaries at the run's global step.

    Keras counts batches from 0 at each `fit`, so a resumed run wrote steps
    310-340 as 10-40 over the earlier curve. This starts the count at the
    step the run resumes from.

    Args:
        log_dir: folder of the event files.
        start_step: the step the run (re)starts from.
        **kwargs: forwarded to `keras.callbacks.TensorBoard`.
    """

    def __init__(self, log_dir, start_step=0, **kwargs):
        super().__init__(log_dir, **kwargs)
        self.start_step = int(start_step)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        # Keras' private batch counter; checked by the resume test.
        self._global_train_batch = self.start_step
