"""Pre-training, stage 1: set-up.

`plan_run` checks everything a run needs before anything is written or
learned (a refused start leaves the output folder as it found it) and
settles which settings hold: the caller's for a new run, the stored ones
on resume. `prepare_run` then fetches what is missing (the default corpus,
a learned vocabulary), builds or restores the pretrainer and returns a
`Run`: the resolved, frozen description that training consumes and the
report reads. No later stage changes a setting.
"""

import contextlib
import dataclasses
import os

import numpy as np

from keras_electra.data import shards
from keras_electra.data.text import expand_inputs
from keras_electra.jobs import checkpoints
from keras_electra.jobs.options import DEFAULT_SEQUENCE_LENGTH
from keras_electra.jobs.options import DEFAULT_STEPS
from keras_electra.jobs.options import PretrainConfig
from keras_electra.jobs.options import PretrainingError
from keras_electra.jobs.run_folder import RunFolder
from keras_electra.utils import file_system
from keras_electra.utils import preset_utils
from keras_electra.utils import processes
from keras_electra.utils.preset_info import PresetInfo

RUN_FILE = "run.json"

# The options that are `ElectraBackbone` arguments (`option(...,
# backbone=True)`): both objectives' encoders take them.
BACKBONE_OPTIONS = tuple(
    f.name for f in PretrainConfig.options() if f.metadata["backbone"]
)


@dataclasses.dataclass(frozen=True)
class Plan:
    """A checked request: the settings that hold, before any work."""

    config: PretrainConfig
    resuming: bool  # a run.json exists and `resume` was asked
    verbose: int  # 0 on every process but the chief
    chief: bool  # the process that writes the run's files
    folder_existed: bool  # before this call wrote anything


@dataclasses.dataclass(frozen=True)
class Run:
    """A prepared run: what training consumes.

    `config` is resolved: its corpus, vocabulary, sequence length and
    length are filled in, and it is what `run.json` holds.
    """

    config: PretrainConfig
    tokenizer: object
    pretrainer: object
    start_step: int
    state: dict  # the checkpoint's training state; None for a new run
    verbose: int
    chief: bool
    distribution_summary: str = None
    warnings: tuple = ()  # health warnings of earlier attempts (run.json)

    @property
    def output(self):
        return self.config.output

    def record(self, *names):
        """Note top-level files the run is about to write in its folder
        (the chief's; see `run_folder.py`)."""
        if self.chief:
            RunFolder(self.output).record(*names)


def plan_run(requested, given, verbose):
    """Check a request and settle the run's settings; writes nothing.

    Args:
        requested: the caller's `PretrainConfig`.
        given: the names of the options the caller set (on resume, those
            that may change are applied; the stored run's others hold).
        verbose: 0 for silence.
    """
    output = requested.output
    resuming = requested.resume and file_system.exists(
        file_system.join(output, RUN_FILE)
    )
    config = _settings_for(requested, given, verbose)
    if config.steps is None:
        config = dataclasses.replace(config, steps=DEFAULT_STEPS)
    if not resuming:
        check_inputs(config)
    if config.dtype == "mixed_float16" and processes.launched_processes() > 1:
        raise PretrainingError(
            "{o.dtype} mixed_float16 skips updates whose gradients overflow, "
            "which processes would decide apart; with several processes use "
            "mixed_bfloat16 (or float32)."
        )
    # With several processes (torchrun, JAX hosts), the chief writes the
    # run's files and prints; the others train and wait for its files.
    chief = processes.is_chief()
    existed = file_system.isdir(output)
    return Plan(config, resuming, verbose if chief else 0, chief, existed)


def _settings_for(requested, given, verbose):
    """The stored settings on resume (with the changeable ones given now);
    the request otherwise. Checks the output folder; writes nothing."""
    output = requested.output
    if file_system.exists(output) and not file_system.isdir(output):
        raise PretrainingError(
            "'{output}' is a file, not a folder: choose a folder for "
            "{o.output}.",
            output=output,
        )
    folder = RunFolder(output)
    if file_system.exists(file_system.join(output, RUN_FILE)):
        if requested.resume:
            return _resumed_settings(requested, given, verbose)
        if not requested.overwrite:
            raise PretrainingError(
                "'{output}' already holds a pre-training run. Pass "
                "{o.resume} to continue it, {o.overwrite} to replace it, or "
                "choose another {o.output} folder.",
                output=output,
            )
    elif requested.resume and verbose:
        print(f"No run to resume in '{output}'; starting a new one.")
    foreign = folder.foreign_entries()
    if foreign and requested.overwrite and not requested.resume:
        shown = ", ".join(foreign[:8]) + (" ..." if len(foreign) > 8 else "")
        raise PretrainingError(
            "'{output}' holds files no keras-electra run wrote ({shown}); "
            "{o.overwrite} removes only what a run wrote, and nothing here. "
            "Move them, or choose another {o.output} folder.",
            output=output,
            shown=shown,
        )
    if foreign:
        raise PretrainingError(
            "'{output}' is not empty and holds no run of keras-electra. "
            "Choose an empty or new {o.output} folder.",
            output=output,
        )
    return with_absolute_paths(requested)


def _resumed_settings(requested, given, verbose):
    """The stored run's settings; refused if the call changes one that
    defines the run; the changeable ones given now applied and said."""
    output = requested.output
    stored = PretrainConfig.load(
        file_system.join(output, RUN_FILE),
        output=output,
        resume=True,
        overwrite=requested.overwrite,
    )
    requested = with_absolute_paths(requested)
    differences, changes, per_call = [], {}, {}
    for field in PretrainConfig.options():
        name = field.name
        if not field.metadata["stored"]:
            continue
        before, now = getattr(stored, name), getattr(requested, name)
        if field.metadata["per_call"]:  # this call's devices, not the run's
            per_call[name] = now
            continue
        if name not in given or before == now:
            continue
        if field.metadata["may_change_on_resume"]:
            changes[name] = now
        else:
            differences.append((name, before, now))
    if differences:
        values = {}
        parts = []
        for i, (name, before, now) in enumerate(differences):
            values[f"b{i}"], values[f"n{i}"] = before, now
            parts.append(f"{{o.{name}}} {{b{i}!r}} (given {{n{i}!r}})")
        changeable = ", ".join(
            f"{{o.{f.name}}}"
            for f in PretrainConfig.options()
            if f.metadata["may_change_on_resume"]
        )
        raise PretrainingError(
            "The run in '{output}' was started with other settings: "
            + "; ".join(parts)
            + ". A resumed run keeps the settings that define it; only "
            + changeable
            + " may change. Drop the others to resume, or start a new run "
            "in another {o.output} folder.",
            output=output,
            **values,
        )
    _say_backend(output, verbose)
    if changes and verbose:
        said = ", ".join(
            f"{k} {getattr(stored, k)!r} -> {v!r}" for k, v in changes.items()
        )
        print(f"Resuming with changed settings: {said}.")
    return dataclasses.replace(stored, **per_call, **changes)


def _say_backend(output, verbose):
    """A resumed run on another backend than it trained on says so
    (checkpoints are backend-neutral; the numbers differ in float
    rounding)."""
    import json

    import keras

    path = file_system.join(output, RUN_FILE)
    with file_system.open_file(path, encoding="utf-8") as f:
        trained = json.load(f).get("backend")
    now = keras.config.backend()
    if verbose and trained and trained != now:
        print(f"The run trained on {trained}; it continues on {now}.")


def with_absolute_paths(config):
    """The config with its local paths absolute (corpus, shards,
    vocabulary, a preset folder), so `run.json` reads from any working
    directory."""

    def absolute(path):
        if path is None or "://" in str(path):
            return path
        return os.path.abspath(os.path.expanduser(path))

    preset = config.preset
    names = preset_utils.builtin_presets() + preset_utils.released_presets()
    if preset not in names and os.path.isdir(os.path.expanduser(preset)):
        preset = absolute(preset)
    return dataclasses.replace(
        config,
        preset=preset,
        corpus=(
            None
            if config.corpus is None
            else [absolute(c) for c in config.corpus]
        ),
        shards=absolute(config.shards),
        vocabulary=absolute(config.vocabulary),
    )


def check_inputs(config):
    """What a new run reads: checked before any work or any file written."""
    from keras_electra.tokenizers.electra_tokenizer import read_vocabulary_file

    # Local inputs first: a released preset may be fetched below.
    if config.corpus:
        expand_inputs(config.corpus, config.text_field)
    vocabulary_size = None
    if config.vocabulary:
        vocabulary_size = len(read_vocabulary_file(config.vocabulary))
    length = config.sequence_length
    if config.shards is not None:
        files = shards.shard_files(config.shards)
        damaged = shards.shard_problems(files)
        if damaged:
            raise PretrainingError(
                "{problems}", problems=shards.describe_problems(damaged)
            )
        stored = shards.read_sequence_length(files)
        if length not in (None, stored):
            raise PretrainingError(
                "The shards in '{shards}' hold sequences of length {stored}, "
                "but {o.sequence_length} is {length}. Use {stored} or "
                "rebuild the shards.",
                shards=config.shards,
                stored=stored,
                length=length,
            )
        length = stored
        if not config.vocabulary:
            raise PretrainingError(
                "Training on shards needs the vocabulary they were built "
                "with: pass {o.vocabulary}."
            )
    preset = PresetInfo.read(config.preset)
    max_positions = preset.backbone_config["max_sequence_length"]
    length = length or DEFAULT_SEQUENCE_LENGTH
    if length > max_positions:
        raise PretrainingError(
            "{o.sequence_length} {length} exceeds the preset's {limit} "
            "positions. Use at most {limit}.",
            length=length,
            limit=max_positions,
        )
    _check_table_padding(config, preset)
    if config.vocabulary:
        size = vocabulary_size
        trained = preset.backbone_config["vocabulary_size"]
        if preset.has_weights and size != trained:
            raise PretrainingError(
                "The vocabulary has {size} tokens but the preset '{preset}' "
                "was trained with {trained}. Use the preset's own vocabulary "
                "(omit {o.vocabulary}) or start from a built-in preset.",
                size=size,
                preset=config.preset,
                trained=trained,
            )
    elif preset.has_weights and not preset.has_tokenizer:
        raise PretrainingError(
            "The preset '{preset}' has weights but no tokenizer, so a "
            "vocabulary learned here would not match its embeddings. Pass "
            "{o.vocabulary} with the vocabulary it was trained with.",
            preset=config.preset,
        )


def _check_table_padding(config, preset):
    """A preset's weights fix its token table's rows: a new padding only
    applies to random weights."""
    multiple = config.pad_vocabulary_to_multiple_of
    stored = preset.backbone_config.get("pad_vocabulary_to_multiple_of")
    if multiple is None or multiple == stored or not preset.has_weights:
        return
    raise PretrainingError(
        "{o.pad_vocabulary_to_multiple_of} {multiple} would change the "
        "token table of the preset '{preset}', whose weights were saved "
        "{padded}. Drop {o.pad_vocabulary_to_multiple_of} to keep the "
        "preset's table, or start from a built-in preset (random weights).",
        multiple=multiple,
        preset=config.preset,
        padded=(
            "unpadded"
            if stored is None
            else f"padded to a multiple of {stored} rows"
        ),
    )


def backbone_options(config):
    """The run's `ElectraBackbone` options that were set: the preset's
    encoders take them (unset, they keep the preset's)."""
    return {
        name: getattr(config, name)
        for name in BACKBONE_OPTIONS
        if getattr(config, name) is not None
    }


def prepare_run(plan, distribution_summary=None):
    """Fetch and learn what the run lacks, build or restore the pretrainer,
    write `run.json`; returns the `Run`. The chief holds the folder's lock
    (see `pretrain()`)."""
    import keras

    config, chief = plan.config, plan.chief
    setup = _setup_folder(plan) if chief else contextlib.nullcontext()
    with setup:
        keras.utils.set_random_seed(config.seed)
        if chief:
            config, tokenizer = prepare_data(config, plan.verbose)
        processes.barrier("keras_electra_setup")
        if not chief:  # the chief fetched or learned what it needed
            config, tokenizer = prepare_data(config, 0)
        checkpoint = None
        if config.resume:
            checkpoint = checkpoints.latest_checkpoint(
                config.output, plan.verbose, dtype=config.dtype
            )
        if checkpoint is not None:
            pretrainer, start_step, state = checkpoint
        else:
            pretrainer = new_pretrainer(config, tokenizer)
            start_step, state = 0, None
        # What the health checks said in the run's earlier attempts, up
        # to the checkpoint it resumes from (later rows are dropped).
        warnings = ()
        if state:
            warnings = tuple(
                w
                for w in _earlier_warnings(config.output)
                if w.get("step", 0) <= start_step
            )
        if chief:
            RunFolder(config.output).record(RUN_FILE)
            config.save(
                file_system.join(config.output, RUN_FILE),
                backend=keras.config.backend(),
                **({"warnings": list(warnings)} if warnings else {}),
            )
    compile_for_run(pretrainer, config, new=state is None)
    if state is not None:
        checkpoints.restore_training_state(pretrainer, state)
    _join_ranks(pretrainer)
    return Run(
        config=config,
        tokenizer=tokenizer,
        pretrainer=pretrainer,
        start_step=start_step,
        state=state,
        verbose=plan.verbose,
        chief=chief,
        distribution_summary=distribution_summary,
        warnings=tuple(warnings),
    )


def _earlier_warnings(output):
    """The warnings `run.json` records (see
    `pretrain_report.record_warning`)."""
    import json

    try:
        path = file_system.join(output, RUN_FILE)
        with file_system.open_file(path, encoding="utf-8") as f:
            return tuple(json.load(f).get("warnings", ()))
    except (OSError, ValueError):
        return ()


def compile_for_run(pretrainer, config, new):
    """The run's optimizer: its length, rate and warm-up (the preset's
    where not given; a new run's warm-up capped at a tenth of the run).
    The preset saved with the model then says how this run trained."""
    pretrainer.num_train_steps = config.steps
    if config.learning_rate:
        pretrainer.learning_rate = config.learning_rate
    if config.warmup_steps is not None:
        pretrainer.warmup_steps = config.warmup_steps
    elif new:
        pretrainer.warmup_steps = min(
            pretrainer.warmup_steps, config.steps // 10
        )
    pretrainer.compile(
        warmup_steps=pretrainer.warmup_steps,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
    )


class _setup_folder:
    """Sets up the run folder (the lock held); undoes it if set-up fails.

    Removes what killed writes left; `overwrite` removes what the previous
    run wrote, only here, after every check passed. A new run that fails
    during set-up (vocabulary learning, the default corpus download, ...)
    removes what it wrote, so the same folder takes the corrected command.
    """

    def __init__(self, plan):
        self.plan = plan
        self.folder = RunFolder(plan.config.output)

    def __enter__(self):
        self.folder.remove_partial_writes()
        if not self.plan.resuming and self.plan.config.overwrite:
            self.folder.remove_recorded()
        self.before = set(file_system.listdir(self.folder.path))
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None or self.plan.resuming:
            return False
        if not self.plan.folder_existed:
            file_system.rmtree(self.folder.path, ignore_errors=True)
            return False
        for name in set(file_system.listdir(self.folder.path)) - self.before:
            path = file_system.join(self.folder.path, name)
            if file_system.isdir(path):
                file_system.rmtree(path, ignore_errors=True)
            else:
                file_system.remove(path)
        return False


def prepare_data(config, verbose):
    """The default corpus (fetched once), the tokenizer (loaded or learned)
    and the sequence length (the shards'): the config with them resolved,
    and the tokenizer."""
    if config.shards is None and not config.corpus:
        from keras_electra.data.default_corpus import default_corpus_path

        corpus = [default_corpus_path(verbose=bool(verbose))]
        expand_inputs(corpus)
        config = dataclasses.replace(config, corpus=corpus)
    config, tokenizer = _tokenizer(config, verbose)
    if config.shards is not None:
        files = shards.shard_files(config.shards)
        length = shards.read_sequence_length(files)
    else:
        length = config.sequence_length or DEFAULT_SEQUENCE_LENGTH
    return dataclasses.replace(config, sequence_length=length), tokenizer


def _tokenizer(config, verbose):
    """The given vocabulary's tokenizer, the preset's, or one learned from
    the corpus into the run folder (the config then names it)."""
    from keras_electra.data.vocabulary import describe_learned
    from keras_electra.data.vocabulary import learn_vocabulary
    from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer

    if config.vocabulary:
        return config, ElectraTokenizer(vocabulary=config.vocabulary)
    preset = PresetInfo.read(config.preset)
    if preset.has_tokenizer:
        return config, ElectraTokenizer.from_preset(preset.path)
    if config.shards is not None:
        raise PretrainingError(
            "Training on shards needs the vocabulary they were built with: "
            "pass {o.vocabulary}."
        )
    learned = file_system.abspath(file_system.join(config.output, "vocab.txt"))
    if not file_system.exists(learned):
        RunFolder(config.output).record("vocab.txt")
        if verbose:
            print(
                "Learning a WordPiece vocabulary of up to "
                f"{config.vocabulary_size:,} tokens from the corpus ..."
            )
        size = learn_vocabulary(
            config.corpus,
            config.vocabulary_size,
            learned,
            on_decode_error=config.on_decode_error,
            text_field=config.text_field,
        ).vocabulary_size()
        if verbose:
            print(describe_learned(size, config.vocabulary_size, learned))
    tokenizer = ElectraTokenizer(vocabulary=learned)
    config = dataclasses.replace(
        config,
        vocabulary=learned,
        learned_vocabulary_size=tokenizer.vocabulary_size(),
    )
    return config, tokenizer


def new_pretrainer(config, tokenizer):
    """The preset's pretrainer for the run's objective, sized to the
    tokenizer (checked before)."""
    from keras_electra.models.electra_pretrainer import ElectraPretrainer

    preset = PresetInfo.read(config.preset)
    overrides = dict(
        tokenizer.pretrainer_token_ids(), seed=config.seed, dtype=config.dtype
    )
    for field in PretrainConfig.options():
        if (
            field.metadata["rtd_only"]
            and getattr(config, field.name) is not None
        ):
            overrides[field.name] = getattr(config, field.name)
    if tokenizer.vocabulary_size() != preset.backbone_config["vocabulary_size"]:
        overrides["vocabulary_size"] = tokenizer.vocabulary_size()
    # Both towers (`SHARED_BACKBONE_ARGS`), or the MLM encoder.
    overrides.update(backbone_options(config))
    if config.objective == "mlm":
        return _new_masked_lm(preset, overrides)
    return ElectraPretrainer.from_preset(preset.path, **overrides)


# The optimizer settings an MLM run takes from the preset's pretrainer.
_SHARED_TRAINING_SETTINGS = (
    "learning_rate",
    "num_train_steps",
    "warmup_steps",
    "weight_decay",
    "mask_rate",
)


def _new_masked_lm(preset, overrides):
    """The MLM baseline on the preset's encoder, with the optimizer settings
    of the preset's pretrainer (so both objectives train alike)."""
    from keras_electra.models.electra_backbone import ElectraBackbone
    from keras_electra.models.electra_masked_lm_pretrainer import (
        ElectraMaskedLMPretrainer,
    )

    encoder = ("vocabulary_size", *BACKBONE_OPTIONS)
    arguments = {k: overrides.pop(k) for k in encoder if k in overrides}
    backbone = ElectraBackbone.from_preset(
        preset.path, dtype=overrides.pop("dtype"), **arguments
    )
    stored = preset.task_config
    settings = {k: stored[k] for k in _SHARED_TRAINING_SETTINGS if k in stored}
    return ElectraMaskedLMPretrainer(backbone, **settings, **overrides)


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
