"""Pre-training, stage 2: training.

`train(run)` consumes a prepared `Run` (see `pretrain_setup.py`): it reads
the run's data from its position, trains with Keras' `fit` and the run's
callbacks (log, TensorBoard, periodic atomic checkpoints, interrupts,
processes that stop together), and hands the outcome to the report.
"""

from keras_electra.data import examples
from keras_electra.data import shards
from keras_electra.jobs import checkpoints
from keras_electra.jobs import pretrain_report
from keras_electra.jobs.options import PretrainingError
from keras_electra.utils import file_system
from keras_electra.utils import processes


def train(run, stop_after=None):
    """Train `run` to its last step and report; returns the job's result.

    `stop_after` stops after that many steps in this call without saving
    anything after the last periodic checkpoint, as a killed run would
    (for tests of resumption).
    """
    import keras

    from keras_electra.callbacks import StopOnSignal
    from keras_electra.utils.accelerator import enable_tf32

    config = run.config
    if run.start_step >= config.steps:
        if run.verbose:
            print(
                f"The run in '{run.output}' already reached "
                f"{run.start_step} steps."
            )
        return pretrain_report.finish(run, run.start_step)
    micro = config.gradient_accumulation_steps
    if config.shards is None:
        run.record(TEXT_COUNTS)
    dataset = dataset_for(run, skip_batches=run.start_step * micro)
    last_step = config.steps
    if stop_after is not None:
        last_step = min(last_step, run.start_step + int(stop_after))
    per_call = steps_per_execution(config, run.start_step, last_step)
    # Several steps per host call (JAX, TensorFlow), set before `fit`
    # builds its train function; a multiple of the micro-batches, so an
    # execution always ends where an update does.
    if keras.config.backend() != "torch":  # (PyTorch: 1 batch per call)
        run.pretrainer.steps_per_execution = per_call * micro
    # TF32 float32 matmuls on CUDA under PyTorch, as the other backends do
    # by default (a no-op elsewhere).
    enable_tf32(run.pretrainer.dtype_policy)
    if config.torch_compile and keras.config.backend() == "torch":
        run.pretrainer.jit_compile = True
    # A thread writes the checkpoints where one process trains; several
    # write in the foreground (the chief's write must not overlap the
    # collectives of the next steps).
    background = (
        config.background_checkpoints
        and processes.process_count() == 1
        and processes.torchrun_world_size() <= 1
    )
    if run.verbose:
        pretrain_report.describe(run, per_call, background)
    run.record("log.csv", "tensorboard", "checkpoints")
    columns = log_columns(run.pretrainer)
    log = _training_log(run, last_step, columns)
    pretrain_report.write_log_columns(run, columns)
    # Several processes stop together at log rows (one collective there);
    # one process stops at the end of the steps in flight.
    stop = StopOnSignal(
        micro_batches=micro,
        log=log if processes.process_count() > 1 else None,
    )

    writer = checkpoints.CheckpointWriter(
        run.output,
        run.pretrainer,
        run.tokenizer,
        config.keep_checkpoints,
        background=background,
    )
    writer.prepare()
    save = _saver(run, log, writer)
    every = config.checkpoint_every
    with stop, _waiting_for(writer):
        run.pretrainer.fit(
            dataset,
            steps_per_epoch=every * micro,
            epochs=-(-last_step // every),
            initial_epoch=run.start_step // every,
            callbacks=_callbacks(run, log, save, stop),
            # The tf.data pipeline shuffles (deterministically).
            shuffle=False,
            verbose=0,
        )
        writer.wait()
        _raise_if_not_finite(run, log)
        # Ranks stopped by another's signal save with it (the save adds
        # the ranks' metric states together).
        if processes.any_process(stop.signal is not None):
            save(log.step)  # (nothing if a periodic checkpoint just did)
            writer.wait()
            _raise_if_not_finite(run, log)
            if stop.signal is not None:
                return pretrain_report.interrupted(run, log.step, stop)
            return pretrain_report.result(None, log.step)
    if log.step < config.steps:
        # Stopped early (`stop_after`): like a killed run, nothing is saved
        # beyond the last periodic checkpoint.
        return pretrain_report.result(None, log.step)
    save(log.step)
    writer.wait()
    _raise_if_not_finite(run, log)
    jax_hosts = keras.config.backend() == "jax" and (
        processes.process_count() > 1
    )
    if run.chief and config.objective == "rtd" and not jax_hosts:
        # (JAX hosts compute together: a model call on the chief alone
        # would wait for the others.) A batch from the start of the data,
        # not after the batches a resumed run skipped.
        pretrain_report.plot_replacements(
            run, next(iter(dataset_for(run, skip_batches=0)))
        )
    return pretrain_report.finish(run, log.step, log)


def _raise_if_not_finite(run, log):
    """The run's error when the loss or the weights stopped being finite
    (`log.nan_step`); nothing otherwise."""
    if log.nan_step is None:
        return
    latest = checkpoints.checkpoint_dirs(run.output)
    raise PretrainingError(
        "The loss became NaN or infinite between steps {good} and {step}; "
        "training stopped. The last good checkpoint is {latest}. Lower "
        "{o.learning_rate} or check the data, then run again with "
        "{o.resume}.",
        good=log.finite_step,
        step=log.nan_step,
        latest=latest[-1] if latest else "(none yet)",
    )


def _saver(run, log, writer):
    """`save(step)`: an atomic checkpoint of `step` (once), written by the
    chief alone, in the background where `writer` can. A state whose loss
    or weights are not finite is never saved: `save` then marks the log's
    `nan_step` and stops training instead."""
    saved = []

    def save(step):
        if saved and saved[-1] == step:
            return
        # Every rank calls this at the same step, and gets the same answer.
        if not log.finite():
            return
        if processes.any_process(not _weights_finite(run.pretrainer)):
            log.finite_step = saved[-1] if saved else run.start_step
            log.nan_step = step
            run.pretrainer.stop_training = True
            return
        saved.append(step)
        # Every rank calls this at the same step: under torchrun, the
        # log's metric sums are added over the ranks.
        arrays = log.checkpoint_state()
        if not run.chief:
            return
        with processes.chief_alone():
            writer.save(step, seconds=log.elapsed(), arrays=arrays)

    return save


def _weights_finite(model):
    """Whether every floating-point weight of `model` is finite (one read
    of the device)."""
    import keras

    checks = [
        keras.ops.all(keras.ops.isfinite(w))
        for w in model.weights
        if "float" in str(w.dtype)
    ]
    if not checks:
        return True
    return bool(
        keras.ops.convert_to_numpy(keras.ops.all(keras.ops.stack(checks)))
    )


class _waiting_for:
    """Waits for the checkpoint in flight when training ends with an error
    (so a write is never cut short by the exit), without hiding the
    error."""

    def __init__(self, writer):
        self.writer = writer

    def __enter__(self):
        return self.writer

    def __exit__(self, kind, error, trace):
        if kind is not None:
            try:
                self.writer.wait()
            except Exception as e:  # noqa: BLE001 - the first error wins
                print(f"Warning: the checkpoint in flight failed too: {e}")
        return False


def steps_per_execution(config, start_step, last_step):
    """Optimizer updates per host call: the user's, or the largest that
    lets every log row, checkpoint and the last step fall on an
    execution's end (at most `MAX_STEPS_PER_EXECUTION`); 1 on PyTorch,
    where Keras runs one step per call.
    """
    import math

    import keras

    if keras.config.backend() == "torch":
        return 1
    spans = [config.log_every, config.checkpoint_every, start_step, last_step]
    fits = math.gcd(*spans)
    if config.steps_per_execution is not None:
        if fits % config.steps_per_execution:
            raise PretrainingError(
                "{o.steps_per_execution} {value} does not divide "
                "{o.log_every} ({log}), {o.checkpoint_every} ({every}), "
                "the run's {o.steps} ({steps}) and the step it resumes "
                "from ({start}), so rows and checkpoints would miss their "
                "steps. Choose a divisor of {fits}, or leave it out to "
                "let the job choose.",
                value=config.steps_per_execution,
                log=config.log_every,
                every=config.checkpoint_every,
                steps=last_step,
                start=start_step,
                fits=fits,
            )
        return config.steps_per_execution
    return max(
        k
        for k in range(1, min(fits, MAX_STEPS_PER_EXECUTION) + 1)
        if fits % k == 0
    )


# Past about a hundred steps per call, the host's share of a step is
# already small; larger values only delay interrupts.
MAX_STEPS_PER_EXECUTION = 100


def log_columns(pretrainer):
    """The columns of the run's `log.csv`."""
    names = [m.name for m in pretrainer.metrics]
    counts = getattr(pretrainer, "window_counts", {})
    return ["step", "learning_rate", "seconds"] + [
        column
        for name in names
        for column in [name] + ([counts[name]] if name in counts else [])
    ]


def _training_log(run, last_step, columns):
    from keras_electra.callbacks import TrainingHealth
    from keras_electra.callbacks import TrainingLog

    health = TrainingHealth(
        total_steps=run.config.steps,
        warmup_steps=run.pretrainer.warmup_steps,
        vocabulary_size=run.tokenizer.vocabulary_size(),
        already=[w["kind"] for w in run.warnings],
    )
    return TrainingLog(
        last_step,
        start_step=run.start_step,
        csv_path=file_system.join(run.output, "log.csv") if run.chief else None,
        log_every=run.config.log_every,
        verbose=run.verbose,
        start_seconds=float(
            (run.state or {}).get(checkpoints.ELAPSED_KEY, 0.0)
        ),
        micro_batches=run.config.gradient_accumulation_steps,
        start_state=run.state,
        columns=columns,
        monitor=health,
        on_warning=lambda warning: pretrain_report.record_warning(run, warning),
    )


def _callbacks(run, log, save, stop):
    """Restore the RNG at the first step, log, checkpoint, write
    TensorBoard (the chief), stop on signals, stop together."""
    import keras

    from keras_electra.callbacks import PeriodicCheckpoint
    from keras_electra.callbacks import RunCallbacks
    from keras_electra.callbacks import RunTensorBoard
    from keras_electra.callbacks import StopTogether

    restore = checkpoints.RestoreGlobalRNG(
        run.state or {}, then=_rank_dropout_seed(run)
    )
    callbacks = [
        keras.callbacks.LambdaCallback(on_train_batch_begin=restore),
        log,
        PeriodicCheckpoint(
            save,
            run.config.checkpoint_every,
            log=log,
            minutes=run.config.checkpoint_minutes,
        ),
    ]
    if run.chief:
        callbacks.append(
            RunTensorBoard(
                file_system.join(run.output, "tensorboard"),
                start_step=run.start_step,
                micro_batches=run.config.gradient_accumulation_steps,
                log=log,
                update_freq=run.config.log_every,
                write_graph=False,
            )
        )
    callbacks += [stop, StopTogether(log)]
    return RunCallbacks(callbacks, run.pretrainer)


def dataset_for(run, skip_batches):
    """The run's training data (shards or raw text), after `skip_batches`;
    under torchrun, this rank's slice of each global batch."""
    config = run.config
    if config.shards is not None:
        data = shards.shard_dataset(
            config.shards,
            config.batch_size,
            seed=config.seed,
            skip_batches=skip_batches,
        )
    else:
        data = examples.text_dataset(
            config.corpus,
            run.tokenizer,
            config.batch_size,
            sequence_length=config.sequence_length,
            seed=config.seed,
            skip_batches=skip_batches,
            on_decode_error=config.on_decode_error,
            text_field=config.text_field,
            # The corpus' example counts, kept so that a resumed run
            # enters its position without a counting pass.
            # (The chief's alone: only the chief writes the run's files.)
            counts_file=(
                file_system.join(run.output, TEXT_COUNTS) if run.chief else None
            ),
        )
    return processes.shard_batches(data)


TEXT_COUNTS = "text_counts.json"


def _rank_dropout_seed(run):
    """Under torchrun, ranks other than the chief reseed torch's global
    generator (dropout) once training starts, so their dropout masks differ
    from the chief's; a no-op otherwise."""
    rank = processes.process_index()
    seed = (run.config.seed * 1_000_003 + run.start_step) * 1009 + rank

    def reseed():
        if rank > 0 and processes.torchrun_world_size() > 1:
            import torch

            torch.manual_seed(seed)

    return reseed
