"""pcm_pair_step_: in-situ training directly on PCM pairs (the Nature 2018 paper's foil)."""

import re

import pytest
import torch

import analogtorch
from analogtorch import ops
from analogtorch._ops import _pcm_params
from analogtorch.config import PCMDevice

F, SCALE, AMPLITUDE = 3.0, 30.0, 0.05
PCM = PCMDevice()
N = 50_000


def state(g_plus=5.0, g_minus=5.0, n=N):
    return torch.full((n,), g_plus), torch.full((n,), g_minus), torch.empty(n)


def step(g_plus, g_minus, weight, delta, seed=1, refresh_us=22.5, max_pulses=15):
    return ops.pcm_pair_step_(
        g_plus, g_minus, weight, delta, analogtorch.make_rng_state(seed), gain_f=F, scale_us_per_unit=SCALE,
        amplitude=AMPLITUDE, max_pulses=max_pulses, refresh_us=refresh_us, pcm=PCM,
    )  # fmt: skip


def test_positive_changes_set_g_plus_and_negative_ones_g_minus():
    per_pulse = F * AMPLITUDE * PCM.set_step_us
    for sign in (1.0, -1.0):
        g_plus, g_minus, weight = state()
        pulses, refreshed = step(g_plus, g_minus, weight, torch.full((N,), sign * 2.5 * per_pulse))
        moved, still = (g_plus, g_minus) if sign > 0 else (g_minus, g_plus)
        assert (still == 5.0).all() and (moved >= 5.0).all() and (moved > 5.0).float().mean() > 0.99
        # Stochastic rounding of 2.5 pulses: 2 or 3, 2.5 on average (standard error 0.002).
        assert set((pulses * int(sign)).unique().tolist()) == {2, 3}
        assert abs((pulses.float() * sign).mean().item() - 2.5) < 0.01
        assert not refreshed.any()
        torch.testing.assert_close(weight, F * (g_plus - g_minus) / SCALE, rtol=0, atol=0)


def test_steps_shrink_as_the_device_nears_g_max():
    low_plus, low_minus, weight = state(g_plus=2.0)
    high_plus, high_minus, _ = state(g_plus=18.0)
    delta = torch.full((N,), 1.0)
    step(low_plus, low_minus, weight, delta)
    step(high_plus, high_minus, torch.empty(N), delta)
    rise_low, rise_high = (low_plus - 2.0).mean().item(), (high_plus - 18.0).mean().item()
    # Mean partial-SET step ~ (1 - G / G_max): 0.92 at 2 uS, 0.28 at 18 uS.
    assert rise_high / rise_low == pytest.approx(0.28 / 0.92, rel=0.05)


def test_refresh_resets_and_reprograms_the_difference():
    g_plus, g_minus, weight = state(g_plus=23.0, g_minus=15.0, n=5000)
    pulses, refreshed = step(g_plus, g_minus, weight, torch.zeros(5000))
    assert refreshed.all() and (pulses == 0).all()
    assert (g_minus == PCM.g_reset_us).all()
    # The difference (8 uS) is re-programmed onto G+ by program-and-verify (plus the RESET partner).
    error = (g_plus - g_minus - 8.0).abs()
    assert (error <= PCM.verify_tolerance_us + 0.5).float().mean() > 0.99
    assert (g_plus <= PCM.g_max_us).all()


def test_same_seed_same_bits_and_opcheck():
    results = []
    for _ in range(2):
        g_plus, g_minus, weight = state(n=1000)
        pulses, _ = step(g_plus, g_minus, weight, torch.linspace(-1, 1, 1000))
        results.append((g_plus, g_minus, weight, pulses))
    assert all(torch.equal(a, b) for a, b in zip(*results))
    g_plus, g_minus, weight = state(n=37)
    args = (g_plus, g_minus, weight, torch.linspace(-1, 1, 37), analogtorch.make_rng_state(2), _pcm_params(None),
            F, SCALE, AMPLITUDE, 15, 22.5)  # fmt: skip
    torch.library.opcheck(torch.ops.analogtorch.pcm_pair_step_.default, args)


@pytest.mark.parametrize(
    "alias, message",
    [
        ("g_minus_is_g_plus", "g_plus_us: expected a tensor sharing no memory with g_minus_us"),
        ("weight_is_g_minus", "g_minus_us: expected a tensor sharing no memory with weight"),
        ("delta_is_weight", "weight: expected a tensor sharing no memory with delta_w_us"),
        ("rng_in_weight", "weight: expected a tensor sharing no memory with rng"),
    ],
)
def test_aliased_arguments_are_refused_and_change_nothing(alias, message):
    g_plus, g_minus, weight = state(n=8)
    weight.zero_()
    delta = torch.full((8,), 0.3)
    rng = analogtorch.make_rng_state(1)
    if alias == "g_minus_is_g_plus":
        g_minus = g_plus
    elif alias == "weight_is_g_minus":
        weight = g_minus
    elif alias == "delta_is_weight":
        delta = weight
    else:
        rng = weight.view(torch.int64)[:2]  # the rng state inside the weight's bytes
    tensors = (g_plus, g_minus, weight, delta, rng)
    before = [t.clone() for t in tensors]
    with pytest.raises(RuntimeError, match=re.escape(message)):
        ops.pcm_pair_step_(g_plus, g_minus, weight, delta, rng, gain_f=F, scale_us_per_unit=SCALE,
                           amplitude=AMPLITUDE, max_pulses=15, refresh_us=22.5, pcm=PCM)  # fmt: skip
    assert all(torch.equal(a, b) for a, b in zip(before, tensors))


def test_raw_op_refuses_a_device_spread_of_1_and_changes_nothing():
    g_plus, g_minus, weight = state(n=8)
    weight.zero_()
    params = _pcm_params(PCM)
    params[5] = 1.0  # set_step_d2d: PCMDevice requires [0, 1)
    before = [g_plus.clone(), g_minus.clone(), weight.clone()]
    with pytest.raises(RuntimeError, match=re.escape("pcm_params[set_step_d2d]: expected a number in [0, 1)")):
        torch.ops.analogtorch.pcm_pair_step_(g_plus, g_minus, weight, torch.zeros(8), analogtorch.make_rng_state(1),
                                             params, F, SCALE, AMPLITUDE, 15, 22.5)  # fmt: skip
    assert all(torch.equal(a, b) for a, b in zip(before, (g_plus, g_minus, weight)))
