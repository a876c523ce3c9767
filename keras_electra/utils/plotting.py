"""Pictures of a run: training curves, the tokens the discriminator flags,
and confusion matrices."""

import csv

import numpy as np

from keras_electra.utils import file_system


def _pyplot():
    """pyplot, drawing off-screen unless a notebook (IPython) shows the
    figures inline."""
    import sys

    import matplotlib

    if "IPython" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path, **kwargs):
    """`fig.savefig`, to a local path or through `file_system` to a URL
    (`gs://...`): matplotlib writes a PNG into the file object."""
    if not file_system.has_scheme(path):
        fig.savefig(path, **kwargs)
        return
    with file_system.open_file(path, "wb") as f:
        fig.savefig(f, format="png", **kwargs)


def read_log(csv_path):
    """Columns of a `TrainingLog` CSV (a local path or a URL) as lists of
    floats."""
    with file_system.open_file(csv_path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    columns = {}
    for row in rows:
        for key, value in row.items():
            try:
                columns.setdefault(key, []).append(float(value))
            except (TypeError, ValueError):
                pass
    return columns


def plot_training_curves(
    csv_path, png_path, title=None, vocabulary_size=None, events=()
):
    """Draw a run's curves from its CSV log (see `training_curves_figure`);
    `events` are `(step, label)` pairs (the health warnings) marked on
    every panel."""
    import matplotlib.pyplot as plt

    log = read_log(csv_path)
    if "mlm_loss" in log:
        fig = masked_lm_curves_figure(log, title, vocabulary_size)
    else:
        fig = training_curves_figure(log, title, vocabulary_size)
    mark_events(fig, events)
    _save(fig, png_path, dpi=100)
    plt.close(fig)
    return png_path


def mark_events(fig, events):
    """A dotted vertical line at each `(step, label)` on every panel,
    labelled in the first panel's legend."""
    for index, (step, label) in enumerate(events):
        for i, ax in enumerate(fig.axes):
            ax.axvline(
                step,
                color=f"C{3 + index}",
                linestyle=":",
                label=f"warning: {label}" if i == 0 else None,
            )
    if events and fig.axes:
        fig.axes[0].legend(fontsize=8)


def _prior_entropy(p):
    """Binary cross-entropy of always predicting the base rate `p` (nats)."""
    p = np.clip(np.asarray(p, "float64"), 1e-6, 1 - 1e-6)
    return -(p * np.log(p) + (1 - p) * np.log(1 - p))


def training_curves_figure(log, title=None, vocabulary_size=None):
    """Six panels, one quantity each, with the baselines that give scale.

    - the total loss (MLM + 50 x RTD);
    - the generator's masked-LM loss, against a uniform guess over the
      vocabulary (`ln V`, when `vocabulary_size` is given);
    - the generator's accuracy at the masked slots: its argmax, and how
      often its sample is the original;
    - the discriminator's loss against its prior (the loss of predicting
      the replaced fraction everywhere but [CLS] and [SEP], which are
      never replaced: below it, the discriminator has learned more than
      the base rate);
    - its accuracy against flagging nothing ("all original", 1 - replaced
      fraction);
    - its ROC AUC against chance (0.5), a threshold-free measure that means
      something even while it flags few tokens (older logs without AUC show
      precision and recall instead).

    Each point is one row of the log: the window of steps since the
    previous row (see `TrainingLog`).
    """
    plt = _pyplot()

    steps = log.get("step", [])

    def series(key):
        values = log.get(key)
        return values if values and len(values) == len(steps) else None

    def draw(ax, key, label, **style):
        values = series(key)
        if values is not None:
            ax.plot(steps, values, label=label, **style)
        return values

    baseline = dict(linestyle="--", color="gray")
    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5))
    ax = axes[0, 0]
    draw(ax, "loss", "total")
    ax.set(title="Total loss (MLM + 50 x RTD)", ylabel="loss")

    ax = axes[0, 1]
    draw(ax, "generator_loss", "generator")
    if vocabulary_size:
        ax.axhline(
            np.log(vocabulary_size),
            label=f"uniform guess (ln {vocabulary_size:,})",
            **baseline,
        )
    ax.set(title="Generator: masked-LM loss", ylabel="cross-entropy (nats)")

    ax = axes[0, 2]
    draw(ax, "generator_accuracy", "argmax = original")
    draw(ax, "sampled_accuracy", "sample = original")
    ax.set(
        title="Generator accuracy at masked tokens",
        ylabel="fraction of masked tokens",
    )

    replaced = series("replaced_fraction")
    ax = axes[1, 0]
    draw(ax, "discriminator_loss", "discriminator")
    prior = series("discriminator_prior_loss")
    if prior is not None:
        ax.plot(
            steps,
            prior,
            label="prior (replaced fraction only; [CLS], [SEP] known)",
            **baseline,
        )
    elif replaced is not None:  # logs of earlier versions
        ax.plot(
            steps,
            _prior_entropy(replaced),
            label="prior's entropy (base rate only)",
            **baseline,
        )
    ax.set(
        title="Discriminator: replaced-token loss",
        ylabel="binary cross-entropy (nats)",
    )

    ax = axes[1, 1]
    draw(ax, "discriminator_accuracy", "discriminator")
    if replaced is not None:
        ax.plot(
            steps,
            1 - np.asarray(replaced),
            label="flag nothing (all original)",
            **baseline,
        )
    ax.set(title="Discriminator accuracy", ylabel="fraction of tokens")

    ax = axes[1, 2]
    if draw(ax, "discriminator_auc", "discriminator") is not None:
        ax.axhline(0.5, label="chance", **baseline)
        ax.set(title="Discriminator ROC AUC", ylabel="AUC")
    else:
        draw(ax, "discriminator_precision", "precision")
        draw(ax, "discriminator_recall", "recall")
        ax.set(
            title="Discriminator precision and recall",
            ylabel="fraction of flagged / replaced tokens",
        )
    for ax in axes.flat:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def masked_lm_curves_figure(log, title=None, vocabulary_size=None):
    """The MLM baseline's two panels: its loss against a uniform guess
    (`ln V`) and its accuracy at the masked positions."""
    plt = _pyplot()

    steps = log.get("step", [])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(steps, log.get("mlm_loss", []), label="masked LM")
    if vocabulary_size:
        left.axhline(
            np.log(vocabulary_size),
            label=f"uniform guess (ln {vocabulary_size:,})",
            linestyle="--",
            color="gray",
        )
    left.set(title="Masked-LM loss", ylabel="cross-entropy (nats)")
    right.plot(steps, log.get("mlm_accuracy", []), label="argmax = original")
    right.set(
        title="Accuracy at the masked positions",
        ylabel="fraction of masked tokens",
    )
    for ax in (left, right):
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_replaced_tokens(tokens, replaced, probabilities, png_path, title=None):
    """Show one sequence: which tokens were replaced, and what was flagged.

    Tokens are laid out in rows, each in a fixed-width cell (long tokens are
    shortened with "..."), shaded by the discriminator's P(replaced) with a
    colour bar; truly replaced tokens have a red frame and bold text.

    Args:
        tokens: the corrupted sequence as strings.
        replaced: 0/1 per token, 1 where the generator's sample differs.
        probabilities: the discriminator's P(replaced) per token.
    """
    plt = _pyplot()

    per_row, width = 12, 11
    rows = max(1, (len(tokens) + per_row - 1) // per_row)
    fig, ax = plt.subplots(figsize=(15, 0.45 * rows + 1.6))
    ax.set_xlim(0, per_row)
    ax.set_ylim(rows, 0)
    ax.axis("off")
    cmap = plt.get_cmap("Blues")
    for i, (token, truth, p) in enumerate(zip(tokens, replaced, probabilities)):
        x, y = i % per_row, i // per_row
        ax.add_patch(
            plt.Rectangle(
                (x + 0.05, y + 0.1),
                0.9,
                0.8,
                facecolor=cmap(float(p)),
                edgecolor="red" if truth else "none",
                linewidth=2.5,
            )
        )
        shown = token if len(token) <= width else token[: width - 3] + "..."
        ax.text(
            x + 0.5,
            y + 0.5,
            shown,
            fontsize=9,
            ha="center",
            va="center",
            color="white" if p > 0.6 else "black",
            fontweight="bold" if truth else "normal",
        )
    bar = fig.colorbar(
        plt.cm.ScalarMappable(norm=plt.Normalize(0, 1), cmap=cmap),
        ax=ax,
        fraction=0.02,
        pad=0.01,
    )
    bar.set_label("discriminator P(replaced)")
    ax.set_title(
        title
        or "One corrupted sequence: shading = discriminator P(replaced); "
        "red frame = truly replaced"
    )
    _save(fig, png_path, dpi=100, bbox_inches="tight")
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
    plt = _pyplot()

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
    _save(fig, path, dpi=100)
    plt.close(fig)
