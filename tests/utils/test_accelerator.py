"""`enable_tf32`: a no-op on CPU and on TensorFlow and JAX."""

import keras
import pytest

from keras_electra.utils.accelerator import enable_tf32

torch_only = pytest.mark.skipif(
    keras.config.backend() != "torch", reason="PyTorch's settings"
)


@pytest.fixture
def torch_precision():
    """Restores PyTorch's float32 matmul and cuDNN settings afterwards."""
    import torch

    saved = (
        torch.get_float32_matmul_precision(),
        torch.backends.cudnn.allow_tf32,
    )
    yield torch
    torch.set_float32_matmul_precision(saved[0])
    torch.backends.cudnn.allow_tf32 = saved[1]


def test_a_no_op_without_cuda_or_on_other_backends():
    if keras.config.backend() == "torch":
        import torch

        if torch.cuda.is_available():
            pytest.skip("a CUDA device is present")
        before = torch.get_float32_matmul_precision()
        assert enable_tf32() is False
        assert torch.get_float32_matmul_precision() == before == "highest"
    else:
        # TensorFlow and JAX use TF32 on Ampere+ GPUs by default.
        assert enable_tf32() is False
        assert enable_tf32("float32") is False


@torch_only
def test_enabled_for_float32_on_cuda_only(torch_precision, monkeypatch):
    torch = torch_precision
    torch.set_float32_matmul_precision("highest")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    # Products already in 16 bits: nothing to change.
    assert enable_tf32("mixed_bfloat16") is False
    assert torch.get_float32_matmul_precision() == "highest"
    assert enable_tf32() is True
    assert torch.get_float32_matmul_precision() == "high"
    assert torch.backends.cuda.matmul.allow_tf32
    assert torch.backends.cudnn.allow_tf32
