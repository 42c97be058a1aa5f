"""pcm_program and pcm_read: statistics against docs/physics.md section 2, determinism and op checks.

Statistical tolerances are stated per test; every draw uses a fixed seed, so a pass is repeatable.
"""

import math

import numpy as np
import pytest
import torch
from scipy import stats

import analogtorch
from analogtorch import ops
from analogtorch.config import PCMDevice

G_MAX = 25.0
T0 = 20.0
T_READ = 250e-9
N = 200_000
OPEN_LOOP = PCMDevice(programming="open_loop")


def programming_sigma(g):
    x = g / G_MAX
    return max(0.26348 + 1.9650 * x - 1.1731 * x * x, 0.0) * G_MAX / 25.0


def drift_mu_sigma(g):
    x = max(g / G_MAX, 1e-7)
    mu = min(max(-0.0155 * math.log(x) + 0.0244, 0.049), 0.1)
    sigma = min(max(-0.0125 * math.log(x) - 0.0059, 0.008), 0.045)
    return mu, sigma


def read_sigma(g_t, g_p, t):
    q_s = min(0.0088 / max((g_p / G_MAX) ** 0.65, 1e-3), 0.2)
    return abs(g_t) * q_s * math.sqrt(max(math.log((t + T_READ) / (2 * T_READ)), 0.0))


def full(value, device="cpu"):
    return torch.full((N,), value, dtype=torch.float32, device=device)


@pytest.mark.parametrize("target", [2.0, 10.0, 20.0])
def test_open_loop_programming_is_gaussian_with_the_papers_sigma(target):
    g = ops.pcm_program(full(target), analogtorch.make_rng_state(11), OPEN_LOOP).conductance_us
    sigma = programming_sigma(target)
    # Standard error of the mean: sigma / sqrt(N) = 0.0022 sigma; of the std: 0.0016 sigma.
    assert abs(g.mean().item() - target) < 0.01 * sigma
    assert abs(g.std().item() / sigma - 1.0) < 0.01
    # No clipping at these targets (> 4 sigma from 0 and 25 uS): the KS test sees the plain normal.
    assert stats.kstest(g.numpy(), "norm", args=(target, sigma)).pvalue > 1e-3


@pytest.mark.parametrize("target", [0.5, 10.0, 24.0])
def test_drift_exponent_is_a_folded_normal_of_the_programmed_state(target):
    g, nu, *_ = ops.pcm_program(full(target), analogtorch.make_rng_state(12), OPEN_LOOP)
    # nu depends on the programmed G: compare each draw's CDF value, which is uniform under the law.
    mu_sigma = np.array([drift_mu_sigma(v) for v in g[:20000].tolist()])
    c = mu_sigma[:, 0] / mu_sigma[:, 1]
    u = stats.foldnorm.cdf(nu[:20000].numpy() / mu_sigma[:, 1], c)
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert (nu >= 0).all()


def test_drift_follows_the_power_law_exactly_without_read_noise():
    g = torch.linspace(0.0, G_MAX, N)
    nu = torch.linspace(0.0, 0.2, N)
    rng = analogtorch.make_rng_state(3)
    for t in [0.0, 1.0, T0, 3600.0, 86400.0, 3.15e7]:
        read = ops.pcm_read(g, nu, rng, t, read_noise=False)
        expected = g.double() * (max(t, T0) / T0) ** (-nu.double())
        torch.testing.assert_close(read.double(), expected, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("t", [1.0, 3600.0, 3.15e7])
def test_read_noise_has_the_1_over_f_sigma(t):
    g_p, nu_value = 8.0, 0.06
    read = ops.pcm_read(full(g_p), full(nu_value), analogtorch.make_rng_state(5), t)
    g_t = g_p * (max(t, T0) / T0) ** -nu_value
    sigma = read_sigma(g_t, g_p, t)
    assert abs(read.double().mean().item() - g_t) < 0.01 * sigma + 1e-6
    assert abs(read.double().std().item() / sigma - 1.0) < 0.01
    assert stats.kstest(read.numpy(), "norm", args=(g_t, sigma)).pvalue > 1e-3


def test_read_noise_is_fresh_per_step_and_repeatable_per_state():
    g, nu, *_ = ops.pcm_program(torch.linspace(1, 20, 5000), analogtorch.make_rng_state(1))
    a = ops.pcm_read(g, nu, analogtorch.make_rng_state(9, step=4), 3600.0)
    b = ops.pcm_read(g, nu, analogtorch.make_rng_state(9, step=4), 3600.0)
    c = ops.pcm_read(g, nu, analogtorch.make_rng_state(9, step=5), 3600.0)
    d = ops.pcm_read(g, nu, analogtorch.make_rng_state(10, step=4), 3600.0)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a, d)
    # Fresh noise is independent: the correlation of two reads' deviations is ~0 (se 0.014).
    g_t = ops.pcm_read(g, nu, analogtorch.make_rng_state(9), 3600.0, read_noise=False)
    r = np.corrcoef((a - g_t).numpy(), (c - g_t).numpy())[0, 1]
    assert abs(r) < 0.06


def test_results_do_not_depend_on_the_cpu_thread_count():
    target = torch.rand(300_000) * G_MAX  # > 2 grains of 32768, so two threads split the work
    rng = analogtorch.make_rng_state(77, step=2)
    previous = torch.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            programmed = ops.pcm_program(target, rng)
            results.append((*programmed, ops.pcm_read(programmed.conductance_us, programmed.drift_nu, rng, 86400.0)))
    finally:
        torch.set_num_threads(previous)
    for one, two in zip(*results):
        assert torch.equal(one, two)


def test_non_contiguous_inputs_read_like_their_contiguous_copies():
    g = torch.rand(64, 32) * G_MAX
    nu = torch.rand(64, 32) * 0.1
    rng = analogtorch.make_rng_state(4)
    torch.testing.assert_close(ops.pcm_read(g.t(), nu.t(), rng, 60.0), ops.pcm_read(g.t().contiguous(), nu.t().contiguous(), rng, 60.0), rtol=0, atol=0)


def test_empty_inputs_give_empty_outputs():
    empty = torch.empty(0, 5)
    rng = analogtorch.make_rng_state(0)
    g, nu, pulses, iterations, converged = ops.pcm_program(empty, rng)
    assert g.shape == nu.shape == pulses.shape == iterations.shape == converged.shape == (0, 5)
    assert ops.pcm_read(g, nu, rng, 1.0).shape == (0, 5)


@pytest.mark.parametrize("pcm", [PCMDevice(), OPEN_LOOP], ids=["closed_loop", "open_loop"])
def test_targets_outside_the_range_are_clipped_and_outputs_stay_in_range(pcm):
    target = torch.tensor([-5.0, 0.0, 12.0, 25.0, 400.0] * 1000)
    g, nu, pulses, iterations, _ = ops.pcm_program(target, analogtorch.make_rng_state(8), pcm)
    assert (g >= 0).all() and (g <= G_MAX).all() and torch.isfinite(nu).all()
    assert (pulses >= 0).all() and (iterations >= 0).all()
    read = ops.pcm_read(g, nu, analogtorch.make_rng_state(8), 3.15e7)
    assert (read >= 0).all() and torch.isfinite(read).all()


def test_seed_accepts_the_full_64_bit_range():
    top = analogtorch.make_rng_state(2**64 - 1)
    assert top.tolist() == [-1, 0]
    g = ops.pcm_program(torch.ones(4), top).conductance_us
    assert torch.isfinite(g).all()


@pytest.mark.parametrize("op_name", ["pcm_program", "pcm_read", "pcm_read_moments", "hardware_aware_read", "add_read_noise"])
def test_opcheck(op_name, device):
    rng = analogtorch.make_rng_state(21, device=device)
    g = torch.rand(33, 7, device=device) * G_MAX
    nu = torch.rand(33, 7, device=device) * 0.1
    args = {
        "pcm_program": (g, rng, analogtorch._ops._pcm_params(None), True),
        "pcm_read": (g, nu, rng, 3600.0, G_MAX, T0, T_READ, True),
        "pcm_read_moments": (g, nu, 3600.0, G_MAX, T0, T_READ),
        "add_read_noise": (g, nu, rng),
        "hardware_aware_read": (g - G_MAX / 2, rng, analogtorch._ops._pcm_params(None), True, 1.0, 86400.0),
    }[op_name]
    torch.library.opcheck(getattr(torch.ops.analogtorch, op_name).default, args)


def test_ops_run_under_torch_compile_without_graph_breaks():
    @torch.compile(backend="aot_eager", fullgraph=True)
    def program_and_read(target, rng):
        g, nu, *_ = ops.pcm_program(target, rng)
        return ops.pcm_read(g, nu, rng, 86400.0)

    target = torch.rand(1000) * G_MAX
    rng = analogtorch.make_rng_state(6)
    g, nu, *_ = ops.pcm_program(target, rng)
    torch.testing.assert_close(program_and_read(target, rng), ops.pcm_read(g, nu, rng, 86400.0), rtol=0, atol=0)


# --- closed-loop programming (program-and-verify) -----------------------------------------------


def test_closed_loop_programming_converges_for_99_percent_of_cells():
    # Targets over [0, 12.5] uS: the range that the weight mapping uses (half of G_max).
    target = torch.rand(N, generator=torch.Generator().manual_seed(0)) * 12.5
    pcm = PCMDevice()
    result = ops.pcm_program(target, analogtorch.make_rng_state(31), pcm)
    assert result.converged.float().mean() >= 0.99
    # The verify read had 1/f noise: the true conductance lies within tolerance + 4 sigma of it.
    verify_sigma = torch.tensor([read_sigma(g, g, pcm.verify_delay_s) for g in result.conductance_us[:2000].tolist()])
    error = (result.conductance_us[:2000] - target[:2000]).abs()
    ok = result.converged[:2000]
    assert (error[ok] <= pcm.verify_tolerance_us + 4 * verify_sigma[ok] + 1e-4).all()
    # Pulse counts are reported and plausible: a step of at most ~2 uS per pulse from RESET.
    assert (result.pulses >= 0).all() and (result.iterations >= result.pulses).all()
    assert result.pulses.float().mean() > 1.0
    assert (result.iterations <= (pcm.max_resets + 1) * pcm.max_iterations).all()


def test_closed_loop_pulse_count_grows_with_the_target():
    pcm = PCMDevice()
    means = []
    for target in (2.0, 6.0, 10.0):
        result = ops.pcm_program(full(target)[:20000], analogtorch.make_rng_state(32), pcm)
        means.append(result.pulses.float().mean().item())
    assert means[0] < means[1] < means[2]


def test_targets_near_reset_need_no_pulse():
    result = ops.pcm_program(torch.full((1000,), 0.2), analogtorch.make_rng_state(33), PCMDevice(read_noise=False))
    # |0.2 - G_reset| = 0.1 uS <= tolerance: the first verify read accepts the RESET state.
    assert (result.pulses == 0).all() and (result.iterations == 1).all() and result.converged.all()


def test_a_single_iteration_budget_cannot_converge_far_targets():
    result = ops.pcm_program(torch.full((1000,), 10.0), analogtorch.make_rng_state(34), PCMDevice(max_iterations=1))
    assert not result.converged.any() and (result.pulses == 0).all()


def test_tighter_tolerance_costs_more_pulses():
    target = torch.rand(20000, generator=torch.Generator().manual_seed(1)) * 10 + 1
    loose = ops.pcm_program(target, analogtorch.make_rng_state(35), PCMDevice(verify_tolerance_us=1.0))
    tight = ops.pcm_program(target, analogtorch.make_rng_state(35), PCMDevice(verify_tolerance_us=0.25))
    assert tight.pulses.float().mean() > loose.pulses.float().mean()
    assert (tight.conductance_us - target).abs().median() < (loose.conductance_us - target).abs().median()


def test_device_to_device_step_spread_is_fixed_per_device():
    # The same device (element) programmed at two steps keeps its step size: pulse counts correlate.
    target = torch.full((20000,), 8.0)
    pcm = PCMDevice(set_step_c2c=0.0, read_noise=False, set_step_d2d=0.2, approach_fraction=1.0)
    a = ops.pcm_program(target, analogtorch.make_rng_state(36, step=1), pcm).pulses.float()
    b = ops.pcm_program(target, analogtorch.make_rng_state(36, step=2), pcm).pulses.float()
    assert np.corrcoef(a.numpy(), b.numpy())[0, 1] > 0.9


def test_a_saved_and_loaded_rng_state_repeats_the_draws(tmp_path):
    rng = analogtorch.make_rng_state(2**40 + 17, step=123)
    g, nu, *_ = ops.pcm_program(torch.rand(10_000) * 12, rng)
    path = tmp_path / "rng.pt"
    torch.save({"rng": rng}, path)
    loaded = torch.load(path, weights_only=True)["rng"]
    assert torch.equal(ops.pcm_read(g, nu, rng, 3600.0), ops.pcm_read(g, nu, loaded, 3600.0))
    assert torch.equal(ops.pcm_program(g, rng).conductance_us, ops.pcm_program(g, loaded).conductance_us)


# --- hardware_aware_read: program + drift + read of weight pairs, fused --------------------------


@pytest.mark.parametrize("pcm", [PCMDevice(), OPEN_LOOP], ids=["closed_loop", "open_loop"])
@pytest.mark.parametrize("weight_us", [7.0, -3.0, 0.0])
def test_hardware_aware_read_matches_program_then_read(pcm, weight_us):
    # The fused op and the two-op pipeline (programming both devices of each pair, reading their
    # moments at the same time) draw from one distribution: two-sample KS over 200,000 pairs,
    # p > 0.001, for the drifted G+ - G- and for the read-noise variance; means within 4 standard
    # errors.
    t = 3600.0
    weights = torch.full((N,), weight_us)
    mean, variance, drawn = ops.hardware_aware_read(weights, analogtorch.make_rng_state(30), pcm, time_min_s=t, time_max_s=t)
    assert drawn.item() == t
    offset = pcm.g_reset_us if pcm.programming == "closed_loop" else 0.0
    plus = ops.pcm_program(weights.clamp(min=0) + offset, analogtorch.make_rng_state(31), pcm)
    minus = ops.pcm_program((-weights).clamp(min=0) + offset, analogtorch.make_rng_state(32), pcm)
    g_plus, g_minus = plus.conductance_us, minus.conductance_us
    if pcm.programming == "closed_loop":  # the zero side stays RESET
        g_plus = torch.where(weights > 0, g_plus, offset)
        g_minus = torch.where(weights > 0, offset, g_minus)
    read = {"g_max_us": pcm.g_max_us, "t0_s": pcm.t0_s, "t_read_s": pcm.t_read_s}
    mean_plus, variance_plus = ops.pcm_read_moments(g_plus, plus.drift_nu, t, **read)
    mean_minus, variance_minus = ops.pcm_read_moments(g_minus, minus.drift_nu, t, **read)
    for fused, pipeline in ((mean, mean_plus - mean_minus), (variance, variance_plus + variance_minus)):
        a, b = fused.double().numpy(), pipeline.double().numpy()
        standard_error = math.sqrt((a.var() + b.var()) / N) + 1e-9
        assert abs(a.mean() - b.mean()) < 4 * standard_error, (a.mean(), b.mean())
        assert stats.ks_2samp(a, b).pvalue > 1e-3


def test_read_moments_are_those_of_the_reads():
    # The mean is the noiseless read, bit for bit; the variance is that of 4,000 noisy reads of each
    # of 8 devices (G well above 0, where the floor at 0 uS never acts): ratio within 12% (the
    # variance estimate's standard error is 2.2%).
    g = torch.tensor([2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 16.0, 20.0])
    nu = torch.full_like(g, 0.05)
    t = 86400.0
    mean, variance = ops.pcm_read_moments(g, nu, t)
    assert torch.equal(mean, ops.pcm_read(g, nu, analogtorch.make_rng_state(50), t, read_noise=False))
    reads = torch.stack([ops.pcm_read(g, nu, analogtorch.make_rng_state(50, step), t) for step in range(4000)])
    ratio = reads.double().var(dim=0) / variance.double()
    assert ((ratio - 1).abs() < 0.12).all(), ratio
    # Before t_read no 1/f noise has accumulated.
    assert (ops.pcm_read_moments(g, nu, 0.0)[1] == 0).all()


def test_add_read_noise_draws_one_gaussian_per_element():
    y = torch.linspace(-5.0, 5.0, N)
    variance = torch.linspace(0.01, 4.0, N)
    out = ops.add_read_noise(y, variance, analogtorch.make_rng_state(51))
    z = ((out - y) / variance.sqrt()).double().numpy()
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert torch.equal(out, ops.add_read_noise(y, variance, analogtorch.make_rng_state(51)))
    assert not torch.equal(out, ops.add_read_noise(y, variance, analogtorch.make_rng_state(51, 1)))
    assert torch.equal(ops.add_read_noise(y, torch.zeros_like(y), analogtorch.make_rng_state(51)), y)
    # The noise is additive: the gradient passes to y unchanged, and none to the variance.
    y_leaf = y[:7].clone().requires_grad_()
    ops.add_read_noise(y_leaf, variance[:7], analogtorch.make_rng_state(52)).sum().backward()
    assert torch.equal(y_leaf.grad, torch.ones(7))


@pytest.mark.parametrize("op", ["add_read_noise", "quantize"])
def test_one_draw_per_element_serves_groups_of_four_independently(op):
    """Both noise ops draw four elements' normals from one random block (two Box-Muller pairs):
    neighbours within a group and across groups are uncorrelated, and an element's draw does not
    depend on the length of the tensor (the last, partial group draws what a whole one would)."""

    def noise(n: int, key: int = 53) -> torch.Tensor:
        rng = analogtorch.make_rng_state(key)
        if op == "add_read_noise":
            return ops.add_read_noise(torch.zeros(n), torch.ones(n), rng)
        return ops.quantize(torch.zeros(n), rng, bits=0, bound=1.0, noise_std=0.1) / 0.1

    z = noise(400_000).double()
    assert stats.kstest(z.numpy(), "norm").pvalue > 1e-3
    by_position = z.view(-1, 4)
    # Correlation of each position pair in a group (0-1 shares a Box-Muller pair, 1-2 does not) and
    # across groups: |r| < 5 / sqrt(100,000) for independent draws.
    for a, b in ((0, 1), (2, 3), (1, 2), (0, 3)):
        r = torch.corrcoef(torch.stack([by_position[:, a], by_position[:, b]]))[0, 1].item()
        assert abs(r) < 0.016, (a, b, r)
    r = torch.corrcoef(torch.stack([by_position[:-1, 3], by_position[1:, 0]]))[0, 1].item()
    assert abs(r) < 0.016, r
    for n in (1, 2, 3, 5, 7, 4097):
        assert torch.equal(noise(n), z[:n].float()), n


def test_hardware_aware_read_draws_its_time_log_uniformly():
    low, high = 1.0, 86400.0
    times = np.array([
        ops.hardware_aware_read(torch.ones(1), analogtorch.make_rng_state(40, step), time_min_s=low, time_max_s=high)[2].item()
        for step in range(2000)
    ])  # fmt: skip
    assert times.min() >= low and times.max() <= high * (1 + 1e-6)
    u = (np.log(times) - math.log(low)) / (math.log(high) - math.log(low))
    assert stats.kstest(u, "uniform").pvalue > 1e-3


def test_hardware_aware_read_same_seed_same_bits_and_no_drift_window():
    weights = torch.linspace(-20.0, 20.0, 10_001)
    a = ops.hardware_aware_read(weights, analogtorch.make_rng_state(41, 3))
    b = ops.hardware_aware_read(weights, analogtorch.make_rng_state(41, 3))
    c = ops.hardware_aware_read(weights, analogtorch.make_rng_state(41, 4))
    assert all(torch.equal(x, y) for x, y in zip(a, b)) and not torch.equal(a[0], c[0])
    # Read at time 0 (no drift, no 1/f noise yet): the programmed pair itself, within the closed
    # loop's verify tolerance for >= 99% of the pairs with targets in [-12.5, 12.5] uS.
    quiet = PCMDevice(read_noise=False)
    targets = weights.clamp(-12.5, 12.5)
    read, variance, drawn = ops.hardware_aware_read(targets, analogtorch.make_rng_state(42), quiet, time_min_s=0.0, time_max_s=0.0)
    assert drawn.item() == 0.0 and (variance == 0).all()
    assert ((read - targets).abs() <= quiet.verify_tolerance_us + 1e-5).double().mean() > 0.99


def test_absurd_times_and_rounded_parameters_stay_usable():
    # Found by fuzzing: a read at 3e38 s overflowed (t + t_r) / (2 t_r) to Inf; target_clip_us just
    # above g_reset_us rounded to it in float32 and made a valid PCMDevice unusable.
    read = ops.pcm_read(torch.tensor([1.0]), torch.tensor([0.0]), analogtorch.make_rng_state(1), 3e38)
    assert torch.isfinite(read).all()
    tight = PCMDevice(g_reset_us=0.1, target_clip_us=0.10000000149011612)
    assert torch.isfinite(ops.pcm_program(torch.tensor([0.05]), analogtorch.make_rng_state(2), tight).conductance_us).all()
