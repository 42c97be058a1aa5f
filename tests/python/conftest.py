import pytest
from hypothesis import settings
import torch

import analogtorch


def cuda_ready() -> bool:
    return analogtorch.cuda_kernels_available() and torch.cuda.is_available()


DEVICES = ["cpu"] + (["cuda"] if cuda_ready() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    return request.param


requires_cuda = pytest.mark.skipif(not cuda_ready(), reason="needs CUDA kernels and a GPU")


# Fuzzing profiles (tests/python/test_fuzz.py): "ci" is bounded and derandomised, so the test
# command is repeatable; "long" runs 10,000 examples per test (--hypothesis-profile=long).
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True, database=None, print_blob=True)
settings.register_profile("long", max_examples=10_000, deadline=None, print_blob=True)
settings.load_profile("ci")
