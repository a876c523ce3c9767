"""Pre-training, stage 3: what the run says and leaves behind.

The console's description of a run, the final preset, the training curves
and the replaced-tokens picture, the message of an interrupted run and the
job's result. Reads the `Run` and its log; changes no setting.
"""

import signal

from keras_electra.utils import file_system
from keras_electra.utils import parameter_counts
from keras_electra.utils import preset_utils
from keras_electra.utils import processes

OBJECTIVE_TITLES = {
    "rtd": "ELECTRA pre-training",
    "mlm": "Masked-LM baseline",
}


# What each column of `log.csv` holds (written beside it as
# `log_columns.md`; README, "What the log says").
LOG_COLUMNS = {
    "step": "the optimizer update the row ends (counted over the whole run)",
    "learning_rate": "the learning rate at that step",
    "seconds": "wall time of the whole run so far",
    "loss": "total loss: the generator's MLM loss plus the "
    "discriminator's weight (50 by default) x its RTD loss; the MLM loss "
    "for the masked-LM baseline",
    "generator_loss": "generator's masked-LM cross-entropy (nats) at the "
    "masked positions",
    "generator_accuracy": "how often the generator's argmax is the original "
    "token at the masked positions",
    "sampled_accuracy": "how often the generator's sample is the original "
    "token (those count as original for the discriminator)",
    "discriminator_loss": "discriminator's replaced-token cross-entropy "
    "(nats) per real token",
    "discriminator_prior_loss": "the same loss for a discriminator that "
    "knows only the replaced fraction (and that [CLS] and [SEP] are never "
    "replaced): its baseline",
    "discriminator_accuracy": "fraction of real tokens the discriminator "
    "labels right (flagging nothing scores 1 - replaced_fraction)",
    "discriminator_precision": "replaced tokens among those it flags",
    "discriminator_flagged": "tokens it flagged in the window (what "
    "precision rests on)",
    "discriminator_recall": "flagged tokens among those replaced",
    "discriminator_replaced": "tokens replaced in the window (what recall "
    "rests on)",
    "discriminator_auc": "ROC AUC of its scores over the window's tokens "
    "(threshold-free; chance is 0.5)",
    "replaced_fraction": "fraction of real tokens replaced",
    "mlm_loss": "masked-LM cross-entropy (nats) of the MLM baseline",
    "mlm_accuracy": "its accuracy at the masked positions",
}
WINDOW_NOTE = (
    "Every metric is computed over the steps since the previous row (the "
    "window; from the weighted sums of its steps, not an average of "
    "per-step values), never over a running span that a checkpoint "
    "resets."
)


def result(preset, step, history=None, interrupted=None, log=None, warnings=()):
    """What `pretrain()` returns: `history` is the last window's metrics,
    `whole_run` every metric over the run (with the steps each covers)."""
    return {
        "preset": preset,
        "step": step,
        "history": history or {},
        "history_steps": log.last_window_steps if log else None,
        "whole_run": log.whole_run() if log else {},
        "whole_run_steps": (log.whole_run_from, log.step) if log else None,
        "warnings": list(warnings),
        "nan_step": None,
        "interrupted": interrupted,
    }


def describe_metrics(values, counts=None):
    """`values` on one line; a weighted mean named in `counts` (a
    pretrainer's `window_counts`: precision and recall) with the tokens it
    rests on."""
    counts = counts or {}
    shown = []
    for key in sorted(values):
        if key in counts.values():
            continue
        text = f"{key} {values[key]:.4f}"
        if key in counts and counts[key] in values:
            noun = counts[key].rsplit("_", 1)[-1]
            text += f" (of {values[counts[key]]:,.0f} {noun})"
        shown.append(text)
    return ", ".join(shown)


def write_log_columns(run, columns):
    """`log_columns.md`: what the columns of `log.csv` hold."""
    if not run.chief:
        return
    run.record("log_columns.md")
    lines = [
        "# log.csv",
        "",
        WINDOW_NOTE,
        "",
        "| column | what it holds |",
        "|---|---|",
    ]
    for column in columns:
        lines.append(f"| {column} | {LOG_COLUMNS.get(column, '')} |")
    path = file_system.join(run.output, "log_columns.md")
    with file_system.open_file(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    file_system.replace(path + ".tmp", path)


def record_warning(run, warning):
    """Add a health warning to the run's `run.json` (the chief's)."""
    import json

    if not run.chief:
        return
    path = file_system.join(run.output, "run.json")
    with file_system.open_file(path, encoding="utf-8") as f:
        stored = json.load(f)
    stored.setdefault("warnings", []).append(warning)
    with file_system.open_file(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(stored, f, indent=2)
    file_system.replace(path + ".tmp", path)


def describe(run, steps_per_execution=1, background=True):
    """The run's first lines: version, backend, devices, model, schedule,
    checkpoints and steps per host call."""
    import keras

    from keras_electra.utils.backend_setup import describe_devices
    from keras_electra.version import __version__

    config = run.config
    micro = config.gradient_accumulation_steps
    if config.objective == "mlm":
        model = (
            f"Masked-LM encoder {run.pretrainer.backbone.count_params():,} "
            "parameters (the BERT baseline: 80% [MASK], 10% random, 10% kept)"
        )
    else:
        model = describe_towers(run.pretrainer)
    if config.dtype != "float32":
        model += f"; {config.dtype}"
    if config.attention_dropout == 0:
        model += "; fused attention (no attention dropout)"
    if config.pad_vocabulary_to_multiple_of:
        rows = run.pretrainer.backbone.padded_vocabulary_size
        model += f"; token table padded to {rows:,} rows"
    lines = [
        f"keras-electra {__version__} | backend {keras.config.backend()} | "
        f"devices: {describe_devices(keras.config.backend())}",
        model,
        f"Steps {run.start_step} -> {config.steps}, batch "
        f"{config.batch_size} x {config.sequence_length} tokens"
        + (
            f" x {micro} accumulated micro-batches per update"
            if micro > 1
            else ""
        )
        + f", log every {config.log_every} steps",
        f"Checkpoints every {config.checkpoint_every} steps"
        + (
            f" or {config.checkpoint_minutes:g} minutes, "
            if config.checkpoint_minutes
            else ", "
        )
        + (
            "written in the background"
            if background
            else "written before training goes on"
        )
        + f"; {steps_per_execution} "
        + ("step" if steps_per_execution == 1 else "steps")
        + " per host call",
    ]
    if run.distribution_summary:
        lines.append(f"Distribution: {run.distribution_summary}")
    print("\n".join(lines))


def describe_towers(pretrainer):
    """One line on an `ElectraPretrainer`'s towers and corruption."""
    from keras_electra.layers.electra_replacement import get_replacement

    sharing = {
        "tied": "embeddings shared",
        "untied": "own embeddings",
        "gdes": "embeddings shared by GDES",
    }[pretrainer.embedding_sharing]
    strategy = get_replacement(pretrainer.replacement)
    if not strategy.needs_generator:
        sharing += f"; replacement: {strategy.description}"
    if pretrainer.temperature_start is not None:
        sharing += (
            f"; temperature {pretrainer.temperature_start:g} -> "
            f"{pretrainer.temperature:g} over "
            f"{pretrainer.temperature_steps} steps"
        )
    discriminator, generator = parameter_counts.pretrainer_towers(
        pretrainer.backbone.get_config(),
        pretrainer.generator.backbone.get_config(),
        pretrainer.embedding_sharing,
    )
    # Counted as `keras-electra info` counts them (`parameter_counts`):
    # each tower with its head; tied, the generator's count includes the
    # embeddings it shares with the discriminator.
    return (
        f"Discriminator {discriminator.total:,} parameters (with its "
        f"head), generator {generator.total:,} ({sharing})"
    )


def plot_replacements(run, batch):
    """`replaced_tokens.png`: one corrupted sequence of `batch`, what was
    replaced and what the discriminator flags (ELECTRA runs; the chief)."""
    from keras_electra.utils.plotting import plot_discriminator_example

    if not run.chief or run.config.objective != "rtd":
        return
    run.record("replaced_tokens.png")
    plot_discriminator_example(
        run.pretrainer,
        run.tokenizer,
        batch,
        file_system.join(run.output, "replaced_tokens.png"),
    )


def finish(run, step, log=None):
    """Save the final preset (the chief), draw the curves, say where,
    and print the last window's and the whole run's metrics."""
    from keras_electra.utils.plotting import plot_training_curves

    final = file_system.join(run.output, "preset")
    history = log.last_window if log else {}
    warnings = list(run.warnings) + (log.warnings if log else [])
    done = result(final, step, history, log=log, warnings=warnings)
    if not run.chief:
        return done
    run.record("preset", "training_curves.png")
    with processes.chief_alone():
        if file_system.has_scheme(final):
            # Written locally (h5py), copied up, config.json last.
            with preset_utils.atomic_directory(final) as tmp:
                run.pretrainer.save_to_preset(tmp, run.tokenizer)
        else:
            run.pretrainer.save_to_preset(final, run.tokenizer)
    csv_path = file_system.join(run.output, "log.csv")
    png = None
    if file_system.exists(csv_path):
        png = plot_training_curves(
            csv_path,
            file_system.join(run.output, "training_curves.png"),
            title=f"{OBJECTIVE_TITLES[run.config.objective]} ({step} steps)",
            vocabulary_size=run.tokenizer.vocabulary_size(),
            events=[(w["step"], w["kind"]) for w in warnings],
        )
    if run.verbose:
        if history:
            counts = getattr(run.pretrainer, "window_counts", None)
            start, end = done["history_steps"]
            print(
                f"Last window (steps {start}-{end}): "
                f"{describe_metrics(history, counts)}"
            )
            start, end = done["whole_run_steps"]
            print(
                f"Whole run (steps {start}-{end}): "
                f"{describe_metrics(done['whole_run'], counts)}"
            )
        print(f"Done at step {step}. Preset: {final}")
        if png:
            print(f"Training curves: {png}")
        for warning in warnings:
            print(f"Health: {warning['kind']} at step {warning['step']}")
    return done


def interrupted(run, step, stop):
    """After a first Ctrl-C or SIGTERM (this step saved): how to go on."""
    name = signal.Signals(stop.signal).name
    if run.verbose:
        print(
            f"\nStopped at step {step} ({name}); checkpoint saved in "
            f"{file_system.join(run.output, 'checkpoints')}. Continue with:\n"
            f"  keras-electra pretrain --output {run.output} --resume"
        )
    return result(None, step, interrupted=stop.exit_status)
