"""The converter op (DAC/ADC) quantize and its straight-through backward, docs/physics.md section 3.

    y = Q(clip(x + noise_std * bound * N(0,1), -bound, bound)),  Q: round to the nearest of
    k * bound / (2^(bits-1) - 1), k integer (bits = 0: no rounding); NaN propagates.
    dy/dx = 1 where |x| <= bound, else 0 (straight through the rounding and the noise).

Tolerances are stated per test; every draw uses a fixed seed, so a pass is repeatable.
"""

import pytest
import torch
from scipy import stats

import analogtorch
from analogtorch import ops

N = 200_000


def rng(seed: int, step: int = 0, device: str = "cpu") -> torch.Tensor:
    return analogtorch.make_rng_state(seed, step, device=device)


def levels(bits: int) -> int:
    return 2 ** (bits - 1) - 1


def grid_step(bits: int, bound: float) -> torch.Tensor:
    """The kernel's step, bound / levels computed in double and stored as float32."""
    return torch.tensor(bound / levels(bits), dtype=torch.float32)


def no_ties(x: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
    """x moved off the half-way points between grid levels, where round-half-even (torch.round) and
    round-half-up (the kernel) legitimately differ: keeps |x/step - (k + 1/2)| > 1e-3."""
    fraction = torch.frac((x / step).abs())
    near = (fraction - 0.5).abs() < 1e-3
    return torch.where(near, x + torch.sign(x) * 2e-3 * step, x)


def reference(x: torch.Tensor, bits: int, bound: float) -> torch.Tensor:
    clipped = torch.clamp(x, -bound, bound)
    if bits == 0:
        return clipped
    step = grid_step(bits, bound)
    return torch.round(clipped / step) * step


# --- rounding and clipping --------------------------------------------------------------------------


@pytest.mark.parametrize("bits, bound", [(8, 1.0), (8, 10.0), (4, 0.5), (2, 3.0), (16, 1.0)])
def test_output_lies_on_the_grid_and_rounds_to_nearest(bits, bound):
    gen = torch.Generator().manual_seed(bits)
    step = grid_step(bits, bound)
    x = no_ties(torch.randn(N, generator=gen) * bound, step)  # about 30% beyond the bound: clipped
    y = ops.quantize(x, rng(1), bits=bits, bound=bound)
    assert y.dtype == torch.float32 and y.shape == x.shape
    # On the grid: k * bound / levels with integer |k| <= levels.
    k = y.double() / step.double()
    assert (k - k.round()).abs().max() < 1e-3
    assert k.round().abs().max() <= levels(bits)
    assert y.abs().max() <= bound
    # Nearest level (away from ties): identical to the PyTorch reference.
    torch.testing.assert_close(y, reference(x, bits, bound), rtol=0, atol=0)
    assert (y - torch.clamp(x, -bound, bound)).abs().max() <= step / 2 + 1e-6


@pytest.mark.parametrize("bits", [20, 24])
def test_fine_grids_stay_within_the_bound_and_half_a_step(bits):
    # Above ~20 bits the grid is finer than float32 resolves near the bound, so levels are not exact
    # multiples any more; the output must still stay within the bound and within half a step
    # (plus one float32 ulp of the bound, 6e-8) of the clipped input.
    x = torch.cat([torch.rand(N, generator=torch.Generator().manual_seed(bits)) * 2.2 - 1.1,
                   torch.tensor([1.0, -1.0, 0.99999994, -0.99999994])])  # fmt: skip
    y = ops.quantize(x, rng(1), bits=bits, bound=1.0)
    assert y.abs().max() <= 1.0
    error = (y - torch.clamp(x, -1.0, 1.0)).double().abs()
    assert error.max() <= grid_step(bits, 1.0).item() / 2 + 6e-8


def test_bits_8_reaches_exactly_the_bounds_and_zero():
    x = torch.tensor([-5.0, -1.0, -1.0 / 254 + 1e-6, 0.0, 1.0 / 254 - 1e-6, 1.0, 7.0, 1e30, -1e30])
    y = ops.quantize(x, rng(0), bits=8, bound=1.0)
    assert y.tolist()[:4] == [-1.0, -1.0, 0.0, 0.0] and y.tolist()[4:] == [0.0, 1.0, 1.0, 1.0, -1.0]


def test_bits_0_only_clips():
    x = torch.randn(N, generator=torch.Generator().manual_seed(2)) * 3.0
    for bound in (0.5, 1.0, 2.5):
        y = ops.quantize(x, rng(2), bits=0, bound=bound)
        assert torch.equal(y, torch.clamp(x, -bound, bound))


def test_infinities_saturate_and_nan_propagates():
    # A converter is a read: it checks no values (no host read); NaN has no reading and stays NaN,
    # never a clipped or rounded number, and leaves the other elements as they were.
    x = torch.tensor([0.3, float("inf"), -float("inf"), -0.7])
    for bits, noise_std in ((8, 0.0), (0, 0.0), (8, 0.04)):
        y = ops.quantize(x, rng(3), bits=bits, bound=1.0, noise_std=noise_std)
        assert y[1] == 1.0 and y[2] == -1.0 and torch.isfinite(y).all()
        with_nan = ops.quantize(torch.cat([x, torch.tensor([float("nan")])]), rng(3), bits=bits, noise_std=noise_std)
        assert torch.isnan(with_nan[4]) and torch.equal(with_nan[:4], y)


def test_empty_and_strided_inputs():
    rng_state = rng(4)
    assert ops.quantize(torch.empty(0, 3), rng_state).shape == (0, 3)
    x = torch.randn(64, 32, generator=torch.Generator().manual_seed(4))
    a = ops.quantize(x.t(), rng_state, noise_std=0.04)
    b = ops.quantize(x.t().contiguous(), rng_state, noise_std=0.04)
    assert torch.equal(a, b)  # element i of the logical (row-major) order draws the same number


# --- noise ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bound", [1.0, 4.0])
def test_noise_is_gaussian_with_std_relative_to_bound(bound):
    # Interior points only (|x| <= 0.5 bound, > 12 sigma from the clip): y - x = 0.04 bound z.
    x = (torch.rand(N, generator=torch.Generator().manual_seed(5)) - 0.5) * bound
    noise = (ops.quantize(x, rng(6), bits=0, bound=bound, noise_std=0.04) - x).double()
    sigma = 0.04 * bound
    # Mean: standard error sigma / sqrt(N) = 0.0022 sigma, tolerance 0.012 sigma; std: se 0.0016.
    assert abs(noise.mean().item()) < 0.012 * sigma
    assert abs(noise.std().item() / sigma - 1.0) < 0.01
    # float32 rounding of x + noise is ~1e-7 bound, far below the KS resolution (1 / sqrt(N)).
    assert stats.kstest(noise.numpy(), "norm", args=(0.0, sigma)).pvalue > 1e-3


def test_noise_is_fresh_per_step_and_repeatable_per_state():
    x = torch.zeros(50_000)
    a = ops.quantize(x, rng(7, 3), bits=0, noise_std=0.04)
    b = ops.quantize(x, rng(7, 3), bits=0, noise_std=0.04)
    c = ops.quantize(x, rng(7, 4), bits=0, noise_std=0.04)
    d = ops.quantize(x, rng(8, 3), bits=0, noise_std=0.04)
    assert torch.equal(a, b)
    assert not torch.equal(a, c) and not torch.equal(a, d)
    # Fresh draws are independent: correlation ~0 (se 0.0045).
    assert abs(torch.corrcoef(torch.stack([a, c]))[0, 1].item()) < 0.025
    # Without noise the rng is not used at all.
    assert torch.equal(ops.quantize(x + 0.3, rng(7, 3)), ops.quantize(x + 0.3, rng(99, 12)))


def test_noise_then_clip_then_round():
    # With noise and 8 bits: outputs still on the grid and within the bound; with the same draws,
    # the result is the rounding of the noisy value computed with bits = 0.
    x = torch.randn(N, generator=torch.Generator().manual_seed(9)) * 0.8
    state = rng(10)
    noisy = ops.quantize(x, state, bits=0, noise_std=0.1)
    y = ops.quantize(x, state, bits=8, noise_std=0.1)
    step = grid_step(8, 1.0)
    assert y.abs().max() <= 1.0
    k = y.double() / step.double()
    assert (k - k.round()).abs().max() < 1e-3
    away_from_ties = (torch.frac((noisy / step).abs()) - 0.5).abs() > 1e-3
    torch.testing.assert_close(y[away_from_ties], reference(noisy, 8, 1.0)[away_from_ties], rtol=0, atol=0)


def test_results_do_not_depend_on_the_cpu_thread_count():
    x = torch.randn(300_000, generator=torch.Generator().manual_seed(11))  # > 2 grains of 32768
    previous = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            results.append(ops.quantize(x, rng(12, 1), bits=6, bound=1.5, noise_std=0.04))
    finally:
        torch.set_num_threads(previous)
    assert torch.equal(*results)


# --- straight-through gradient ----------------------------------------------------------------------


@pytest.mark.parametrize("bits, noise_std", [(8, 0.0), (0, 0.0), (4, 0.04)])
def test_gradient_passes_straight_through_within_the_bound(bits, noise_std):
    gen = torch.Generator().manual_seed(13)
    bound = 2.0
    x = torch.cat([torch.randn(10_000, generator=gen) * 3.0, torch.tensor([bound, -bound, 2.0001, -2.0001])])
    x.requires_grad_()
    upstream = torch.randn(x.shape, generator=gen)
    ops.quantize(x, rng(14), bits=bits, bound=bound, noise_std=noise_std).backward(upstream)
    inside = x.detach().abs() <= bound  # closed: x = +-bound passes
    assert torch.equal(x.grad, torch.where(inside, upstream, torch.zeros_like(upstream)))
    assert inside[-4:].tolist() == [True, True, False, False]


def test_opcheck(device):
    x = torch.randn(33, 7, generator=torch.Generator().manual_seed(15)).to(device) * 2
    torch.library.opcheck(torch.ops.analogtorch.quantize.default, (x.requires_grad_(), rng(16, device=device), 8, 1.0, 0.04))
    grad = torch.randn(33, 7, device=device)
    torch.library.opcheck(torch.ops.analogtorch.quantize_backward.default, (grad, x.detach(), 1.0))
