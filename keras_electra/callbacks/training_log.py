import csv
import math
import os
import time

import keras

from keras_electra.utils import processes

SHOWN = (
    "loss",
    "generator_accuracy",
    "discriminator_accuracy",
    "mlm_accuracy",
)
RUNNING = (
    "discriminator_precision",
    "discriminator_recall",
    "discriminator_auc",
)


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
    training and sets `self.nan_step`, so the caller can keep the last good
    checkpoint (Keras' `TerminateOnNaN` stops too, but says neither at
    which step of the whole run nor lets the checkpoint callback skip it).

    A resumed run's log describes one run: rows past `start_step` (written
    by the interrupted attempt after its last checkpoint) are dropped, and
    `seconds` continues from `start_seconds`.

    With gradient accumulation (`micro_batches=k`), `fit` runs `k` batches
    per optimizer update; a step here is an update, counted (and logged)
    when its last micro-batch ends, and `at_update` says whether the batch
    that just ended completed one.

    Args:
        total_steps: steps of the whole run.
        start_step: the step the run (re)starts from.
        csv_path: CSV file to append to (created with a header).
        log_every: steps between CSV rows and progress updates.
        verbose: print the progress bar.
        start_seconds: wall time the run had taken before `start_step`.
        micro_batches: batches per optimizer update (gradient
            accumulation; 1 for none).
    """

    def __init__(
        self,
        total_steps,
        start_step=0,
        csv_path=None,
        log_every=10,
        verbose=1,
        start_seconds=0.0,
        micro_batches=1,
    ):
        super().__init__()
        self.total_steps = int(total_steps)
        self.step = int(start_step)
        self.start_seconds = float(start_seconds)
        self.csv_path = csv_path
        self.log_every = max(1, int(log_every))
        self.nan_step = None
        self.micro_batches = max(1, int(micro_batches))
        self.at_update = False
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
        if self.csv_path is not None and os.path.exists(self.csv_path):
            _drop_rows_after(self.csv_path, self.step)
        self.progbar.update(self.step)

    def elapsed(self):
        """Wall time of the whole run so far, in seconds."""
        return self.start_seconds + time.time() - self.start_time

    def on_train_batch_end(self, batch, logs=None):
        # Epochs hold a whole number of updates, so `batch` (counted from 0
        # in each epoch) tells where an update ends.
        self.at_update = (batch + 1) % self.micro_batches == 0
        self._epoch_steps += 1
        logs = {k: float(v) for k, v in (logs or {}).items()}
        step = self.step + 1 if self.at_update else self.step
        row = self.at_update and (
            step % self.log_every == 0 or step >= self.total_steps
        )
        if row:
            # Under torchrun every rank reaches this row: the metrics of
            # their slices are averaged into the batch's.
            logs = processes.average_logs(logs)
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss):
            self.nan_step = self.step + 1
            self.model.stop_training = True
            return
        if not self.at_update:
            return
        self.step += 1
        if self.step >= self.total_steps:
            self.model.stop_training = True
        if row:
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
            "seconds": round(self.elapsed(), 3),
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


def _drop_rows_after(path, step):
    """Keep the header and the rows up to `step` (atomically)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, body = rows[0], rows[1:]
    index = header.index("step") if "step" in header else 0
    kept = [row for row in body if row and float(row[index]) <= step]
    if len(kept) == len(body):
        return
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header] + kept)
    os.replace(tmp, path)
