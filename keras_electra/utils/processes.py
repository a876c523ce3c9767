"""Several processes training one model: who they are, how they agree.

Two launchers start one training process per device or host:

- **PyTorch:** `torchrun --nproc_per_node=N keras-electra pretrain ...`
  sets `WORLD_SIZE`, `RANK` and `LOCAL_RANK`; `initialize()` joins
  `torch.distributed` (NCCL on GPUs, gloo on CPUs). Each rank trains on its
  slice of every global batch (`shard_batches`) and `average_gradients`
  averages the gradients over the ranks before each update, the collective
  `DistributedDataParallel` runs (Keras' PyTorch trainer calls the model
  itself, so the `DistributedDataParallel` wrapper, which must own the
  forward pass, cannot be used).
- **JAX, several hosts:** `keras.distribution.initialize()` (TPU pod
  slices find their peers themselves; elsewhere `KERAS_DISTRIBUTION_JOB_
  ADDRESSES`, `..._NUM_PROCESSES`, `..._PROCESS_ID`). Keras then slices
  each global batch per host itself.

Process 0 (the chief) writes the run's files; `any_process` and `barrier`
keep the processes in step (all stop at the same update, none reads a file
before the chief wrote it). With one process every function here is a
no-op.
"""

import contextlib
import os

import numpy as np


def _backend():
    import keras

    return keras.config.backend()


def torchrun_world_size():
    """The process count torchrun launched (1 when not under torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def _torch_group():
    """`torch.distributed` if a process group is up, else None."""
    if _backend() != "torch":
        return None
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist
    return None


def initialize():
    """Join the processes a launcher started; returns their count.

    PyTorch under torchrun: `torch.distributed.init_process_group` (NCCL
    with one GPU per rank, `LOCAL_RANK`'s; gloo on CPUs). JAX:
    `keras.distribution.initialize()` when `KERAS_DISTRIBUTION_NUM_PROCESSES`
    or `KERAS_DISTRIBUTION_JOB_ADDRESSES` is set (call it yourself on a TPU
    pod slice, where the TPU environment says the rest). Call it before the
    backend computes anything.
    """
    backend = _backend()
    if backend == "torch" and torchrun_world_size() > 1:
        import torch
        import torch.distributed as dist

        if not dist.is_initialized():
            if torch.cuda.is_available():
                torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
                dist.init_process_group("nccl")
            else:
                dist.init_process_group("gloo")
    elif backend == "jax" and (
        os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES")
        or os.environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES")
    ):
        import jax
        import keras

        # Asking JAX for its processes would start the backend, after which
        # joining is refused.
        if not jax.distributed.is_initialized():
            keras.distribution.initialize()
    return process_count()


def launched_processes():
    """The process count a launcher asked for, read from its environment
    without starting a backend: torchrun's `WORLD_SIZE`, or
    `KERAS_DISTRIBUTION_NUM_PROCESSES` for JAX hosts (1 otherwise)."""
    if _backend() == "torch":
        return torchrun_world_size()
    if _backend() == "jax":
        return int(os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES") or 1)
    return 1


def _group_info(torch_attribute, jax_attribute, alone):
    """One fact about the processes from torch's group, JAX, or `alone`."""
    dist = _torch_group()
    if dist is not None:
        return getattr(dist, torch_attribute)()
    if _backend() == "jax":
        import jax

        return getattr(jax, jax_attribute)()
    return alone


def process_count():
    """How many processes train together."""
    return _group_info("get_world_size", "process_count", 1)


def process_index():
    """This process's index, 0 for the chief."""
    return _group_info("get_rank", "process_index", 0)


def is_chief():
    """Whether this process writes the run's files."""
    return process_index() == 0


def barrier(name="keras_electra"):
    """Wait until every process reaches this point."""
    if process_count() == 1:
        return
    dist = _torch_group()
    if dist is not None:
        dist.barrier()
        return
    from jax.experimental import multihost_utils

    multihost_utils.sync_global_devices(name)


def any_process(flag):
    """True on every process if `flag` is true on any of them."""
    if process_count() == 1:
        return bool(flag)
    dist = _torch_group()
    if dist is not None:
        import torch

        value = torch.tensor([int(bool(flag))], device=_torch_device())
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())
    from jax.experimental import multihost_utils

    gathered = multihost_utils.process_allgather(np.array([int(bool(flag))]))
    return bool(np.asarray(gathered).any())


@contextlib.contextmanager
def chief_alone():
    """Code the chief runs alone, such as writing a checkpoint.

    On JAX hosts, tensors made under the run's `keras.distribution` are
    placed on every host's devices, which waits for the other hosts; here
    the distribution is set aside. A plain context otherwise.
    """
    if _backend() != "jax" or process_count() == 1:
        yield
        return
    import keras

    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(previous)


def _torch_device():
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def average_gradients(grads):
    """Gradients averaged over the torch ranks (one flat all-reduce).

    The mean of the ranks' gradients, each the gradient of its slice's mean
    loss: the whole batch's gradient when the slices hold equal numbers of
    tokens, as with data-parallel training on TPU cores in the reference.
    Gradients that are None (unused variables) stay None. A no-op except
    under torchrun with several ranks.
    """
    dist = _torch_group()
    if dist is None or dist.get_world_size() == 1:
        return grads
    import torch

    present = [g for g in grads if g is not None]
    if not present:
        return grads
    flat = torch.cat([g.reshape(-1).to(torch.float32) for g in present])
    dist.all_reduce(flat)
    flat = flat / dist.get_world_size()
    averaged, offset = [], 0
    for g in grads:
        if g is None:
            averaged.append(None)
            continue
        size = g.numel()
        averaged.append(flat[offset : offset + size].view_as(g).to(g.dtype))
        offset += size
    return averaged


def sum_over_ranks(state):
    """A metric state (`{name: [numpy arrays]}`, see
    `keras_electra.metrics.metric_window.MetricWindow`) summed over the
    torch ranks, each of which updates its metrics on its own slice of the
    batch; unchanged otherwise (JAX hosts and `tf.distribute` already
    aggregate). Every rank must call it at the same step."""
    dist = _torch_group()
    if dist is None or dist.get_world_size() == 1 or not state:
        return state
    import numpy as np
    import torch

    keys = sorted(state)
    flat = [np.ravel(a) for k in keys for a in state[k]]
    values = torch.tensor(
        np.concatenate(flat), dtype=torch.float64, device=_torch_device()
    )
    dist.all_reduce(values)
    values = values.cpu().numpy()
    out, offset = {}, 0
    for k in keys:
        arrays = []
        for a in state[k]:
            a = np.asarray(a)
            arrays.append(values[offset : offset + a.size].reshape(a.shape))
            offset += a.size
        out[k] = arrays
    return out


def broadcast_weights(model):
    """Copy the chief's weights to every torch rank, as DDP does when it
    wraps a model: the ranks start from one model whatever their seeds."""
    dist = _torch_group()
    if dist is None or dist.get_world_size() == 1:
        return
    import torch

    with torch.no_grad():
        for variable in model.weights:
            value = variable.value
            dist.broadcast(value.data, src=0)


def shard_batches(dataset, count=None, index=None):
    """Each torch rank's slice of every global batch of a `tf.data` dataset.

    Rank `i` of `n` gets rows `[i * b, (i + 1) * b)` of each batch of `n * b`
    rows, as Keras' `DataParallel` slices a batch per JAX host: the slices
    are disjoint, their union is the batch, and a run on `n` ranks sees the
    data a one-process run with the same global batch sees. The data order
    is a function of the seed, so resuming skips whole global batches as
    before.
    """
    if count is None:
        dist = _torch_group()
        if dist is None or dist.get_world_size() == 1:
            return dataset
        count, index = dist.get_world_size(), dist.get_rank()
    if count == 1:
        return dataset
    import tensorflow as tf

    def take(*batch):
        structure = batch if len(batch) > 1 else batch[0]
        first = tf.nest.flatten(structure)[0]
        size = tf.shape(first)[0] // count
        return tf.nest.map_structure(
            lambda x: x[index * size : (index + 1) * size], structure
        )

    return dataset.map(take)
