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
