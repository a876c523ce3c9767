import os
import signal
import sys
import threading

import keras

from keras_electra.callbacks.stop_together import at_row

EXIT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}


class StopOnSignal(keras.callbacks.Callback):
    """Ctrl-C (SIGINT) or SIGTERM stops training after the current step.

    Python's default Ctrl-C raises `KeyboardInterrupt` wherever the main
    thread happens to be; inside a JAX or TensorFlow call that exception can
    be swallowed, and a run went on to its end. This callback replaces both
    handlers while it is installed: the first signal only records itself
    and prints a line; at the end of the running step `fit` stops, and the
    caller saves a checkpoint (`keras_electra.jobs.pretrain` does). A second
    signal exits at once (status 130 for SIGINT, 143 for SIGTERM): nothing
    after the last checkpoint is saved then. Schedulers send SIGTERM before
    they kill a job, so it behaves like the first Ctrl-C.

    Use it as a context manager around `fit` (handlers are installed only
    from the main thread, and put back on exit), and pass it to `fit` as a
    callback:

    ```python
    with StopOnSignal() as stop:
        model.fit(data, callbacks=[stop])
    if stop.signal is not None:
        ...  # save, then exit with stop.exit_status
    ```

    Training stops at the end of the steps in flight (with several steps
    per execution, at the execution's end).

    Args:
        micro_batches: batches per optimizer update (gradient
            accumulation): training stops only where an update ends, so the
            checkpoint holds no half-accumulated gradient.
        log: stop only at the rows of this `TrainingLog` (the batches
            where `StopTogether(log)` checks, when several processes
            train: they stop together there); None: at any update's end.
    """

    def __init__(self, micro_batches=1, log=None):
        super().__init__()
        self.micro_batches = max(1, int(micro_batches))
        self.log = log
        self.signal = None
        self._previous = {}

    @property
    def exit_status(self):
        return EXIT_STATUS.get(self.signal, 1) if self.signal else 0

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for number in EXIT_STATUS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc):
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}
        return False

    def _handle(self, number, frame):
        name = signal.Signals(number).name
        if self.signal is not None:
            sys.stdout.flush()
            sys.stderr.write(
                f"\n{name} again: stopping now, without saving the steps "
                "since the last checkpoint.\n"
            )
            sys.stderr.flush()
            os._exit(EXIT_STATUS.get(number, 1))
        self.signal = number
        sys.stderr.write(
            f"\n{name} received: finishing the steps in flight, then "
            "saving a checkpoint and stopping (press Ctrl-C again to quit "
            "at once).\n"
        )
        sys.stderr.flush()

    def on_train_batch_end(self, batch, logs=None):
        at_update = (batch + 1) % self.micro_batches == 0
        if self.signal is not None and at_update and at_row(self.log):
            self.model.stop_training = True
