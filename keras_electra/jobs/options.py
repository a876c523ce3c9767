"""The jobs' options, each written once: name, type, default, choices, help
and check.

`PretrainConfig` and `FinetuneConfig` are frozen dataclasses whose fields
are the options of `pretrain()` and `finetune()`; each field's metadata
holds its help, choices, command-line flag and check. From them:

- the command line builds its `pretrain` and `finetune` sub-commands
  (`add_arguments`), with the same defaults and choices as Python;
- the jobs take a config, or keyword overrides of one
  (`PretrainConfig.from_overrides(...)`), checked once on construction;
- a pre-training run writes its config to `run.json` and reads it back on
  resume.

A bad value raises `OptionError`, whose message names the option as the
caller knows it: `` `batch_size` `` in Python, `--batch-size` on the command
line (`OptionError.for_command_line()`).

No backend is imported here, nor anything that imports one: the command
line parses its arguments before it chooses the Keras backend. The choices
of registries (replacement strategies, fine-tuning tasks) are read from
their backend-free registry modules.
"""

import dataclasses
import json
import os
import typing

from keras_electra.jobs.finetune_tasks import FINETUNING_TASKS
from keras_electra.jobs.finetune_tasks import TASK_OPTIONS
from keras_electra.layers.electra_replacement import REPLACEMENTS
from keras_electra.layers.embedding_sharing import EMBEDDING_SHARING
from keras_electra.utils import file_system
from keras_electra.utils.distribution import KINDS as DISTRIBUTIONS
from keras_electra.utils.option_errors import OptionError
from keras_electra.utils.option_errors import Spelling
from keras_electra.utils.option_errors import flag_of
from keras_electra.utils.option_errors import register_flag

DTYPES = ("float32", "mixed_bfloat16", "mixed_float16")
OBJECTIVES = ("rtd", "mlm")
DECODE_ERRORS = ("stop", "skip")
DEFAULT_STEPS = 300  # a new run's length when `steps` is not given
DEFAULT_SEQUENCE_LENGTH = 128  # without shards (which fix their own)
# Fine-tuning's epochs when `epochs` is not given: DEFAULT_EPOCHS, or more
# for small data, so that training makes at least MIN_UPDATES optimizer
# updates, but never more than MAX_EPOCHS (`jobs/finetune.default_epochs`).
DEFAULT_EPOCHS = 3
MIN_UPDATES = 60
MAX_EPOCHS = 20


class PretrainingError(OptionError):
    """A problem with a pre-training run's inputs; the message says how to
    fix it."""


# === Declaring an option ===


def option(
    default=None,
    help="",
    *,
    choices=None,
    check=None,
    flag=None,
    stored=True,
    may_change_on_resume=False,
    rtd_only=False,
    backbone=False,
    required=False,
    flag_help=None,
    per_call=False,
    nargs=None,
    group=None,
):
    """A dataclass field that describes a job option.

    Args:
        default: the default (`None`: resolved by the job, see `help`).
        help: one line for `--help`.
        choices: the allowed values (a registry's dict: its keys, as they
            are when checked).
        check: a function of a (non-None) value that returns what is wrong
            (`"must be positive"`) or None.
        flag: the command-line flag, if not `--` + the name with dashes.
        stored: kept in `run.json` (False for how one call treats the run
            folder: `output`, `resume`, `overwrite`).
        may_change_on_resume: a resumed run applies a value given again
            (its length, logging, checkpoints kept, devices); other
            settings keep the stored run's values.
        rtd_only: an option of ELECTRA's generator and replacements, which
            the masked-LM objective does not have.
        backbone: an `ElectraBackbone` argument of the same name, given to
            the preset's encoders when set (both towers, both objectives).
        required: no default; the caller must give it.
        flag_help: the help of a flag that reads differently from the
            option (`--from-scratch` sets `load_weights=False`).
        per_call: each call sets it (how this call runs, not what the run
            is: its devices); `run.json` records it, a resume does not
            read it back.
        nargs: argparse's `nargs` (`"+"`: one or more values).
        group: options of one group exclude each other on the command
            line.

    `help` (and `flag_help`) may name other options as `{o.name}`, spelled
    as flags on the command line, and may be a function that returns the
    text when the parser is built (help that lists a registry).
    """
    metadata = dict(
        help=help,
        # A registry's dict stays live: entries added later are choices.
        choices=choices
        if isinstance(choices, (dict, type(None)))
        else tuple(choices),
        check=check,
        flag=flag,
        stored=stored,
        may_change_on_resume=may_change_on_resume,
        rtd_only=rtd_only,
        backbone=backbone,
        flag_help=flag_help,
        per_call=per_call,
        nargs=nargs,
        group=group,
    )
    if required:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def positive(value):
    return None if value > 0 else "must be positive"


def zero_or_more(value):
    return None if value >= 0 else "must be 0 or more"


def not_empty(value):
    return None if value else "must not be empty"


def fraction(value):
    return None if 0 < value <= 1 else "must be in (0, 1]"


def dropout_rate(value):
    if not isinstance(value, bool) and 0 <= value < 1:
        return None
    return "must be a rate in [0, 1) (0: no dropout, Keras' fused attention)"


def row_multiple(value):
    if not isinstance(value, bool) and value > 0:
        return None
    return "must be a positive number of rows (64 or 128 suit tensor cores)"


def at_least(minimum):
    """A check: the value is `minimum` or more."""

    def check(value):
        return None if value >= minimum else f"must be {minimum} or more"

    return check


def long_enough_to_mask(value):
    if value <= 0:
        return "must be positive"
    if value < 8:
        return (
            "is too short to mask anything: use 8 or more (128 is the paper's)"
        )
    return None


class _Options:
    """What both configs share: checks, overrides and the schema."""

    error = OptionError  # what a bad value raises

    @classmethod
    def options(cls):
        """The dataclass fields, each an option."""
        return dataclasses.fields(cls)

    @classmethod
    def from_overrides(cls, base=None, **overrides):
        """`base` (default: the defaults) with `overrides`; unknown names are
        refused with the list of options."""
        names = {field.name for field in cls.options()}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(
                f"Unknown option(s) {', '.join(unknown)}. Options: "
                f"{', '.join(sorted(names))}."
            )
        if base is None:
            missing = [
                f"{{o.{field.name}}}"
                for field in cls.options()
                if field.default is dataclasses.MISSING
                and overrides.get(field.name) is None
            ]
            if missing:
                raise cls.error(
                    ", ".join(missing) + " must be given (no default)."
                )
            return cls(**overrides)
        return dataclasses.replace(base, **overrides)

    def __post_init__(self):
        for field in self.options():
            value = getattr(self, field.name)
            if value is dataclasses.MISSING or value is None:
                continue
            value = self._coerce(field, value)
            object.__setattr__(self, field.name, value)
            choices = field.metadata["choices"]
            if choices is not None and value not in choices:
                raise self.error(
                    f"{{o.{field.name}}} must be one of {{choices}}. "
                    "Received: {value!r}.",
                    choices=", ".join(map(str, choices)),
                    value=value,
                )
            check = field.metadata["check"]
            problem = check(value) if check is not None else None
            if problem:
                raise self.error(
                    f"{{o.{field.name}}} {{problem}}. Received: {{value}}.",
                    problem=problem,
                    value=value,
                )

    def _coerce(self, field, value):
        """`value` as the field's type: a whole number for an int (numpy's
        too), a number for a float, a string for a path."""
        kind = _base_type(field.type)
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if kind is int and not isinstance(value, bool):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            try:
                if float(value) == int(value):
                    return int(value)
            except (TypeError, ValueError):
                pass
            raise self.error(
                f"{{o.{field.name}}} must be a whole number. Received: "
                "{value!r}.",
                value=value,
            )
        if kind is float and not isinstance(value, bool):
            try:
                return float(value)
            except (TypeError, ValueError):
                raise self.error(
                    f"{{o.{field.name}}} must be a number. Received: "
                    "{value!r}.",
                    value=value,
                ) from None
        return value

    def to_json(self):
        """The stored options as a JSON-ready dict."""
        return {
            field.name: getattr(self, field.name)
            for field in self.options()
            if field.metadata["stored"]
        }


# === Pre-training ===


@dataclasses.dataclass(frozen=True)
class PretrainConfig(_Options):
    """The options of `pretrain()` and `keras-electra pretrain`.

    A new run's set-up resolves what is left `None` (the default corpus,
    the vocabulary it learns, the shards' sequence length, the run's
    length) into one config that defines the run: written to `run.json`,
    read back on resume, and never changed after set-up.
    """

    error = PretrainingError

    preset: str = option(
        "electra_tiny",
        "name or folder to start from: a built-in size (random weights), a "
        "released pair to continue (electra_{{small,base,large}}_uncased_en, "
        "fetched once), or a run's preset",
    )
    corpus: typing.Optional[list] = option(
        None,
        "files, quoted globs or folders of text (.txt, or compressed .gz, "
        ".bz2, .xz), JSON lines (.jsonl, .json, compressed too) or Parquet "
        "(.parquet; needs pyarrow) (default: the King James Bible, "
        "downloaded once)",
        nargs="+",
        group="data",
    )
    shards: typing.Optional[str] = option(
        None, "folder of shards from build-data", group="data"
    )
    vocabulary: typing.Optional[str] = option(
        None,
        "vocab.txt (default: the preset's, or learned from the corpus)",
        flag="--vocab",
    )
    vocabulary_size: int = option(
        8000,
        "largest size of a learned vocabulary",
        check=positive,
        flag="--vocab-size",
    )
    output: str = option("electra_run", "run folder", stored=False)
    steps: typing.Optional[int] = option(
        None,
        f"training steps (optimizer updates; {DEFAULT_STEPS} for a new run; "
        "with {o.resume}, the run's own length unless given)",
        check=positive,
        may_change_on_resume=True,
    )
    batch_size: int = option(
        32,
        "sequences per step (per micro-batch with gradient accumulation)",
        check=positive,
    )
    sequence_length: typing.Optional[int] = option(
        None,
        f"tokens per sequence ({DEFAULT_SEQUENCE_LENGTH}, or the shards' "
        "length)",
        check=long_enough_to_mask,
    )
    learning_rate: typing.Optional[float] = option(
        None, "peak learning rate (the preset's)", check=positive
    )
    warmup_steps: typing.Optional[int] = option(
        None,
        "linear warm-up (the preset's, at most a tenth of the run)",
        check=zero_or_more,
    )
    checkpoint_every: int = option(
        1000,
        "steps between checkpoints (also every {o.checkpoint_minutes})",
        check=positive,
    )
    checkpoint_minutes: typing.Optional[float] = option(
        10.0,
        "also checkpoint at the first log row this many minutes after the "
        "last checkpoint",
        check=positive,
        may_change_on_resume=True,
    )
    background_checkpoints: bool = option(
        True,
        "write checkpoints in a thread while training goes on (one "
        "process; costs a second copy of the weights in memory)",
        flag="--foreground-checkpoints",
        flag_help="write each checkpoint before training goes on",
        per_call=True,
    )
    steps_per_execution: typing.Optional[int] = option(
        None,
        "training steps per host call on JAX and TensorFlow (default: the "
        "largest, up to 100, that divides {o.log_every}, "
        "{o.checkpoint_every} and the run's steps; PyTorch runs 1)",
        check=positive,
        per_call=True,
    )
    torch_compile: bool = option(
        False,
        "compile PyTorch's training step with torch.compile (Keras' "
        "jit_compile; JAX and TensorFlow always compile it): minutes of "
        "compilation, with graph breaks where it cannot trace",
        per_call=True,
    )
    keep_checkpoints: int = option(
        3,
        "recent checkpoints kept (0: all)",
        check=zero_or_more,
        may_change_on_resume=True,
    )
    log_every: int = option(
        10,
        "steps between log rows and progress updates",
        check=positive,
        may_change_on_resume=True,
    )
    seed: int = option(
        0, "seeds data order, masking, sampling and initialisation"
    )
    distribution: str = option(
        "none",
        "train on every device: 'data' parallel (JAX keras.distribution, "
        "TensorFlow MirroredStrategy) or 'model' parallel on a batch x "
        "model mesh (JAX); under torchrun, PyTorch is data parallel by "
        "itself",
        choices=DISTRIBUTIONS,
        per_call=True,
    )
    mesh: typing.Optional[str] = option(
        None,
        "BxM mesh for {o.distribution} model, e.g. 2x4 (default: the widest "
        "model axis of 8, 4 or 2 the devices allow)",
        per_call=True,
    )
    objective: str = option(
        "rtd",
        "rtd: ELECTRA's replaced-token detection (generator + "
        "discriminator); mlm: the BERT baseline, masked-LM on an encoder "
        "the discriminator's size (80% [MASK], 10% random, 10% kept)",
        choices=OBJECTIVES,
    )
    replacement: typing.Optional[str] = option(
        None,
        lambda: (
            "what replaces the chosen tokens: "
            + "; ".join(
                f"{k}: {v.description}" for k, v in REPLACEMENTS.items()
            )
            + " (default: the preset's)"
        ),
        choices=REPLACEMENTS,
        rtd_only=True,
    )
    temperature: typing.Optional[float] = option(
        None,
        "generator sampling temperature (1.0 in ELECTRA; the end of a "
        "schedule)",
        check=positive,
        rtd_only=True,
    )
    temperature_start: typing.Optional[float] = option(
        None,
        "temperature of the first step, falling linearly to "
        "{o.temperature} over {o.temperature_steps}",
        check=positive,
        rtd_only=True,
    )
    temperature_steps: typing.Optional[int] = option(
        None,
        "steps over which {o.temperature_start} falls to {o.temperature}",
        check=positive,
        rtd_only=True,
    )
    embedding_sharing: typing.Optional[str] = option(
        None,
        "the towers' embeddings: one shared block (tied, ELECTRA), one each "
        "(untied), or DeBERTaV3's gradient-disentangled sharing (gdes) "
        "(default: the preset's)",
        choices=EMBEDDING_SHARING,
        rtd_only=True,
    )
    generator_size: typing.Optional[float] = option(
        None,
        "generator width as a fraction of the discriminator's (new weights; "
        "default: the preset's generator)",
        check=fraction,
        rtd_only=True,
    )
    attention_dropout: typing.Optional[float] = option(
        None,
        "dropout rate of the attention probabilities (default: the "
        "preset's; ELECTRA drops them at its dropout rate, 0.1); 0 lets Keras "
        "use its fused attention kernel (flash attention on recent GPUs), "
        "a departure from ELECTRA",
        check=dropout_rate,
        backbone=True,
    )
    pad_vocabulary_to_multiple_of: typing.Optional[int] = option(
        None,
        "pad the token table to a multiple of this many rows, e.g. 64 or "
        "128 for tensor cores (default: the preset's; ELECTRA: no padding); "
        "the extra rows are never predicted and exports leave them out",
        check=row_multiple,
        backbone=True,
    )
    dtype: str = option(
        "float32",
        "compute precision: mixed_bfloat16 for TPUs and recent GPUs, "
        "mixed_float16 (with loss scaling) for older GPUs; weights stay "
        "float32",
        choices=DTYPES,
    )
    gradient_accumulation_steps: int = option(
        1,
        "batches averaged into each optimizer update (steps, warm-up and "
        "decay count updates)",
        check=positive,
    )
    on_decode_error: str = option(
        "stop",
        "what to do with lines that are not UTF-8",
        choices=DECODE_ERRORS,
        may_change_on_resume=True,
    )
    text_field: str = option(
        "text",
        "the field of JSON lines records, or the column of Parquet files, "
        "that holds each document's text",
        check=not_empty,
    )
    resume: bool = option(
        False,
        "continue the run in {o.output} from its last checkpoint",
        stored=False,
    )
    overwrite: bool = option(
        False, "replace the run in {o.output}", stored=False
    )
    # Filled in by the set-up of a new run (not options).
    learned_vocabulary_size: typing.Optional[int] = dataclasses.field(
        default=None, metadata=dict(internal=True)
    )

    @classmethod
    def options(cls):
        return tuple(
            f for f in dataclasses.fields(cls) if not f.metadata.get("internal")
        )

    def __post_init__(self):
        super().__post_init__()
        if self.corpus is not None:
            corpus = self.corpus
            if isinstance(corpus, (str, os.PathLike)):
                corpus = [corpus]
            object.__setattr__(self, "corpus", [os.fspath(c) for c in corpus])
        if self.corpus and self.shards is not None:
            raise PretrainingError(
                "Pass {o.corpus} or {o.shards}, not both: shards are a "
                "corpus already tokenized by build-data."
            )
        rtd_only = [
            f.name
            for f in self.options()
            if f.metadata["rtd_only"] and getattr(self, f.name) is not None
        ]
        if self.objective == "mlm" and rtd_only:
            names = ", ".join(f"{{o.{name}}}" for name in rtd_only)
            raise PretrainingError(
                f"{names} set(s) ELECTRA's generator and replacements, which "
                "{o.objective} mlm does not have. Drop them, or use "
                "{o.objective} rtd."
            )

    def save(self, path, **facts):
        """Write the stored options, what set-up resolved and `facts` (such
        as the backend) to `path` (JSON), atomically."""
        stored = self.to_json()
        stored["learned_vocabulary_size"] = self.learned_vocabulary_size
        stored.update(facts)
        tmp = f"{path}.tmp"
        with file_system.open_file(tmp, "w", encoding="utf-8") as f:
            json.dump(stored, f, indent=2)
        file_system.replace(tmp, path)

    @classmethod
    def load(cls, path, **call_options):
        """Read `path`; fields this version does not know are ignored.
        `call_options` are the options not stored (output, resume,
        overwrite)."""
        with file_system.open_file(path, encoding="utf-8") as f:
            stored = json.load(f)
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in stored.items() if k in known}
        return cls(**values, **call_options)


# === Fine-tuning ===


@dataclasses.dataclass(frozen=True)
class FinetuneConfig(_Options):
    """The options of `finetune()` and `keras-electra finetune`."""

    task: str = option(
        help=lambda: (
            "what to fine-tune for: "
            + "; ".join(f"{k}: {v.help}" for k, v in FINETUNING_TASKS.items())
        ),
        choices=FINETUNING_TASKS,
        required=True,
    )
    preset: str = option(
        help="preset with a tokenizer, e.g. RUN/preset or "
        "electra_base_uncased_en",
        required=True,
    )
    train: str = option(
        help=lambda: ", ".join(
            f"{v.file_help} ({k})" for k, v in FINETUNING_TASKS.items()
        ),
        required=True,
    )
    test: str = option(help="same format as {o.train}", required=True)
    output: typing.Optional[str] = option(
        None,
        "folder for the fine-tuned model, metrics.json and the task's plots "
        "(the command line's default: a new folder finetune_TASK; in "
        "Python, none: the metrics are returned, nothing is written)",
    )
    epochs: typing.Optional[int] = option(
        None,
        f"passes over the training file (default: {DEFAULT_EPOCHS}, or more "
        f"for small data: enough for {MIN_UPDATES} updates, at most "
        f"{MAX_EPOCHS}); a given value is obeyed exactly",
        check=positive,
    )
    batch_size: int = option(32, "examples per step", check=positive)
    sequence_length: int = option(128, "tokens per input", check=at_least(8))
    learning_rate: typing.Optional[float] = option(
        None,
        "peak rate (default: the paper's for the model size)",
        check=positive,
    )
    layerwise_decay: typing.Optional[float] = option(
        None,
        "per-layer rate decay (default 0.8; 0.9 for large models)",
        check=fraction,
    )
    num_classes: typing.Optional[int] = option(
        None,
        "classify: number of classes (1 = regression); default: the "
        "largest training label + 1, or the number of class names",
        check=positive,
    )
    text_column: typing.Optional[str] = option(
        None, "classify: text column (default: the first)"
    )
    pair_column: typing.Optional[str] = option(
        None, "classify: second text column"
    )
    label_column: str = option(
        "label",
        "classify: label column: class ids 0..n-1, class names (such as "
        "positive, negative) or, with {o.num_classes} 1, real values",
    )
    max_train_examples: typing.Optional[int] = option(
        None, "train on a random sample of this size", check=positive
    )
    load_weights: bool = option(
        True,
        "False: the same architecture with random weights (a baseline)",
        flag="--from-scratch",
        flag_help="same architecture, random weights (a baseline)",
    )
    seed: int = option(0, "sampling and initialisation")

    def __post_init__(self):
        super().__post_init__()
        task = FINETUNING_TASKS[self.task]
        for name in TASK_OPTIONS:
            default = type(self).__dataclass_fields__[name].default
            value = getattr(self, name)
            if name in task.options or value == default:
                continue
            takers = [
                k for k, t in FINETUNING_TASKS.items() if name in t.options
            ]
            raise OptionError(
                f"Task {self.task!r} takes no {{o.{name}}} option ({{value!r}})"
                + (
                    f"; it is an option of {' and '.join(takers)}"
                    if takers
                    else ""
                )
                + ".",
                value=value,
            )


for _config in (PretrainConfig, FinetuneConfig):
    for _field in _config.options():
        if _field.metadata["flag"]:
            register_flag(_field.name, _field.metadata["flag"])


# === The command line ===


def add_arguments(parser, config_cls, only=None, suppress_defaults=True):
    """Add `config_cls`'s options (or those named in `only`) to an argparse
    `parser`.

    With `suppress_defaults` (the jobs' sub-commands), defaults are not set
    in argparse: the parsed namespace holds only what the user typed, which
    the job resolves against the config's defaults, exactly as for a
    Python caller. Otherwise the namespace gets the config's defaults.
    Help texts show the config's defaults.
    """
    import argparse

    groups = {}
    for field in config_cls.options():
        if only is not None and field.name not in only:
            continue
        meta = field.metadata
        text = meta["flag_help"] or meta["help"]
        if callable(text):
            text = text()
        text = text.format(o=Spelling(command_line=True))
        kwargs = dict(help=text.replace("%", "%%"), dest=field.name)
        default = field.default
        shown = default not in (dataclasses.MISSING, None) and not isinstance(
            default, bool
        )
        if shown:
            kwargs["help"] += f" (default: {default})"
        if isinstance(default, bool):
            # A switch: it sets the opposite of the default.
            kwargs["action"] = "store_false" if default else "store_true"
        else:
            kwargs["type"] = _argument_type(field)
            if meta["choices"] is not None:
                kwargs["choices"] = meta["choices"]
            else:
                name = flag_of(field.name)[2:]
                kwargs["metavar"] = name.upper().replace("-", "_")
            if meta["nargs"]:
                kwargs["nargs"] = meta["nargs"]
        if default is dataclasses.MISSING:
            kwargs["required"] = True
        else:
            kwargs["default"] = (
                argparse.SUPPRESS if suppress_defaults else field.default
            )
        target = parser
        if meta["group"]:
            if meta["group"] not in groups:
                groups[meta["group"]] = parser.add_mutually_exclusive_group()
            target = groups[meta["group"]]
        target.add_argument(flag_of(field.name), **kwargs)


def _base_type(annotation):
    """`int` for `int` and `Optional[int]`, and so on."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if len(args) == 1 else annotation


def _argument_type(field):
    kind = _base_type(field.type)
    return kind if kind in (int, float) else str


def given_options(namespace, config_cls):
    """The options a parsed namespace holds (what the user typed)."""
    names = {field.name for field in config_cls.options()}
    return {k: v for k, v in vars(namespace).items() if k in names}
