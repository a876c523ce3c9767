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
`KERAS_BACKEND`, else Keras' configured default). Errors in the user's input
are printed as one
clear message, without a traceback, and exit with status 2.
"""

import argparse
import os
import sys


def _add_common(parser):
    parser.add_argument(
        "--backend",
        choices=("jax", "tensorflow", "torch"),
        help="Keras backend (default: $KERAS_BACKEND, else Keras' "
        "configured backend).",
    )


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-electra",
        description="Pre-train, convert, fine-tune and inspect ELECTRA models "
        "with Keras 3.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "pretrain",
        help="pre-train ELECTRA (the tiny preset on a default corpus if no "
        "data is given)",
    )
    _add_common(p)
    p.add_argument(
        "--preset",
        default="electra_tiny",
        help="preset name or folder (default electra_tiny)",
    )
    data = p.add_mutually_exclusive_group()
    data.add_argument(
        "--corpus", nargs="+", help="text files, quoted globs or folders"
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
        help="size of a learned vocabulary (default 8000)",
    )
    p.add_argument(
        "--output",
        default="electra_run",
        help="run folder (default ./electra_run)",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="training steps (default 300; with --resume, the "
        "run's own length unless given)",
    )
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument(
        "--sequence-length",
        type=int,
        default=None,
        help="default 128, or the shards' length",
    )
    p.add_argument(
        "--learning-rate",
        type=float,
        default=None,
        help="peak learning rate (default: the preset's)",
    )
    p.add_argument("--warmup-steps", type=int, default=None)
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--keep-checkpoints", type=int, default=3)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --output from its last checkpoint",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace the run in --output"
    )
    p.add_argument(
        "--on-decode-error", choices=("stop", "skip"), default="stop"
    )

    p = sub.add_parser("build-data", help="text -> sharded TFRecord examples")
    _add_common(p)
    p.add_argument("--corpus", nargs="+", required=True)
    p.add_argument("--vocab", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--sequence-length", type=int, default=128)
    p.add_argument("--num-shards", type=int, default=16)
    p.add_argument("--processes", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cased", action="store_true", help="keep case and accents")
    p.add_argument(
        "--one-document-per-file",
        action="store_true",
        help="blank lines do not end documents",
    )
    p.add_argument(
        "--on-decode-error", choices=("stop", "skip"), default="stop"
    )
    p.add_argument("--overwrite", action="store_true")

    p = sub.add_parser("vocab", help="learn a WordPiece vocabulary")
    _add_common(p)
    p.add_argument("--corpus", nargs="+", required=True)
    p.add_argument("--size", type=int, default=30522)
    p.add_argument("--output", required=True, help="vocab.txt to write")
    p.add_argument("--max-lines", type=int, default=200_000)
    p.add_argument("--cased", action="store_true")
    p.add_argument(
        "--on-decode-error", choices=("stop", "skip"), default="stop"
    )

    p = sub.add_parser(
        "convert",
        help="a transformers, TF1 or keras-hub checkpoint -> a keras-electra "
        "preset",
    )
    _add_common(p)
    p.add_argument(
        "--from",
        dest="source",
        required=True,
        choices=("transformers", "tf1", "keras-hub"),
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

    p = sub.add_parser(
        "export", help="a keras-electra preset -> transformers or keras-hub"
    )
    _add_common(p)
    p.add_argument(
        "--to",
        dest="target",
        required=True,
        choices=("transformers", "keras-hub"),
    )
    p.add_argument("preset", help="keras-electra preset folder")
    p.add_argument("output", help="folder to write")

    p = sub.add_parser(
        "finetune", help="fine-tune on a task file and report test metrics"
    )
    _add_common(p)
    p.add_argument("--task", required=True, choices=("classify", "tag", "qa"))
    p.add_argument(
        "--preset",
        required=True,
        help="preset with a tokenizer, e.g. RUN/preset",
    )
    p.add_argument(
        "--train",
        required=True,
        help="CSV/TSV (classify), word<TAB>tag (tag), SQuAD JSON or CSV (qa)",
    )
    p.add_argument("--test", required=True)
    p.add_argument(
        "--output",
        help="folder for the fine-tuned model, "
        "metrics.json and confusion_matrix.png",
    )
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--sequence-length", type=int, default=128)
    p.add_argument(
        "--learning-rate",
        type=float,
        help="default: the paper's for the model size",
    )
    p.add_argument(
        "--layerwise-decay",
        type=float,
        help="default 0.8 (0.9 for large models)",
    )
    p.add_argument(
        "--num-classes",
        type=int,
        help="classify: number of classes (1 = regression); "
        "default: the largest training label + 1",
    )
    p.add_argument("--text-column")
    p.add_argument("--pair-column")
    p.add_argument("--label-column", default="label")
    p.add_argument("--max-train-examples", type=int)
    p.add_argument(
        "--from-scratch",
        action="store_true",
        help="same architecture, random weights (a baseline)",
    )
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("info", help="what a preset contains")
    _add_common(p)
    p.add_argument(
        "preset",
        nargs="?",
        default=None,
        help="preset name or folder (default: list built-ins)",
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        return COMMANDS[args.command](args) or 0
    except KeyboardInterrupt:
        print(
            "Interrupted. Continue later with the same command and --resume.",
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
    )
    if result["history"]:
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
