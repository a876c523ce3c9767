"""Several devices: keras.distribution on JAX (data and model parallel over
8 virtual CPU devices) and tf.distribute's MirroredStrategy on TensorFlow
(2 logical CPUs) train to the same weights as one device.

Device counts must be set before a backend starts, so the training runs in
fresh processes (`jax_mesh_run.py`, `tf_mirrored_run.py`), each in its own
backend's run of the suite.
"""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
from helpers import VOCAB_FILE
from helpers import needs_shared

import keras_electra
from keras_electra.utils.distribution import DistributionError
from keras_electra.utils.distribution import make_distribution
from keras_electra.utils.distribution import parse_mesh

jax_only = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="keras.distribution's data and model parallelism need JAX",
)
HERE = pathlib.Path(__file__).parent


def run_script(*args, script="jax_mesh_run.py", backend="jax"):
    env = {**os.environ, "KERAS_BACKEND": backend}
    done = subprocess.run(
        [sys.executable, str(HERE / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@jax_only
def test_data_and_model_parallel_match_one_device():
    result = run_script()
    single, data, model = result["losses"]
    assert data == pytest.approx(single, rel=1e-5)
    assert model == pytest.approx(single, rel=1e-5)
    # Same weights after 3 steps (float32, relative to each tensor's scale).
    assert result["data_parallel_gap"][0] < 1e-5, result["data_parallel_gap"]
    assert result["model_parallel_gap"][0] < 1e-5, result["model_parallel_gap"]
    # The layout map really shards, both towers included.
    shardings = result["shardings"]
    assert shardings["discriminator"] == "P(None, 'model')"
    assert shardings["generator"] == "P(None, 'model')"
    assert shardings["feedforward"] == "P('batch', 'model')"
    assert shardings["query"] == "P('batch', None, 'model')"
    assert set(result["data_parallel_shardings"].values()) <= {
        "P(None, None)",
        "P(None, None, None)",
    }


@jax_only
def test_layout_map_names_a_missing_axis():
    mesh = keras.distribution.DeviceMesh(
        (1,), ("data",), keras.distribution.list_devices()[:1]
    )
    with pytest.raises(ValueError, match="no axis 'model'"):
        keras_electra.ElectraBackbone.get_layout_map(mesh)
    with pytest.raises(ValueError, match="DeviceMesh"):
        keras_electra.ElectraBackbone.get_layout_map("2x4")


@jax_only
@needs_shared
def test_pretrain_job_on_a_mesh_then_resumed_on_one_device(corpus, tmp_path):
    result = run_script("job", corpus, str(VOCAB_FILE), str(tmp_path / "run"))
    assert (
        "Distribution: model parallel on a 2x4 mesh (batch x model) of 8 "
        "device(s); global batch 8, 4 per replica" in result["printed"]
    )
    assert result["first_step"] == 2 and result["resumed_step"] == 4
    assert result["resumed_loss"] is not None
    assert result["distribution_after"] == "None"
    assert "does not split over 8" in result["uneven_batch_error"]


def test_bad_distribution_requests_are_named():
    with pytest.raises(DistributionError, match="BATCHxMODEL"):
        parse_mesh("2by4", 8)
    with pytest.raises(DistributionError, match="needs 6 devices"):
        parse_mesh("2x3", 8)
    assert parse_mesh(None, 8) == (1, 8)
    assert parse_mesh(None, 6) == (3, 2)
    with pytest.raises(DistributionError, match="must be one of"):
        make_distribution("pipeline", batch_size=8)
    with pytest.raises(DistributionError, match="--mesh needs"):
        make_distribution("none", batch_size=8, mesh="2x4")
    assert make_distribution("none", batch_size=8) == (None, None)
    if keras.backend.backend() != "jax":
        with pytest.raises(DistributionError, match="JAX only"):
            make_distribution("model", batch_size=8)
    if keras.backend.backend() == "torch":
        with pytest.raises(DistributionError, match="JAX only"):
            make_distribution("data", batch_size=8)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="tf.distribute needs TensorFlow",
)
def test_mirrored_strategy_logs_and_trains_as_one_device():
    # Each replica gets the same 4 rows and draws the same corruption as
    # one device given those rows. With the loss divided per replica and the
    # gradient clipped after the replicas' sum (not per replica, as Keras
    # does), the strategy's update is the single device's. Measured: the
    # logged losses are equal to the last digit (without the scaling they
    # doubled); the weights after 2 steps differ by at most 4e-4 of each
    # tensor's scale, float noise that Adam's normalisation enlarges where a
    # gradient is a near-cancelling sum (per-replica clipping gave 2.4e-2).
    result = run_script(script="tf_mirrored_run.py", backend="tensorflow")
    np.testing.assert_allclose(
        result["mirrored_losses"], result["single_losses"], rtol=1e-6
    )
    assert result["gap"][0] < 5e-3, result["gap"]


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="tf.distribute needs TensorFlow",
)
@needs_shared
def test_pretrain_job_data_parallel_on_tensorflow(corpus, tmp_path):
    result = run_script(
        "job",
        corpus,
        str(VOCAB_FILE),
        str(tmp_path / "run"),
        script="tf_mirrored_run.py",
        backend="tensorflow",
    )
    assert (
        "Distribution: data parallel over 2 device(s) (tf.distribute."
        "MirroredStrategy); global batch 8, 4 per replica" in result["printed"]
    )
    assert result["first_step"] == 2 and result["resumed_step"] == 4
    # The logged loss is the true mean (it doubled before the scaling).
    assert 10 < result["first_loss"] < 60
