"""Regenerate tests/fixtures/reference_logits.json (once, on JAX).

KERAS_BACKEND=jax python tests/make_reference.py
"""

import json
import pathlib

import keras
import numpy as np
from helpers import deterministic_weights
from helpers import random_batch
from helpers import tiny_pretrainer
from helpers import to_numpy

if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    pretrainer = tiny_pretrainer(vocabulary_size=97)
    deterministic_weights(pretrainer, seed=42)
    batch = random_batch(2, 13, vocabulary_size=97, seed=3, num_padding=3)
    mask_positions = np.array([[1, 4, 6], [2, 3, 8]], "int32")
    logits = to_numpy(pretrainer.discriminator(batch))
    gen = to_numpy(
        pretrainer.generator({**batch, "mask_positions": mask_positions})
    )
    out = {
        "backend": keras.config.backend(),
        "vocabulary_size": 97,
        "weights_seed": 42,
        "inputs": {k: v.tolist() for k, v in batch.items()},
        "mask_positions": mask_positions.tolist(),
        "discriminator_logits": logits.tolist(),
        "generator_logits": gen.tolist(),
    }
    path = pathlib.Path(__file__).parent / "fixtures" / "reference_logits.json"
    path.write_text(json.dumps(out) + "\n")
    print(f"wrote {path}")
