"""Pre-training, stage 3: what the run says and leaves behind.

The console's description of a run, the final preset, the training curves
and the replaced-tokens picture, the message of an interrupted run and the
job's result. Reads the `Run` and its log; changes no setting.
"""

import os
import signal

from keras_electra.utils import processes

OBJECTIVE_TITLES = {
    "rtd": "ELECTRA pre-training",
    "mlm": "Masked-LM baseline",
}


def result(preset, step, history=None, interrupted=None):
    """What `pretrain()` returns."""
    return {
        "preset": preset,
        "step": step,
        "history": history or {},
        "nan_step": None,
        "interrupted": interrupted,
    }


def describe(run):
    """The run's first lines: version, backend, devices, model, schedule."""
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
        + f", checkpoint every {config.checkpoint_every} steps",
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
    return (
        f"Discriminator {pretrainer.discriminator.count_params():,} "
        f"parameters, generator {pretrainer.generator.count_params():,} "
        f"({sharing})"
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
        os.path.join(run.output, "replaced_tokens.png"),
    )


def finish(run, step, history):
    """Save the final preset (the chief), draw the curves, say where."""
    from keras_electra.utils.plotting import plot_training_curves

    final = os.path.join(run.output, "preset")
    if not run.chief:
        return result(final, step, history)
    run.record("preset", "training_curves.png")
    with processes.chief_alone():
        run.pretrainer.save_to_preset(final, run.tokenizer)
    csv_path = os.path.join(run.output, "log.csv")
    png = None
    if os.path.exists(csv_path):
        png = plot_training_curves(
            csv_path,
            os.path.join(run.output, "training_curves.png"),
            title=f"{OBJECTIVE_TITLES[run.config.objective]} ({step} steps)",
            vocabulary_size=run.tokenizer.vocabulary_size(),
        )
    if run.verbose:
        print(f"Done at step {step}. Preset: {final}")
        if png:
            print(f"Training curves: {png}")
    return result(final, step, history)


def interrupted(run, step, stop):
    """After a first Ctrl-C or SIGTERM (this step saved): how to go on."""
    name = signal.Signals(stop.signal).name
    if run.verbose:
        print(
            f"\nStopped at step {step} ({name}); checkpoint saved in "
            f"{os.path.join(run.output, 'checkpoints')}. Continue with:\n"
            f"  keras-electra pretrain --output {run.output} --resume"
        )
    return result(None, step, interrupted=stop.exit_status)
