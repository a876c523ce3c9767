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
"""

import glob
import json
import os
import shutil

import numpy as np

from keras_electra.utils import preset_utils

RUN_FILE = "run.json"
DEFAULT_STEPS = 300
STATE_FILE = "state.json"
TRAINING_STATE_FILE = "training_state.npz"


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
        steps: length of the run (300 for a new run; a resumed run keeps its
            stored length unless `steps` extends it).
        batch_size, sequence_length, learning_rate, warmup_steps:
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

    Returns:
        A dict with `preset` (the final preset folder, or None if the run
        stopped early), `step`, `history` (last logged metrics) and
        `nan_step` (None unless the loss became NaN).
    """
    import keras

    from keras_electra.callbacks import PeriodicCheckpoint
    from keras_electra.callbacks import TrainingLog
    from keras_electra.data import pretraining_data
    from keras_electra.utils.plotting import plot_discriminator_example

    settings = dict(
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
    )
    settings = _prepare_output(output, settings, resume, overwrite, verbose)
    if settings["steps"] is None:
        settings["steps"] = DEFAULT_STEPS
    _check_positive(settings)
    keras.utils.set_random_seed(settings["seed"])

    # --- data source and tokenizer -------------------------------------
    if settings["shards"] is None and not settings["corpus"]:
        from keras_electra.data.default_corpus import default_corpus_path

        settings["corpus"] = [default_corpus_path(verbose=bool(verbose))]
    if settings["corpus"]:
        pretraining_data.expand_inputs(settings["corpus"])  # clear errors
    tokenizer = _load_tokenizer(output, settings, on_decode_error, verbose)
    if settings["shards"] is not None:
        files = pretraining_data.shard_files(settings["shards"])
        stored = pretraining_data.read_sequence_length(files)
        if settings["sequence_length"] not in (None, stored):
            raise PretrainingError(
                f"The shards in '{settings['shards']}' hold sequences of "
                f"length {stored}, but --sequence-length is "
                f"{settings['sequence_length']}. Use {stored} or rebuild the "
                "shards."
            )
        settings["sequence_length"] = stored
    _write_json(os.path.join(output, RUN_FILE), settings)

    # --- model ---------------------------------------------------------
    checkpoint = _latest_checkpoint(output, verbose) if resume else None
    if checkpoint is not None:
        pretrainer, start_step, state = checkpoint
    else:
        pretrainer = _new_pretrainer(settings, tokenizer)
        start_step, state = 0, None
    pretrainer.compile(
        learning_rate=settings["learning_rate"],
        num_train_steps=settings["steps"],
        warmup_steps=settings["warmup_steps"],
    )
    if state is not None:
        _restore_training_state(pretrainer, state)
    if start_step >= settings["steps"]:
        if verbose:
            print(f"The run in '{output}' already reached {start_step} steps.")
        return _finish(output, pretrainer, tokenizer, start_step, {}, verbose)

    # --- training ------------------------------------------------------
    dataset = _dataset(settings, tokenizer, on_decode_error, start_step)
    if verbose:
        _describe(pretrainer, settings, start_step)
    every = settings["checkpoint_every"]
    last_step = settings["steps"]
    if stop_after is not None:
        last_step = min(last_step, start_step + int(stop_after))
    log = TrainingLog(
        last_step,
        start_step=start_step,
        csv_path=os.path.join(output, "log.csv"),
        log_every=log_every,
        verbose=verbose,
    )

    def save(step):
        _save_checkpoint(output, pretrainer, tokenizer, step, keep_checkpoints)

    callbacks = [
        keras.callbacks.LambdaCallback(
            on_train_batch_begin=_RestoreGlobalRNG(state or {})
        ),
        log,
        PeriodicCheckpoint(save, every, log=log),
        keras.callbacks.TensorBoard(
            os.path.join(output, "tensorboard"),
            update_freq=log_every,
            write_graph=False,
        ),
    ]
    epochs = -(-last_step // every)
    pretrainer.fit(
        dataset,
        steps_per_epoch=every,
        epochs=epochs,
        initial_epoch=start_step // every,
        callbacks=callbacks,
        shuffle=False,  # the tf.data pipeline shuffles (deterministically)
        verbose=0,
    )
    if log.nan_step is not None:
        latest = _checkpoint_dirs(output)
        raise PretrainingError(
            f"The loss became NaN at step {log.nan_step}; training stopped. "
            f"The last good checkpoint is "
            f"{latest[-1] if latest else '(none yet)'}. Lower the learning "
            "rate or check the data, then run again with --resume."
        )
    if log.step < settings["steps"]:
        # Stopped early (`stop_after`): like a killed run, nothing is saved
        # beyond the last periodic checkpoint.
        return {
            "preset": None,
            "step": log.step,
            "history": {},
            "nan_step": None,
        }
    if log.step % every != 0:
        save(log.step)
    history = {k: float(v) for k, v in pretrainer.get_metrics_result().items()}
    # A batch from the start of the data (not after the batches a resumed
    # run skipped, which would read them all again).
    first_batch = next(iter(_dataset(settings, tokenizer, on_decode_error, 0)))
    plot_discriminator_example(
        pretrainer,
        tokenizer,
        first_batch,
        os.path.join(output, "replaced_tokens.png"),
    )
    return _finish(output, pretrainer, tokenizer, log.step, history, verbose)


# --- helpers -----------------------------------------------------------------


def _dataset(settings, tokenizer, on_decode_error, skip_batches):
    """The run's training data, from shards or raw text, after `skip_batches`."""
    from keras_electra.data import pretraining_data

    if settings["shards"] is not None:
        return pretraining_data.shard_dataset(
            settings["shards"],
            settings["batch_size"],
            seed=settings["seed"],
            skip_batches=skip_batches,
        )
    return pretraining_data.text_dataset(
        settings["corpus"],
        tokenizer,
        settings["batch_size"],
        sequence_length=settings["sequence_length"],
        seed=settings["seed"],
        skip_batches=skip_batches,
        on_decode_error=on_decode_error,
    )


def _as_list(value):
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        return [os.fspath(value)]
    return [os.fspath(v) for v in value]


def _check_positive(settings):
    for key in ("steps", "batch_size", "checkpoint_every"):
        if settings[key] <= 0:
            raise PretrainingError(
                f"--{key.replace('_', '-')} must be positive."
            )


def _prepare_output(output, settings, resume, overwrite, verbose):
    run_file = os.path.join(output, RUN_FILE)
    if os.path.exists(run_file):
        if resume:
            # The stored settings define the run; only its length may be
            # changed (to extend it) by passing `steps`.
            with open(run_file, encoding="utf-8") as f:
                stored = json.load(f)
            if settings["steps"] is not None:
                stored["steps"] = settings["steps"]
            return stored
        if not overwrite:
            raise PretrainingError(
                f"'{output}' already holds a pre-training run. Pass --resume "
                "to continue it, --overwrite to replace it, or choose another "
                "--output folder."
            )
        shutil.rmtree(output)
    elif resume:
        if verbose:
            print(f"No run to resume in '{output}'; starting a new one.")
    elif os.path.isdir(output) and os.listdir(output) and not overwrite:
        raise PretrainingError(
            f"'{output}' is not empty and holds no run of keras-electra. "
            "Choose an empty or new --output folder, or pass --overwrite."
        )
    elif overwrite and os.path.isdir(output):
        shutil.rmtree(output)
    os.makedirs(output, exist_ok=True)
    return settings


def _load_tokenizer(output, settings, on_decode_error, verbose):
    from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer

    if settings["vocabulary"]:
        return ElectraTokenizer(vocabulary=settings["vocabulary"])
    preset = preset_utils.resolve_preset(settings["preset"])
    if preset_utils.preset_has_file(preset, preset_utils.TOKENIZER_CONFIG_FILE):
        return ElectraTokenizer.from_preset(preset)
    if settings["shards"] is not None:
        raise PretrainingError(
            "Training on shards needs the vocabulary they were built with: "
            "pass --vocab."
        )
    learned = os.path.join(output, "vocab.txt")
    if not os.path.exists(learned):
        if verbose:
            print(
                f"Learning a {settings['vocabulary_size']}-token WordPiece "
                "vocabulary from the corpus ..."
            )
        learn_vocabulary(
            settings["corpus"],
            settings["vocabulary_size"],
            learned,
            on_decode_error=on_decode_error,
        )
    settings["vocabulary"] = learned
    return ElectraTokenizer(vocabulary=learned)


def learn_vocabulary(
    inputs,
    vocabulary_size,
    output_file,
    max_lines=200_000,
    on_decode_error="stop",
    lowercase=True,
    strip_accents=True,
):
    """Learn a WordPiece vocabulary from (up to `max_lines` of) a corpus."""
    import tensorflow as tf

    from keras_electra.data.text import expand_inputs
    from keras_electra.data.text import iter_documents
    from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer

    lines = []
    for document in iter_documents(
        expand_inputs(inputs), on_decode_error=on_decode_error
    ):
        lines.extend(document)
        if len(lines) >= max_lines:
            break
    if not lines:
        raise PretrainingError("The corpus holds no text to learn from.")
    dataset = tf.data.Dataset.from_tensor_slices(lines[:max_lines]).batch(1024)
    tmp = f"{output_file}.tmp"
    tokenizer = ElectraTokenizer.train(
        dataset,
        vocabulary_size,
        lowercase=lowercase,
        strip_accents=strip_accents,
        output_file=tmp,
    )
    os.replace(tmp, output_file)
    return tokenizer


def _new_pretrainer(settings, tokenizer):
    from keras_electra.models.electra_pretrainer import ElectraPretrainer

    preset = preset_utils.resolve_preset(settings["preset"])
    config = preset_utils.load_json(preset, preset_utils.CONFIG_FILE)["config"]
    max_positions = config["max_sequence_length"]
    if settings["sequence_length"] > max_positions:
        raise PretrainingError(
            f"--sequence-length {settings['sequence_length']} exceeds the "
            f"preset's {max_positions} positions. Use at most {max_positions}."
        )
    vocab_size = tokenizer.vocabulary_size()
    has_weights = preset_utils.preset_has_file(
        preset, preset_utils.MODEL_WEIGHTS_FILE
    )
    overrides = dict(tokenizer.special_token_ids(), seed=settings["seed"])
    if vocab_size != config["vocabulary_size"]:
        if has_weights:
            raise PretrainingError(
                f"The vocabulary has {vocab_size} tokens but the preset "
                f"'{settings['preset']}' was trained with "
                f"{config['vocabulary_size']}. Use the preset's own "
                "vocabulary (omit --vocab) or start from a built-in preset."
            )
        overrides["vocabulary_size"] = vocab_size
    return ElectraPretrainer.from_preset(preset, **overrides)


def _checkpoint_dirs(output):
    return sorted(glob.glob(os.path.join(output, "checkpoints", "ckpt-*")))


def _save_checkpoint(output, pretrainer, tokenizer, step, keep):
    import keras

    path = os.path.join(output, "checkpoints", f"ckpt-{step:08d}")
    with preset_utils.atomic_directory(path) as tmp:
        pretrainer.save_to_preset(os.path.join(tmp, "preset"), tokenizer)
        arrays = {
            key: keras.ops.convert_to_numpy(variable)
            for key, variable in _training_state_variables(pretrainer)
        }
        arrays.update(_global_rng_state())
        np.savez(os.path.join(tmp, TRAINING_STATE_FILE), **arrays)
        _write_json(os.path.join(tmp, STATE_FILE), {"step": int(step)})
    for old in _checkpoint_dirs(output)[:-keep] if keep else []:
        shutil.rmtree(old, ignore_errors=True)


def _latest_checkpoint(output, verbose):
    """Load the newest readable checkpoint, falling back to older ones."""
    from keras_electra.models.electra_pretrainer import ElectraPretrainer

    for path in reversed(_checkpoint_dirs(output)):
        try:
            with open(os.path.join(path, STATE_FILE), encoding="utf-8") as f:
                step = json.load(f)["step"]
            pretrainer = ElectraPretrainer.from_preset(
                os.path.join(path, "preset")
            )
            with np.load(os.path.join(path, TRAINING_STATE_FILE)) as data:
                state = {k: data[k] for k in data.files}
        except Exception as e:  # noqa: BLE001 - any unreadable file
            print(
                f"Warning: checkpoint '{path}' is unreadable "
                f"({type(e).__name__}: {str(e)[:200]}); falling back to the "
                "previous one."
            )
            continue
        if verbose:
            print(f"Resuming from {path} (step {step}).")
        return pretrainer, step, state
    if verbose:
        print(f"No readable checkpoint in '{output}'; starting from step 0.")
    return None


def _training_state_variables(pretrainer):
    """(key, variable) pairs a checkpoint stores besides the preset weights.

    The optimizer's slots and step, and the model's non-trainable variables
    (the seed states of masking, sampling and dropout).
    """
    pairs = [
        (f"optimizer_{i:05d}", v)
        for i, v in enumerate(pretrainer.optimizer.variables)
    ]
    pairs += [
        (f"model_{i:05d}", v)
        for i, v in enumerate(pretrainer.non_trainable_variables)
    ]
    return pairs


def _restore_training_state(pretrainer, state):
    pretrainer.optimizer.build(pretrainer.trainable_variables)
    for key, variable in _training_state_variables(pretrainer):
        variable.assign(state[key])


class _RestoreGlobalRNG:
    """Restores the global RNG right before the first resumed step.

    Keras may run the model once when `fit` starts (to build it), which draws
    from the global generator; restoring earlier would be undone by that.
    """

    def __init__(self, state):
        self.state = state
        self.done = False

    def __call__(self, batch, logs=None):
        if not self.done:
            _restore_global_rng_state(self.state)
            self.done = True


def _global_rng_state():
    """Random state that lives outside Keras' seed variables.

    On PyTorch, Keras' dropout draws from torch's global generator (unless a
    layer has an explicit seed), so a faithful resume must restore it too.
    """
    import keras

    if keras.config.backend() != "torch":
        return {}
    import torch

    return {"torch_rng_state": torch.get_rng_state().numpy()}


def _restore_global_rng_state(state):
    if "torch_rng_state" in state:
        import torch

        torch.set_rng_state(torch.from_numpy(state["torch_rng_state"]))


def _describe(pretrainer, settings, start_step):
    import keras

    import keras_electra

    devices = _devices(keras.config.backend())
    print(
        f"keras-electra {keras_electra.__version__} | backend "
        f"{keras.config.backend()} | devices: {devices}\n"
        f"Discriminator {pretrainer.discriminator.count_params():,} "
        f"parameters, generator {pretrainer.generator.count_params():,} "
        f"({'embeddings shared' if pretrainer.tie_embeddings else 'own embeddings'})\n"
        f"Steps {start_step} -> {settings['steps']}, batch "
        f"{settings['batch_size']} x {settings['sequence_length']} tokens, "
        f"checkpoint every {settings['checkpoint_every']} steps"
    )


def _devices(backend):
    try:
        if backend == "jax":
            import jax

            return ", ".join(str(d) for d in jax.devices())
        if backend == "torch":
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return ", ".join(d.name for d in gpus) or "CPU"
    except Exception:  # noqa: BLE001
        return "unknown"


def _finish(output, pretrainer, tokenizer, step, history, verbose):
    from keras_electra.utils.plotting import plot_training_curves

    final = os.path.join(output, "preset")
    pretrainer.save_to_preset(final, tokenizer)
    csv_path = os.path.join(output, "log.csv")
    png = None
    if os.path.exists(csv_path):
        png = plot_training_curves(
            csv_path,
            os.path.join(output, "training_curves.png"),
            title=f"ELECTRA pre-training ({step} steps)",
        )
    if verbose:
        print(f"Done at step {step}. Preset: {final}")
        if png:
            print(f"Training curves: {png}")
    return {"preset": final, "step": step, "history": history, "nan_step": None}


def _write_json(path, value):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2)
    os.replace(tmp, path)
