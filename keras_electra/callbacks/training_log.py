import csv
import math
import os
import time

import keras

SHOWN = ("loss", "generator_accuracy", "discriminator_accuracy")
RUNNING = ("discriminator_precision", "discriminator_recall")


class TrainingLog(keras.callbacks.Callback):
    """Progress with ETA, a CSV log every `log_every` steps, and a NaN guard.

    Keras' own progress bar restarts at each epoch (each checkpoint chunk);
    this one counts the whole run. Rows of `csv_path` hold the global step,
    the learning rate, elapsed seconds and the metrics. Keras reports running
    means since the start of the epoch; the losses, accuracies and replaced
    fraction (whose per-step weights are constant or nearly so) are
    differenced into means over the steps since the previous row, while
    precision and recall (whose denominators vary a lot from step to step)
    stay running values since the last checkpoint. A non-finite loss stops
    training and sets
    `self.nan_step`, so the caller can keep the last good checkpoint.

    Args:
        total_steps: steps of the whole run.
        start_step: the step the run (re)starts from.
        csv_path: CSV file to append to (created with a header).
        log_every: steps between CSV rows and progress updates.
        verbose: print the progress bar.
    """

    def __init__(
        self, total_steps, start_step=0, csv_path=None, log_every=10, verbose=1
    ):
        super().__init__()
        self.total_steps = int(total_steps)
        self.step = int(start_step)
        self.csv_path = csv_path
        self.log_every = max(1, int(log_every))
        self.nan_step = None
        self.progbar = keras.utils.Progbar(
            self.total_steps,
            verbose=verbose,
            unit_name="step",
            stateful_metrics=SHOWN,
        )
        self._fields = None
        self._epoch_steps = 0
        self._previous = ({}, 0)  # cumulative logs and epoch steps at last row

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_steps = 0
        self._previous = ({}, 0)

    def _window(self, logs):
        previous, previous_steps = self._previous
        steps = self._epoch_steps
        window = {}
        for key, value in logs.items():
            if key in RUNNING:
                window[key] = value
                continue
            total = value * steps - previous.get(key, 0.0) * previous_steps
            window[key] = total / max(steps - previous_steps, 1)
        self._previous = (logs, steps)
        return window

    def on_train_begin(self, logs=None):
        self.start_time = time.time()
        self.progbar.update(self.step)

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        self._epoch_steps += 1
        logs = {k: float(v) for k, v in (logs or {}).items()}
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss):
            self.nan_step = self.step
            self.model.stop_training = True
            return
        if self.step >= self.total_steps:
            self.model.stop_training = True
        if self.step % self.log_every == 0 or self.step >= self.total_steps:
            window = self._window(logs)
            self._write(window)
            shown = [(k, window[k]) for k in SHOWN if k in window]
            self.progbar.update(
                self.step, values=shown, finalize=self.step >= self.total_steps
            )

    def _learning_rate(self):
        optimizer = self.model.optimizer
        lr = optimizer.learning_rate
        return float(keras.ops.convert_to_numpy(lr))

    def _write(self, logs):
        if self.csv_path is None:
            return
        row = {
            "step": self.step,
            "learning_rate": self._learning_rate(),
            "seconds": round(time.time() - self.start_time, 3),
            **logs,
        }
        new = not os.path.exists(self.csv_path)
        if self._fields is None:
            if new:
                self._fields = list(row)
            else:
                with open(self.csv_path, encoding="utf-8") as f:
                    self._fields = next(csv.reader(f))
        with open(self.csv_path, "a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, self._fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)
