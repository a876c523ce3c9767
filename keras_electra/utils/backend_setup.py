"""Loading the Keras backend quietly, and saying which devices it sees.

TensorFlow and XLA print start-up lines through C++ logging before Python
can configure it (oneDNN notices, "Could not find cuda drivers", "failed
call to cuInit" on machines without a GPU); `TF_CPP_MIN_LOG_LEVEL` no longer
hides them. The command line imports the backend and lists its devices
once, with the process's standard error pointed at the null device, and
then prints the backend and devices itself; worker processes that import
TensorFlow afresh start with `start_quiet_worker`. `--verbose` skips this.
"""

import contextlib
import os
import sys


@contextlib.contextmanager
def silenced_stderr():
    """Send file descriptor 2 (C++ and Python) to the null device."""
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def load_backend(verbose=False):
    """Import Keras and its backend, initialise devices; return a summary.

    Python errors raised while importing still show: they propagate after
    standard error is restored.
    """
    context = contextlib.nullcontext() if verbose else silenced_stderr()
    with context:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import keras
        import keras_hub  # noqa: F401 - loads TensorFlow (text) quietly too

        from keras_electra.utils import processes

        # Under torchrun or a JAX multi-host launch, join the other
        # processes before the backend starts computing.
        processes.initialize()
        devices = describe_devices(keras.config.backend())
    return f"backend {keras.config.backend()} | devices: {devices}"


def start_quiet_worker(verbose=False):
    """A worker process's start (a `multiprocessing` pool's initializer):
    import TensorFlow and keras-hub's tokenizers as `load_backend` does,
    their C++ start-up lines hidden unless `verbose`. A worker started with
    `spawn` imports them afresh, and would print them once per worker."""
    context = contextlib.nullcontext() if verbose else silenced_stderr()
    with context:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import keras_hub  # noqa: F401 - TensorFlow (text) and the backend
        import tensorflow  # noqa: F401


def describe_devices(backend):
    """The devices a backend computes on, as a short string."""
    try:
        if backend == "jax":
            import jax

            return ", ".join(str(d) for d in jax.devices())
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                count = torch.cuda.device_count()
                return f"cuda x {count} ({torch.cuda.get_device_name(0)})"
            return "cpu"
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return ", ".join(d.name for d in gpus) or "CPU"
    except Exception:  # noqa: BLE001 - a summary only
        return "unknown"
