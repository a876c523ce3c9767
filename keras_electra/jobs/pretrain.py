"""The main job: pre-train ELECTRA on text, with checkpoints and resume.

`pretrain()` is what `keras-electra pretrain` runs. The output folder holds:

- `preset/`: the final preset (discriminator backbone, whole pretrainer,
  tokenizer), loadable with `ElectraBackbone.from_preset` for fine-tuning;
- `checkpoints/ckpt-<step>/`: periodic checkpoints, each written atomically
  (temporary folder, then rename): a preset plus `training_state.npz`
  (optimizer slots and step, random-generator states) and `state.json`;
- `log.csv`, `tensorboard/`, `training_curves.png` and
  `replaced_tokens.png` (one corrupted sequence: what was replaced, what
  the discriminator flags);
- `run.json`: the run's settings, so `--resume` continues the same run.

The output folder may be behind a URL of TensorFlow's filesystem layer
(`gs://bucket/electra_run`; `ram://` in tests): every file goes through
`utils/file_system.py`; checkpoints and presets are written locally and
copied up, a checkpoint counting once its `state.json` (copied last) is
there, and the folder's lock is advisory (see `run_folder.py`).

A resumed run restores weights, optimizer state, step count, random seeds
and data position (the data order is a function of the seed, and the
pipeline skips the batches already seen), so an interrupted-and-resumed run
ends with the same weights as an uninterrupted one.

The job runs in three stages, each in its own module: set-up
(`pretrain_setup.py`: checks, data, tokenizer, model -> one frozen `Run`),
training (`pretrain_training.py`: callbacks, `fit`, interrupts) and report
(`pretrain_report.py`: description, preset, plots). Its options are
`jobs/options.py`'s `PretrainConfig`, the command line's too.
"""

import contextlib
import re

from keras_electra.data.text import CorpusError
from keras_electra.jobs import checkpoints
from keras_electra.jobs import pretrain_setup
from keras_electra.jobs import pretrain_training
from keras_electra.jobs.options import PretrainConfig
from keras_electra.jobs.options import PretrainingError
from keras_electra.jobs.pretrain_setup import RUN_FILE  # noqa: F401
from keras_electra.jobs.run_folder import WRITE_ERRNOS
from keras_electra.jobs.run_folder import RunFolder
from keras_electra.jobs.run_folder import write_failure
from keras_electra.utils import file_system


def pretrain(
    output=None, *, config=None, verbose=1, stop_after=None, **options
):
    """Pre-train an ELECTRA and write a preset; see the module docstring.

    Args:
        output: the run's folder (the `output` option; default
            `electra_run`).
        config: a `PretrainConfig` (default: the defaults); `options`
            override its fields. Every option is documented there, with
            its default: the data (`corpus`, `shards`, `vocabulary`), the
            model (`preset`, `objective` and ELECTRA's `replacement`,
            `temperature`, `embedding_sharing`, `generator_size`, and
            for accelerators `attention_dropout`,
            `pad_vocabulary_to_multiple_of`), the schedule (`steps`,
            `batch_size`, `learning_rate`, ...), checkpoints
            (`checkpoint_every`, `checkpoint_minutes`,
            `background_checkpoints`), devices and precision
            (`distribution`, `dtype`, `gradient_accumulation_steps`,
            `steps_per_execution`, `torch_compile`) and the run folder
            (`resume`: continue its run with the stored settings, only
            the run's length, logging, checkpoints kept and devices may
            change; `overwrite`: replace it).
        verbose: 0 prints nothing.
        stop_after: stop after this many steps in this call without saving
            anything after the last periodic checkpoint, as a killed run
            would; for tests of resumption.
        **options: fields of `PretrainConfig`.

    Returns:
        A dict with `preset` (the final preset folder, or None if the run
        stopped early), `step`, `history` (the metrics of the last log
        window, whose steps are `history_steps`), `whole_run` (every metric
        over the run's steps `whole_run_steps`), `warnings` (the health
        warnings, see `TrainingHealth`), `interrupted` (the exit status
        after a signal) and `nan_step`.
    """
    if output is not None:
        options["output"] = output
    if config is not None and not isinstance(config, PretrainConfig):
        raise TypeError(
            f"`config` must be a PretrainConfig. Received: {config!r}"
        )
    requested = PretrainConfig.from_overrides(config, **options)
    given = set(options)
    if config is not None:
        given |= {
            field.name
            for field in PretrainConfig.options()
            if getattr(config, field.name) != field.default
        }
    plan = pretrain_setup.plan_run(requested, given, verbose)
    parallel, summary = _distribution(plan.config)
    # One process per run folder: the chief holds its lock for the run's
    # life (the OS releases it however the process ends).
    folder = RunFolder(plan.config.output, verbose=plan.verbose)
    with folder if plan.chief else contextlib.nullcontext():
        try:
            # Variables are created, trained and saved under the
            # distribution; the previous one is restored afterwards.
            with parallel.scope() if parallel else contextlib.nullcontext():
                run = pretrain_setup.prepare_run(plan, summary)
                return pretrain_training.train(run, stop_after=stop_after)
        except Exception as error:
            if plan.chief and not plan.resuming:
                _undo_new_run(plan, folder)
            explained = _explain(error, plan.config)
            if explained is None:
                raise
            raise explained from None


def _undo_new_run(plan, folder):
    """A new run that failed before its first checkpoint leaves the folder
    as it found it: the corrected command then runs there as it is."""
    if checkpoints.checkpoint_dirs(plan.config.output):
        return
    if not plan.folder_existed:
        file_system.rmtree(plan.config.output, ignore_errors=True)
    else:
        folder.remove_recorded()
        folder.remove_lock_file()


def _explain(error, config):
    """One-line errors for what a run meets while it trains: a write that
    fails, a corrupt shard, text that is not UTF-8 (raised inside the input
    pipeline, where TensorFlow wraps it). None for anything else."""
    if isinstance(error, OSError) and error.errno in WRITE_ERRNOS:
        latest = checkpoints.checkpoint_dirs(config.output)
        return write_failure(
            error, config.output, latest[-1] if latest else None
        )
    if type(error).__name__ == "DataLossError" and config.shards:
        return _damaged_shards(config, error)
    wrapped = re.search(r"CorpusError: (.+)", str(error))
    if wrapped and not isinstance(error, CorpusError):
        return CorpusError(wrapped.group(1).strip())
    return None


def _damaged_shards(config, error):
    """A corrupt record met while training: the shards that differ from
    what was written, and the fix."""
    from keras_electra.data import shards

    damaged = shards.shard_problems(
        shards.shard_files(config.shards), checksums=True
    )
    if damaged:
        return PretrainingError(
            "{problems}", problems=shards.describe_problems(damaged)
        )
    return PretrainingError(
        "A corrupt record in the shards of '{folder}' ({message}). Rebuild "
        "them with `keras-electra build-data`.",
        folder=config.shards,
        message=str(error).splitlines()[0][:200],
    )


def _distribution(config):
    from keras_electra.models.electra_backbone import ElectraBackbone
    from keras_electra.utils.distribution import make_distribution

    return make_distribution(
        config.distribution,
        config.batch_size,
        config.mesh,
        layout_map=ElectraBackbone.get_layout_map,
    )
