"""`layers/electra_replacement.py`: the registry of what replaces the
chosen tokens, its backend-free import, and a strategy registered from
outside running through a pretrainer's training step."""

import re

import keras
import numpy as np
import pytest
from helpers import random_batch
from helpers import run_without_backend
from helpers import tiny_pretrainer
from helpers import to_numpy

from keras_electra.layers import electra_masking
from keras_electra.layers import electra_replacement
from keras_electra.layers.electra_corruption import ElectraCorruption


def test_registry_lists_the_built_in_strategies():
    registry = electra_replacement.REPLACEMENTS
    assert list(registry) == ["generator", "uniform"]
    assert registry["generator"].needs_generator is True
    assert registry["uniform"].needs_generator is False
    for name, strategy in registry.items():
        assert strategy.name == name
        assert isinstance(strategy.description, str) and strategy.description
        assert electra_replacement.get_replacement(name) is strategy


def test_import_loads_no_backend():
    run_without_backend(
        "import keras_electra.layers.electra_replacement as r\n"
        "assert list(r.REPLACEMENTS) == ['generator', 'uniform']\n"
    )


def test_unknown_names_are_refused_with_the_choices():
    message = re.escape(
        "`replacement` must be one of generator, uniform. Received: 'random'"
    )
    with pytest.raises(ValueError, match=message):
        electra_replacement.get_replacement("random")
    with pytest.raises(ValueError, match=message):
        ElectraCorruption(replacement="random")
    with pytest.raises(ValueError, match="must be one of generator, uniform"):
        tiny_pretrainer(replacement="random")


def _replace(corruption, logits):
    batch, slots = logits.shape[:2]
    positions = np.tile(np.arange(1, slots + 1, dtype="int32"), (batch, 1))
    token_ids = np.full((batch, slots + 2), 7, "int32")
    return corruption.replace(
        logits,
        token_ids,
        positions,
        np.ones((batch, slots), "float32"),
        np.ones_like(token_ids),
    )


def test_built_in_strategies_draw_what_they_drew_before():
    """Same seed, same numbers: the generator's Gumbel-max sample and the
    uniform `randint` draw, from the corruption's seed generator."""
    logits = np.random.default_rng(0).normal(size=(3, 4, 50))
    logits = logits.astype("float32")
    generator = ElectraCorruption(seed=5, temperature=2.0)
    expected = electra_masking.gumbel_sample(
        logits, keras.random.SeedGenerator(5), 2.0
    )
    np.testing.assert_array_equal(
        to_numpy(_replace(generator, logits)["sampled_ids"]),
        to_numpy(expected),
    )
    uniform = ElectraCorruption(seed=5, replacement="uniform")
    expected = keras.random.randint(
        (3, 4), 0, 50, seed=keras.random.SeedGenerator(5), dtype="int32"
    )
    sampled = _replace(uniform, logits)["sampled_ids"]
    assert keras.backend.standardize_dtype(sampled.dtype) == "int32"
    np.testing.assert_array_equal(to_numpy(sampled), to_numpy(expected))


class ArgmaxReplacement(electra_replacement.Replacement):
    """A toy strategy: the generator's most likely token, no sampling."""

    name = "argmax"
    needs_generator = True
    description = "the generator's most likely token"

    def sample(self, generator_logits, seed_generator, temperature):
        from keras import ops

        return ops.cast(ops.argmax(generator_logits, axis=-1), "int32")


def test_a_registered_strategy_trains_a_pretrainer(monkeypatch):
    registry = electra_replacement.REPLACEMENTS
    monkeypatch.setitem(registry, "argmax", ArgmaxReplacement())
    assert electra_replacement.get_replacement("argmax").name == "argmax"
    pretrainer = tiny_pretrainer(replacement="argmax")
    assert pretrainer.replacement == "argmax"
    assert pretrainer.get_config()["replacement"] == "argmax"
    # It needs the generator: the generator's own weights are trainable
    # and move in a training step.
    shared = pretrainer.backbone.embedding.trainable_variables
    own = [
        v
        for v in pretrainer.generator.trainable_variables
        if not any(v is s for s in shared)
    ]
    assert own
    before = [to_numpy(v).copy() for v in own]
    pretrainer.compile(learning_rate=1e-2, num_train_steps=10, warmup_steps=0)
    batch = random_batch(4, 24)
    logs = pretrainer.train_on_batch(batch, return_dict=True)
    assert np.isfinite(logs["loss"])
    moved = max(
        float(np.abs(to_numpy(v) - b).max()) for v, b in zip(own, before)
    )
    assert moved > 0.0
    # The replaced positions hold the argmax of the generator's logits.
    out = pretrainer(batch, training=False)
    positions = to_numpy(out["mask_positions"])
    real = to_numpy(out["mask_weights"]) > 0
    best = to_numpy(out["generator_logits"]).argmax(-1)
    np.testing.assert_array_equal(to_numpy(out["sampled_ids"]), best)
    written = np.take_along_axis(
        to_numpy(out["corrupted_ids"]), positions, axis=1
    )
    np.testing.assert_array_equal(written[real], best[real])
    monkeypatch.delitem(registry, "argmax")
    with pytest.raises(ValueError, match="one of generator, uniform"):
        tiny_pretrainer(replacement="argmax")


def test_a_name_is_registered_once():
    strategy = electra_replacement.REPLACEMENTS["uniform"]
    with pytest.raises(ValueError, match="'uniform' already exists"):
        electra_replacement.register_replacement(strategy)
