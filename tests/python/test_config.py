"""analogtorch.config: defaults (docs/physics.md), derived values, the format of validation messages and
the edge values accepted (the values refused are in test_bad_inputs.py)."""

import re

import numpy as np
import pytest

from analogtorch.config import Capacitor3T1C, PCMDevice, Periphery, UnitCell, replace

CLASSES = [PCMDevice, Capacitor3T1C, UnitCell, Periphery]


# ---------------------------------------------------------------------------------------------
# Defaults and derived values
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_defaults_construct_and_are_equal_and_hashable(cls):
    config = cls()
    assert config == cls()
    assert hash(config) == hash(cls())


def test_defaults_match_physics_md():
    pcm = PCMDevice()
    assert (pcm.g_max_us, pcm.g_reset_us, pcm.target_clip_us) == (25.0, 0.1, 20.0)
    assert pcm.programming == "closed_loop"
    assert (pcm.set_step_us, pcm.set_step_c2c, pcm.set_step_d2d, pcm.verify_tolerance_us) == (2.0, 0.5, 0.2, 0.5)
    assert (pcm.max_iterations, pcm.max_resets) == (20, 2)
    assert (pcm.t0_s, pcm.t_read_s) == (20.0, 250e-9)

    cap = Capacitor3T1C()
    assert (cap.v_min_v, cap.v_max_v, cap.v_init_v, cap.v_leak_v, cap.tau_s) == (0.0, 1.0, 0.5, 0.8, 1.0)
    assert (cap.v_t_v, cap.v_t_sigma_v, cap.k_us_per_v2, cap.dv_pulse_v) == (0.3, 0.02, 50.0, 0.001)
    assert (cap.read_exponent, cap.down_up_ratio, cap.step_slope_per_v) == (1.0, 1.0, 0.1)
    assert (cap.mismatch_sigma, cap.c2c_sigma, cap.rail_margin_v, cap.soft_bounds) == (0.1, 0.1, 0.05, False)

    cell = UnitCell()
    assert cell.pcm == PCMDevice() and cell.capacitor == Capacitor3T1C()
    assert (cell.gain_f, cell.offset_us, cell.transfer_every, cell.polarity_inversion) == (3.0, 2.0, 8000, True)

    periphery = Periphery()
    assert (periphery.in_bits, periphery.out_bits, periphery.in_bound) == (8, 8, 1.0)


def test_derived_capacitor_values():
    cap = Capacitor3T1C()
    # The calibrated triode read curve (docs/physics.md 1.11): g = 50 uS/V (V_C - 0.3 V).
    assert cap.g_shared_us == pytest.approx(10.0)
    assert cap.read_conductance_us(1.0) == pytest.approx(35.0)
    assert cap.read_conductance_us(0.2) == 0.0  # below threshold
    assert cap.read_conductance_us(0.5, v_t_v=0.32) == pytest.approx(50.0 * 0.18)  # a cell's own V_T
    assert cap.dg_per_pulse_us == pytest.approx(50.0 * 0.001)
    assert (cap.pulses_to_rail(up=True), cap.pulses_to_rail(up=False)) == (pytest.approx(450.0), pytest.approx(200.0))
    square = Capacitor3T1C(k_us_per_v2=22.0, read_exponent=2.0, dv_pulse_v=0.004)  # the former square law
    assert square.g_shared_us == pytest.approx(0.88)
    assert square.dg_per_pulse_us == pytest.approx(2 * 22 * 0.2 * 0.004)


def test_derived_values_follow_the_fields():
    cap = Capacitor3T1C(k_us_per_v2=10, v_t_v=0.1, dv_pulse_v=0.01, read_exponent=2.0)
    assert cap.g_shared_us == pytest.approx(10 * 0.4**2)
    assert cap.dg_per_pulse_us == pytest.approx(2 * 10 * 0.4 * 0.01)
    cap = Capacitor3T1C(k_us_per_v2=10, v_t_v=0.1, dv_pulse_v=0.01, read_exponent=1.5)
    assert cap.g_shared_us == pytest.approx(10 * 0.4**1.5)
    assert cap.dg_per_pulse_us == pytest.approx(1.5 * 10 * 0.4**0.5 * 0.01)


def test_ints_for_floats_are_stored_as_float():
    pcm = PCMDevice(g_max_us=30, t0_s=np.int64(10))
    assert pcm.g_max_us == 30.0 and type(pcm.g_max_us) is float
    assert type(pcm.t0_s) is float
    assert type(Capacitor3T1C(v_max_v=1).v_max_v) is float
    assert type(UnitCell(gain_f=2).gain_f) is float
    assert type(Periphery(out_bound=np.float32(5.0)).out_bound) is float


def test_numpy_ints_for_int_fields_are_stored_as_int():
    assert type(PCMDevice(max_iterations=np.int32(5)).max_iterations) is int


# ---------------------------------------------------------------------------------------------
# Validation of single fields
# ---------------------------------------------------------------------------------------------


def test_message_format():
    with pytest.raises(ValueError, match=r"^g_max_us: expected a finite number > 0, got -1\.0$"):
        PCMDevice(g_max_us=-1.0)
    with pytest.raises(ValueError, match=r"^set_step_d2d: expected a finite number in \[0, 1\), got 1\.0$"):
        PCMDevice(set_step_d2d=1)
    with pytest.raises(ValueError, match=r"^max_pulses: expected an int in \[1, 127\], got 200$"):
        Capacitor3T1C(max_pulses=200)
    with pytest.raises(TypeError, match=r"^max_iterations: expected an int, got bool True$"):
        PCMDevice(max_iterations=True)


@pytest.mark.parametrize(
    ("cls", "changes"),
    [
        (PCMDevice, {"programming": "open_loop", "set_step_d2d": 0.0, "max_resets": 0, "approach_fraction": 1.0}),
        (PCMDevice, {"g_reset_us": 0.0, "target_clip_us": 25.0}),
        (Capacitor3T1C, {"v_leak_v": 0.0, "rail_margin_v": 0.001, "max_pulses": 127, "soft_bounds": True}),
        (Capacitor3T1C, {"v_leak_v": 1.0, "mismatch_sigma": 0.0, "c2c_sigma": 0.0, "v_t_sigma_v": 0.0}),
        (UnitCell, {"offset_us": 0.0, "weight_range_fraction": 1.0, "polarity_inversion": False}),
        (Periphery, {"in_bits": 0, "out_bits": 24, "out_noise": 0.04, "backward_like_forward": False}),
    ],
)
def test_edge_values_are_accepted(cls, changes):
    config = cls(**changes)
    for name, value in changes.items():
        assert getattr(config, name) == value


# ---------------------------------------------------------------------------------------------
# Cross-field checks
# ---------------------------------------------------------------------------------------------


def test_cross_field_checks_accept_consistent_changes():
    pcm = PCMDevice(g_max_us=15.0, target_clip_us=12.0)
    assert pcm.target_clip_us == 12.0
    cap = Capacitor3T1C(v_min_v=-1.0, v_max_v=1.0, v_init_v=0.0, v_leak_v=-1.0, v_t_v=-0.2)
    assert cap.g_shared_us == pytest.approx(50.0 * 0.2)
    assert UnitCell(offset_us=12.4).offset_us == 12.4  # twice that is just below the 25 uS swing


# ---------------------------------------------------------------------------------------------
# replace()
# ---------------------------------------------------------------------------------------------


def test_replace_returns_a_validated_copy():
    pcm = PCMDevice()
    changed = replace(pcm, g_max_us=30, programming="open_loop")
    assert changed.g_max_us == 30.0 and type(changed.g_max_us) is float
    assert changed.programming == "open_loop"
    assert pcm.g_max_us == 25.0  # the original is untouched


# ---------------------------------------------------------------------------------------------
# float32 limits: the kernels compute in float32, so a value must survive the conversion
# ---------------------------------------------------------------------------------------------

import dataclasses  # noqa: E402
import math  # noqa: E402
import struct  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FLOAT32_MAX = 3.4028234663852886e38
FLOAT32_TINY = 1.1754943508222875e-38  # smallest normal


def as_float32(value: float) -> float:
    try:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


@pytest.mark.parametrize(
    "cls, name, value",
    [
        (PCMDevice, "t_read_s", 1e-46),  # rounds to 0 in float32
        (PCMDevice, "set_step_us", 1e-50),
        (PCMDevice, "verify_tolerance_us", 1e-40),  # a subnormal: flushed to 0 by fast-math kernels
        (Capacitor3T1C, "dv_pulse_v", 1e-50),
        (Capacitor3T1C, "tau_s", 5e-324),
        (Periphery, "out_bound", 1e-45),
        (PCMDevice, "approach_fraction", 1e-300),  # in (0, 1]
        (PCMDevice, "g_max_us", 1e39),  # overflows float32
        (PCMDevice, "t0_s", 3.5e38),
        (Capacitor3T1C, "v_min_v", -1e39),
        (UnitCell, "gain_f", 1e300),
        (PCMDevice, "set_step_d2d", 1.0 - 1e-12),  # in [0, 1): rounds to 1.0 in float32
    ],
)
def test_values_that_float32_cannot_hold_are_refused(cls, name, value):
    default = cls()
    with pytest.raises(ValueError, match=rf"^{name}: expected .*float32.*got {re.escape(repr(value))}$"):
        cls(**{name: value})
    with pytest.raises(ValueError, match=rf"^{name}: "):
        replace(default, **{name: value})
    assert default == cls()  # a refused replace leaves the original as it was


def test_a_read_curve_too_flat_for_float32_is_refused():
    # Each field fits float32, but dg_per_pulse_us = 2 k (v_init - v_t) dv rounds to 0 there.
    with pytest.raises(ValueError, match=r"^dv_pulse_v: expected dg_per_pulse_us .*float32"):
        Capacitor3T1C(k_us_per_v2=1e-20, dv_pulse_v=1e-20)


def test_the_float32_limits_themselves_are_accepted():
    assert PCMDevice(t_read_s=FLOAT32_TINY).t_read_s == FLOAT32_TINY
    assert Periphery(out_bound=FLOAT32_MAX).out_bound == FLOAT32_MAX
    assert PCMDevice(set_step_c2c=1e-50).set_step_c2c == 1e-50  # >= 0: rounding to 0 is harmless


LIMITS = [
    0.0, -0.0, 5e-324, 1e-46, 1e-45, 1e-40, FLOAT32_TINY, FLOAT32_TINY * 0.999, 1e-30, 1.0 - 1e-12, 1.0, 1.0 + 1e-12,
    FLOAT32_MAX, FLOAT32_MAX * (1 + 1e-9), 3.4028235677973366e38, 1e39, 1e300, -1e39, -FLOAT32_MAX,
]  # fmt: skip


def float_fields(cls):
    return [f.name for f in dataclasses.fields(cls) if f.type in ("float", float)]


@given(st.data())
def test_configs_at_float32_limits_hold_in_float32_or_are_refused_by_name(data):
    cls = data.draw(st.sampled_from([PCMDevice, Capacitor3T1C, UnitCell, Periphery]))
    names = float_fields(cls)
    changes = {
        name: data.draw(st.one_of(st.sampled_from(LIMITS), st.floats(allow_nan=False, allow_infinity=False)))
        for name in data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    }
    default = cls()
    try:
        config = replace(default, **changes)
    except ValueError as error:
        assert any(str(error).startswith(f"{name}: ") for name in (f.name for f in dataclasses.fields(cls))), error
        assert default == cls()
        return
    for name in names:
        value = getattr(config, name)
        rounded = as_float32(value)
        assert math.isfinite(rounded), f"{name}={value!r} overflows float32"
        if value > 0 and name not in ("set_step_c2c", "v_t_sigma_v", "mismatch_sigma", "c2c_sigma", "out_noise",
                                      "g_reset_us", "offset_us", "v_min_v", "v_max_v", "v_init_v", "v_leak_v", "v_t_v",
                                      "set_step_d2d", "step_slope_per_v"):  # fmt: skip
            assert rounded >= FLOAT32_TINY, f"{name}={value!r} is no normal float32"
    if cls is Capacitor3T1C:
        assert as_float32(config.dg_per_pulse_us) >= FLOAT32_TINY
        assert math.isfinite(as_float32(config.g_shared_us))
