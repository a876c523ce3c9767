"""Choosing how a run spreads over devices: none, data or model parallel.

Data and model parallelism go through Keras' own `keras.distribution`
(`DataParallel`, `ModelParallel` with the layout map the caller passes),
which Keras implements on JAX, over every device of every host
(`utils/processes.py` joins the hosts). On TensorFlow, data parallelism is
`tf.distribute.MirroredStrategy`; on PyTorch, it is one process per device
launched by `torchrun`, averaging gradients with `torch.distributed`.
"""

import re

from keras_electra.utils import processes
from keras_electra.utils.option_errors import OptionError

KINDS = ("none", "data", "model")


class DistributionError(OptionError):
    """A distribution request that cannot run here, with what to do (its
    options named as the caller knows them: see `OptionError`)."""


def parse_mesh(mesh, device_count):
    """'BxM' -> (B, M); `None` -> (device_count // M, M) with M the largest
    of 8, 4, 2, 1 that divides the devices (the model axis)."""
    if mesh is None:
        model = next(m for m in (8, 4, 2, 1) if device_count % m == 0)
        return device_count // model, model
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", str(mesh))
    if not match:
        raise DistributionError(
            "{o.mesh} must look like BATCHxMODEL, e.g. 2x4. Received: {mesh!r}",
            mesh=mesh,
        )
    batch, model = int(match.group(1)), int(match.group(2))
    if batch < 1 or model < 1 or batch * model != device_count:
        raise DistributionError(
            "The mesh {batch}x{model} needs {needed} devices, but there "
            "are {count}. Pick two factors of {count}.",
            batch=batch,
            model=model,
            needed=batch * model,
            count=device_count,
        )
    return batch, model


def make_distribution(kind, batch_size, mesh=None, layout_map=None):
    """A distribution to enter with `.scope()` (or None) and a summary line.

    JAX: a `keras.distribution` `DataParallel` or `ModelParallel`;
    TensorFlow, data parallel: a `tf.distribute.MirroredStrategy`.

    Args:
        kind: "none", "data" or "model".
        batch_size: the global batch; it must split evenly over the
            data-parallel replicas.
        mesh: "BxM" for model parallelism (default: every device, the model
            axis as wide as 8, 4 or 2 devices allow).
        layout_map: for "model", a function of a `keras.distribution.
            DeviceMesh` returning the model's `LayoutMap` (the job passes
            `ElectraBackbone.get_layout_map`; utilities know no model).
    """
    import keras

    if kind not in KINDS:
        raise DistributionError(
            "{o.distribution} must be one of {kinds}. Received: {kind!r}",
            kinds=", ".join(KINDS),
            kind=kind,
        )
    backend = keras.config.backend()
    if backend == "torch" and processes.torchrun_world_size() > 1:
        return _torchrun(kind, batch_size, mesh)
    if kind == "none" and processes.launched_processes() > 1:
        kind = "data"  # JAX hosts launched together train one model
    if kind == "none":
        if mesh is not None:
            raise DistributionError(
                "{o.mesh} needs {o.distribution} model (or data)."
            )
        return None, None
    if kind == "data" and mesh is not None:
        raise DistributionError(
            "{o.mesh} is for {o.distribution} model; data parallelism uses "
            "every device."
        )
    if backend == "tensorflow" and kind == "data":
        distribution, replicas, summary = _mirrored()
    elif backend != "jax":
        raise DistributionError(
            "{o.distribution} {kind} runs through keras.distribution, which "
            "Keras implements on JAX only; this run uses {backend}. Use the "
            "JAX backend (on TensorFlow, {o.distribution} data uses "
            "tf.distribute.MirroredStrategy; on PyTorch, launch one process "
            "per device: torchrun --nproc_per_node=N $(which keras-electra) "
            "pretrain --backend torch ...).",
            kind=kind,
            backend=backend,
        )
    elif kind == "data":
        processes.initialize()
        devices = keras.distribution.list_devices()
        replicas = len(devices)
        distribution = keras.distribution.DataParallel(devices=devices)
        summary = f"data parallel over {replicas} device(s)" + _hosts()
    else:
        if layout_map is None:
            raise ValueError(
                "Model parallelism needs the model's `layout_map` function "
                "(e.g. `ElectraBackbone.get_layout_map`)."
            )
        processes.initialize()
        devices = keras.distribution.list_devices()
        replicas, model = parse_mesh(mesh, len(devices))
        device_mesh = keras.distribution.DeviceMesh(
            (replicas, model), ("batch", "model"), devices
        )
        distribution = keras.distribution.ModelParallel(
            layout_map=layout_map(device_mesh),
            batch_dim_name="batch",
        )
        summary = (
            f"model parallel on a {replicas}x{model} mesh (batch x model) "
            f"of {len(devices)} device(s)" + _hosts()
        )
    if batch_size % replicas:
        raise DistributionError(
            "The batch of {batch} does not split over {replicas} "
            "data-parallel replicas. Pass a {o.batch_size} that is a "
            "multiple of {replicas}.",
            batch=batch_size,
            replicas=replicas,
        )
    summary += (
        f"; global batch {batch_size}, {batch_size // replicas} per replica"
    )
    return distribution, summary


def _hosts():
    count = processes.process_count()
    return f" on {count} hosts" if count > 1 else ""


def _torchrun(kind, batch_size, mesh):
    """PyTorch under torchrun: data parallel over its processes."""
    if kind == "model" or mesh is not None:
        raise DistributionError(
            "Under torchrun, PyTorch trains data parallel (one process per "
            "device); model parallelism ({o.distribution} model, {o.mesh}) "
            "needs the JAX backend."
        )
    world = processes.initialize()
    if batch_size % world:
        raise DistributionError(
            "The batch of {batch} does not split over {world} torchrun "
            "processes. Pass a {o.batch_size} that is a multiple of {world}.",
            batch=batch_size,
            world=world,
        )
    import torch.distributed as dist

    return None, (
        f"data parallel over {world} torchrun processes (torch.distributed, "
        f"{dist.get_backend()}); global batch {batch_size}, "
        f"{batch_size // world} per process"
    )


def _mirrored():
    """TensorFlow's data parallelism: `tf.distribute.MirroredStrategy` over
    the GPUs, else the (logical) CPUs, with its replica count and summary.
    Its `scope()` is what the pretrain job enters, as with a
    `keras.distribution` object."""
    import tensorflow as tf

    devices = tf.config.list_logical_devices("GPU") or (
        tf.config.list_logical_devices("CPU")
    )
    strategy = tf.distribute.MirroredStrategy([d.name for d in devices])
    replicas = strategy.num_replicas_in_sync
    return (
        strategy,
        replicas,
        (
            f"data parallel over {replicas} device(s) (tf.distribute."
            "MirroredStrategy)"
        ),
    )
