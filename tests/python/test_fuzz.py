"""Property-based tests (hypothesis) of every registered op and of AnalogLinear.

Random shapes (empty included), strides, dtypes, devices, extreme but finite values, NaN/Inf and
random configurations, valid or not. Every call must either return finite results that keep the
op's invariants (conductances in [0, G_max], V_C within its rails, counts >= 0, same seed same bits)
or raise ValueError/TypeError/RuntimeError naming the argument at fault. Reads (pcm_read,
pcm_read_moments, hardware_aware_read, add_read_noise, quantize, a layer's forward) check no
values, so that they read nothing back from the device: they must return finite results where
their inputs are finite and within the physics, and NaN wherever an input is NaN. A crash or a
hang fails the run. Non-finite gradients given to the backward ops propagate, as in PyTorch (the optimizer
refuses them: tests/python/test_linear.py), so those ops are fuzzed with finite values.

Profiles (tests/python/conftest.py): "ci" (default, bounded, derandomised) and "long" (10,000
examples per test): ``pytest tests/python/test_fuzz.py --hypothesis-profile=long``.
"""

import dataclasses
import math
import re

import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from analogtorch import AnalogLinear, Capacitor3T1C, PCMDevice, make_rng_state, presets
from analogtorch import _ops as ops
from analogtorch.optim import AnalogSGD

ERRORS = (ValueError, TypeError, RuntimeError)

# --- strategies ------------------------------------------------------------------------------------

EXTREMES = [0.0, -0.0, 1e-38, -1e-38, 1e-7, 3e38, -3e38, 1e30, -1e30]
NON_FINITE = [math.nan, math.inf, -math.inf]


def values(low: float = -1e3, high: float = 1e3, non_finite: bool = True):
    """Plain values in [low, high], the float32 extremes, and (when asked) NaN/Inf."""
    as_float32 = st.floats(low, high).map(lambda v: float(torch.tensor(v, dtype=torch.float32)))
    choices = [as_float32, st.sampled_from(EXTREMES)]
    if non_finite:
        choices.append(st.sampled_from(NON_FINITE))
    return st.one_of(*choices)


shapes = st.lists(st.integers(0, 6), min_size=0, max_size=3).map(tuple)


@st.composite
def tensors(draw, shape, low=-1e3, high=1e3, non_finite=True, odd_dtype=True, odd_device=True):
    """A float32 tensor of `shape` (sometimes non-contiguous), and sometimes of another dtype or on
    the meta device: what a user might pass."""
    numel = math.prod(shape)
    data = draw(st.lists(values(low, high, non_finite), min_size=numel, max_size=numel))
    t = torch.tensor(data, dtype=torch.float32).reshape(shape)
    if len(shape) >= 1 and draw(st.booleans()):  # the same values through a strided view
        t = torch.stack([t, torch.zeros_like(t)], dim=-1).select(-1, 0)
    if odd_dtype and draw(st.integers(0, 15)) == 0:
        t = t.to(draw(st.sampled_from([torch.float64, torch.float16, torch.bfloat16, torch.int32])))
    if odd_device and draw(st.integers(0, 15)) == 0:
        t = t.to("meta")
    return t


@st.composite
def rng_states(draw):
    state = make_rng_state(draw(st.integers(0, 2**64 - 1)), draw(st.integers(0, 2**40)))
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return state.int()
    if kind == 1:
        return state[:1]
    return state


def _fields(cls, draw, overrides_of):
    changes = {}
    for field in dataclasses.fields(cls):
        if draw(st.integers(0, 5)) == 0:  # a few fields at a time: most configs stay valid
            changes[field.name] = draw(overrides_of(field))
    return changes


def _field_value(field):
    kind = field.type if isinstance(field.type, str) else field.type.__name__
    if kind == "bool":
        return st.one_of(st.booleans(), st.sampled_from([0, 1, "yes"]))
    if kind == "int":
        return st.one_of(st.integers(-5, 300), st.sampled_from([2.5, True]))
    if kind == "str":
        return st.sampled_from(["closed_loop", "open_loop", "neither"])
    return st.one_of(st.floats(-2.0, 50.0, width=32), st.sampled_from([0.0, 1e-9, 1e9, *NON_FINITE, "1"]))


def _config(cls, data):
    """A config with a few random fields, valid or not: built, or refused naming a field (None)."""
    changes = _fields(cls, data.draw, _field_value)
    try:
        return cls(**changes)
    except (ValueError, TypeError) as error:
        # Named by a field: the changed one, or the one a cross-field rule is stated for.
        names = [field.name for field in dataclasses.fields(cls)]
        assert any(str(error).startswith(name) for name in names), f"{cls.__name__}({changes}) -> {error}"
        return None


# --- the contract --------------------------------------------------------------------------------


def refused_by_name(error: Exception, names: list[str]) -> bool:
    message = str(error)
    return any(re.search(rf"(?<![\w.]){re.escape(name)}(\[\w+\])?:", message) for name in names)


def call(fn, names):
    """fn() or None when refused by one of `names`; anything else fails the test."""
    try:
        return fn()
    except ERRORS as error:
        assert refused_by_name(error, names), f"an error naming none of {names}: {type(error).__name__}: {error}"
        return None


def ordinary(*tensors) -> bool:
    """All inputs are float32 CPU tensors: a read must then succeed, whatever their values."""
    return all(t.dtype == torch.float32 and t.device.type == "cpu" for t in tensors)


def physical(conductance: torch.Tensor, nu: torch.Tensor, g_max_us: float = 25.0) -> torch.Tensor:
    """Where programmed devices are finite and within the physics: G in [0, G_max], nu in [0, 1]."""
    return (conductance >= 0) & (conductance <= g_max_us) & (nu >= 0) & (nu <= 1)  # False for NaN


def finite_ordinary(*tensors) -> bool:
    """All inputs are float32 CPU tensors with finite values: the call must then succeed."""
    return all(t.dtype == torch.float32 and t.device.type == "cpu" and bool(torch.isfinite(t).all()) for t in tensors)


def ordinary_rng(rng) -> bool:
    return rng.dtype == torch.int64 and rng.shape == (2,)


def same_bits(a, b) -> bool:
    """Equal bit for bit (NaN included, which torch.equal calls unequal)."""
    def as_bytes(t):  # a dense copy: views of size-1 dimensions may keep any stride
        return torch.empty_like(t, memory_format=torch.contiguous_format).copy_(t).view(-1).view(torch.uint8)

    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(as_bytes(a), as_bytes(b))


def assert_within(t, low, high, what):
    if t.numel():
        assert torch.isfinite(t).all(), f"{what}: non-finite results"
        assert t.min() >= low and t.max() <= high, f"{what}: outside [{low}, {high}]: {t.min()} .. {t.max()}"


# --- PCM ------------------------------------------------------------------------------------------


@given(st.data())
def test_pcm_program(data):
    target = data.draw(tensors(data.draw(shapes), -10.0, 40.0))
    rng = data.draw(rng_states())
    pcm = _config(PCMDevice, data)
    if pcm is None:
        return
    result = call(lambda: ops.pcm_program(target, rng, pcm), ["target_us", "rng"])
    if result is None:
        assert not (finite_ordinary(target) and ordinary_rng(rng)), "refused ordinary input"
        return
    assert finite_ordinary(target), "accepted NaN/Inf or an odd dtype"
    assert_within(result.conductance_us, 0.0, pcm.g_max_us, "conductance_us")
    assert torch.isfinite(result.drift_nu).all()
    assert_within(result.pulses, 0, 2**31 - 1, "pulses")
    assert_within(result.iterations, 0, pcm.max_iterations * (pcm.max_resets + 1), "iterations")
    again = ops.pcm_program(target, rng, pcm)
    assert torch.equal(again.conductance_us, result.conductance_us)


@st.composite
def programmed_devices(draw):
    """Conductances and drift exponents of one shape, a read time and a t0, valid or not."""
    shape = draw(shapes)
    conductance = draw(tensors(shape, 0.0, 25.0))
    nu = draw(tensors(shape, 0.0, 0.2))
    return conductance, nu, draw(values(0.0, 1e9)), draw(st.sampled_from([20.0, 1.0, 0.0, -1.0, math.nan]))


@given(st.data())
def test_pcm_read(data):
    conductance, nu, time_s, t0_s = data.draw(programmed_devices())
    rng = data.draw(rng_states())
    read_noise = data.draw(st.booleans())
    result = call(
        lambda: ops.pcm_read(conductance, nu, rng, time_s, t0_s=t0_s, read_noise=read_noise),
        ["conductance_us", "drift_nu", "rng", "time_s", "t0_s"],
    )
    if result is None:
        return
    assert ordinary(conductance, nu) and math.isfinite(time_s) and time_s >= 0
    assert result.shape == conductance.shape and torch.isfinite(result[physical(conductance, nu)]).all()
    assert torch.isnan(result[conductance.isnan() | nu.isnan()]).all()  # never floored to 0
    again = ops.pcm_read(conductance, nu, rng, time_s, t0_s=t0_s, read_noise=read_noise)
    assert same_bits(again, result)


@given(st.data())
def test_hardware_aware_read(data):
    weight = data.draw(tensors(data.draw(shapes), -30.0, 30.0))
    rng = data.draw(rng_states())
    pcm = _config(PCMDevice, data)
    if pcm is None:
        return
    low = data.draw(st.sampled_from([0.0, 1e-9, 1.0, 3600.0, -1.0, math.nan]))
    high = data.draw(st.sampled_from([0.0, 1.0, 86400.0, 3.2e7, math.inf]))
    names = ["weight_us", "rng", "time_min_s", "time_max_s"]
    result = call(lambda: ops.hardware_aware_read(weight, rng, pcm, time_min_s=low, time_max_s=high), names)
    if result is None:
        return
    mean, variance, drawn = result
    assert ordinary(weight) and 0 <= low <= high < math.inf
    finite = weight.isfinite()
    assert mean.shape == weight.shape and torch.isfinite(mean[finite]).all()
    assert variance.shape == weight.shape and torch.isfinite(variance[finite]).all() and (variance[finite] >= 0).all()
    # A NaN or infinite weight reads as itself, never as a programmed (clipped) conductance.
    assert same_bits(mean[~finite], weight[~finite]) and not torch.isfinite(variance[~finite]).any()
    assert low * (1 - 1e-6) <= drawn.item() <= high * (1 + 1e-6)
    again = ops.hardware_aware_read(weight, rng, pcm, time_min_s=low, time_max_s=high)
    assert same_bits(again[0], mean) and same_bits(again[1], variance)


@given(st.data())
def test_pcm_read_moments(data):
    conductance, nu, time_s, t0_s = data.draw(programmed_devices())
    result = call(lambda: ops.pcm_read_moments(conductance, nu, time_s, t0_s=t0_s), ["conductance_us", "drift_nu", "time_s", "t0_s"])
    if result is None:
        return
    mean, variance = result
    assert mean.shape == conductance.shape and variance.shape == conductance.shape
    if conductance.is_meta:  # both on meta: the fake kernel's shapes
        return
    assert ordinary(conductance, nu) and math.isfinite(time_s) and time_s >= 0
    within = physical(conductance, nu)
    assert torch.isfinite(mean[within]).all() and (mean[within] >= 0).all()
    assert torch.isfinite(variance[within]).all() and (variance[within] >= 0).all()
    nan = conductance.isnan() | nu.isnan()
    assert torch.isnan(mean[nan]).all() and torch.isnan(variance[nan]).all()


@given(st.data())
def test_add_read_noise(data):
    shape = data.draw(shapes)
    y = data.draw(tensors(shape))
    variance = data.draw(tensors(shape, -1.0, 1e6))
    rng = data.draw(rng_states())
    result = call(lambda: ops.add_read_noise(y, variance, rng), ["y", "variance", "rng"])
    if result is None:
        assert not (ordinary(y, variance) and ordinary_rng(rng)), "refused ordinary input"
        return
    assert ordinary(y, variance)
    # y + sqrt(variance) z: finite where y and a variance >= 0 are, never finite elsewhere.
    ok = y.isfinite() & variance.isfinite() & (variance >= 0)
    assert result.shape == y.shape and torch.isfinite(result[ok]).all() and not torch.isfinite(result[~ok]).any()
    assert same_bits(ops.add_read_noise(y, variance, rng), result)


@given(st.data())
def test_pcm_pair_step(data):
    shape = data.draw(shapes)
    g_plus = data.draw(tensors(shape, 0.0, 25.0, odd_device=False)).contiguous()
    g_minus = data.draw(tensors(shape, 0.0, 25.0, odd_device=False)).contiguous()
    delta = data.draw(tensors(shape))
    rng = data.draw(rng_states())
    weight = torch.empty(shape)
    pcm = _config(PCMDevice, data)
    if pcm is None:
        return
    kwargs = {
        "gain_f": data.draw(st.sampled_from([3.0, 0.5, 0.0, -1.0])),
        "scale_us_per_unit": data.draw(st.sampled_from([1.0, 20.0, 0.0, math.inf])),
        "amplitude": 0.05,
        "max_pulses": data.draw(st.sampled_from([1, 15, 0, 200])),
        "refresh_us": data.draw(st.sampled_from([20.0, 1.0, 0.0])),
    }
    before = (g_plus.clone(), g_minus.clone())
    names = ["g_plus_us", "g_minus_us", "weight", "delta_w_us", "rng", *kwargs]
    result = call(lambda: ops.pcm_pair_step_(g_plus, g_minus, weight, delta, rng, pcm=pcm, **kwargs), names)
    if result is None:  # refused: the state is untouched
        assert same_bits(g_plus, before[0]) and same_bits(g_minus, before[1])
        return
    assert finite_ordinary(before[0], before[1], delta)
    assert_within(g_plus, 0.0, pcm.g_max_us, "g_plus_us")
    assert_within(g_minus, 0.0, pcm.g_max_us, "g_minus_us")
    assert torch.isfinite(weight).all()


# --- the 3T1C capacitor ---------------------------------------------------------------------------


@given(st.data())
def test_cell_variation(data):
    shape = data.draw(st.lists(st.integers(-2, 6), max_size=3).map(tuple))
    rng = data.draw(rng_states())
    result = call(lambda: ops.cell_variation(rng, shape), ["rng", "shape"])
    if result is None:
        assert min(shape, default=0) < 0 or not ordinary_rng(rng)
        return
    assert result.dtype == torch.int8 and result.shape == (*shape, 3)
    assert torch.equal(result, ops.cell_variation(rng, shape))


def _capacitor_inputs(data, shape, cap):
    v_c = data.draw(tensors(shape, cap.v_min_v, cap.v_max_v))
    variation = ops.cell_variation(make_rng_state(1), shape)
    if data.draw(st.integers(0, 9)) == 0:
        variation = variation[..., :2]
    return v_c, variation


@given(st.data())
def test_capacitor_update_and_leak(data):
    cap = _config(Capacitor3T1C, data)
    if cap is None:
        return
    shape = data.draw(shapes)
    v_c, variation = _capacitor_inputs(data, shape, cap)
    delta = data.draw(tensors(shape, -1e4, 1e4))
    rng = data.draw(rng_states())
    polarity = data.draw(st.sampled_from([1, -1, 0, 2]))
    names = ["v_c", "variation", "delta_w_us", "rng", "polarity"]
    result = call(lambda: ops.capacitor_update(v_c, variation, delta, rng, polarity, cap), names)
    if result is not None:
        v_out, pulses = result
        assert finite_ordinary(v_c, delta)
        assert_within(v_out, cap.v_min_v, cap.v_max_v, "v_c")
        assert_within(pulses.abs(), 0, cap.max_pulses, "pulses")
        assert torch.equal(ops.capacitor_update(v_c, variation, delta, rng, polarity, cap)[0], v_out)
    elapsed_s = data.draw(values(0.0, 1e6))
    leaked = call(lambda: ops.capacitor_leak(v_c, elapsed_s, tau_s=cap.tau_s, v_leak_v=cap.v_leak_v), ["v_c", "elapsed_s"])
    if leaked is not None and v_c.device.type != "meta":  # meta: the fake kernel, shapes only
        assert finite_ordinary(v_c) and math.isfinite(elapsed_s)
        if v_c.numel():  # each cell relaxes from where it was toward v_leak (up to float32 rounding)
            low, high = min(v_c.min().item(), cap.v_leak_v), max(v_c.max().item(), cap.v_leak_v)
            assert_within(leaked, low - 1e-6 * (1 + abs(low)), high + 1e-6 * (1 + abs(high)), "leaked v_c")


@given(st.data())
def test_capacitor_step(data):
    cap = _config(Capacitor3T1C, data)
    if cap is None:
        return
    shape = data.draw(shapes)
    v_c, variation = _capacitor_inputs(data, shape, cap)
    v_c = v_c.contiguous() if v_c.device.type == "cpu" else v_c
    g_plus = data.draw(tensors(shape, 0.0, 25.0))
    g_minus = data.draw(tensors(shape, 0.0, 25.0))
    delta = data.draw(tensors(shape, -1e4, 1e4))
    rng = data.draw(rng_states())
    weight = torch.empty(shape)
    polarity = data.draw(st.sampled_from([1, -1]))
    before = v_c.clone()
    names = ["v_c", "weight", "g_plus_us", "g_minus_us", "variation", "delta_w_us", "rng"]
    pulses = call(
        lambda: ops.capacitor_step_(
            v_c, weight, g_plus, g_minus, variation, delta, rng, polarity,
            elapsed_s=1e-4, gain_f=3.0, scale_us_per_unit=2.0, capacitor=cap,
        ),  # fmt: skip
        names,
    )
    if pulses is None:
        assert v_c.device.type == "meta" or same_bits(v_c, before), "a refused step changed the state"
        return
    assert finite_ordinary(before, g_plus, g_minus, delta)
    assert_within(v_c, cap.v_min_v, cap.v_max_v, "v_c")
    assert torch.isfinite(weight).all()
    assert_within(pulses.abs(), 0, cap.max_pulses, "pulses")


@given(st.data())
def test_unit_cell_weight_and_its_backward(data):
    cap = Capacitor3T1C()
    shape = data.draw(shapes)
    g_plus = data.draw(tensors(shape, 0.0, 25.0))
    g_minus = data.draw(tensors(shape, 0.0, 25.0))
    v_c, variation = _capacitor_inputs(data, shape, cap)
    polarity = data.draw(st.sampled_from([1, -1, 3]))
    names = ["g_plus_us", "g_minus_us", "v_c", "variation", "polarity"]
    weight = call(
        lambda: ops.unit_cell_weight(g_plus, g_minus, v_c, variation, polarity, gain_f=3.0, scale_us_per_unit=2.0, capacitor=cap),
        names,
    )
    if weight is None:
        return
    # float64 is accepted too (gradcheck): one float dtype, finite values
    assert g_plus.dtype in (torch.float32, torch.float64) and g_plus.dtype == g_minus.dtype == v_c.dtype
    assert all(bool(torch.isfinite(t).all()) and t.device.type == "cpu" for t in (g_plus, g_minus, v_c))
    assert weight.shape == shape and torch.isfinite(weight).all()
    grad = torch.randn(shape, dtype=weight.dtype)
    params = ops._capacitor_params(cap)
    grads = torch.ops.analogtorch.unit_cell_weight_backward(grad, v_c.contiguous(), variation, polarity, params, 3.0, 2.0)
    assert all(torch.isfinite(g).all() for g in grads)


@given(st.data())
def test_transfer(data):
    cell = Capacitor3T1C()
    pcm = _config(PCMDevice, data)
    if pcm is None:
        return
    shape = data.draw(shapes)
    g_plus = data.draw(tensors(shape, 0.0, 25.0))
    g_minus = data.draw(tensors(shape, 0.0, 25.0))
    v_c, variation = _capacitor_inputs(data, shape, cell)
    rng = data.draw(rng_states())
    time_s = data.draw(values(0.0, 1e7))
    names = ["g_plus_us", "g_minus_us", "v_c", "variation", "rng", "time_since_programming_s"]
    result = call(
        lambda: ops.transfer(
            g_plus, g_minus, v_c, variation, rng, 1, next_polarity=-1, gain_f=3.0, offset_us=2.0,
            time_since_programming_s=time_s, pcm=pcm, capacitor=cell,
        ),  # fmt: skip
        names,
    )
    if result is None:
        return
    assert finite_ordinary(g_plus, g_minus, v_c) and math.isfinite(time_s)
    assert_within(result.g_plus_us, 0.0, pcm.g_max_us, "g_plus_us")
    assert_within(result.g_minus_us, 0.0, pcm.g_max_us, "g_minus_us")
    assert_within(result.v_c, cell.v_min_v, cell.v_max_v, "v_c")
    assert_within(result.pulses, 0, 2**31 - 1, "pulses")


# --- converters -----------------------------------------------------------------------------------


@given(st.data())
def test_quantize_and_its_backward(data):
    x = data.draw(tensors(data.draw(shapes), -1e6, 1e6))
    rng = data.draw(rng_states())
    bits = data.draw(st.sampled_from([0, 2, 8, 24, 1, 25, -3]))
    bound = data.draw(st.sampled_from([1.0, 10.0, 1e-30, 0.0, -1.0, math.inf]))
    noise = data.draw(st.sampled_from([0.0, 0.04, 1.0, -0.1, math.nan]))
    y = call(lambda: ops.quantize(x, rng, bits=bits, bound=bound, noise_std=noise), ["x", "rng", "bits", "bound", "noise_std"])
    if y is None:
        return
    assert x.dtype == torch.float32, "accepted an odd dtype"
    assert y.shape == x.shape
    nan = x.isnan()
    assert torch.isnan(y[nan]).all(), "NaN became a number"
    assert_within(y[~nan], -bound, bound, "y")  # +-Inf saturates
    assert same_bits(y, ops.quantize(x, rng, bits=bits, bound=bound, noise_std=noise))
    grad = torch.ops.analogtorch.quantize_backward(torch.ones_like(y), x.contiguous().nan_to_num(), bound)
    assert_within(grad, 0.0, 1.0, "straight-through gradient")


# --- AnalogLinear ---------------------------------------------------------------------------------

PRESETS = [presets.ideal, presets.hardware_aware, presets.ambrogio2018, presets.pcm_only]


@given(st.data())
def test_analog_linear_trains_or_refuses_by_name(data):
    config = data.draw(st.sampled_from(PRESETS))()
    overrides = {}
    if isinstance(config, presets.UnitCellConfig) and data.draw(st.booleans()):
        overrides["transfer_every"] = data.draw(st.sampled_from([1, 7, 64, 0]))
    if data.draw(st.booleans()):  # small arrays: layers split over several
        overrides["periphery"] = presets.replace(config.periphery, array_rows=data.draw(st.integers(1, 4)),
                                                 array_cols=data.draw(st.integers(1, 4)),
                                                 bound_management=data.draw(st.booleans()))  # fmt: skip
    seed = data.draw(st.one_of(st.integers(-(2**63), 2**64 - 1), st.sampled_from([-(2**63) - 1, 2**64])))
    try:
        if "transfer_every" in overrides:
            config = presets.replace(config, unit_cell=presets.replace(config.unit_cell, transfer_every=overrides.pop("transfer_every")))
        config = presets.replace(config, seed=seed, **overrides)
    except (ValueError, TypeError) as error:
        assert str(error).startswith(("transfer_every", "seed")), error
        return
    in_features, out_features = data.draw(st.integers(0, 6)), data.draw(st.integers(0, 6))
    layer = AnalogLinear(in_features, out_features, bias=data.draw(st.booleans()), config=config)
    batch = data.draw(st.lists(st.integers(0, 4), max_size=2).map(tuple))
    features = data.draw(st.sampled_from([in_features, in_features + 1]))
    x = data.draw(tensors((*batch, features), -5.0, 5.0, odd_device=False))
    if x.is_floating_point():
        x.requires_grad_(True)
    optimizer = AnalogSGD(layer.parameters(), lr=data.draw(st.sampled_from([0.1, 10.0])))
    ideal = isinstance(config, presets.IdealConfig)
    y = call(lambda: layer(x), ["input", "x"])
    if y is None:
        # ideal is torch's layer: its dtype only; the analog kinds read any float through the DAC
        dtypes = (torch.float32,) if ideal else (torch.float32, torch.float64, torch.float16, torch.bfloat16)
        ordinary = features == in_features and x.dtype in dtypes
        assert not (ordinary and torch.isfinite(x).all()), "refused an ordinary input"
        return
    assert y.shape == (*batch, out_features) and y.dtype == x.dtype
    if not torch.isfinite(x).all():
        # A forward checks no values: NaN reaches every output of its own input vector (ideal is
        # exactly torch's layer); an Inf may saturate a converter.
        if y.numel():
            rows = x.reshape(-1, features).isnan().any(dim=-1)
            assert torch.isnan(y.reshape(-1, out_features)[rows]).all(), "NaN input became a number"
        return
    assert torch.isfinite(y).all()
    nn.functional.mse_loss(y.float(), torch.zeros_like(y.float())).backward() if y.numel() else None
    try:
        optimizer.step()
    except ValueError as error:  # a huge request the devices cannot take is refused whole
        assert "AnalogSGD:" in str(error), error
        return
    tile = layer.tiles["weight"][0]
    if tile.holds_weights:
        g_max = tile.pcm.g_max_us
        assert_within(tile.g_plus_us, 0.0, g_max, "g_plus_us")
        assert_within(tile.g_minus_us, 0.0, g_max, "g_minus_us")
        assert torch.isfinite(layer.weight).all()  # digital weights (ideal, hardware_aware) follow SGD's arithmetic
    if isinstance(config, presets.UnitCellConfig):
        cap = config.unit_cell.capacitor
        assert_within(tile.v_c, cap.v_min_v, cap.v_max_v, "v_c")
    stats = layer.analog_stats()
    assert all(value >= 0 for key, value in stats.items() if isinstance(value, (int, float)) and not isinstance(value, bool))
