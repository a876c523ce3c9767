"""`keras-electra`: the command line for the main jobs.

Each sub-command parses, makes one library call and prints. `pretrain` and
`finetune` are built from the jobs' option schema (`jobs/options.py`: the
Python API's defaults, choices, help and checks); the smaller commands
declare their few arguments here.

    keras-electra pretrain [--corpus FILES | --shards DIR] [--preset NAME] ...
    keras-electra build-data --corpus FILES --vocab vocab.txt --output DIR
    keras-electra vocab --corpus FILES --size 8000 --output vocab.txt
    keras-electra info PRESET
    keras-electra convert --from {transformers,tf1,keras-hub} \\
        --discriminator PATH [--generator PATH] --output DIR
    keras-electra export --to {transformers,keras-hub} PRESET DIR
    keras-electra finetune --task {classify,tag,qa} --preset PATH \\
        --train FILE --test FILE
    keras-electra predict MODEL FILE [--output OUT.csv]

The backend is chosen before Keras is imported (`--backend`, else
`KERAS_BACKEND`, else Keras' configured default) and loaded with its C++
start-up logs hidden (`--verbose` shows them; see
`utils/backend_setup.py`); `info` loads no backend. Errors in the user's
input are printed as one clear message, without a traceback, and exit with
status 2. An interrupted `pretrain` exits with 130 (SIGINT) or 143
(SIGTERM) after saving a checkpoint.
"""

import argparse
import os
import sys

from keras_electra.jobs import options


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples kept as written; real defaults shown."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        shown = not (
            default is None or default is False or default == argparse.SUPPRESS
        )
        if shown and "default" not in text:
            text += f" (default: {default})"
        return text


def _add_common(parser):
    parser.add_argument(
        "--backend",
        choices=("jax", "tensorflow", "torch"),
        help="Keras backend (default: $KERAS_BACKEND, else Keras' "
        "configured backend)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show the backends' own start-up logs (hidden by default)",
    )


def _command(sub, name, summary, description, examples):
    parser = sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog="examples:\n" + "\n".join(f"  {e}" for e in examples),
        formatter_class=_HelpFormatter,
    )
    _add_common(parser)
    return parser


def _add_corpus_options(parser):
    options.add_arguments(
        parser,
        options.PretrainConfig,
        only=("on_decode_error", "text_field"),
        suppress_defaults=False,
    )


def build_parser():
    from keras_electra.version import __version__

    parser = argparse.ArgumentParser(
        prog="keras-electra",
        description="Pre-train, convert, fine-tune and inspect ELECTRA models "
        "with Keras 3 (JAX, TensorFlow or PyTorch).",
        epilog="Run `keras-electra COMMAND --help` for a command's options "
        "and examples.",
    )
    parser.add_argument(
        "--version", action="version", version=f"keras-electra {__version__}"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (
        _,
        summary,
        description,
        examples,
        arguments,
    ) in COMMANDS.items():
        arguments(_command(sub, name, summary, description, examples))
    return parser


def _pretrain_arguments(p):
    options.add_arguments(p, options.PretrainConfig)


_CORPUS_HELP = (
    "files, globs or folders: text (.txt; .gz, .bz2, .xz compressed), "
    "JSON lines (.jsonl, .json, compressed too) or Parquet (.parquet)"
)


def _build_data_arguments(p):
    p.add_argument("--corpus", nargs="+", required=True, help=_CORPUS_HELP)
    p.add_argument("--vocab", required=True, help="vocab.txt to tokenize with")
    p.add_argument("--output", required=True, help="folder of shards")
    p.add_argument(
        "--sequence-length", type=int, default=128, help="tokens per example"
    )
    p.add_argument("--num-shards", type=int, default=16, help="files to write")
    p.add_argument(
        "--processes",
        type=int,
        default=None,
        help="worker processes (default: one per CPU core)",
    )
    p.add_argument("--seed", type=int, default=0, help="shuffling seed")
    p.add_argument("--cased", action="store_true", help="keep case and accents")
    p.add_argument(
        "--one-document-per-file",
        action="store_true",
        help="blank lines do not end documents",
    )
    _add_corpus_options(p)
    p.add_argument(
        "--overwrite", action="store_true", help="replace existing shards"
    )


def _vocab_arguments(p):
    p.add_argument("--corpus", nargs="+", required=True, help=_CORPUS_HELP)
    p.add_argument(
        "--size",
        type=int,
        default=30522,
        help="largest vocabulary size (a small corpus gives fewer)",
    )
    p.add_argument("--output", required=True, help="vocab.txt to write")
    p.add_argument(
        "--max-lines",
        type=int,
        default=200_000,
        help="lines of the corpus to learn from",
    )
    p.add_argument("--cased", action="store_true", help="keep case and accents")
    _add_corpus_options(p)


def _convert_arguments(p):
    p.add_argument(
        "--from",
        dest="source",
        required=True,
        choices=("transformers", "tf1", "keras-hub"),
        help="checkpoint format",
    )
    p.add_argument(
        "--discriminator",
        required=True,
        help="transformers ElectraForPreTraining folder, TF1 "
        "checkpoint (folder or model.ckpt prefix; it holds both "
        "towers) or keras-hub ElectraBackbone preset",
    )
    p.add_argument(
        "--generator",
        help="transformers ElectraForMaskedLM folder: with "
        "--discriminator, gives a pretrainer",
    )
    p.add_argument("--output", required=True, help="preset folder to write")
    p.add_argument(
        "--vocab", help="TF1 only: vocab.txt (default: next to the checkpoint)"
    )
    p.add_argument(
        "--num-heads",
        type=int,
        help="TF1 only: discriminator heads (default hidden/64)",
    )
    p.add_argument(
        "--generator-num-heads",
        type=int,
        help="TF1 only: generator heads (default hidden/64)",
    )


def _export_arguments(p):
    from keras_electra.jobs.export_formats import EXPORT_FORMATS

    p.add_argument(
        "--to",
        dest="target",
        required=True,
        choices=tuple(EXPORT_FORMATS),
        help="target format: "
        + "; ".join(f"{f.name}: {f.help}" for f in EXPORT_FORMATS.values()),
    )
    p.add_argument("preset", help="keras-electra preset folder")
    p.add_argument("output", help="folder (or .onnx file) to write")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an output that exists",
    )


def _finetune_arguments(p):
    options.add_arguments(p, options.FinetuneConfig)


def _info_arguments(p):
    p.add_argument(
        "preset",
        nargs="?",
        default=None,
        help="preset name or folder (default: list built-ins)",
    )


# Commands that run no model: they skip loading the backend.
NO_BACKEND = ("info",)


def main(argv=None):
    args = build_parser().parse_args(argv)
    backend = (
        getattr(args, "backend", None)
        or _resumed_backend(args)
        or _export_backend(args)
    )
    if backend:
        os.environ["KERAS_BACKEND"] = backend
    try:
        if args.command not in NO_BACKEND:
            from keras_electra.utils.backend_setup import load_backend

            args.backend_summary = load_backend(verbose=args.verbose)
        return COMMANDS[args.command][0](args) or 0
    except KeyboardInterrupt:
        print(
            "\nInterrupted. A pre-training run continues from its last "
            "checkpoint with the same command and --resume.",
            file=sys.stderr,
        )
        return 130
    except ValueError as e:  # our input errors are ValueError subclasses
        message = (
            e.for_command_line()
            if isinstance(e, options.OptionError)
            else str(e)
        )
        print(
            f"keras-electra {args.command}: error: {message}", file=sys.stderr
        )
        return 2


def _export_backend(args):
    """The backend an export format needs (SavedModel and ONNX are traced
    on TensorFlow, whatever backend trained the preset)."""
    if args.command != "export":
        return None
    from keras_electra.jobs.export_formats import EXPORT_FORMATS

    return EXPORT_FORMATS[args.target].backend


def _resumed_backend(args):
    """A resumed run's own backend (in its run.json), unless `--backend`
    says otherwise: a run does not switch backends by accident."""
    if args.command != "pretrain" or not getattr(args, "resume", False):
        return None
    import json

    from keras_electra.utils import file_system

    output = getattr(args, "output", options.PretrainConfig.output)
    try:
        path = file_system.join(output, "run.json")
        with file_system.open_file(path, encoding="utf-8") as f:
            return json.load(f).get("backend")
    except (OSError, ValueError):
        return None


def _pretrain(args):
    from keras_electra.jobs.pretrain import pretrain

    result = pretrain(**options.given_options(args, options.PretrainConfig))
    # (The job prints the last window's and the whole run's metrics.)
    return result["interrupted"] or None


def _build_data(args):
    from keras_electra.data.shards import build_shards

    result = build_shards(
        args.corpus,
        args.output,
        args.vocab,
        sequence_length=args.sequence_length,
        num_shards=args.num_shards,
        num_processes=args.processes,
        seed=args.seed,
        lowercase=not args.cased,
        strip_accents=not args.cased,
        blank_lines_separate_documents=not args.one_document_per_file,
        on_decode_error=args.on_decode_error,
        text_field=args.text_field,
        overwrite=args.overwrite,
        show_backend_logs=args.verbose,
    )
    print(f"Shards in {args.output}: {len(result['files'])} files.")


def _vocab(args):
    from keras_electra.data.vocabulary import describe_learned
    from keras_electra.data.vocabulary import learn_vocabulary

    tokenizer = learn_vocabulary(
        args.corpus,
        args.size,
        args.output,
        max_lines=args.max_lines,
        on_decode_error=args.on_decode_error,
        text_field=args.text_field,
        lowercase=not args.cased,
        strip_accents=not args.cased,
    )
    print(describe_learned(tokenizer.vocabulary_size(), args.size, args.output))


def _info(args):
    import json

    from keras_electra.utils import parameter_counts
    from keras_electra.utils import preset_utils
    from keras_electra.utils import released_presets
    from keras_electra.utils.preset_info import PresetInfo

    if args.preset is None:
        print("Built-in presets:")
        for name in preset_utils.builtin_presets():
            meta = PresetInfo.read(name).metadata or {}
            print(f"  {name:15s} {meta.get('description', '')}")
        print(
            "Google's released pairs (fetched and converted on first use, "
            "for continued pre-training and fine-tuning):"
        )
        for name in released_presets.released_presets():
            entry = released_presets.RELEASED[name]
            print(f"  {name:25s} {entry.description}")
        return
    if args.preset in released_presets.RELEASED:
        entry = released_presets.RELEASED[args.preset]
        folder = os.path.join(released_presets.cache_dir(), args.preset)
        if not released_presets.is_cached(folder, entry):
            # From the table: nothing is fetched to answer.
            print(f"Released pair: {args.preset}\n{entry.description}")
            print(
                f"Discriminator: {entry.discriminator}\nGenerator: "
                f"{entry.generator}\nNot fetched yet: the first use fetches "
                f"and converts it into {folder}."
            )
            return
    info = PresetInfo.read(args.preset)
    print(f"Preset: {info.path}")
    print(
        f"Backbone ({info.backbone['class_name']}): "
        f"{json.dumps(_arch(info.backbone_config))}"
    )
    generator = info.generator_backbone_config
    if generator is not None:
        print(f"Generator backbone: {json.dumps(_arch(generator))}")
    for line in parameter_counts.describe_preset(info):
        print(line)
    if info.converted_from is not None:
        print(f"Pre-training: not recorded ({_converted(info)})")
    elif generator is not None:
        keys = (
            "mask_rate",
            "learning_rate",
            "num_train_steps",
            "warmup_steps",
            "generator_weight",
            "discriminator_weight",
        )
        cfg = info.task_config
        print("Pre-training: " + ", ".join(f"{k}={cfg[k]}" for k in keys))
    for label, has, name in (
        ("weights", info.has_weights, "model.weights.h5"),
        ("task weights", info.has_task_weights, "task.weights.h5"),
        ("tokenizer", info.has_tokenizer, None),
    ):
        state = "yes" if has else "no"
        if has and name and "://" not in info.path:
            state = _h5_state(os.path.join(info.path, name))
        print(f"{label}: {state}")


def _converted(info):
    """Where a converted preset came from, and the settings it was given
    for continued pre-training (a released pair: the paper's)."""
    source = info.converted_from
    towers = [source.get(k) for k in ("discriminator", "generator")]
    text = f"converted from {source.get('format', 'a checkpoint')}"
    if any(towers):
        text += " " + " and ".join(t for t in towers if t)
    settings = source.get("settings")
    if settings:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(settings.items()))
        text += f"; set for continued pre-training: {shown}"
    return text


def _h5_state(path):
    """ "yes", or what is wrong with a weights file (truncated, damaged)."""
    import h5py

    try:
        with h5py.File(path, "r"):
            return "yes"
    except OSError as e:
        return f"DAMAGED ({str(e).splitlines()[0][:80]}): save or convert again"


def _convert(args):
    from keras_electra import conversion

    tokenizer = None
    if args.source == "tf1":
        if args.generator:
            raise ValueError(
                "A TF1 checkpoint holds both towers: pass it as "
                "--discriminator and leave out --generator."
            )
        model, tokenizer = conversion.load_tf1(
            args.discriminator,
            num_heads=args.num_heads,
            generator_num_heads=args.generator_num_heads,
            vocabulary=args.vocab,
        )
    elif args.source == "transformers":
        loaded = conversion.load_transformers(
            args.discriminator, args.generator
        )
        if isinstance(loaded, tuple):
            model, tokenizer = loaded
        else:
            model = loaded
            from keras_electra.conversion import transformers_checkpoint

            tokenizer = transformers_checkpoint.tokenizer_from_folder(
                args.discriminator
            )
    else:
        if args.generator:
            raise ValueError(
                "A keras-hub ElectraBackbone preset holds no generator; "
                "leave out --generator."
            )
        model, tokenizer = conversion.load_keras_hub(args.discriminator)
    _save_preset(model, args.output, tokenizer, _source(args))
    print(
        f"Wrote {type(model).__name__} preset to {args.output}"
        f"{' with its tokenizer' if tokenizer is not None else ''}."
    )


def _source(args):
    """What `convert` read, as the preset's metadata records it."""

    def where(path):
        return path if path is None or "://" in path else os.path.abspath(path)

    return {
        "format": args.source,
        "discriminator": where(args.discriminator),
        "generator": where(args.generator),
    }


def _save_preset(model, output, tokenizer, source):
    from keras_electra.utils import preset_utils

    preset_utils.save_converted(model, output, tokenizer, source)


def _export(args):
    from keras_electra.jobs.export_formats import EXPORT_FORMATS

    model, tokenizer = _load_any(args.preset)
    EXPORT_FORMATS[args.target].write(
        model, args.output, tokenizer=tokenizer, overwrite=args.overwrite
    )
    print(f"Wrote {type(model).__name__} as {args.target} to {args.output}.")


def _load_any(preset):
    """The model a keras-electra preset holds, and its tokenizer (or None)."""
    from keras_electra import models
    from keras_electra.tokenizers.electra_tokenizer import ElectraTokenizer
    from keras_electra.utils.preset_info import PresetInfo

    info = PresetInfo.read(preset)
    cls = models.ElectraBackbone
    if info.task is not None:
        cls = getattr(models, str(info.class_name), None)
        if not hasattr(cls, "from_preset"):
            raise ValueError(
                f"'{preset}' holds a {info.class_name}, which cannot be "
                "exported."
            )
    if not info.has_weights:
        raise ValueError(
            f"'{preset}' holds no weights (a built-in preset?): export a "
            "trained or converted preset, such as the preset/ folder of a "
            "pre-training run."
        )
    tokenizer = None
    if info.has_tokenizer:
        tokenizer = ElectraTokenizer.from_preset(info.path)
    return cls.from_preset(info.path), tokenizer


def _finetune(args):
    from keras_electra.jobs.finetune import default_output
    from keras_electra.jobs.finetune import finetune
    from keras_electra.jobs.finetune_tasks import describe_outputs
    from keras_electra.jobs.finetune_tasks import describe_result

    print(f"keras-electra finetune | {args.backend_summary}")
    given = options.given_options(args, options.FinetuneConfig)
    # The command line keeps the model: without --output, in a new folder
    # (made now, so that no other run takes it; removed if left empty).
    reserved = "output" not in given
    if reserved:
        given["output"] = default_output(args.task)
    try:
        result = finetune(**given, command_line=True)
    except BaseException:
        if reserved and not os.listdir(given["output"]):
            os.rmdir(given["output"])
        raise
    print(describe_result(args.task, result))
    print(describe_outputs(args.task, given["output"]))
    if args.task == "classify":
        print(f"Predict: keras-electra predict {given['output']} FILE.csv")


def _predict_arguments(p):
    p.add_argument(
        "model",
        help="output folder of `finetune --task classify` (or its model/)",
    )
    p.add_argument(
        "file", help="CSV/TSV with a header and a text column (labels: opt.)"
    )
    p.add_argument(
        "--output", help="CSV (or .tsv) to write (default: standard output)"
    )
    p.add_argument("--batch-size", type=int, default=32, help="texts per batch")
    p.add_argument(
        "--text-column",
        help="default: the model's, else the first that is not the label",
    )
    p.add_argument(
        "--pair-column",
        help="second text column (default: the model's, if it read pairs)",
    )
    p.add_argument(
        "--label-column",
        help="optional labels, for the accuracy (default: the model's)",
    )


def _predict(args):
    from keras_electra.jobs.predict import predict_file
    from keras_electra.jobs.predict import write_predictions

    # Without --output the table goes to stdout, and the rest to stderr.
    say = sys.stderr if args.output is None else sys.stdout
    if args.output is not None:
        print(f"keras-electra predict | {args.backend_summary}")
    if args.batch_size < 1:
        raise ValueError(
            f"--batch-size must be positive. Received: {args.batch_size}."
        )
    result = predict_file(
        args.model,
        args.file,
        output=args.output,
        text_column=args.text_column,
        pair_column=args.pair_column,
        label_column=args.label_column,
        batch_size=args.batch_size,
        command_line=True,
    )
    if args.output is None:
        try:
            write_predictions(result, sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:
            # `predict ... | head`: the reader stopped. What is still
            # buffered goes nowhere, without a traceback at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    for note in result["notes"]:
        print(note, file=sys.stderr)
    if result["accuracy"] is not None:
        print(
            f"Accuracy on the {result['labelled']} labelled rows: "
            f"{result['accuracy']:.4f}",
            file=say,
        )
    if args.output is not None:
        print(f"Wrote {len(result['rows'])} predictions to {args.output}.")


def _arch(config):
    keys = (
        "vocabulary_size",
        "num_layers",
        "hidden_dim",
        "num_heads",
        "intermediate_dim",
        "embedding_dim",
        "max_sequence_length",
    )
    return {k: config[k] for k in keys if k in config}


COMMANDS = {
    # name: (handler, summary, description, examples, arguments)
    "pretrain": (
        _pretrain,
        "pre-train ELECTRA (the tiny preset on a default corpus if no data "
        "is given)",
        "Pre-train a generator and a discriminator jointly (replaced-token "
        "detection),\nwith periodic atomic checkpoints. Ctrl-C (or SIGTERM) "
        "finishes the current step,\nsaves a checkpoint and stops; "
        "--resume continues the run exactly.",
        [
            "keras-electra pretrain --output electra_run",
            "keras-electra pretrain --corpus 'my_text/*.txt' --steps 10000 "
            "--output my_run",
            "keras-electra pretrain --output my_run --resume",
            "keras-electra pretrain --shards shards/ --vocab vocab.txt "
            "--preset electra_small",
            "keras-electra pretrain --preset electra_base_uncased_en "
            "--corpus my_domain/ --output my_domain_electra",
            "keras-electra pretrain --backend jax --distribution model "
            "--mesh 2x4 --preset electra_base --output big_run",
            "torchrun --nproc_per_node=8 $(which keras-electra) pretrain "
            "--backend torch --dtype mixed_bfloat16 --output big_run",
        ],
        _pretrain_arguments,
    ),
    "build-data": (
        _build_data,
        "text -> sharded TFRecord examples",
        "Tokenize a corpus once into shuffled TFRecord shards of packed "
        "examples, for\nlong runs (`pretrain --shards`). Resumable: "
        "finished shards are kept.",
        [
            "keras-electra build-data --corpus 'wiki/*.txt' --vocab vocab.txt "
            "--output shards/",
        ],
        _build_data_arguments,
    ),
    "vocab": (
        _vocab,
        "learn a WordPiece vocabulary",
        "Learn a WordPiece vocabulary (with ELECTRA's special tokens first) "
        "from a corpus.",
        [
            "keras-electra vocab --corpus 'my_text/*.txt' --size 30522 "
            "--output vocab.txt",
        ],
        _vocab_arguments,
    ),
    "convert": (
        _convert,
        "a transformers, TF1 or keras-hub checkpoint -> a keras-electra preset",
        "Convert a checkpoint into a keras-electra preset. A discriminator "
        "alone gives a\nbackbone for fine-tuning; a discriminator and a "
        "generator (or a TF1 checkpoint)\ngive a pretrainer to continue "
        "pre-training.",
        [
            "keras-electra convert --from transformers --discriminator "
            "disc/ --generator gen/ --output pair/",
            "keras-electra convert --from tf1 --discriminator "
            "electra_small/ --output small/",
        ],
        _convert_arguments,
    ),
    "export": (
        _export,
        "a keras-electra preset -> transformers, keras-hub, SavedModel, ONNX",
        "Export a trained or converted preset to transformers (a "
        "discriminator folder,\nand a generator folder for a pretrainer), "
        "to a keras-hub ElectraBackbone preset,\nto a TensorFlow SavedModel "
        "that serves a fine-tuned task on raw strings, or\nto ONNX on token "
        "ids (SavedModel and ONNX are built on TensorFlow).",
        [
            "keras-electra export --to transformers electra_run/preset hf/",
            "keras-electra export --to keras-hub electra_run/preset hub/",
            "keras-electra export --to saved-model finetune_classify/model "
            "served/",
            "keras-electra export --to onnx finetune_classify/model "
            "classifier.onnx",
        ],
        _export_arguments,
    ),
    "finetune": (
        _finetune,
        "fine-tune on a task file and report test metrics",
        "Fine-tune a preset with ELECTRA's recipe (layer-wise learning-rate "
        "decay, warm-up\nand linear decay) on a classification, tagging or "
        "QA file; report test metrics.",
        [
            "keras-electra finetune --task classify --preset "
            "electra_run/preset --train train.csv --test test.csv",
            "keras-electra finetune --task tag --preset electra_run/preset "
            "--train train.tsv --test test.tsv --output pos_run",
        ],
        _finetune_arguments,
    ),
    "predict": (
        _predict,
        "classify a file's texts with a fine-tuned classifier",
        "Classify the texts of a CSV/TSV file with the output of `finetune "
        "--task classify`:\nthe text column(s), the predicted class (its "
        "name if the labels were names) and\none probability column per "
        "class, as CSV; a label column gives the accuracy.",
        [
            "keras-electra predict finetune_classify new.csv --output "
            "predictions.csv",
            "keras-electra predict reviews/model reviews.tsv --text-column "
            "review | head",
        ],
        _predict_arguments,
    ),
    "info": (
        _info,
        "what a preset contains",
        "Show a preset's architecture, how it was trained and which files "
        "it holds\n(no backend is loaded).",
        ["keras-electra info", "keras-electra info electra_run/preset"],
        _info_arguments,
    ),
}


if __name__ == "__main__":
    sys.exit(main())
