"""Pre-training, stage 2: training.

`train(run)` consumes a prepared `Run` (see `pretrain_setup.py`): it reads
the run's data from its position, trains with Keras' `fit` and the run's
callbacks (log, TensorBoard, periodic atomic checkpoints, interrupts,
processes that stop together), and hands the outcome to the report.
"""

import os

from keras_electra.data import examples
from keras_electra.data import shards
from keras_electra.jobs import checkpoints
from keras_electra.jobs import pretrain_report
from keras_electra.jobs.options import PretrainingError
from keras_electra.utils import processes


def train(run, stop_after=None):
    """Train `run` to its last step and report; returns the job's result.

    `stop_after` stops after that many steps in this call without saving
    anything after the last periodic checkpoint, as a killed run would
    (for tests of resumption).
    """
    import keras

    from keras_electra.callbacks import StopOnSignal

    config = run.config
    if run.start_step >= config.steps:
        if run.verbose:
            print(
                f"The run in '{run.output}' already reached "
                f"{run.start_step} steps."
            )
        return pretrain_report.finish(run, run.start_step)
    micro = config.gradient_accumulation_steps
    dataset = dataset_for(run, skip_batches=run.start_step * micro)
    if run.verbose:
        pretrain_report.describe(run)
    last_step = config.steps
    if stop_after is not None:
        last_step = min(last_step, run.start_step + int(stop_after))
    run.record("log.csv", "tensorboard", "checkpoints")
    columns = log_columns(run.pretrainer)
    log = _training_log(run, last_step, columns)
    pretrain_report.write_log_columns(run, columns)
    stop = StopOnSignal(micro_batches=micro)

    save = _saver(run, log)
    every = config.checkpoint_every
    with stop:
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
        if log.nan_step is not None:
            latest = checkpoints.checkpoint_dirs(run.output)
            raise PretrainingError(
                "The loss became NaN at step {step}; training stopped. The "
                "last good checkpoint is {latest}. Lower {o.learning_rate} "
                "or check the data, then run again with {o.resume}.",
                step=log.nan_step,
                latest=latest[-1] if latest else "(none yet)",
            )
        # Ranks stopped by another's signal save with it (the save adds
        # the ranks' metric states together).
        if processes.any_process(stop.signal is not None):
            if log.step % every:  # a periodic checkpoint did not just save it
                save(log.step)
            if stop.signal is not None:
                return pretrain_report.interrupted(run, log.step, stop)
            return pretrain_report.result(None, log.step)
    if log.step < config.steps:
        # Stopped early (`stop_after`): like a killed run, nothing is saved
        # beyond the last periodic checkpoint.
        return pretrain_report.result(None, log.step)
    if log.step % every != 0:
        save(log.step)
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


def _saver(run, log):
    """`save(step)`: an atomic checkpoint, written by the chief alone."""

    def save(step):
        # Every rank calls this at the same step: under torchrun, the
        # log's metric sums are added over the ranks.
        arrays = log.checkpoint_state()
        if not run.chief:
            return
        with processes.chief_alone():
            checkpoints.save_checkpoint(
                run.output,
                run.pretrainer,
                run.tokenizer,
                step,
                run.config.keep_checkpoints,
                seconds=log.elapsed(),
                arrays=arrays,
            )

    return save


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
        csv_path=os.path.join(run.output, "log.csv") if run.chief else None,
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
    from keras_electra.callbacks import RunTensorBoard
    from keras_electra.callbacks import StopTogether

    restore = checkpoints.RestoreGlobalRNG(
        run.state or {}, then=_rank_dropout_seed(run)
    )
    callbacks = [
        keras.callbacks.LambdaCallback(on_train_batch_begin=restore),
        log,
        PeriodicCheckpoint(save, run.config.checkpoint_every, log=log),
    ]
    if run.chief:
        callbacks.append(
            RunTensorBoard(
                os.path.join(run.output, "tensorboard"),
                start_step=run.start_step,
                micro_batches=run.config.gradient_accumulation_steps,
                log=log,
                update_freq=run.config.log_every,
                write_graph=False,
            )
        )
    return callbacks + [stop, StopTogether()]


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
        )
    return processes.shard_batches(data)


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
