"""Train a small pretrainer 2 steps under `tf.distribute.MirroredStrategy`
on 2 logical CPU devices, each replica given the same 4 rows, and on one
device with those 4 rows; print the logged losses and the weight gap as
JSON. Run by test_distribution.py in a fresh process (its folder on
sys.path), because logical devices must be set up before TensorFlow
starts."""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"

import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from jax_mesh_run import build  # noqa: E402
from jax_mesh_run import data  # noqa: E402
from jax_mesh_run import run_job  # noqa: E402
from jax_mesh_run import worst_gap  # noqa: E402

STEPS = int(os.environ.get("MIRRORED_STEPS", "2"))


def train(strategy, rows):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        pretrainer = build(dropout=0.0)
        pretrainer.compile(num_train_steps=3, warmup_steps=1)
    losses = []
    for step in range(STEPS):
        batch = {k: v[4 * step : 4 * step + 4] for k, v in data(12).items()}
        if rows == 8:  # the same 4 rows for each of the two replicas
            batch = {k: np.concatenate([v, v]) for k, v in batch.items()}
        logs = pretrainer.fit(
            batch, batch_size=rows, epochs=1, shuffle=False, verbose=0
        )
        losses.append(float(logs.history["loss"][-1]))
    weights = [np.asarray(v.numpy()) for v in pretrainer.trainable_weights]
    names = [v.path for v in pretrainer.trainable_weights]
    return losses, weights, names


def job(corpus, vocabulary, output):
    """The pretrain job with --distribution data on the 2 logical CPUs for
    2 steps, then resumed without a distribution to step 4."""
    json.dump(run_job(corpus, vocabulary, output, "data"), sys.stdout)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "job":
        return job(*sys.argv[2:5])
    single = train(tf.distribute.get_strategy(), 4)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    mirrored = train(strategy, 8)
    json.dump(
        {
            "single_losses": single[0],
            "mirrored_losses": mirrored[0],
            "gap": worst_gap(single[2], single[1], mirrored[1], floor=1e-2),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
