"""`TrainingLog`: windowed metrics that checkpoints do not reset, a whole-run
summary that a resumed run continues, the same numbers in TensorBoard."""

import json

import keras
import numpy as np
from helpers import micro_run
from helpers import needs_shared
from helpers import once_per_suite
from helpers import random_batch
from helpers import tiny_pretrainer

from keras_electra.callbacks import TrainingLog
from keras_electra.jobs.pretrain import pretrain
from keras_electra.metrics.metric_window import MetricWindow
from keras_electra.utils.plotting import read_log

KEYS = (
    "loss",
    "discriminator_loss",
    "discriminator_accuracy",
    "discriminator_auc",
    "discriminator_flagged",
    "generator_loss",
)


def _tensorboard(run, tag):
    import tensorflow as tf

    values = {}
    for path in sorted((run / "tensorboard" / "train").glob("events.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == tag:
                    values[int(event.step)] = float(
                        tf.make_ndarray(value.tensor)
                    )
    return values


def test_metric_window_adds_states_exactly():
    """A weighted mean and an AUC over two spans equal the metrics fed
    both spans at once."""
    mean = keras.metrics.Mean("precision")
    auc = keras.metrics.AUC(name="auc", from_logits=True)
    window = MetricWindow([mean, auc, keras.metrics.MeanSquaredError()])
    assert window.names == ["precision", "auc", "mean_squared_error"]
    mean.update_state(0.5, sample_weight=2.0)
    auc.update_state([0, 1, 1], [-1.0, 2.0, -0.5])
    first = window.read()
    window.reset()
    mean.update_state(1.0, sample_weight=6.0)
    auc.update_state([1, 0, 0], [0.3, 1.0, -2.0])
    both = window.results(window.add(first, window.read()))
    reference = keras.metrics.AUC(from_logits=True)
    reference.update_state(
        [0, 1, 1, 1, 0, 0], [-1.0, 2.0, -0.5, 0.3, 1.0, -2.0]
    )
    np.testing.assert_allclose(both["precision"], (1.0 + 6.0) / 8.0)
    np.testing.assert_allclose(both["auc"], float(reference.result()))
    assert (
        MetricWindow.count(window.add(first, window.read()), "precision") == 8
    )
    state = window.add(first)
    flat = MetricWindow.to_arrays(state, "run")
    back = MetricWindow.from_arrays(flat, "run")
    for name in state:
        for a, b in zip(state[name], back[name]):
            np.testing.assert_array_equal(a, b)


class _Always:
    """A monitor that warns at every row."""

    def check(self, step, values, learning_rate, window_start):
        assert window_start == step - 4
        assert "discriminator_prior_loss" in values
        return [{"step": step, "kind": "k", "message": f"at step {step}"}]


def _fit_rows(steps_per_epoch, tmp_path, **kwargs):
    """Rows of 4-step windows of 8 steps of the tiny pretrainer, fit in
    epochs (checkpoint chunks) of `steps_per_epoch`."""
    import tensorflow as tf

    keras.utils.set_random_seed(1)
    model = tiny_pretrainer(dropout=0.0)
    data = tf.data.Dataset.from_tensors(random_batch()).repeat()
    path = tmp_path / f"log-{steps_per_epoch}.csv"
    log = TrainingLog(8, csv_path=str(path), log_every=4, **kwargs)
    model.fit(
        data,
        steps_per_epoch=steps_per_epoch,
        epochs=-(-8 // steps_per_epoch),
        callbacks=[log],
        verbose=0,
    )
    return read_log(path), log


def test_windows_do_not_restart_at_epochs(tmp_path, capsys):
    """Rows every 4 steps, epochs (the job's checkpoint chunks) of 3: each
    row is the window of its 4 steps, as in one epoch of 8, and the
    whole-run summary adds the windows up; a monitor sees each row, and
    its warnings are printed and handed on."""
    seen = []
    chunked, log = _fit_rows(
        3, tmp_path, verbose=1, monitor=_Always(), on_warning=seen.append
    )
    single, _ = _fit_rows(8, tmp_path, verbose=0)
    assert [w["step"] for w in seen] == [4, 8]
    assert log.warnings == seen
    out = capsys.readouterr().out
    assert "at step 4" in out and "at step 8" in out
    assert chunked["step"] == single["step"] == [4.0, 8.0]
    for key in KEYS:
        np.testing.assert_allclose(
            chunked[key], single[key], rtol=1e-4, err_msg=key
        )
    run = log.whole_run()
    np.testing.assert_allclose(run["loss"], np.mean(chunked["loss"]), rtol=1e-5)
    flagged = np.asarray(chunked["discriminator_flagged"])
    assert run["discriminator_flagged"] == flagged.sum()
    weights = np.asarray(chunked["discriminator_replaced"])
    np.testing.assert_allclose(
        run["discriminator_recall"],
        np.sum(np.asarray(chunked["discriminator_recall"]) * weights)
        / weights.sum(),
        rtol=1e-5,
    )
    assert log.last_window_steps == (4, 8)
    assert log.last_window["loss"] == chunked["loss"][-1]


@needs_shared
@once_per_suite
def test_windows_survive_checkpoints_and_resume(
    corpus, micro_preset, tmp_path, monkeypatch
):
    """The job, 9 steps: rows every 4 steps and at the end, checkpoints
    every 3; a run killed after step 5 and resumed from its step-3
    checkpoint (which stores the partial window since step 0 and the run's
    sums) logs and sums exactly as the uninterrupted run; TensorBoard
    shows the same windows, the last (step 9) too; the run folder
    describes its columns; a health warning (here made to fire at the
    first row) is kept in `run.json` and the result, and not repeated by
    the resumed run. (The torch suite: the job's side is backend-neutral;
    the state reads and resets per backend are in the test above, but a
    partial window resumed under JAX's state sync is not tested.)"""
    from keras_electra.callbacks import training_health

    monkeypatch.setattr(training_health, "AT_PRIOR", 0.0)
    monkeypatch.setattr(training_health, "AT_UNIFORM", 10.0)
    monkeypatch.setattr(training_health, "MIN_PATIENCE", 1)
    common = micro_run(
        micro_preset,
        corpus,
        steps=9,
        batch_size=4,
        log_every=4,
        checkpoint_every=3,
        verbose=0,
        seed=3,
    )
    whole = pretrain(str(tmp_path / "whole"), **common)
    pretrain(str(tmp_path / "cut"), stop_after=5, **common)
    resumed = pretrain(str(tmp_path / "cut"), resume=True, **common)
    log = read_log(tmp_path / "whole" / "log.csv")
    cut = read_log(tmp_path / "cut" / "log.csv")
    assert cut["step"] == log["step"] == [4.0, 8.0, 9.0]
    for key in KEYS:
        np.testing.assert_allclose(cut[key], log[key], rtol=1e-4, err_msg=key)
        np.testing.assert_allclose(
            resumed["whole_run"][key],
            whole["whole_run"][key],
            rtol=1e-4,
            err_msg=key,
        )
    assert resumed["whole_run_steps"] == (0, 9)
    for run, result in (("whole", whole), ("cut", resumed)):
        stored = json.loads((tmp_path / run / "run.json").read_text())
        kinds = [(w["kind"], w["step"]) for w in stored["warnings"]]
        assert kinds == [("discriminator_at_prior", 4)], run
        assert result["warnings"] == stored["warnings"]
    assert whole["history"]["loss"] == log["loss"][-1]
    assert whole["history_steps"] == resumed["history_steps"] == (8, 9)
    # TensorBoard shows the same windows.
    auc = _tensorboard(tmp_path / "whole", "batch_discriminator_auc")
    np.testing.assert_allclose(
        [auc[4], auc[8], auc[9]], log["discriminator_auc"], rtol=1e-5
    )
    # The run folder says what the columns are.
    note = (tmp_path / "whole" / "log_columns.md").read_text()
    header = (tmp_path / "whole" / "log.csv").read_text().splitlines()[0]
    for column in header.split(","):
        assert f"| {column} | " in note and f"| {column} | |" not in note
