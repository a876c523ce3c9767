"""`utils/plotting.py`: curves a person reads right."""

import math

import numpy as np

from keras_electra.utils import plotting


def _log(steps=5, auc=True):
    log = {
        "step": [float(s) for s in range(10, 10 * steps + 1, 10)],
        "loss": [40.0 - s for s in range(steps)],
        "generator_loss": [9.0 - s for s in range(steps)],
        "generator_accuracy": [0.01 * s for s in range(steps)],
        "sampled_accuracy": [0.02 * s for s in range(steps)],
        "discriminator_loss": [0.6 - 0.05 * s for s in range(steps)],
        "discriminator_accuracy": [0.8 + 0.01 * s for s in range(steps)],
        "replaced_fraction": [0.14] * steps,
        "discriminator_precision": [0.5] * steps,
        "discriminator_recall": [0.2] * steps,
    }
    if auc:
        log["discriminator_auc"] = [0.5 + 0.05 * s for s in range(steps)]
    return log


def _lines(ax):
    return {line.get_label(): line.get_ydata() for line in ax.get_lines()}


def test_one_quantity_per_axis_with_labels_and_baselines():
    fig = plotting.training_curves_figure(_log(), vocabulary_size=8000)
    axes = fig.axes
    assert len(axes) == 6
    for ax in axes:
        assert ax.get_ylabel() and ax.get_xlabel() == "step", ax.get_title()
    by_title = {ax.get_title(): _lines(ax) for ax in axes}
    generator = by_title["Generator: masked-LM loss"]
    np.testing.assert_allclose(
        generator["uniform guess (ln 8,000)"], math.log(8000)
    )
    # The loss of knowing only the base rate, and flagging nothing.
    prior = by_title["Discriminator: replaced-token loss"]
    expected = -(0.14 * math.log(0.14) + 0.86 * math.log(0.86))
    np.testing.assert_allclose(
        prior["prior's entropy (base rate only)"], expected
    )
    accuracy = by_title["Discriminator accuracy"]
    np.testing.assert_allclose(accuracy["flag nothing (all original)"], 0.86)
    auc = by_title["Discriminator ROC AUC"]
    np.testing.assert_allclose(auc["chance"], 0.5)
    # Generator accuracy no longer shares an axis with a 0-8 loss.
    assert set(by_title["Generator accuracy at masked tokens"]) == {
        "argmax = original",
        "sample = original",
    }


def test_logs_without_auc_show_precision_and_recall(tmp_path):
    log = _log(auc=False)
    fig = plotting.training_curves_figure(log)
    titles = [ax.get_title() for ax in fig.axes]
    assert "Discriminator precision and recall" in titles
    csv = tmp_path / "log.csv"
    keys = list(log)
    rows = [",".join(keys)] + [
        ",".join(str(log[k][i]) for k in keys) for i in range(5)
    ]
    csv.write_text("\n".join(rows) + "\n")
    png = plotting.plot_training_curves(csv, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 10_000 and png


def test_replaced_tokens_picture(tmp_path):
    tokens = ["[CLS]", "the", "extraordinarily", "##s", "[SEP]"] * 6
    path = plotting.plot_replaced_tokens(
        tokens, [0, 1, 0, 1, 0] * 6, np.linspace(0, 1, 30), tmp_path / "t.png"
    )
    assert (tmp_path / "t.png").stat().st_size > 5_000 and path
