"""Pictures of a run: training curves, the tokens the discriminator flags,
and confusion matrices."""

import csv

import numpy as np


def read_log(csv_path):
    """Columns of a `TrainingLog` CSV as lists of floats."""
    with open(csv_path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    columns = {}
    for row in rows:
        for key, value in row.items():
            try:
                columns.setdefault(key, []).append(float(value))
            except (TypeError, ValueError):
                pass
    return columns


def plot_training_curves(csv_path, png_path, title=None):
    """Draw loss, generator and discriminator curves from a run's CSV log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = read_log(csv_path)
    steps = log.get("step", [])
    panels = [
        ("Total loss (MLM + 50 x RTD)", ["loss"]),
        ("Generator (MLM)", ["generator_loss", "generator_accuracy"]),
        (
            "Discriminator (RTD)",
            ["discriminator_loss", "discriminator_accuracy"],
        ),
        (
            "Replaced tokens",
            [
                "replaced_fraction",
                "discriminator_precision",
                "discriminator_recall",
            ],
        ),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for ax, (name, keys) in zip(axes.flat, panels):
        for key in keys:
            if key in log and len(log[key]) == len(steps):
                ax.plot(steps, log[key], label=key.replace("_", " "))
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return png_path


def plot_replaced_tokens(tokens, replaced, probabilities, png_path, title=None):
    """Show one sequence: which tokens were replaced, and what was flagged.

    Args:
        tokens: the corrupted sequence as strings.
        replaced: 0/1 per token, 1 where the generator's sample differs.
        probabilities: the discriminator's P(replaced) per token.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_row = 16
    rows = (len(tokens) + per_row - 1) // per_row
    fig, ax = plt.subplots(figsize=(14, 0.6 * rows + 1))
    ax.axis("off")
    for i, (token, truth, p) in enumerate(zip(tokens, replaced, probabilities)):
        x, y = (i % per_row) / per_row, 1 - (i // per_row + 1) / (rows + 1)
        ax.text(
            x,
            y,
            token,
            fontsize=9,
            ha="left",
            va="center",
            color="red" if truth else "black",
            bbox=dict(
                facecolor=plt.cm.Reds(float(p)),
                alpha=0.6,
                pad=2,
                edgecolor="none",
            ),
            transform=ax.transAxes,
        )
    ax.set_title(
        title
        or "Background: discriminator P(replaced); red text: truly replaced"
    )
    fig.savefig(png_path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return png_path


def plot_discriminator_example(pretrainer, tokenizer, batch, png_path, row=0):
    """Corrupt one sequence of `batch` and draw what the discriminator flags."""
    import keras

    out = pretrainer(batch, training=False)
    real = int(keras.ops.convert_to_numpy(out["padding_mask"])[row].sum())
    ids = keras.ops.convert_to_numpy(out["corrupted_ids"])[row, :real]
    labels = keras.ops.convert_to_numpy(out["replaced_labels"])[row, :real]
    logits = keras.ops.convert_to_numpy(out["discriminator_logits"])[row, :real]
    probabilities = 1.0 / (1.0 + np.exp(-logits))
    vocabulary = tokenizer.get_vocabulary()
    tokens = [vocabulary[int(i)] for i in ids]
    return plot_replaced_tokens(tokens, labels, probabilities, png_path)


def plot_confusion_matrix(matrix, class_names, path, title="Confusion matrix"):
    """Save a confusion-matrix PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix)
    size = max(4, 0.5 * len(class_names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(class_names)), class_names, rotation=90)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if len(class_names) <= 12:
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(
                j,
                i,
                str(value),
                ha="center",
                va="center",
                color="white" if value > matrix.max() / 2 else "black",
            )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
