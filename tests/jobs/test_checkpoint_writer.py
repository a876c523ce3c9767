"""`CheckpointWriter`: checkpoints copied at their step, written by a
thread; the job's check that a saved state is finite."""

import os

import numpy as np
import pytest
from helpers import tiny_pretrainer
from helpers import to_numpy

import keras_electra
from keras_electra.jobs.checkpoints import CheckpointWriter
from keras_electra.jobs.pretrain_training import _weights_finite


def _model():
    model = tiny_pretrainer()
    model.compile(num_train_steps=10)
    model.optimizer.build(model.trainable_variables)
    return model


@pytest.mark.parametrize("background", [True, False])
def test_a_checkpoint_holds_the_weights_of_its_step(tmp_path, background):
    model = _model()
    writer = CheckpointWriter(
        str(tmp_path), model, None, keep=0, background=background
    )
    writer.prepare()  # the shadow model, before training
    if background:
        assert len(writer.shadow.weights) == len(model.weights)
    else:
        assert writer.shadow is None
    before = [to_numpy(w) for w in model.weights]
    writer.save(3, seconds=1.5)
    # Training goes on at once: the weights change while the thread
    # writes; the checkpoint keeps those of step 3.
    for w in model.trainable_weights:
        w.assign(np.zeros(w.shape, "float32"))
    writer.wait()
    assert writer.saved_step == 3
    folder = tmp_path / "checkpoints" / "ckpt-00000003"
    assert (folder / "state.json").exists()
    loaded = keras_electra.ElectraPretrainer.from_preset(str(folder / "preset"))
    for expected, found in zip(before, loaded.weights, strict=True):
        np.testing.assert_array_equal(to_numpy(found), expected)
    # Nothing else was left in the folder (no temporaries).
    assert os.listdir(tmp_path / "checkpoints") == ["ckpt-00000003"]


def test_a_failed_background_write_is_raised_by_wait(tmp_path):
    model = _model()
    blocker = tmp_path / "checkpoints"
    blocker.write_text("a file where the folder should be")
    writer = CheckpointWriter(str(tmp_path), model, None, keep=0)
    writer.save(1)
    try:
        writer.wait()
    except OSError:
        pass
    else:
        raise AssertionError("the write's error was not raised")
    writer.wait()  # raised once, then cleared


def test_weights_that_are_not_finite_are_found():
    model = _model()
    assert _weights_finite(model)
    weight = model.trainable_weights[0]
    bad = np.array(to_numpy(weight))
    bad.flat[0] = np.nan
    weight.assign(bad)
    assert not _weights_finite(model)
