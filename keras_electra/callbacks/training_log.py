import csv
import math
import os
import time

import keras
import numpy as np

from keras_electra.metrics.metric_window import MetricWindow
from keras_electra.utils import file_system
from keras_electra.utils import processes

SHOWN = (
    "loss",
    "generator_accuracy",
    "discriminator_accuracy",
    "mlm_accuracy",
)
# Keys of the metric state a checkpoint stores (see `checkpoint_state`).
RUN_STATE = "metrics_run"
WINDOW_STATE = "metrics_window"
STEPS_STATE = "metrics_steps"


class TrainingLog(keras.callbacks.Callback):
    """Progress with ETA, a CSV row of windowed metrics every `log_every`
    steps, a whole-run summary, health checks and a NaN guard.

    Keras' own progress bar restarts at each epoch (each checkpoint chunk)
    and its metrics are running values since the epoch began; this callback
    counts the whole run and logs each metric over exactly the steps since
    the previous row (the window), whatever Keras resets in between: at
    each row it reads the metrics' states (`MetricWindow`: means with their
    weights, AUC's confusion counts), adds what it carried over an epoch's
    reset, writes the window's values and resets the metrics. So a windowed
    precision is the window's true positives over the window's flagged
    tokens, and a windowed ROC AUC is computed from the window's own
    scores. Rows also hold the number of tokens behind a weighted mean
    where the model names it (`window_counts`, e.g. the tokens the
    discriminator flagged, beside its precision). The windows add up to the
    whole run: `whole_run()` is every metric over all the run's steps
    (stored with the checkpoints, so a resumed run continues it), and
    `last_window` the last row's values.

    The callback waits for the device only at rows (and at epoch ends and
    checkpoints): between rows it reads nothing, not even the loss, so the
    host can queue steps ahead of the device (with `RunCallbacks`, which
    hands it the logs unconverted). Steps are counted from Keras' batch
    index, so with `steps_per_execution` (several steps per call) a row
    still falls on its exact step when the steps per execution divide
    `log_every`. The learning rate is computed from the optimizer's
    schedule at the step, without reading the optimizer's state. Because
    the callback resets the model's metrics at each row, Keras' epoch-end
    values cover the steps since the last row.

    A non-finite loss stops training at the row (or checkpoint) that sees
    it in its window and sets `self.nan_step` (and `self.finite_step`, the
    last row or checkpoint whose window was finite), so the caller can
    keep the last good checkpoint: `finite()` is what a checkpoint asks
    before it saves (Keras' `TerminateOnNaN` reads the loss after every
    step and says neither at which step of the whole run nor lets the
    checkpoint callback skip it). A `monitor` (e.g. `TrainingHealth`) sees
    each row and may return warnings, which are printed (with `verbose`)
    and kept in `self.warnings`.

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
        verbose: print the progress bar (and the monitor's warnings).
        start_seconds: wall time the run had taken before `start_step`.
        micro_batches: batches per optimizer update (gradient
            accumulation; 1 for none).
        start_state: the arrays a checkpoint stored (`checkpoint_state`):
            the whole run's metric state so far and the partial window.
        monitor: an object with `check(step, values, learning_rate,
            window_start)` returning a list of warnings (dicts with a
            `message`).
        on_warning: called with each warning (e.g. to record it).
        columns: the CSV's columns in order (more keys of the first row
            are added after them); by default the first row's keys.

    Example:

    ```python
    log = TrainingLog(100, csv_path="log.csv", log_every=10)
    pretrainer.fit(data, steps_per_epoch=100, callbacks=[log])
    log.last_window["discriminator_auc"], log.whole_run()
    ```
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
        start_state=None,
        monitor=None,
        on_warning=None,
        columns=None,
    ):
        super().__init__()
        self.total_steps = int(total_steps)
        self.step = int(start_step)
        self.start_seconds = float(start_seconds)
        self.csv_path = csv_path
        self.log_every = max(1, int(log_every))
        self.verbose = verbose
        self.nan_step = None
        self.finite_step = int(start_step)
        self._epoch_start = self.step
        self.micro_batches = max(1, int(micro_batches))
        self.at_update = False
        self.monitor = monitor
        self.on_warning = on_warning
        self.warnings = []
        self.last_window = {}
        self.last_window_steps = None
        self.progbar = keras.utils.Progbar(
            self.total_steps,
            verbose=verbose,
            unit_name="step",
            stateful_metrics=SHOWN,
        )
        self._fields = None
        self._columns = list(columns) if columns else None
        self._metrics = None  # a MetricWindow, at the start of training
        state = start_state or {}
        self._run = MetricWindow.from_arrays(state, RUN_STATE)
        self._partial = MetricWindow.from_arrays(state, WINDOW_STATE)
        # Where the whole run's sums start and the step of the last row
        # (the partial window's start); old checkpoints had neither.
        steps = np.asarray(state.get(STEPS_STATE, [self.step, self.step]))
        self._run_from = int(steps[0])
        self._row_step = int(steps[-1])

    def on_train_begin(self, logs=None):
        self.start_time = time.time()
        self._metrics = MetricWindow(self.model.metrics)
        if self.csv_path is not None and file_system.exists(self.csv_path):
            _drop_rows_after(self.csv_path, self.step)
        self.progbar.update(self.step)

    def elapsed(self):
        """Wall time of the whole run so far, in seconds."""
        return self.start_seconds + time.time() - self.start_time

    def _read(self):
        # `self.model` brings JAX's training state back to the variables
        # (and lets a reset reach the next step).
        self.model
        return processes.sum_over_ranks(self._metrics.read())

    def on_epoch_begin(self, epoch, logs=None):
        # Keras counts batches from 0 in each epoch.
        self._epoch_start = self.step

    def on_epoch_end(self, epoch, logs=None):
        # Keras resets the metrics when the next epoch begins: carry what
        # they hold since the last row into the next row's window.
        if self._metrics is not None:
            self._partial = MetricWindow.add(self._partial, self._read())
            self._metrics.reset()

    def on_train_batch_end(self, batch, logs=None):
        # Epochs hold a whole number of updates, so `batch` (counted from 0
        # in each epoch; the last batch of the execution) tells where an
        # update ends and how many the epoch has done.
        self.at_update = (batch + 1) % self.micro_batches == 0
        step = self._epoch_start + (batch + 1) // self.micro_batches
        if step == self.step:
            return
        previous, self.step = self.step, step
        if self.step >= self.total_steps:
            self.model.stop_training = True
        if (
            self.step // self.log_every > previous // self.log_every
            or self.step >= self.total_steps
        ):
            self._row(logs or {})

    def finite(self):
        """Whether the loss has stayed finite up to the current step (read
        from the loss metric's state: one read of the device; every process
        gets the same answer). If not, stops training and sets `nan_step`.
        """
        if self._metrics is None or self.nan_step is not None:
            return self.nan_step is None
        state = MetricWindow.add(self._partial, self._read())
        return self._check_finite(state)

    def _check_finite(self, state):
        values = self._metrics.results(
            {k: v for k, v in state.items() if k == "loss"}
        )
        if all(math.isfinite(v) for v in values.values()):
            self.finite_step = self.step
            return True
        self.nan_step = self.step
        self.model.stop_training = True
        return False

    def _row(self, logs):
        state = MetricWindow.add(self._partial, self._read())
        if not self._check_finite(state):
            return
        self._metrics.reset()
        self._partial = {}
        self._run = MetricWindow.add(self._run, state)
        window = self._values(state)
        # Metrics that cannot be windowed keep Keras' running value.
        for key, value in logs.items():
            window.setdefault(key, float(keras.ops.convert_to_numpy(value)))
        self.last_window = window
        self.last_window_steps = (self._row_step, self.step)
        self._row_step = self.step
        learning_rate = self._learning_rate()
        self._write(window, learning_rate)
        shown = [(k, window[k]) for k in SHOWN if k in window]
        self.progbar.update(
            self.step, values=shown, finalize=self.step >= self.total_steps
        )
        if self.monitor is not None:
            for warning in self.monitor.check(
                self.step,
                window,
                learning_rate,
                window_start=self.last_window_steps[0],
            ):
                self.warnings.append(warning)
                if self.verbose:
                    print(f"\n{warning['message']}", flush=True)
                if self.on_warning is not None:
                    self.on_warning(warning)

    def _values(self, state):
        values = self._metrics.results(state)
        counts = getattr(self._model, "window_counts", None) or {}
        for metric, column in counts.items():
            count = MetricWindow.count(state, metric)
            if count is not None:
                values[column] = count
        return values

    def whole_run(self):
        """Every windowed metric over the run's steps so far (from
        `whole_run_from`; the partial window since the last row excluded).
        """
        return self._values(self._run) if self._metrics else {}

    @property
    def whole_run_from(self):
        """The first step the whole-run sums cover (a run resumed from a
        checkpoint of an older version starts them there)."""
        return self._run_from

    def checkpoint_state(self):
        """Arrays for a checkpoint: the whole run's metric state, the
        window since the last row and where the sums start; call where
        the model's state is on the host (a checkpoint's save)."""
        if self._metrics is None:
            return {}
        partial = MetricWindow.add(self._partial, self._read())
        return {
            **MetricWindow.to_arrays(self._run, RUN_STATE),
            **MetricWindow.to_arrays(partial, WINDOW_STATE),
            STEPS_STATE: np.asarray([self._run_from, self._row_step], "int64"),
        }

    def _learning_rate(self):
        # From the schedule at the step (the rate the step's update used
        # for the next one, as the optimizer reports it), not from the
        # optimizer's variables, which JAX keeps apart from the model
        # between syncs.
        optimizer = self._model.optimizer
        schedule = getattr(optimizer, "_learning_rate", None)
        if isinstance(
            schedule, keras.optimizers.schedules.LearningRateSchedule
        ):
            lr = schedule(self.step)
        else:
            lr = optimizer.learning_rate
        return float(keras.ops.convert_to_numpy(lr))

    def _write(self, window, learning_rate):
        if self.csv_path is None:
            return
        row = {
            "step": self.step,
            "learning_rate": learning_rate,
            "seconds": round(self.elapsed(), 3),
            **window,
        }
        new = not file_system.exists(self.csv_path)
        if self._fields is None:
            if new:
                columns = self._columns or []
                self._fields = columns + [k for k in row if k not in columns]
            else:
                with file_system.open_file(
                    self.csv_path, encoding="utf-8"
                ) as f:
                    self._fields = next(csv.reader(f))
        # Behind a URL, an append rewrites the object (object stores have
        # no append): fine for a log of a few thousand rows.
        with file_system.open_file(
            self.csv_path, "a", newline="", encoding="utf-8"
        ) as f:
            writer = csv.DictWriter(f, self._fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)


def _drop_rows_after(path, step):
    """Keep the header and the rows up to `step` (atomically)."""
    with file_system.open_file(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, body = rows[0], rows[1:]
    index = header.index("step") if "step" in header else 0
    kept = [row for row in body if row and float(row[index]) <= step]
    if len(kept) == len(body):
        return
    tmp = f"{path}.tmp-{os.getpid()}"
    with file_system.open_file(tmp, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header] + kept)
    file_system.replace(tmp, path)
