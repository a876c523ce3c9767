"""`keras-electra`: the command line for the main jobs.

Over 400 lines for a reason: the argparse definitions of seven
sub-commands, each then one call into `jobs/`, `data/` or `conversion/`.

    keras-electra pretrain [--corpus FILES | --shards DIR] [--preset NAME] ...
    keras-electra build-data --corpus FILES --vocab vocab.txt --output DIR
    keras-electra vocab --corpus FILES --size 8000 --output vocab.txt
    keras-electra info PRESET
    keras-electra convert --from {transformers,tf1,keras-hub} \\
        --discriminator PATH [--generator PATH] --output DIR
    keras-electra export --to {transformers,keras-hub} PRESET DIR
    keras-electra finetune --task {classify,tag,qa} --preset PATH \\
        --train FILE --test FILE

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


def _add_decode_errors(parser):
    parser.add_argument(
        "--on-decode-error",
        choices=("stop", "skip"),
        default="stop",
        help="what to do with lines that are not UTF-8",
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

    p = _command(
        sub,
        "pretrain",
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
    )
    p.add_argument(
        "--preset",
        default="electra_tiny",
        help="name or folder to start from: a built-in size (random "
        "weights), a released pair to continue (electra_{small,base,large}"
        "_uncased_en, fetched once), or a run's preset (default: "
        "electra_tiny)",
    )
    data = p.add_mutually_exclusive_group()
    data.add_argument(
        "--corpus",
        nargs="+",
        help="text files, quoted globs or folders (default: the King "
        "James Bible, downloaded once)",
    )
    data.add_argument("--shards", help="folder of shards from build-data")
    p.add_argument(
        "--vocab",
        help="vocab.txt (default: the preset's, or learned from the corpus)",
    )
    p.add_argument(
        "--vocab-size",
        type=int,
        default=8000,
        help="largest size of a learned vocabulary",
    )
    p.add_argument("--output", default="electra_run", help="run folder")
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="training steps (300 for a new run; with --resume, the run's "
        "own length unless given)",
    )
    p.add_argument(
        "--batch-size", type=int, default=32, help="sequences per step"
    )
    p.add_argument(
        "--sequence-length",
        type=int,
        default=None,
        help="tokens per sequence (128, or the shards' length)",
    )
    p.add_argument(
        "--learning-rate",
        type=float,
        default=None,
        help="peak learning rate (the preset's)",
    )
    p.add_argument(
        "--warmup-steps",
        type=int,
        default=None,
        help="linear warm-up (the preset's, at most a tenth of the run)",
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=100,
        help="steps between checkpoints",
    )
    p.add_argument(
        "--keep-checkpoints",
        type=int,
        default=3,
        help="recent checkpoints kept (0: all)",
    )
    p.add_argument(
        "--log-every",
        type=int,
        default=10,
        help="steps between log rows and progress updates",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds data order, masking, sampling and initialisation",
    )
    p.add_argument(
        "--distribution",
        choices=("none", "data", "model"),
        default="none",
        help="train on every device: 'data' parallel (JAX keras.distribution,"
        " TensorFlow MirroredStrategy) or 'model' parallel on a batch x model "
        "mesh (JAX); under torchrun, PyTorch is data parallel by itself "
        "(default: none)",
    )
    p.add_argument(
        "--mesh",
        help="BxM mesh for --distribution model, e.g. 2x4 (default: the "
        "widest model axis of 8, 4 or 2 the devices allow)",
    )
    p.add_argument(
        "--objective",
        choices=("rtd", "mlm"),
        default="rtd",
        help="rtd: ELECTRA's replaced-token detection (generator + "
        "discriminator); mlm: the BERT baseline, masked-LM on an encoder "
        "the discriminator's size (80%% [MASK], 10%% random, 10%% kept)",
    )
    p.add_argument(
        "--replacement",
        choices=("generator", "uniform"),
        help="what replaces the chosen tokens: the generator's samples "
        "(ELECTRA) or uniform random tokens (no generator)",
    )
    p.add_argument(
        "--temperature",
        type=float,
        help="generator sampling temperature (1.0 in ELECTRA; the end of a "
        "schedule)",
    )
    p.add_argument(
        "--temperature-start",
        type=float,
        help="temperature of the first step, falling linearly to "
        "--temperature over --temperature-steps",
    )
    p.add_argument(
        "--temperature-steps",
        type=int,
        help="steps over which --temperature-start falls to --temperature",
    )
    p.add_argument(
        "--embedding-sharing",
        choices=("tied", "untied", "gdes"),
        help="the towers' embeddings: one shared block (ELECTRA), one each, "
        "or DeBERTaV3's gradient-disentangled sharing (default: the "
        "preset's)",
    )
    p.add_argument(
        "--generator-size",
        type=float,
        help="generator width as a fraction of the discriminator's (new "
        "weights; default: the preset's generator)",
    )
    p.add_argument(
        "--dtype",
        choices=("float32", "mixed_bfloat16", "mixed_float16"),
        default="float32",
        help="compute precision: mixed_bfloat16 for TPUs and recent GPUs, "
        "mixed_float16 (with loss scaling) for older GPUs; weights stay "
        "float32",
    )
    p.add_argument(
        "--gradient-accumulation-steps",
        type=int,
        default=1,
        help="batches averaged into each optimizer update (steps, warm-up "
        "and decay count updates)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --output from its last checkpoint",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace the run in --output"
    )
    _add_decode_errors(p)

    p = _command(
        sub,
        "build-data",
        "text -> sharded TFRecord examples",
        "Tokenize a corpus once into shuffled TFRecord shards of packed "
        "examples, for\nlong runs (`pretrain --shards`). Resumable: "
        "finished shards are kept.",
        [
            "keras-electra build-data --corpus 'wiki/*.txt' --vocab vocab.txt "
            "--output shards/",
        ],
    )
    p.add_argument(
        "--corpus", nargs="+", required=True, help="files, globs or folders"
    )
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
    _add_decode_errors(p)
    p.add_argument(
        "--overwrite", action="store_true", help="replace existing shards"
    )

    p = _command(
        sub,
        "vocab",
        "learn a WordPiece vocabulary",
        "Learn a WordPiece vocabulary (with ELECTRA's special tokens first) "
        "from a corpus.",
        [
            "keras-electra vocab --corpus 'my_text/*.txt' --size 30522 "
            "--output vocab.txt",
        ],
    )
    p.add_argument(
        "--corpus", nargs="+", required=True, help="files, globs or folders"
    )
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
    _add_decode_errors(p)

    p = _command(
        sub,
        "convert",
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
    )
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

    p = _command(
        sub,
        "export",
        "a keras-electra preset -> transformers or keras-hub",
        "Export a trained or converted preset to transformers (a "
        "discriminator folder,\nand a generator folder for a pretrainer) or "
        "to a keras-hub ElectraBackbone preset.",
        [
            "keras-electra export --to transformers electra_run/preset hf/",
            "keras-electra export --to keras-hub electra_run/preset hub/",
        ],
    )
    p.add_argument(
        "--to",
        dest="target",
        required=True,
        choices=("transformers", "keras-hub"),
        help="target format",
    )
    p.add_argument("preset", help="keras-electra preset folder")
    p.add_argument("output", help="folder to write")

    p = _command(
        sub,
        "finetune",
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
    )
    p.add_argument(
        "--task",
        required=True,
        choices=("classify", "tag", "qa"),
        help="what to fine-tune for",
    )
    p.add_argument(
        "--preset",
        required=True,
        help="preset with a tokenizer, e.g. RUN/preset or "
        "electra_base_uncased_en",
    )
    p.add_argument(
        "--train",
        required=True,
        help="CSV/TSV (classify), word<TAB>tag (tag), SQuAD JSON or CSV (qa)",
    )
    p.add_argument("--test", required=True, help="same format as --train")
    p.add_argument(
        "--output",
        help="folder for the fine-tuned model, metrics.json and, for "
        "classify, confusion_matrix.png",
    )
    p.add_argument("--epochs", type=int, default=3, help="passes over --train")
    p.add_argument("--batch-size", type=int, default=32, help="per step")
    p.add_argument(
        "--sequence-length", type=int, default=128, help="tokens per input"
    )
    p.add_argument(
        "--learning-rate",
        type=float,
        help="peak rate (default: the paper's for the model size)",
    )
    p.add_argument(
        "--layerwise-decay",
        type=float,
        help="per-layer rate decay (default 0.8; 0.9 for large models)",
    )
    p.add_argument(
        "--num-classes",
        type=int,
        help="classify: number of classes (1 = regression); "
        "default: the largest training label + 1",
    )
    p.add_argument(
        "--text-column", help="classify: text column (default: the first)"
    )
    p.add_argument("--pair-column", help="classify: second text column")
    p.add_argument(
        "--label-column", default="label", help="classify: label column"
    )
    p.add_argument(
        "--max-train-examples",
        type=int,
        help="train on a random sample of this size",
    )
    p.add_argument(
        "--from-scratch",
        action="store_true",
        help="same architecture, random weights (a baseline)",
    )
    p.add_argument("--seed", type=int, default=0, help="sampling and init")

    p = _command(
        sub,
        "info",
        "what a preset contains",
        "Show a preset's architecture, how it was trained and which files "
        "it holds\n(no backend is loaded).",
        ["keras-electra info", "keras-electra info electra_run/preset"],
    )
    p.add_argument(
        "preset",
        nargs="?",
        default=None,
        help="preset name or folder (default: list built-ins)",
    )
    return parser


# Commands that run no model: they skip loading the backend.
NO_BACKEND = ("info",)


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
    try:
        if args.command not in NO_BACKEND:
            from keras_electra.utils.backend_setup import load_backend

            args.backend_summary = load_backend(verbose=args.verbose)
        return COMMANDS[args.command](args) or 0
    except KeyboardInterrupt:
        print(
            "\nInterrupted. A pre-training run continues from its last "
            "checkpoint with the same command and --resume.",
            file=sys.stderr,
        )
        return 130
    except ValueError as e:  # our input errors are ValueError subclasses
        print(f"keras-electra {args.command}: error: {e}", file=sys.stderr)
        return 2


def _pretrain(args):
    from keras_electra.jobs.pretrain import pretrain

    result = pretrain(
        args.output,
        preset=args.preset,
        shards=args.shards,
        corpus=args.corpus,
        vocabulary=args.vocab,
        vocabulary_size=args.vocab_size,
        steps=args.steps,
        batch_size=args.batch_size,
        sequence_length=args.sequence_length or (None if args.shards else 128),
        learning_rate=args.learning_rate,
        warmup_steps=args.warmup_steps,
        checkpoint_every=args.checkpoint_every,
        keep_checkpoints=args.keep_checkpoints,
        log_every=args.log_every,
        seed=args.seed,
        resume=args.resume,
        overwrite=args.overwrite,
        on_decode_error=args.on_decode_error,
        distribution=args.distribution,
        mesh=args.mesh,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        dtype=args.dtype,
        replacement=args.replacement,
        temperature=args.temperature,
        temperature_start=args.temperature_start,
        temperature_steps=args.temperature_steps,
        embedding_sharing=args.embedding_sharing,
        generator_size=args.generator_size,
        objective=args.objective,
    )
    if result["interrupted"]:
        return result["interrupted"]
    from keras_electra.utils import processes

    if result["history"] and processes.is_chief():
        shown = ", ".join(
            f"{k} {v:.4f}" for k, v in sorted(result["history"].items())
        )
        print(f"Final metrics (last chunk): {shown}")


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
        overwrite=args.overwrite,
    )
    print(f"Shards in {args.output}: {len(result['files'])} files.")


def _vocab(args):
    from keras_electra.data.vocabulary import learn_vocabulary

    tokenizer = learn_vocabulary(
        args.corpus,
        args.size,
        args.output,
        max_lines=args.max_lines,
        on_decode_error=args.on_decode_error,
        lowercase=not args.cased,
        strip_accents=not args.cased,
    )
    print(f"Wrote {tokenizer.vocabulary_size():,} tokens to {args.output}.")


def _info(args):
    import json

    from keras_electra.utils import preset_utils

    if args.preset is None:
        print("Built-in presets:")
        for name in preset_utils.builtin_presets():
            path = preset_utils.resolve_preset(name)
            meta = preset_utils.load_json(path, preset_utils.METADATA_FILE)
            print(f"  {name:15s} {meta.get('description', '')}")
        from keras_electra.utils import released_presets

        print(
            "Google's released pairs (fetched and converted on first use, "
            "for continued pre-training and fine-tuning):"
        )
        for name in released_presets.released_presets():
            entry = released_presets.RELEASED[name]
            print(f"  {name:25s} {entry.description}")
        return
    path = preset_utils.resolve_preset(args.preset)
    config = preset_utils.load_json(path, preset_utils.CONFIG_FILE)
    print(f"Preset: {path}")
    print(
        f"Backbone ({config['class_name']}): "
        f"{json.dumps(_arch(config['config']))}"
    )
    if preset_utils.preset_has_file(path, preset_utils.METADATA_FILE):
        meta = preset_utils.load_json(path, preset_utils.METADATA_FILE)
        print(f"Discriminator backbone parameters: {meta['parameter_count']:,}")
    if preset_utils.preset_has_file(path, preset_utils.TASK_CONFIG_FILE):
        task = preset_utils.load_json(path, preset_utils.TASK_CONFIG_FILE)
        cfg = task["config"]
        if "generator" in cfg:
            gen = cfg["generator"]["config"]["backbone"]["config"]
            print(f"Generator backbone: {json.dumps(_arch(gen))}")
            keys = (
                "mask_rate",
                "learning_rate",
                "num_train_steps",
                "warmup_steps",
                "generator_weight",
                "discriminator_weight",
            )
            print("Pre-training: " + ", ".join(f"{k}={cfg[k]}" for k in keys))
    files = {
        "weights": preset_utils.MODEL_WEIGHTS_FILE,
        "task weights": preset_utils.TASK_WEIGHTS_FILE,
        "tokenizer": preset_utils.TOKENIZER_CONFIG_FILE,
    }
    for label, name in files.items():
        has = preset_utils.preset_has_file(path, name)
        print(f"{label}: {'yes' if has else 'no'}")


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
    _save_preset(model, args.output, tokenizer)
    print(
        f"Wrote {type(model).__name__} preset to {args.output}"
        f"{' with its tokenizer' if tokenizer is not None else ''}."
    )


def _save_preset(model, output, tokenizer):
    from keras_electra.utils import preset_utils

    if hasattr(model, "generator"):  # a pretrainer saves atomically itself
        model.save_to_preset(output, tokenizer=tokenizer)
        return
    with preset_utils.atomic_directory(output) as tmp:
        model.save_to_preset(tmp)
        if tokenizer is not None:
            tokenizer.save_to_preset(tmp)


def _export(args):
    from keras_electra import conversion

    model, tokenizer = _load_any(args.preset)
    if args.target == "transformers":
        conversion.export_transformers(model, args.output, tokenizer)
    else:
        conversion.export_keras_hub(model, args.output, tokenizer)
    print(
        f"Wrote {args.target} checkpoint of {type(model).__name__} to "
        f"{args.output}."
    )


def _load_any(preset):
    """The model a keras-electra preset holds, and its tokenizer (or None)."""
    import keras_electra
    from keras_electra.utils import preset_utils

    path = preset_utils.resolve_preset(preset)
    cls = keras_electra.ElectraBackbone
    if preset_utils.preset_has_file(path, preset_utils.TASK_CONFIG_FILE):
        task = preset_utils.load_json(path, preset_utils.TASK_CONFIG_FILE)
        name = task.get("class_name")
        if not hasattr(keras_electra, str(name)):
            raise ValueError(
                f"'{preset}' holds a {name}, which cannot be exported."
            )
        cls = getattr(keras_electra, name)
    if not preset_utils.preset_has_file(path, preset_utils.MODEL_WEIGHTS_FILE):
        raise ValueError(
            f"'{preset}' holds no weights (a built-in preset?): export a "
            "trained or converted preset, such as the preset/ folder of a "
            "pre-training run."
        )
    tokenizer = None
    if preset_utils.preset_has_file(path, preset_utils.TOKENIZER_CONFIG_FILE):
        tokenizer = keras_electra.ElectraTokenizer.from_preset(path)
    return cls.from_preset(path), tokenizer


def _finetune(args):
    from keras_electra.jobs.finetune import finetune

    print(f"keras-electra finetune | {args.backend_summary}")
    result = finetune(
        args.task,
        args.preset,
        args.train,
        args.test,
        output=args.output,
        epochs=args.epochs,
        batch_size=args.batch_size,
        sequence_length=args.sequence_length,
        learning_rate=args.learning_rate,
        layerwise_decay=args.layerwise_decay,
        num_classes=args.num_classes,
        text_column=args.text_column,
        pair_column=args.pair_column,
        label_column=args.label_column,
        load_weights=not args.from_scratch,
        max_train_examples=args.max_train_examples,
        seed=args.seed,
    )
    keys = ("accuracy", "macro_f1", "mse", "pearson", "exact_match", "f1")
    shown = ", ".join(f"{k} {result[k]:.4f}" for k in keys if k in result)
    print(f"Test ({result['test_examples']} examples): {shown}")
    if args.output:
        print(
            f"Model, metrics.json"
            f"{' and confusion_matrix.png' if args.task == 'classify' else ''}"
            f" in {args.output}"
        )


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
    "pretrain": _pretrain,
    "build-data": _build_data,
    "vocab": _vocab,
    "info": _info,
    "convert": _convert,
    "export": _export,
    "finetune": _finetune,
}


if __name__ == "__main__":
    sys.exit(main())
