"""Accelerator settings that the backends do not choose alike.

TensorFloat-32 (TF32) runs float32 matrix products on the tensor cores of
NVIDIA GPUs from Ampere on (A100, H100, H200), rounding their inputs to 10
bits of mantissa and accumulating in float32: several times the float32
throughput, at a precision that does not change training in practice.
TensorFlow (`tf.config.experimental.tensor_float_32_execution_enabled()`,
True by default since 2.4) and JAX (the default matmul precision for
float32, `jax_default_matmul_precision=None`, is TF32 on recent GPUs) use
it by default; PyTorch does not (`torch.get_float32_matmul_precision()` is
`"highest"`), so a float32 run on PyTorch leaves most of the chip's float32
peak unused. `enable_tf32` closes that gap.
"""

import glob
import os
import shutil
import subprocess

import keras


def enable_tf32(dtype=None):
    """Let PyTorch use TF32 for float32 matmuls and convolutions on CUDA.

    On the torch backend with a CUDA device and a float32 compute dtype,
    sets `torch.set_float32_matmul_precision("high")` (which allows TF32 in
    cuBLAS: `torch.backends.cuda.matmul.allow_tf32` becomes True) and
    `torch.backends.cudnn.allow_tf32 = True`. These are the legacy settings:
    PyTorch raises if they are mixed with its newer `fp32_precision`
    attributes, and Inductor reads them through the legacy getter.

    A no-op everywhere else: on CPU (TF32 is a GPU format), under a mixed or
    half-precision policy (the products already run in 16 bits), and on
    TensorFlow and JAX, which use TF32 on such GPUs by default (see the
    module docstring).

    Args:
        dtype: the dtype policy (or its name) the model computes in; by
            default Keras' global policy (`keras.config.dtype_policy()`).

    Returns:
        True if the settings were changed, else False.

    Example:
    ```python
    from keras_electra.utils.accelerator import enable_tf32

    enable_tf32()  # False on CPU, and on TensorFlow and JAX
    ```
    """
    if keras.config.backend() != "torch":
        return False
    policy = keras.dtype_policies.get(
        keras.config.dtype_policy() if dtype is None else dtype
    )
    if policy.compute_dtype != "float32":
        return False
    import torch

    if not torch.cuda.is_available():
        return False
    torch.set_float32_matmul_precision("high")
    torch.backends.cudnn.allow_tf32 = True
    return True


def describe_accelerator():
    """One line saying which backend computes, on which devices.

    Names the Keras backend and what it computes on: GPUs (count and name),
    TPU devices (count and kind: a core or a chip, as JAX lists them) or
    the CPU alone. When the machine has an
    accelerator that the backend does not use (a GPU seen by `nvidia-smi`
    while the backend sees none, or a TPU under TensorFlow or PyTorch),
    the line says so and what to change. The guides print it first.

    Returns:
        A string, e.g. `"Keras backend jax, computing on 1 GPU (NVIDIA
        T4)."`.

    Example:
    ```python
    from keras_electra.utils.accelerator import describe_accelerator

    print(describe_accelerator())  # "... computing on the CPU only ..."
    ```
    """
    backend = keras.config.backend()
    kind, count, name = _backend_devices(backend)
    line = f"Keras backend {backend}, computing on "
    if kind != "CPU":
        unit = f"{kind} device" if kind == "TPU" else kind
        plural = "s" if count > 1 else ""
        return line + f"{count} {unit}{plural} ({name})."
    line += "the CPU only" + (f" ({count} CPU devices)" if count > 1 else "")
    present = _machine_accelerator()
    if present is None:
        return line + ": no GPU or TPU found."
    found, model = present
    line += f", although this machine has a {found}"
    line += f" ({model})" if model else ""
    if found == "TPU" and backend != "jax":
        return line + ': only JAX computes on it here (KERAS_BACKEND="jax").'
    return (
        line + f": {UNUSED_FIXES[found][backend]}, or choose another backend."
    )


# What makes each backend see an accelerator it misses.
UNUSED_FIXES = {
    "GPU": {
        "jax": 'install JAX\'s CUDA build (pip install -U "jax[cuda12]")',
        "tensorflow": (
            "install TensorFlow's CUDA build "
            '(pip install "tensorflow[and-cuda]")'
        ),
        "torch": "install a CUDA build of PyTorch (see pytorch.org)",
    },
    "TPU": {"jax": 'install JAX\'s TPU build (pip install -U "jax[tpu]")'},
}


def _backend_devices(backend):
    """`(kind, count, name)` of what `backend` computes on; kind is "GPU",
    "TPU" or "CPU"."""
    if backend == "jax":
        import jax

        devices = jax.devices()
        platform = devices[0].platform.lower()
        kind = {"cpu": "CPU", "tpu": "TPU"}.get(platform, "GPU")
        return kind, len(devices), devices[0].device_kind
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            count = torch.cuda.device_count()
            return "GPU", count, torch.cuda.get_device_name(0)
        return "CPU", 1, "CPU"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return "GPU", len(gpus), details.get("device_name", gpus[0].name)
    return "CPU", 1, "CPU"


def _machine_accelerator():
    """`("GPU", name)` or `("TPU", kind or None)` if the machine has one,
    whichever backend runs; None if it has neither (or none is listed)."""
    if shutil.which("nvidia-smi"):
        try:
            done = subprocess.run(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
            )
        except (OSError, subprocess.SubprocessError):
            done = None
        names = done.stdout.split("\n") if done and not done.returncode else []
        names = [n.strip() for n in names if n.strip()]
        if names:
            return "GPU", names[0]
    tpu = os.environ.get("TPU_ACCELERATOR_TYPE")
    if (
        tpu
        or os.environ.get("COLAB_TPU_ADDR")
        or glob.glob("/dev/accel*")
        or glob.glob("/dev/vfio/[0-9]*")
    ):
        return "TPU", tpu
    return None
