"""The CUDA kernels are the CPU kernels' twins: same (seed, step), same bits."""

import torch

import analogtorch
from analogtorch import ops

from conftest import requires_cuda


def test_import_works_and_reports_the_cuda_kernels():
    # On a machine without a GPU, importing an extension built with CUDA must still work.
    assert isinstance(analogtorch.cuda_kernels_available(), bool)
    assert hasattr(torch.ops.analogtorch, "pcm_read")


@requires_cuda
def test_cuda_and_cpu_give_identical_bits():
    target = torch.rand(1_000_003, generator=torch.Generator().manual_seed(0)) * 25.0
    results = {}
    for device in ("cpu", "cuda"):
        rng = analogtorch.make_rng_state(123, step=7, device=device)
        g, nu = ops.pcm_program(target.to(device), rng)
        read = ops.pcm_read(g, nu, rng, 86400.0)
        results[device] = [t.cpu() for t in (g, nu, read)]
    for cpu_tensor, cuda_tensor in zip(results["cpu"], results["cuda"]):
        assert torch.equal(cpu_tensor, cuda_tensor)


@requires_cuda
def test_cuda_refuses_mixed_devices():
    g = torch.ones(4, device="cuda")
    rng = analogtorch.make_rng_state(1)  # on the CPU
    try:
        ops.pcm_program(g, rng)
    except RuntimeError as error:
        assert "rng: expected a tensor on the same device as target_us" in str(error)
    else:
        raise AssertionError("mixed devices were accepted")
