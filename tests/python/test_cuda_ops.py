"""Whether the CUDA kernels were built, and whether they can run here."""

import torch

import analogtorch
from analogtorch import _ops as ops


def test_available_means_built_and_a_gpu_visible(monkeypatch):
    assert isinstance(ops.cuda_kernels_built(), bool)
    assert ops.cuda_kernels_available() == (ops.cuda_kernels_built() and torch.cuda.is_available())
    # Built but no GPU (a CUDA build on a CPU machine): built, not available.
    monkeypatch.setattr(ops, "_CUDA_KERNELS", True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert ops.cuda_kernels_built() is True
    assert ops.cuda_kernels_available() is False
    monkeypatch.setattr(ops, "_CUDA_KERNELS", False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert ops.cuda_kernels_available() is False
    assert {"cuda_kernels_built", "cuda_kernels_available"} <= set(ops.__all__)
    assert analogtorch.cuda_kernels_available is ops.cuda_kernels_available
