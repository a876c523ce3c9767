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

A resumed run restores weights, optimizer state, step count, random seeds
and data position (the data order is a function of the seed, and the
pipeline skips the batches already seen), so an interrupted-and-resumed run
ends with the same weights as an uninterrupted one.

Over 400 lines: the job and its argument checks, each with an error that
says how to fix the input, kept together so the job reads top to bottom.
"""

import contextlib
import os
import shutil

import numpy as np

from keras_electra.data import examples
from keras_electra.data import shards
from keras_electra.data.text import expand_inputs
from keras_electra.data.vocabulary import learn_vocabulary
from keras_electra.jobs import checkpoints
from keras_electra.jobs.run_config import RunConfig
from keras_electra.utils import preset_utils
from keras_electra.utils import processes
from keras_electra.utils.backend_setup import describe_devices
from keras_electra.utils.distribution import make_distribution

RUN_FILE = "run.json"
DEFAULT_STEPS = 300
DTYPES = ("float32", "mixed_bfloat16", "mixed_float16")
OBJECTIVES = ("rtd", "mlm")
PRETRAINER_OPTIONS = (
    "replacement",
    "temperature",
    "temperature_start",
    "temperature_steps",
    "embedding_sharing",
    "generator_size",
)


class PretrainingError(ValueError):
    """A problem with the run's inputs; the message says how to fix it."""


def pretrain(
    output,
    preset="electra_tiny",
    shards=None,
    corpus=None,
    vocabulary=None,
    vocabulary_size=8000,
    steps=None,
    batch_size=32,
    sequence_length=128,
    learning_rate=None,
    warmup_steps=None,
    checkpoint_every=100,
    keep_checkpoints=3,
    log_every=10,
    seed=0,
    resume=False,
    overwrite=False,
    on_decode_error="stop",
    verbose=1,
    stop_after=None,
    distribution="none",
    mesh=None,
    gradient_accumulation_steps=1,
    dtype="float32",
    replacement=None,
    temperature=None,
    temperature_start=None,
    temperature_steps=None,
    embedding_sharing=None,
    generator_size=None,
    objective="rtd",
):
    """Pre-train an ELECTRA and write a preset; see the module docstring.

    Args:
        output: the run's folder.
        preset: preset name or folder to start from.
        shards: folder of TFRecord shards from `build_shards` (needs
            `vocabulary`, the file the shards were built with).
        corpus: text files, globs or folders, tokenized on the fly. With
            neither `shards` nor `corpus`, the default corpus is fetched.
        vocabulary: a `vocab.txt`; by default the preset's tokenizer, or a
            vocabulary of `vocabulary_size` learned from the corpus.
        steps: length of the run in optimizer updates (300 for a new run; a
            resumed run keeps its stored length unless `steps` extends it).
        batch_size: sequences per batch (per micro-batch with gradient
            accumulation: an update sees `batch_size *
            gradient_accumulation_steps` sequences).
        sequence_length, learning_rate, warmup_steps:
            the training run (learning rate and warm-up default to the
            preset's, the warm-up capped at a tenth of the run).
        checkpoint_every: steps between checkpoints.
        keep_checkpoints: how many recent checkpoints to keep.
        log_every: steps between log rows and progress updates.
        seed: seeds data order, masking, sampling and initialisation.
        resume: continue the run in `output` from its last checkpoint, with
            the run's stored settings (other arguments are ignored).
        overwrite: delete a previous run in `output` first.
        on_decode_error: `"stop"` or `"skip"` lines that are not UTF-8.
        stop_after: stop after this many steps in this call without saving
            anything after the last periodic checkpoint, as a killed run
            would; for tests of resumption.
        distribution: "none", "data" (data parallel over every device:
            `keras.distribution` on JAX, `MirroredStrategy` on TensorFlow)
            or "model" (`ElectraBackbone.get_layout_map` on a batch x model
            mesh, JAX). Not part of the run's identity: a run may resume on
            another device count.
        mesh: "BxM" for `distribution="model"` (default: the widest model
            axis of 8, 4 or 2 that divides the devices).
        gradient_accumulation_steps: batches whose gradients are averaged
            into each optimizer update (1: none). Steps, warm-up, decay,
            checkpoints and logs count updates.
        dtype: "float32", "mixed_bfloat16" (bfloat16 compute, float32
            weights: TPUs, recent GPUs) or "mixed_float16" (float16 compute
            with dynamic loss scaling: older GPUs).
        replacement, temperature, temperature_start, temperature_steps,
        embedding_sharing, generator_size: `ElectraPretrainer` options
            for a new run (None: the preset's); see its docstring.
        objective: "rtd" (ELECTRA: generator + discriminator) or "mlm" (the
            paper's BERT baseline: `ElectraMaskedLMPretrainer` on the
            preset's discriminator-sized encoder, with the preset's
            learning rate and warm-up). Both write a preset whose backbone
            fine-tunes the same way.

    Returns:
        A dict with `preset` (the final preset folder, or None if the run
        stopped early), `step`, `history` (last logged metrics) and
        `nan_step` (None unless the loss became NaN).
    """
    import keras

    from keras_electra.callbacks import PeriodicCheckpoint
    from keras_electra.callbacks import RunTensorBoard
    from keras_electra.callbacks import StopOnSignal
    from keras_electra.callbacks import StopTogether
    from keras_electra.callbacks import TrainingLog
    from keras_electra.utils.plotting import plot_discriminator_example

    settings = RunConfig(
        preset=str(preset),
        shards=shards,
        corpus=_as_list(corpus),
        vocabulary=vocabulary,
        vocabulary_size=vocabulary_size,
        steps=None if steps is None else int(steps),
        batch_size=int(batch_size),
        sequence_length=sequence_length,
        learning_rate=learning_rate,
        warmup_steps=warmup_steps,
        checkpoint_every=int(checkpoint_every),
        seed=int(seed),
        gradient_accumulation_steps=gradient_accumulation_steps,
        dtype=str(dtype),
        replacement=replacement,
        temperature=temperature,
        temperature_start=temperature_start,
        temperature_steps=temperature_steps,
        embedding_sharing=embedding_sharing,
        generator_size=generator_size,
        objective=str(objective),
    )
    # Every check runs before anything is written or learned: a refused
    # start leaves the output folder as it found it.
    resuming = resume and os.path.exists(os.path.join(output, RUN_FILE))
    settings = _settings_for(output, settings, resume, overwrite, verbose)
    if settings.steps is None:
        settings.steps = DEFAULT_STEPS
    _check_settings(settings, keep_checkpoints, log_every)
    if not resuming:
        _check_inputs(settings)
    from keras_electra.models.electra_backbone import ElectraBackbone

    parallel, parallel_summary = make_distribution(
        distribution,
        settings.batch_size,
        mesh,
        layout_map=ElectraBackbone.get_layout_map,
    )
    # With several processes (torchrun, JAX hosts), the chief writes the
    # run's files and prints; the others train and wait for its files.
    chief = processes.is_chief()
    verbose = verbose if chief else 0

    def run():
        setup = (
            _cleanup_if_refused(output, resuming, overwrite)
            if chief
            else contextlib.nullcontext()
        )
        with setup:
            keras.utils.set_random_seed(settings.seed)
            if chief:
                tokenizer = _prepare_data(
                    output, settings, on_decode_error, verbose
                )
            processes.barrier("keras_electra_setup")
            if not chief:  # the chief fetched or learned what it needed
                tokenizer = _prepare_data(output, settings, on_decode_error, 0)
            checkpoint = (
                checkpoints.latest_checkpoint(
                    output, verbose, dtype=settings.dtype
                )
                if resume
                else None
            )
            if checkpoint is not None:
                pretrainer, start_step, state = checkpoint
            else:
                pretrainer = _new_pretrainer(settings, tokenizer)
                start_step, state = 0, None
            if chief:
                settings.save(os.path.join(output, RUN_FILE))

        # The preset saved with the model says how this run trained.
        pretrainer.num_train_steps = settings.steps
        if settings.learning_rate:
            pretrainer.learning_rate = settings.learning_rate
        if settings.warmup_steps is not None:
            pretrainer.warmup_steps = settings.warmup_steps
        elif state is None:  # a new run: the preset's warm-up, capped
            pretrainer.warmup_steps = min(
                pretrainer.warmup_steps, settings.steps // 10
            )
        micro = settings.gradient_accumulation_steps
        pretrainer.compile(
            warmup_steps=pretrainer.warmup_steps,
            gradient_accumulation_steps=micro,
        )
        if state is not None:
            checkpoints.restore_training_state(pretrainer, state)
        _join_ranks(pretrainer)
        if start_step >= settings.steps:
            if verbose:
                print(
                    f"The run in '{output}' already reached {start_step} steps."
                )
            return _finish(
                output, pretrainer, tokenizer, start_step, {}, verbose, chief
            )

        # --- training ------------------------------------------------------
        dataset = _dataset(
            settings, tokenizer, on_decode_error, start_step * micro
        )
        if verbose:
            _describe(pretrainer, settings, start_step, parallel_summary)
        every = settings.checkpoint_every
        last_step = settings.steps
        if stop_after is not None:
            last_step = min(last_step, start_step + int(stop_after))
        log = TrainingLog(
            last_step,
            start_step=start_step,
            csv_path=os.path.join(output, "log.csv") if chief else None,
            log_every=log_every,
            verbose=verbose,
            start_seconds=float(
                (state or {}).get(checkpoints.ELAPSED_KEY, 0.0)
            ),
            micro_batches=micro,
        )

        def save(step):
            if not chief:
                return
            with processes.chief_alone():
                checkpoints.save_checkpoint(
                    output,
                    pretrainer,
                    tokenizer,
                    step,
                    keep_checkpoints,
                    seconds=log.elapsed(),
                )

        stop = StopOnSignal(micro_batches=micro)
        callbacks = [
            keras.callbacks.LambdaCallback(
                on_train_batch_begin=checkpoints.RestoreGlobalRNG(
                    state or {}, then=_rank_dropout_seed(settings, start_step)
                )
            ),
            log,
            PeriodicCheckpoint(save, every, log=log),
            stop,
            StopTogether(),
        ]
        if chief:
            callbacks.insert(
                3,
                RunTensorBoard(
                    os.path.join(output, "tensorboard"),
                    start_step=start_step,
                    micro_batches=micro,
                    update_freq=log_every,
                    write_graph=False,
                ),
            )
        with stop:
            pretrainer.fit(
                dataset,
                steps_per_epoch=every * micro,
                epochs=-(-last_step // every),
                initial_epoch=start_step // every,
                callbacks=callbacks,
                # The tf.data pipeline shuffles (deterministically).
                shuffle=False,
                verbose=0,
            )
            if log.nan_step is not None:
                latest = checkpoints.checkpoint_dirs(output)
                raise PretrainingError(
                    f"The loss became NaN at step {log.nan_step}; training "
                    "stopped. The last good checkpoint is "
                    f"{latest[-1] if latest else '(none yet)'}. Lower the "
                    "learning rate or check the data, then run again with "
                    "--resume."
                )
            if stop.signal is not None:
                return _interrupted(output, log, stop, save, every, verbose)
        if log.step < settings.steps:
            # Stopped early (`stop_after`): like a killed run, nothing is saved
            # beyond the last periodic checkpoint.
            return _result(None, log.step)
        if log.step % every != 0:
            save(log.step)
        history = {
            k: float(v) for k, v in pretrainer.get_metrics_result().items()
        }
        # JAX hosts compute together: a model call on the chief alone would
        # wait for the others.
        if (
            chief
            and settings.objective == "rtd"
            and not (
                keras.config.backend() == "jax"
                and processes.process_count() > 1
            )
        ):
            # A batch from the start of the data (not after the batches a
            # resumed run skipped, which would read them all again).
            first_batch = next(
                iter(_dataset(settings, tokenizer, on_decode_error, 0))
            )
            plot_discriminator_example(
                pretrainer,
                tokenizer,
                first_batch,
                os.path.join(output, "replaced_tokens.png"),
            )
        return _finish(
            output, pretrainer, tokenizer, log.step, history, verbose, chief
        )

    # Variables are created, trained and saved under the distribution;
    # the previous one is restored afterwards.
    with parallel.scope() if parallel else contextlib.nullcontext():
        return run()


def _result(preset, step, history=None, interrupted=None):
    return {
        "preset": preset,
        "step": step,
        "history": history or {},
        "nan_step": None,
        "interrupted": interrupted,
    }


def _interrupted(output, log, stop, save, every, verbose):
    """After a first Ctrl-C or SIGTERM: save this step, say how to go on."""
    import signal

    if log.step % every:  # a periodic checkpoint did not just save it
        save(log.step)
    name = signal.Signals(stop.signal).name
    if verbose:
        print(
            f"\nStopped at step {log.step} ({name}); checkpoint saved in "
            f"{os.path.join(output, 'checkpoints')}. Continue with:\n"
            f"  keras-electra pretrain --output {output} --resume"
        )
    return _result(None, log.step, interrupted=stop.exit_status)


# --- helpers -----------------------------------------------------------------


def _dataset(settings, tokenizer, on_decode_error, skip_batches):
    """The run's training data (shards or raw text), after `skip_batches`;
    under torchrun, this rank's slice of each global batch."""
    if settings.shards is not None:
        return processes.shard_batches(
            shards.shard_dataset(
                settings.shards,
                settings.batch_size,
                seed=settings.seed,
                skip_batches=skip_batches,
            )
        )
    return processes.shard_batches(
        _text_dataset(settings, tokenizer, on_decode_error, skip_batches)
    )


def _text_dataset(settings, tokenizer, on_decode_error, skip_batches):
    return examples.text_dataset(
        settings.corpus,
        tokenizer,
        settings.batch_size,
        sequence_length=settings.sequence_length,
        seed=settings.seed,
        skip_batches=skip_batches,
        on_decode_error=on_decode_error,
    )


def _prepare_data(output, settings, on_decode_error, verbose):
    """The default corpus (fetched once), the tokenizer (loaded or learned)
    and the shards' sequence length; returns the tokenizer."""
    if settings.shards is None and not settings.corpus:
        from keras_electra.data.default_corpus import default_corpus_path

        settings.corpus = [default_corpus_path(verbose=bool(verbose))]
        expand_inputs(settings.corpus)
    tokenizer = _load_tokenizer(output, settings, on_decode_error, verbose)
    if settings.shards is not None:
        files = shards.shard_files(settings.shards)
        settings.sequence_length = shards.read_sequence_length(files)
    return tokenizer


def _join_ranks(pretrainer):
    """Under torchrun: every rank starts from the chief's weights (as DDP
    does), and masks and samples differently: rank `r` adds `r` to the
    corruption's seed (the chief's, saved in checkpoints, is the run's)."""
    import keras

    if keras.config.backend() != "torch" or processes.process_count() == 1:
        return
    processes.broadcast_weights(pretrainer)
    rank = processes.process_index()
    state = keras.ops.convert_to_numpy(pretrainer.seed_generator.state)
    pretrainer.seed_generator.state.assign(state + np.array([rank, 0]))


def _rank_dropout_seed(settings, start_step):
    """Under torchrun, ranks other than the chief reseed torch's global
    generator (dropout) once training starts, so their dropout masks differ
    from the chief's; a no-op otherwise."""
    rank = processes.process_index()

    def reseed():
        if rank > 0 and processes.torchrun_world_size() > 1:
            import torch

            torch.manual_seed(
                (settings.seed * 1_000_003 + start_step) * 1009 + rank
            )

    return reseed


def _as_list(value):
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        return [os.fspath(value)]
    return [os.fspath(v) for v in value]


def _check_settings(settings, keep_checkpoints, log_every):
    numbers = {
        "steps": settings.steps,
        "batch_size": settings.batch_size,
        "checkpoint_every": settings.checkpoint_every,
        "log_every": log_every,
        "vocab_size": settings.vocabulary_size,
        "gradient_accumulation_steps": settings.gradient_accumulation_steps,
    }
    if settings.sequence_length is not None:
        numbers["sequence_length"] = settings.sequence_length
    for key, value in numbers.items():
        if int(value) <= 0:
            raise PretrainingError(
                f"--{key.replace('_', '-')} must be positive. Received: "
                f"{value}."
            )
    if settings.warmup_steps is not None and settings.warmup_steps < 0:
        raise PretrainingError(
            "--warmup-steps must be 0 or more. Received: "
            f"{settings.warmup_steps}."
        )
    if keep_checkpoints < 0:
        raise PretrainingError("--keep-checkpoints must be 0 (all) or more.")
    if settings.sequence_length is not None and settings.sequence_length < 8:
        raise PretrainingError(
            f"--sequence-length {settings.sequence_length} is too short to "
            "mask anything: use 8 or more (128 is the paper's)."
        )
    if settings.learning_rate is not None and settings.learning_rate <= 0:
        raise PretrainingError("--learning-rate must be positive.")
    if settings.objective not in OBJECTIVES:
        raise PretrainingError(
            f"--objective must be one of {', '.join(OBJECTIVES)}. Received: "
            f"{settings.objective!r}."
        )
    rtd_only = [
        key for key in PRETRAINER_OPTIONS if getattr(settings, key) is not None
    ]
    if settings.objective == "mlm" and rtd_only:
        flags = ", ".join("--" + key.replace("_", "-") for key in rtd_only)
        raise PretrainingError(
            f"{flags} set(s) ELECTRA's generator and replacements, which "
            "--objective mlm does not have. Drop them, or use --objective "
            "rtd."
        )
    if settings.dtype not in DTYPES:
        raise PretrainingError(
            f"--dtype must be one of {', '.join(DTYPES)}. Received: "
            f"{settings.dtype!r}."
        )
    if settings.dtype == "mixed_float16" and processes.launched_processes() > 1:
        raise PretrainingError(
            "--dtype mixed_float16 skips updates whose gradients overflow, "
            "which processes would decide apart; with several processes use "
            "mixed_bfloat16 (or float32)."
        )


def _check_inputs(settings):
    """What a new run reads: checked before any work or any file written."""
    from keras_electra.tokenizers.electra_tokenizer import read_vocabulary_file

    preset = preset_utils.resolve_preset(settings.preset)
    config = preset_utils.load_json(preset, preset_utils.CONFIG_FILE)["config"]
    has_weights = preset_utils.preset_has_file(
        preset, preset_utils.MODEL_WEIGHTS_FILE
    )
    has_tokenizer = preset_utils.preset_has_file(
        preset, preset_utils.TOKENIZER_CONFIG_FILE
    )
    if settings.corpus:
        expand_inputs(settings.corpus)
    length = settings.sequence_length
    if settings.shards is not None:
        files = shards.shard_files(settings.shards)
        stored = shards.read_sequence_length(files)
        if length not in (None, stored):
            raise PretrainingError(
                f"The shards in '{settings.shards}' hold sequences of "
                f"length {stored}, but --sequence-length is {length}. Use "
                f"{stored} or rebuild the shards."
            )
        length = stored
        if not settings.vocabulary:
            raise PretrainingError(
                "Training on shards needs the vocabulary they were built "
                "with: pass --vocab."
            )
    max_positions = config["max_sequence_length"]
    if length is not None and length > max_positions:
        raise PretrainingError(
            f"--sequence-length {length} exceeds the preset's "
            f"{max_positions} positions. Use at most {max_positions}."
        )
    if settings.vocabulary:
        size = len(read_vocabulary_file(settings.vocabulary))
        if has_weights and size != config["vocabulary_size"]:
            raise PretrainingError(
                f"The vocabulary has {size} tokens but the preset "
                f"'{settings.preset}' was trained with "
                f"{config['vocabulary_size']}. Use the preset's own "
                "vocabulary (omit --vocab) or start from a built-in preset."
            )
    elif has_weights and not has_tokenizer:
        raise PretrainingError(
            f"The preset '{settings.preset}' has weights but no tokenizer, "
            "so a vocabulary learned here would not match its embeddings. "
            "Pass --vocab with the vocabulary it was trained with."
        )


def _settings_for(output, settings, resume, overwrite, verbose):
    """The run's settings: the stored ones on resume; checks the folder."""
    run_file = os.path.join(output, RUN_FILE)
    if os.path.exists(run_file):
        if resume:
            # The stored settings define the run; only its length may be
            # changed (to extend it) by passing `steps`.
            stored = RunConfig.load(run_file)
            if settings.steps is not None:
                stored.steps = settings.steps
            return stored
        if not overwrite:
            raise PretrainingError(
                f"'{output}' already holds a pre-training run. Pass --resume "
                "to continue it, --overwrite to replace it, or choose another "
                "--output folder."
            )
    elif resume:
        if verbose:
            print(f"No run to resume in '{output}'; starting a new one.")
    elif os.path.isdir(output) and os.listdir(output) and not overwrite:
        raise PretrainingError(
            f"'{output}' is not empty and holds no run of keras-electra. "
            "Choose an empty or new --output folder, or pass --overwrite."
        )
    return settings


class _cleanup_if_refused:
    """Sets up the output folder; undoes it if the run's set-up fails.

    `--overwrite` deletes the previous run only here, after every check
    passed. A new run that fails during set-up (vocabulary learning, the
    default corpus download, ...) removes what it wrote, so the same folder
    takes the corrected command.
    """

    def __init__(self, output, resuming, overwrite):
        self.output = output
        self.resuming = resuming
        self.overwrite = overwrite

    def __enter__(self):
        self.existed = os.path.isdir(self.output)
        if not self.resuming and self.overwrite and self.existed:
            shutil.rmtree(self.output)
            self.existed = False
        self.before = set(os.listdir(self.output)) if self.existed else set()
        os.makedirs(self.output, exist_ok=True)
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None or self.resuming:
            return False
        if not self.existed:
            shutil.rmtree(self.output, ignore_errors=True)
            return False
        for name in set(os.listdir(self.output)) - self.before:
            path = os.path.join(self.output, name)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)
        return False


def _load_tokenizer(output, settings, on_decode_error, verbose):
    from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer

    if settings.vocabulary:
        return ElectraTokenizer(vocabulary=settings.vocabulary)
    preset = preset_utils.resolve_preset(settings.preset)
    if preset_utils.preset_has_file(preset, preset_utils.TOKENIZER_CONFIG_FILE):
        return ElectraTokenizer.from_preset(preset)
    if settings.shards is not None:
        raise PretrainingError(
            "Training on shards needs the vocabulary they were built with: "
            "pass --vocab."
        )
    learned = os.path.join(output, "vocab.txt")
    if not os.path.exists(learned):
        if verbose:
            print(
                "Learning a WordPiece vocabulary of up to "
                f"{settings.vocabulary_size:,} tokens from the corpus ..."
            )
        tokenizer = learn_vocabulary(
            settings.corpus,
            settings.vocabulary_size,
            learned,
            on_decode_error=on_decode_error,
        )
        size = tokenizer.vocabulary_size()
        if verbose:
            short = size < settings.vocabulary_size
            print(
                f"Learned {size:,} tokens (asked for "
                f"{settings.vocabulary_size:,}"
                f"{': the corpus gave no more' if short else ''}); "
                f"written to {learned}."
            )
    settings.vocabulary = learned
    tokenizer = ElectraTokenizer(vocabulary=learned)
    settings.learned_vocabulary_size = tokenizer.vocabulary_size()
    return tokenizer


def _new_pretrainer(settings, tokenizer):
    """The preset's pretrainer, sized to the tokenizer (checked before)."""
    from keras_electra.models.electra_pretrainer import ElectraPretrainer

    preset = preset_utils.resolve_preset(settings.preset)
    config = preset_utils.load_json(preset, preset_utils.CONFIG_FILE)["config"]
    overrides = dict(
        tokenizer.pretrainer_token_ids(),
        seed=settings.seed,
        dtype=settings.dtype,
    )
    for key in PRETRAINER_OPTIONS:
        if getattr(settings, key) is not None:
            overrides[key] = getattr(settings, key)
    if tokenizer.vocabulary_size() != config["vocabulary_size"]:
        overrides["vocabulary_size"] = tokenizer.vocabulary_size()
    if settings.objective == "mlm":
        return _new_masked_lm(preset, overrides)
    return ElectraPretrainer.from_preset(preset, **overrides)


def _new_masked_lm(preset, overrides):
    """The MLM baseline on the preset's encoder, with the optimizer settings
    of the preset's pretrainer (so both objectives train alike)."""
    from keras_electra.models.electra_backbone import ElectraBackbone
    from keras_electra.models.electra_masked_lm_pretrainer import (
        ElectraMaskedLMPretrainer,
    )

    stored = {}
    if preset_utils.preset_has_file(preset, preset_utils.TASK_CONFIG_FILE):
        stored = preset_utils.load_json(preset, preset_utils.TASK_CONFIG_FILE)
        stored = stored.get("config", {})
    backbone = ElectraBackbone.from_preset(
        preset,
        dtype=overrides.pop("dtype"),
        **(
            {"vocabulary_size": overrides.pop("vocabulary_size")}
            if "vocabulary_size" in overrides
            else {}
        ),
    )
    optimizer = {
        key: stored[key]
        for key in (
            "learning_rate",
            "num_train_steps",
            "warmup_steps",
            "weight_decay",
            "mask_rate",
        )
        if key in stored
    }
    return ElectraMaskedLMPretrainer(backbone, **optimizer, **overrides)


def _describe(pretrainer, settings, start_step, parallel_summary=None):
    import keras

    micro = settings.gradient_accumulation_steps

    import keras_electra

    devices = describe_devices(keras.config.backend())
    if settings.objective == "mlm":
        model = (
            f"Masked-LM encoder {pretrainer.backbone.count_params():,} "
            "parameters (the BERT baseline: 80% [MASK], 10% random, 10% kept)"
        )
    else:
        model = _describe_towers(pretrainer)
    if settings.dtype != "float32":
        model += f"; {settings.dtype}"
    print(
        f"keras-electra {keras_electra.__version__} | backend "
        f"{keras.config.backend()} | devices: {devices}\n"
        f"{model}\n"
        f"Steps {start_step} -> {settings.steps}, batch "
        f"{settings.batch_size} x {settings.sequence_length} tokens"
        + (
            f" x {micro} accumulated micro-batches per update"
            if micro > 1
            else ""
        )
        + f", checkpoint every {settings.checkpoint_every} steps"
        + (f"\nDistribution: {parallel_summary}" if parallel_summary else "")
    )


def _describe_towers(pretrainer):
    sharing = {
        "tied": "embeddings shared",
        "untied": "own embeddings",
        "gdes": "embeddings shared by GDES",
    }[pretrainer.embedding_sharing]
    if pretrainer.replacement == "uniform":
        sharing += "; uniform replacement (generator unused)"
    if pretrainer.temperature_start is not None:
        sharing += (
            f"; temperature {pretrainer.temperature_start:g} -> "
            f"{pretrainer.temperature:g} over "
            f"{pretrainer.temperature_steps} steps"
        )
    return (
        f"Discriminator {pretrainer.discriminator.count_params():,} "
        f"parameters, generator {pretrainer.generator.count_params():,} "
        f"({sharing})"
    )


def _finish(output, pretrainer, tokenizer, step, history, verbose, chief):
    from keras_electra.models.electra_masked_lm_pretrainer import (
        ElectraMaskedLMPretrainer,
    )
    from keras_electra.utils.plotting import plot_training_curves

    final = os.path.join(output, "preset")
    if not chief:
        return _result(final, step, history)
    with processes.chief_alone():
        pretrainer.save_to_preset(final, tokenizer)
    csv_path = os.path.join(output, "log.csv")
    png = None
    if os.path.exists(csv_path):
        png = plot_training_curves(
            csv_path,
            os.path.join(output, "training_curves.png"),
            title=(
                f"Masked-LM baseline ({step} steps)"
                if isinstance(pretrainer, ElectraMaskedLMPretrainer)
                else f"ELECTRA pre-training ({step} steps)"
            ),
            vocabulary_size=tokenizer.vocabulary_size(),
        )
    if verbose:
        print(f"Done at step {step}. Preset: {final}")
        if png:
            print(f"Training curves: {png}")
    return _result(final, step, history)
