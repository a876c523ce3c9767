"""Train a small pretrainer 3 steps on one device, data parallel over 8
virtual CPU devices and model parallel on a 2x4 mesh; print the results as
JSON. Run by test_distribution.py in a fresh process, because the
device count must be set before JAX starts."""

import json
import os
import sys

if __name__ == "__main__":
    os.environ["KERAS_BACKEND"] = "jax"
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_electra  # noqa: E402

IDS = dict(pad_token_id=0, cls_token_id=2, sep_token_id=3, mask_token_id=4)


def data(rows=24, length=16):
    rng = np.random.default_rng(0)
    token_ids = rng.integers(5, 200, (rows, length)).astype("int32")
    token_ids[:, 0], token_ids[:, -1] = 2, 3
    return {
        "token_ids": token_ids,
        "segment_ids": np.zeros_like(token_ids),
        "padding_mask": np.ones_like(token_ids),
    }


def build(dropout=0.1):
    return keras_electra.ElectraPretrainer.from_towers_config(
        vocabulary_size=200,
        discriminator_config=dict(
            num_layers=2,
            num_heads=4,
            hidden_dim=32,
            intermediate_dim=64,
            embedding_dim=16,
            max_sequence_length=16,
            dropout=dropout,
        ),
        generator_config=dict(
            num_layers=1, num_heads=4, hidden_dim=16, intermediate_dim=32
        ),
        seed=5,
        **IDS,
    )


def train(distribution):
    keras.distribution.set_distribution(distribution)
    keras.utils.set_random_seed(0)
    pretrainer = build()
    pretrainer.compile(num_train_steps=3, warmup_steps=1)
    history = pretrainer.fit(
        data(), batch_size=8, epochs=1, shuffle=False, verbose=0
    )
    weights = [
        np.asarray(keras.ops.convert_to_numpy(v)) for v in pretrainer.weights
    ]

    def spec(variable):
        sharding = variable.value.sharding
        return str(getattr(sharding, "spec", "single device"))

    shardings = {
        tower: spec(
            getattr(pretrainer, tower).backbone.token_embedding.embeddings
        )
        for tower in ("discriminator", "generator")
    }
    block = pretrainer.discriminator.backbone.transformer_layers[0]
    shardings["feedforward"] = spec(
        block._feedforward_intermediate_dense.kernel
    )
    shardings["query"] = spec(block._self_attention_layer.query_dense.kernel)
    keras.distribution.set_distribution(None)
    names = [v.path for v in pretrainer.weights]
    return history.history["loss"][-1], weights, shardings, names


def job_settings(corpus, vocabulary):
    """The pretrain job's arguments for the distribution runs."""
    return dict(
        preset="electra_tiny",
        corpus=corpus,
        vocabulary=vocabulary,
        batch_size=8,
        sequence_length=32,
        checkpoint_every=2,
        log_every=1,
    )


def run_job(corpus, vocabulary, output, distribution, mesh=None):
    """The pretrain job for 2 steps under `distribution`, resumed on one
    device to step 4, then under `distribution` again to step 6
    (checkpoints do not depend on the device count)."""
    import contextlib
    import io

    from keras_electra.jobs.pretrain import pretrain

    common = job_settings(corpus, vocabulary)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        first = pretrain(
            output, steps=2, distribution=distribution, mesh=mesh, **common
        )
    with contextlib.redirect_stdout(io.StringIO()):
        resumed = pretrain(output, steps=4, resume=True, verbose=0, **common)
        # ... and back onto the devices.
        again = pretrain(
            output,
            steps=6,
            resume=True,
            verbose=0,
            distribution=distribution,
            mesh=mesh,
            **common,
        )
    return {
        "again_step": again["step"],
        "again_loss": again["history"].get("loss"),
        "printed": printed.getvalue(),
        "first_step": first["step"],
        "first_loss": first["history"].get("loss"),
        "resumed_step": resumed["step"],
        "resumed_loss": resumed["history"].get("loss"),
    }


def worst_gap(names, reference, other, floor=1e-12):
    """The largest `max |a - b| / max(max |a|, floor)` over the tensors,
    and its name. Attention key biases are left out: softmax ignores them,
    so their true gradient is zero and Adam turns float noise into updates
    of the learning rate's size, different on any change of reduction
    order."""
    gaps = {
        name: float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), floor))
        for name, a, b in zip(names, reference, other)
        if not name.endswith("key/bias")
    }
    worst = max(gaps, key=gaps.get)
    return gaps[worst], worst


def job(corpus, vocabulary, output):
    """The job on a 2x4 mesh, resumed on one device; and a batch that does
    not split over the 8 data-parallel replicas."""
    from keras_electra.jobs.pretrain import pretrain

    result = run_job(corpus, vocabulary, output, "model", mesh="2x4")
    try:
        pretrain(
            output + "_uneven",
            distribution="data",
            **{**job_settings(corpus, vocabulary), "batch_size": 12},
        )
        result["uneven_batch_error"] = ""
    except ValueError as e:
        result["uneven_batch_error"] = str(e)
    result["distribution_after"] = str(keras.distribution.distribution())
    json.dump(result, sys.stdout)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "job":
        return job(*sys.argv[2:5])
    devices = keras.distribution.list_devices()
    assert len(devices) == 8, devices
    single = train(None)
    data_parallel = train(keras.distribution.DataParallel(devices=devices))
    mesh = keras.distribution.DeviceMesh((2, 4), ("batch", "model"), devices)
    layout_map = keras_electra.ElectraBackbone.get_layout_map(mesh)
    model_parallel = train(
        keras.distribution.ModelParallel(
            layout_map=layout_map, batch_dim_name="batch"
        )
    )

    json.dump(
        {
            "losses": [single[0], data_parallel[0], model_parallel[0]],
            "data_parallel_gap": worst_gap(
                single[3], single[1], data_parallel[1]
            ),
            "model_parallel_gap": worst_gap(
                single[3], single[1], model_parallel[1]
            ),
            "shardings": model_parallel[2],
            "data_parallel_shardings": data_parallel[2],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
