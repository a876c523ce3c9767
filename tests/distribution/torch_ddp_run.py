"""Train a small pretrainer 3 steps at a global batch of 8 on PyTorch, in
one process or in each rank that `torchrun` started (its slice of every
batch, gradients averaged over the ranks); the chief writes the losses and
weights to an .npz file. Run by test_distribution.py: once with
`torchrun --nproc_per_node=2`, once alone.

The corruption is given with the data and the generator samples at a
near-zero temperature (its argmax, whatever the Gumbel noise), so one
process and two ranks corrupt alike; every row has as many real tokens and
prediction slots, so the mean of the ranks' mean losses is the batch's.
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "torch"

from keras_electra.utils import processes  # noqa: E402

processes.initialize()

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from jax_mesh_run import IDS  # noqa: E402
from jax_mesh_run import build  # noqa: E402
from jax_mesh_run import data  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from helpers import given_corruption  # noqa: E402


def corrupted_data(rows=24, length=16, slots=3):
    rng = np.random.default_rng(1)
    positions = np.stack(
        [1 + rng.choice(length - 2, slots, replace=False) for _ in range(rows)]
    )
    return given_corruption(data(rows, length), positions, IDS["mask_token_id"])


def main(output):
    keras.utils.set_random_seed(0)
    pretrainer = build(dropout=0.0)
    pretrainer.corruption.temperature = 1e-6
    pretrainer.compile(num_train_steps=3, warmup_steps=1)
    dataset = tf.data.Dataset.from_tensor_slices(corrupted_data()).batch(8)
    shards = processes.shard_batches(dataset)
    rows = [int(b["token_ids"].shape[0]) for b in shards]
    history = pretrainer.fit(shards, epochs=1, shuffle=False, verbose=0)
    if processes.is_chief():
        weights = {
            v.path: keras.ops.convert_to_numpy(v)
            for v in pretrainer.trainable_weights
        }
        np.savez(
            output,
            loss=np.array(history.history["loss"]),
            rows=np.array(rows),
            processes=np.array(processes.process_count()),
            **weights,
        )


if __name__ == "__main__":
    main(sys.argv[1])
