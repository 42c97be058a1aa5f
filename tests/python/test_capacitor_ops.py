"""The 3T1C capacitor ops: cell_variation, capacitor_update, capacitor_leak, capacitor_step_.

Checked against docs/physics.md section 1: the per-cell variation is a quantised standard normal, pulse
counts are an unbiased stochastic rounding of request / dg_per_pulse, each pulse moves V_C by
dv_pulse_v times the cell's up or down factor times (1 + c2c_sigma N(0,1)), the step falls to zero
within rail_margin_v of the rail it moves toward (or shrinks over the range with soft bounds), V_C
never leaves the rails, and leakage follows v_leak + (v - v_leak) exp(-dt / tau).

Statistical tolerances are stated per test (about 5 standard errors unless said otherwise); every
draw uses a fixed seed, so a pass is repeatable.
"""

import math
import re

import pytest
import torch
from scipy import stats

import analogtorch
from analogtorch import ops
from analogtorch._ops import CAPACITOR_PARAM_FIELDS, _capacitor_params
from analogtorch.config import Capacitor3T1C, replace

CAP = Capacitor3T1C()
DG = CAP.dg_per_pulse_us  # 0.0352 uS: nominal change of g per pulse at V_C = 0.5 V
N = 200_000


def rng(seed: int, step: int = 0, device: str = "cpu") -> torch.Tensor:
    return analogtorch.make_rng_state(seed, step, device=device)


def full(value: float, n: int = N, device: str = "cpu") -> torch.Tensor:
    return torch.full((n,), value, dtype=torch.float32, device=device)


def variation(n: int = N, seed: int = 1) -> torch.Tensor:
    return ops.cell_variation(rng(seed), (n,))


def factors(var: torch.Tensor, cap: Capacitor3T1C = CAP) -> tuple[torch.Tensor, torch.Tensor]:
    """The up and down step factors of each cell, decoded as the kernel does (in float32)."""
    sigma = torch.tensor(cap.mismatch_sigma, dtype=torch.float32)
    q = var.float() / 32.0
    up = torch.clamp(1.0 + sigma * q[..., 0], min=0.0)
    down = torch.clamp(1.0 + sigma * q[..., 1], min=0.0)
    return up, down


def one_pulse_step(v_value: float, direction: int, cap: Capacitor3T1C, var: torch.Tensor, seed: int = 3):
    """V_C change of exactly one pulse (request = +-dg_per_pulse, which rounds to exactly 1 pulse)."""
    v = full(v_value, var.shape[0])
    v_new, pulses = ops.capacitor_update(v, var, full(direction * cap.dg_per_pulse_us, var.shape[0]), rng(seed), 1, cap)
    assert (pulses == direction).all()
    return (v_new - v).double()


# --- cell_variation -------------------------------------------------------------------------------


def test_cell_variation_shape_dtype_and_repeatability():
    var = ops.cell_variation(rng(1), (7, 5))
    assert var.shape == (7, 5, 3) and var.dtype == torch.int8
    assert torch.equal(var, ops.cell_variation(rng(1), (7, 5)))
    assert not torch.equal(var, ops.cell_variation(rng(1, step=1), (7, 5)))
    assert not torch.equal(var, ops.cell_variation(rng(2), (7, 5)))
    # Cell i draws from (seed, i): the first cells of a larger array are the same cells.
    assert torch.equal(var.reshape(-1, 3), ops.cell_variation(rng(1), (50,))[:35])
    assert ops.cell_variation(rng(1), (0, 4)).shape == (0, 4, 3)
    assert ops.cell_variation(rng(1), ()).shape == (3,)


def test_cell_variation_decodes_to_standard_normals():
    q = variation().double()
    z = q / 32.0
    # Each field: mean 0 (standard error 1/sqrt(N) = 0.0022; tolerance about 5 se), std 1 (se 0.0016,
    # plus 1/32 quantisation adding (1/32)^2/12 to the variance: negligible).
    assert (z.mean(0).abs() < 0.011).all(), z.mean(0)
    assert ((z.std(0) - 1.0).abs() < 0.008).all(), z.std(0)
    # The three fields are independent draws: correlation ~0 (se 0.0022).
    corr = torch.corrcoef(z.T)
    assert (corr - torch.eye(3, dtype=torch.float64)).abs().max() < 0.011
    # Round to nearest in 1/32 steps: P(q <= k) = Phi((k + 0.5) / 32) (se of a fraction <= 0.0007).
    for k in (-64, -20, -1, 0, 7, 33, 80):
        expected = stats.norm.cdf((k + 0.5) / 32.0)
        assert abs((q <= k).double().mean().item() - expected) < 0.003, k


def test_cell_variation_is_clipped_at_127_not_wrapped():
    q = variation(n=1_000_000, seed=4)
    assert q.min() >= -127 and q.max() <= 127  # -128 would be a wrap of the int8 range
    # |z| >= 126.5 / 32 = 3.95 sigma: probability 7.7e-5, expected 232 of 3e6 fields (Poisson sd 15).
    rails = (q.abs() == 127).sum().item()
    expected = 3e6 * 2 * stats.norm.sf(126.5 / 32.0)
    assert abs(rails - expected) < 6 * math.sqrt(expected), (rails, expected)


# --- capacitor_update: pulse counts ---------------------------------------------------------------


@pytest.mark.parametrize("pulses_requested", [0.3, 2.5, 7.77, 14.9])
@pytest.mark.parametrize("polarity", [1, -1])
def test_pulse_counts_are_an_unbiased_stochastic_rounding(pulses_requested, polarity):
    request = pulses_requested * DG
    _, pulses = ops.capacitor_update(full(0.5), variation(), full(request), rng(5), polarity)
    exact = polarity * request / DG
    # Always the floor or the ceiling of the exact count.
    assert set(pulses.unique().tolist()) <= {math.floor(exact), math.ceil(exact)}
    # Unbiased: standard error sqrt(f (1 - f) / N) <= 0.0011 pulses; tolerance 0.006.
    assert abs(pulses.double().mean().item() - exact) < 0.006


def test_huge_requests_are_clipped_at_max_pulses():
    var = variation(n=10_000)
    for cap in (CAP, replace(CAP, max_pulses=3), replace(CAP, max_pulses=127)):
        for polarity, request in ((1, 1e6), (1, -1e6), (-1, 1e6)):
            v, pulses = ops.capacitor_update(full(0.5, 10_000), var, full(request, 10_000), rng(6), polarity, cap)
            expected = cap.max_pulses * (1 if polarity * request > 0 else -1)
            assert (pulses == expected).all(), (cap.max_pulses, polarity, request)
            assert ((v >= cap.v_min_v) & (v <= cap.v_max_v)).all()


def test_zero_request_applies_no_pulse_and_leaves_v_c_exactly():
    v = torch.rand(N, generator=torch.Generator().manual_seed(0))
    for polarity in (1, -1):
        v_new, pulses = ops.capacitor_update(v, variation(), torch.zeros(N), rng(7), polarity)
        assert (pulses == 0).all()
        assert torch.equal(v_new, v)


def test_negative_polarity_flips_the_pulse_direction():
    request = full(4.4 * DG)
    var = variation()
    v_minus, pulses_minus = ops.capacitor_update(full(0.5), var, request, rng(8), -1)
    # p = -1 asks of the capacitor exactly what p = +1 asks for the opposite request (same draws).
    v_plus, pulses_plus = ops.capacitor_update(full(0.5), var, -request, rng(8), 1)
    assert torch.equal(pulses_minus, pulses_plus) and torch.equal(v_minus, v_plus)
    assert set(pulses_minus.unique().tolist()) == {-5, -4}
    assert abs(pulses_minus.double().mean().item() + 4.4) < 0.006
    assert (v_minus < 0.5).all()  # a raise of W with p = -1 lowers V_C


# --- capacitor_update: pulse size -----------------------------------------------------------------


@pytest.mark.parametrize("direction", [1, -1])
def test_mean_and_spread_of_the_step_in_mid_range(direction):
    # 5 pulses from V_C = 0.5 V: far from both rails (>= 0.43 V away), so every step is the full one.
    var = variation()
    v_new, pulses = ops.capacitor_update(full(0.5), var, full(direction * 5 * DG), rng(9), 1)
    n = pulses.double().abs()
    assert set(n.unique().tolist()) <= {4.0, 5.0}
    per_pulse = direction * (v_new.double() - 0.5) / n  # >0: V_C moved the way it was pushed
    up, down = factors(var)
    factor = (up if direction > 0 else down).double()
    # Mean: dv_pulse_v * mean(factor); the c2c noise averages out (relative se 0.1 / sqrt(5 N) = 1e-4).
    expected_mean = CAP.dv_pulse_v * factor.mean().item()
    assert abs(per_pulse.mean().item() / expected_mean - 1.0) < 1e-3
    # Per cell, the step over the cell's own factor: 1 + c2c_sigma * (mean of n normals), so its
    # spread is c2c_sigma / sqrt(n) (relative se of a std: 1 / sqrt(2N) = 0.0016; tolerance 1%).
    c2c = per_pulse / (CAP.dv_pulse_v * factor) - 1.0
    assert abs(c2c.mean().item()) < 5 * CAP.c2c_sigma / math.sqrt(5 * N)
    assert abs((c2c * n.sqrt()).std().item() / CAP.c2c_sigma - 1.0) < 0.01
    # Across cells: factor * (1 + e), Var = Var(factor) + E[factor^2] c2c^2 / n; the factor's own
    # spread is mismatch_sigma (within 1%, the sampling error of 200,000 cells).
    assert abs(factor.std().item() / CAP.mismatch_sigma - 1.0) < 0.01
    expected_std = math.sqrt(factor.var().item() + (factor**2).mean().item() * (CAP.c2c_sigma**2 * (1.0 / n).mean().item()))
    assert abs(per_pulse.std().item() / (CAP.dv_pulse_v * expected_std) - 1.0) < 0.01


def test_each_cell_steps_by_its_own_up_and_down_factor():
    # Without c2c noise, one pulse moves V_C by exactly dv_pulse_v * factor (float32 arithmetic).
    cap = replace(CAP, c2c_sigma=0.0, mismatch_sigma=0.3)
    var = variation(n=50_000)
    up, down = factors(var, cap)
    dv = torch.tensor(cap.dv_pulse_v, dtype=torch.float32)
    step_up = one_pulse_step(0.5, 1, cap, var)
    step_down = one_pulse_step(0.5, -1, cap, var)
    torch.testing.assert_close(step_up, ((0.5 + dv * up) - 0.5).double(), rtol=0, atol=1e-7)
    torch.testing.assert_close(step_down, ((0.5 - dv * down) - 0.5).double(), rtol=0, atol=1e-7)
    # An up-then-down pair leaves each cell off by dv (up - down): its fixed asymmetry.
    torch.testing.assert_close(step_up + step_down, (dv * (up - down)).double(), rtol=0, atol=2e-7)
    assert torch.corrcoef(torch.stack([step_up, step_down]))[0, 1].abs() < 0.02  # independent fields


def test_v_c_never_leaves_the_rails_under_thousands_of_max_pulse_updates():
    # Default cell, and a rough one whose pulses overshoot the rail (dv / rail_margin = 4, big c2c),
    # on narrower rails: only the clamp keeps it inside.
    rough = replace(CAP, v_min_v=0.1, v_max_v=0.9, dv_pulse_v=0.2, c2c_sigma=1.0, mismatch_sigma=0.5)
    n = 1000
    var = variation(n=n, seed=10)
    signs = torch.randint(0, 2, (n,), generator=torch.Generator().manual_seed(1)).float() * 2 - 1
    for cap, updates in ((CAP, 2000), (rough, 1000)):
        v = full(cap.v_init_v, n)
        hits = 0
        for step in range(updates):
            # Blocks of 40 updates all pushing one way, half the cells opposite to the other half.
            push = (1.0 if (step // 40) % 2 == 0 else -1.0) * signs * 1e6
            v, pulses = ops.capacitor_update(v, var, push, rng(11, step), 1, cap)
            assert (pulses.abs() == cap.max_pulses).all()
            assert v.min() >= cap.v_min_v and v.max() <= cap.v_max_v, (step, v.min(), v.max())
            hits += ((v == cap.v_min_v) | (v == cap.v_max_v)).sum().item()
        if cap is rough:
            assert hits > 0  # the clamp did engage


def test_the_step_falls_to_zero_within_rail_margin():
    var = variation(n=50_000)
    flat = replace(CAP, step_slope_per_v=0.0)  # the edge alone (the headroom slope is tested below)
    full_up = one_pulse_step(0.5, 1, flat, var)
    full_down = one_pulse_step(0.5, -1, flat, var)
    # Same cells and draws: the step scales with the distance to the rail over rail_margin_v
    # (relative float32 rounding of V_C near 1 V is ~1e-7 / 1e-3 = 1e-4 of a step).
    for v_value, direction, scale in ((0.97, 1, 0.6), (0.99, 1, 0.2), (0.96, -1, 1.0), (0.02, -1, 0.4), (0.04, 1, 1.0)):
        step = one_pulse_step(v_value, direction, flat, var)
        reference = full_up if direction > 0 else full_down
        torch.testing.assert_close(step, scale * reference, rtol=4e-4, atol=1e-7, msg=f"{v_value}, {direction}")
    # With the default headroom slope the step at 0.9 V is 1 - 0.1 * 0.4 of the one at 0.5 V going
    # up, 1 + 0.1 * 0.4 going down (ED Fig 10: separate V_C-dependent up and down curves).
    for direction, scale in ((1, 0.96), (-1, 1.04)):
        ratio = one_pulse_step(0.9, direction, CAP, var) / one_pulse_step(0.5, direction, CAP, var)
        torch.testing.assert_close(ratio, torch.full_like(ratio, scale), rtol=4e-4, atol=1e-6)
    # At the rail it moves toward, the step is zero: V_C stays exactly at the rail.
    for v_value, request in ((1.0, 1e6), (0.0, -1e6)):
        v_new, pulses = ops.capacitor_update(full(v_value, 50_000), var, full(request, 50_000), rng(3), 1)
        assert (pulses.abs() == CAP.max_pulses).all() and (v_new == v_value).all()
    # From the other rail, the first pulse is a full one.
    away = one_pulse_step(1.0, -1, flat, var)
    torch.testing.assert_close(away, full_down, rtol=4e-4, atol=1e-7)


def test_soft_bounds_shrink_the_step_across_the_range():
    var = variation(n=50_000)
    soft = replace(CAP, soft_bounds=True, step_slope_per_v=0.0)
    # One pulse, same draws: step(V) / step(0.5) = distance to the rail / (distance from v_init).
    for v_value, direction, scale in ((0.75, 1, 0.5), (0.9, 1, 0.2), (0.25, -1, 0.5), (0.75, -1, 1.0)):
        ratio = one_pulse_step(v_value, direction, soft, var) / one_pulse_step(0.5, direction, soft, var)
        torch.testing.assert_close(ratio, torch.full_like(ratio, scale), rtol=5e-4, atol=1e-4)
    # Hard bounds (default): the same step at 0.75 V as at 0.5 V.
    ratio = one_pulse_step(0.75, 1, replace(CAP, step_slope_per_v=0.0), var) / one_pulse_step(0.5, 1, replace(CAP, step_slope_per_v=0.0), var)
    torch.testing.assert_close(ratio, torch.ones_like(ratio), rtol=1e-4, atol=1e-5)
    # Over several pulses too: the room left shrinks by the same factor per pulse from either start,
    # so the mean step at 0.75 V stays half the one at 0.5 V (to float rounding).
    means = []
    for v_value in (0.5, 0.75):
        v_new, pulses = ops.capacitor_update(full(v_value, 50_000), var, full(5 * DG, 50_000), rng(12), 1, soft)
        means.append(((v_new - v_value).double() / pulses.double()).mean().item())
    assert abs(means[1] / means[0] - 0.5) < 1e-3


# --- capacitor_leak ---------------------------------------------------------------------------------


@pytest.mark.parametrize("tau_s, v_leak_v", [(1.0, 0.8), (0.01, 0.2), (30.0, 0.0)])
def test_leak_follows_the_exponential_relaxation(tau_s, v_leak_v):
    v = torch.rand(N, generator=torch.Generator().manual_seed(2))
    for elapsed_s in (0.0, 1e-6, 1e-3, 0.5 * tau_s, tau_s, 7.0 * tau_s, 1e30):
        out = ops.capacitor_leak(v, elapsed_s, tau_s, v_leak_v)
        expected = v_leak_v + (v.double() - v_leak_v) * math.exp(-elapsed_s / tau_s)
        # float32: a few ulps of values in [0, 1] (ulp 6e-8 below 1).
        torch.testing.assert_close(out.double(), expected, rtol=0, atol=2.5e-7, msg=f"elapsed {elapsed_s}")
    assert (ops.capacitor_leak(v, 1e30, tau_s, v_leak_v) == v_leak_v).all()  # fully relaxed


def test_leak_with_a_tau_below_float32_range_is_refused():
    # 1e-50 > 0, but it is 0 in float32, where the kernel divides by it.
    v = torch.tensor([0.2, 0.9])
    with pytest.raises(RuntimeError, match=r"tau_s: expected a finite number > 0 \(in float32 at least"):
        ops.capacitor_leak(v, 0.0, tau_s=1e-50)
    assert torch.equal(v, torch.tensor([0.2, 0.9]))
    out = ops.capacitor_leak(v, 0.0, tau_s=1.2e-38)  # float32's smallest normal: accepted, finite
    assert torch.isfinite(out).all(), f"capacitor_leak(v, 0.0, tau_s=1.2e-38) returned {out.tolist()}"


def test_leak_approaches_v_leak_monotonically():
    v0 = torch.linspace(0.0, 1.0, 10_001)
    v = v0
    distance = (v0 - 0.8).abs()
    for _ in range(50):
        v = ops.capacitor_leak(v, 0.1)
        new_distance = (v - 0.8).abs()
        assert (new_distance <= distance).all()
        assert ((v - 0.8) * (v0 - 0.8) >= 0).all()  # never overshoots V_leak
        distance = new_distance
    # Longer waits leave V_C closer to V_leak.
    previous = (v0 - 0.8).abs()
    for elapsed_s in (0.01, 0.1, 1.0, 10.0):
        d = (ops.capacitor_leak(v0, elapsed_s) - 0.8).abs()
        assert (d <= previous).all()
        previous = d


# --- capacitor_step_ ----------------------------------------------------------------------------------


def step_state(shape=(64, 37), seed=0, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    return dict(
        v_c=torch.rand(shape, generator=g).to(device),
        g_plus_us=(torch.rand(shape, generator=g) * 10).to(device),
        g_minus_us=(torch.rand(shape, generator=g) * 10).to(device),
        variation=ops.cell_variation(rng(seed + 1, device=device), shape),
        delta_w_us=(torch.randn(shape, generator=g) * 0.4).to(device),  # includes clipped requests
    )


@pytest.mark.parametrize("polarity", [1, -1])
@pytest.mark.parametrize("cap", [CAP, replace(CAP, soft_bounds=True, tau_s=0.01)], ids=["default", "soft_fast_leak"])
def test_step_is_bit_identical_to_update_leak_and_weight(polarity, cap):
    s = step_state()
    r = rng(21, step=3)
    elapsed, gain, scale = 2e-3, 3.0, 2.5
    v_mid, pulses = ops.capacitor_update(s["v_c"], s["variation"], s["delta_w_us"], r, polarity, cap)
    v_end = ops.capacitor_leak(v_mid, elapsed, cap.tau_s, cap.v_leak_v)
    weight = ops.unit_cell_weight(
        s["g_plus_us"], s["g_minus_us"], v_end, s["variation"], polarity, gain_f=gain, scale_us_per_unit=scale, capacitor=cap
    )

    v_c = s["v_c"].clone()
    w = torch.full_like(v_c, float("nan"))
    pointers = (v_c.data_ptr(), w.data_ptr())
    step_pulses = ops.capacitor_step_(
        v_c, w, s["g_plus_us"], s["g_minus_us"], s["variation"], s["delta_w_us"], r, polarity,
        elapsed_s=elapsed, gain_f=gain, scale_us_per_unit=scale, capacitor=cap,
    )  # fmt: skip
    assert (v_c.data_ptr(), w.data_ptr()) == pointers  # in place
    assert torch.equal(step_pulses, pulses)
    assert torch.equal(v_c, v_end)
    assert torch.equal(w, weight)


def test_step_leak_parameters_override_the_capacitors():
    s = step_state(shape=(1000,))
    r = rng(22)
    v_mid, _ = ops.capacitor_update(s["v_c"], s["variation"], s["delta_w_us"], r, 1)
    v_c, w = s["v_c"].clone(), torch.empty(1000)
    ops.capacitor_step_(
        v_c, w, s["g_plus_us"], s["g_minus_us"], s["variation"], s["delta_w_us"], r, 1,
        elapsed_s=0.5, gain_f=3.0, scale_us_per_unit=1.0, tau_s=0.25, v_leak_v=0.1,
    )  # fmt: skip
    assert torch.equal(v_c, ops.capacitor_leak(v_mid, 0.5, 0.25, 0.1))


# --- determinism ------------------------------------------------------------------------------------


def test_same_rng_same_bits_fresh_step_fresh_draws():
    s = step_state(shape=(50_000,))
    request = s["delta_w_us"]
    a = ops.capacitor_update(s["v_c"], s["variation"], request, rng(30, 2), 1)
    b = ops.capacitor_update(s["v_c"], s["variation"], request, rng(30, 2), 1)
    c = ops.capacitor_update(s["v_c"], s["variation"], request, rng(30, 3), 1)
    d = ops.capacitor_update(s["v_c"], s["variation"], request, rng(31, 2), 1)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0]) and not torch.equal(a[0], d[0])


def test_results_do_not_depend_on_the_cpu_thread_count():
    shape = (300_000,)  # > 2 grains of 32768: two threads split the work
    s = step_state(shape=shape)
    r = rng(40, step=5)
    previous = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            var = ops.cell_variation(r, shape)
            v_new, pulses = ops.capacitor_update(s["v_c"], var, s["delta_w_us"], r, -1)
            leaked = ops.capacitor_leak(v_new, 0.3)
            v_c, w = s["v_c"].clone(), torch.empty(shape)
            step_pulses = ops.capacitor_step_(
                v_c, w, s["g_plus_us"], s["g_minus_us"], var, s["delta_w_us"], r, 1,
                elapsed_s=1e-3, gain_f=3.0, scale_us_per_unit=2.0,
            )  # fmt: skip
            results.append((var, v_new, pulses, leaked, v_c, w, step_pulses))
    finally:
        torch.set_num_threads(previous)
    for one, two in zip(*results):
        assert torch.equal(one, two)


# --- op checks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("op_name", ["cell_variation", "capacitor_update", "capacitor_leak", "capacitor_step_"])
def test_opcheck(op_name, device):
    s = step_state(shape=(33, 7), device=device)
    r = rng(50, device=device)
    params = _capacitor_params(None)
    assert len(params) == len(CAPACITOR_PARAM_FIELDS)
    args = {
        "cell_variation": (r, [33, 7]),
        "capacitor_update": (s["v_c"], s["variation"], s["delta_w_us"], r, -1, params),
        "capacitor_leak": (s["v_c"], 1e-3, 1.0, 0.8),
        "capacitor_step_": (
            s["v_c"].clone(), torch.empty_like(s["v_c"]), s["g_plus_us"], s["g_minus_us"], s["variation"],
            s["delta_w_us"], r, 1, params, 1e-3, 1.0, 0.8, 3.0, torch.full((33,), 0.52, device=device),
            ops.cell_variation(rng(51, device=device), (33,)), 2.0,
        ),  # fmt: skip
    }[op_name]
    torch.library.opcheck(getattr(torch.ops.analogtorch, op_name).default, args)


# --- refusals of capacitor_step_ change nothing -------------------------------------------------------


def _bytes(*tensors):
    return [t.clone() for t in tensors]


def _assert_same(before, *tensors):
    for old, new in zip(before, tensors):
        assert old.dtype == new.dtype and torch.equal(old, new)


def _step(v_c, weight, s, r, **kwargs):
    kwargs = {"elapsed_s": 1e-6, "gain_f": 3.0, "scale_us_per_unit": 1.0, **kwargs}
    return ops.capacitor_step_(v_c, weight, s["g_plus_us"], s["g_minus_us"], s["variation"], s["delta_w_us"], r, 1,
                               **kwargs)  # fmt: skip


@pytest.mark.parametrize(
    "alias, message",
    [
        ("weight_is_v_c", "v_c: expected a tensor sharing no memory with weight"),
        ("weight_views_v_c", "v_c: expected a tensor sharing no memory with weight"),
        ("delta_is_weight", "weight: expected a tensor sharing no memory with delta_w_us"),
        ("g_plus_is_v_c", "v_c: expected a tensor sharing no memory with g_plus_us"),
    ],
)
def test_step_refuses_aliased_arguments_and_changes_nothing(alias, message):
    s = step_state(shape=(8, 5))
    v_c, weight, r = s["v_c"].contiguous(), torch.zeros(8, 5), rng(4)
    if alias == "weight_is_v_c":
        weight = v_c
    elif alias == "weight_views_v_c":
        both = torch.rand(2, 8, 5) * 0.5 + 0.25
        v_c, weight = both[0], both.view(-1)[20:60].view(8, 5)  # overlapping halves of one buffer
    elif alias == "delta_is_weight":
        s["delta_w_us"] = weight
    else:
        s["g_plus_us"] = v_c
    before = _bytes(v_c, weight, s["g_plus_us"], s["g_minus_us"], s["variation"], s["delta_w_us"], r)
    with pytest.raises(RuntimeError, match=re.escape(message)):
        _step(v_c, weight, s, r)
    _assert_same(before, v_c, weight, s["g_plus_us"], s["g_minus_us"], s["variation"], s["delta_w_us"], r)


def test_step_accepts_disjoint_views_of_one_buffer():
    s = step_state(shape=(8, 5))
    both = torch.empty(2, 8, 5)
    v_c, weight = both[0], both[1]
    v_c.copy_(s["v_c"])
    _step(v_c, weight, s, rng(4))
    assert torch.isfinite(both).all()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("v_t_v", 0.6, "capacitor_params[v_t_v]: expected < v_init_v (0.5), got 0.6"),
        ("rail_margin_v", 0.6, "capacitor_params[rail_margin_v]: expected < (v_max_v - v_min_v) / 2 (0.5), got 0.6"),
        ("dv_pulse_v", 1.5, "capacitor_params[dv_pulse_v]: expected < v_max_v - v_min_v (1), got 1.5"),
        ("dg_per_pulse_us", 1e-50, "capacitor_params[dg_per_pulse_us]: expected a number > 0 (in float32 at least"),
        ("k_us_per_v2", 1e39, "capacitor_params[k_us_per_v2]: expected a finite number (float32 range)"),
    ],
)
def test_raw_ops_check_the_cross_field_rules_and_change_nothing(field, value, message):
    params = _capacitor_params(CAP)
    params[CAPACITOR_PARAM_FIELDS.index(field)] = value
    s = step_state(shape=(8, 5))
    v_c, weight, r = s["v_c"], torch.zeros(8, 5), rng(4)
    before = _bytes(v_c, weight, s["delta_w_us"], r)
    with pytest.raises(RuntimeError, match=re.escape(message)):
        torch.ops.analogtorch.capacitor_update(v_c, s["variation"], s["delta_w_us"], r, 1, params)
    with pytest.raises(RuntimeError, match=re.escape(message)):
        torch.ops.analogtorch.capacitor_step_(v_c, weight, s["g_plus_us"], s["g_minus_us"], s["variation"],
                                              s["delta_w_us"], r, 1, params, 1e-6, 1.0, 0.8, 3.0, torch.full((8,), 0.5),
                                              torch.zeros((8, 3), dtype=torch.int8), 1.0)  # fmt: skip
    _assert_same(before, v_c, weight, s["delta_w_us"], r)


def test_raw_step_refuses_a_leak_target_outside_the_rails():
    s = step_state(shape=(8, 5))
    v_c, weight, r = s["v_c"], torch.zeros(8, 5), rng(4)
    before = _bytes(v_c, weight, r)
    with pytest.raises(RuntimeError, match=re.escape("v_leak_v: expected a voltage within the rails [0, 1], got 1.5")):
        _step(v_c, weight, s, r, v_leak_v=1.5)
    _assert_same(before, v_c, weight, r)


def test_cell_variation_refuses_a_shape_that_is_no_sequence():
    r = rng(4)
    before = r.clone()
    with pytest.raises(TypeError, match=r"^shape: expected a tuple of ints \(e\.g\. \(rows, cols\)\), got int 5$"):
        ops.cell_variation(r, 5)
    with pytest.raises(TypeError, match=r"^shape: expected an int, got float 2\.5$"):
        ops.cell_variation(r, (2.5, 3))
    assert torch.equal(r, before)
    assert ops.cell_variation(r, torch.Size([2, 3])).shape == (2, 3, 3)
