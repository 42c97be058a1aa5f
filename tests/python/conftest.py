import pytest
import torch

import analogtorch


def cuda_ready() -> bool:
    return analogtorch.cuda_kernels_available() and torch.cuda.is_available()


DEVICES = ["cpu"] + (["cuda"] if cuda_ready() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    return request.param


requires_cuda = pytest.mark.skipif(not cuda_ready(), reason="needs CUDA kernels and a GPU")
