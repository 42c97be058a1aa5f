"""The CUDA kernels are the CPU kernels' twins: same (seed, step), same bits, for every op.

These run where a GPU is present (the CUDA kernels are compiled in CI, which has no GPU)."""

import torch

import analogtorch
from analogtorch import ops
from analogtorch.config import PCMDevice

from conftest import requires_cuda

N = 200_003


def both_devices(fn):
    """Runs fn(device) on the CPU and on CUDA and checks that every output has the same bits."""
    cpu, cuda = fn("cpu"), fn("cuda")
    cpu = cpu if isinstance(cpu, (tuple, list)) else (cpu,)
    cuda = cuda if isinstance(cuda, (tuple, list)) else (cuda,)
    for index, (a, b) in enumerate(zip(cpu, cuda)):
        assert torch.equal(a, b.cpu()), f"output {index} differs between CPU and CUDA"


def state(device, seed=0):
    generator = torch.Generator().manual_seed(seed)
    g_plus = (torch.rand(N, generator=generator) * 15).to(device)
    g_minus = (torch.rand(N, generator=generator) * 15).to(device)
    v_c = (0.3 + 0.6 * torch.rand(N, generator=generator)).to(device)
    delta = ((torch.rand(N, generator=generator) - 0.5) * 0.3).to(device)
    variation = ops.cell_variation(analogtorch.make_rng_state(9, device=device), (N,))
    return g_plus, g_minus, v_c, delta, variation


def test_import_works_and_reports_the_cuda_kernels():
    # On a machine without a GPU, importing an extension built with CUDA must still work.
    assert isinstance(analogtorch.cuda_kernels_available(), bool)
    assert hasattr(torch.ops.analogtorch, "pcm_read")


@requires_cuda
def test_pcm_ops_give_identical_bits():
    def run(device):
        target = (torch.rand(N, generator=torch.Generator().manual_seed(0)) * 20).to(device)
        rng = analogtorch.make_rng_state(123, step=7, device=device)
        closed = ops.pcm_program(target, rng)
        opened = ops.pcm_program(target, rng, PCMDevice(programming="open_loop"))
        read = ops.pcm_read(closed.conductance_us, closed.drift_nu, rng, 86400.0)
        aware = ops.hardware_aware_read(target - 10.0, rng)
        aware_open = ops.hardware_aware_read(target - 10.0, rng, PCMDevice(programming="open_loop"))
        moments = ops.pcm_read_moments(closed.conductance_us, closed.drift_nu, 86400.0)
        noisy = ops.add_read_noise(target, moments[1], rng)
        return (*closed, *opened, read, *aware, *aware_open, *moments, noisy)

    both_devices(run)


@requires_cuda
def test_capacitor_and_unit_cell_ops_give_identical_bits():
    def run(device):
        g_plus, g_minus, v_c, delta, variation = state(device)
        rng = analogtorch.make_rng_state(5, step=3, device=device)
        update = ops.capacitor_update(v_c, variation, delta, rng, -1)
        leak = ops.capacitor_leak(v_c, 1e-3)
        v_step, weight = v_c.clone(), torch.empty_like(v_c)
        pulses = ops.capacitor_step_(v_step, weight, g_plus, g_minus, variation, delta, rng, 1,
                                     elapsed_s=64e-6, gain_f=3.0, scale_us_per_unit=30.0)  # fmt: skip
        w = ops.unit_cell_weight(g_plus, g_minus, v_c, variation, -1, scale_us_per_unit=30.0)
        moved = ops.transfer(g_plus, g_minus, v_c, variation, rng, 1, time_since_programming_s=0.008)
        return (variation, *update, leak, v_step, weight, pulses, w, *moved)

    both_devices(run)


@requires_cuda
def test_pcm_pair_and_converter_ops_give_identical_bits():
    def run(device):
        g_plus, g_minus, _, delta, _ = state(device, seed=1)
        rng = analogtorch.make_rng_state(6, step=11, device=device)
        weight = torch.empty_like(g_plus)
        pulses, refreshed = ops.pcm_pair_step_(g_plus, g_minus, weight, delta * 30, rng, gain_f=3.0,
                                               scale_us_per_unit=30.0, amplitude=0.05, max_pulses=15, refresh_us=12.0)  # fmt: skip
        x = torch.randn(N, generator=torch.Generator().manual_seed(2)).to(device)
        quantized = ops.quantize(x, rng, bits=8, bound=2.0, noise_std=0.04)
        return g_plus, g_minus, weight, pulses, refreshed, quantized

    both_devices(run)


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


@requires_cuda
def test_an_in_situ_layer_trains_on_cuda_like_on_the_cpu():
    from torch import nn

    from analogtorch import AnalogLinear, presets
    from analogtorch.optim import AnalogSGD

    def run(device):
        torch.manual_seed(0)
        layer = AnalogLinear(20, 5, config=presets.ambrogio2018(transfer_every=16)).to(device)
        x = torch.rand(64, 20, generator=torch.Generator().manual_seed(1)).to(device)
        labels = torch.arange(64).remainder(5).to(device)
        optimizer = AnalogSGD(layer.parameters(), lr=0.5)
        for i in range(0, 64, 8):
            loss = nn.functional.cross_entropy(layer(x[i : i + 8]), labels[i : i + 8])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        tile = layer.tiles["weight"][0]
        return tile.g_plus_us, tile.g_minus_us, tile.v_c

    # The GEMMs differ between CPU and cuBLAS, so gradients (and pulses) may differ in the last bits:
    # compare the device state statistically rather than bitwise.
    cpu, cuda = run("cpu"), run("cuda")
    for a, b in zip(cpu, cuda):
        torch.testing.assert_close(a, b.cpu(), rtol=0.05, atol=0.05)
