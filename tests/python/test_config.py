"""analogtorch.config: defaults (PHYSICS.md), derived values, immutability and validation."""

import dataclasses
import math

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
    assert (cap.v_t_v, cap.v_t_sigma_v, cap.k_us_per_v2, cap.dv_pulse_v) == (0.3, 0.02, 22.0, 0.004)
    assert (cap.mismatch_sigma, cap.c2c_sigma, cap.rail_margin_v, cap.soft_bounds) == (0.1, 0.1, 0.05, False)

    cell = UnitCell()
    assert cell.pcm == PCMDevice() and cell.capacitor == Capacitor3T1C()
    assert (cell.gain_f, cell.offset_us, cell.transfer_every, cell.polarity_inversion) == (3.0, 2.0, 8000, True)

    periphery = Periphery()
    assert (periphery.in_bits, periphery.out_bits, periphery.in_bound) == (8, 8, 1.0)


def test_derived_capacitor_values():
    cap = Capacitor3T1C()
    assert cap.g_shared_us == pytest.approx(0.88)  # 22 * 0.2^2; PHYSICS.md: "about 0.9 uS"
    assert cap.read_conductance_us(1.0) == pytest.approx(10.78)  # 22 * 0.7^2; PHYSICS.md: "about 10.8 uS"
    assert cap.read_conductance_us(0.2) == 0.0  # below threshold
    assert cap.read_conductance_us(0.5, v_t_v=0.32) == pytest.approx(22.0 * 0.18**2)  # a cell's own V_T
    assert cap.dg_per_pulse_us == pytest.approx(2 * 22 * 0.2 * 0.004)


def test_derived_values_follow_the_fields():
    cap = Capacitor3T1C(k_us_per_v2=10, v_t_v=0.1, dv_pulse_v=0.01)
    assert cap.g_shared_us == pytest.approx(10 * 0.4**2)
    assert cap.dg_per_pulse_us == pytest.approx(2 * 10 * 0.4 * 0.01)


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
# Immutability
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "name", "value"),
    [
        (PCMDevice(), "g_max_us", 30.0),
        (Capacitor3T1C(), "tau_s", 2.0),
        (UnitCell(), "gain_f", 1.0),
        (UnitCell(), "pcm", PCMDevice()),
        (Periphery(), "in_bits", 4),
    ],
    ids=lambda x: x if isinstance(x, str) else None,
)
def test_configs_are_frozen(config, name, value):
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(config, name, value)


# ---------------------------------------------------------------------------------------------
# Validation of single fields
# ---------------------------------------------------------------------------------------------

BAD_VALUES = [
    # PCMDevice
    (PCMDevice, "g_max_us", -1.0, ValueError),
    (PCMDevice, "g_max_us", 0.0, ValueError),
    (PCMDevice, "g_max_us", math.inf, ValueError),
    (PCMDevice, "g_max_us", "25", TypeError),
    (PCMDevice, "g_reset_us", -0.1, ValueError),
    (PCMDevice, "target_clip_us", math.nan, ValueError),
    (PCMDevice, "programming", "half_loop", ValueError),
    (PCMDevice, "programming", 1, TypeError),
    (PCMDevice, "set_step_us", 0.0, ValueError),
    (PCMDevice, "set_step_c2c", -0.5, ValueError),
    (PCMDevice, "set_step_d2d", 1.0, ValueError),
    (PCMDevice, "verify_tolerance_us", 0.0, ValueError),
    (PCMDevice, "max_iterations", 0, ValueError),
    (PCMDevice, "max_iterations", True, TypeError),
    (PCMDevice, "max_iterations", 20.0, TypeError),
    (PCMDevice, "max_resets", -1, ValueError),
    (PCMDevice, "approach_fraction", 0.0, ValueError),
    (PCMDevice, "approach_fraction", 1.5, ValueError),
    (PCMDevice, "verify_delay_s", -1e-6, ValueError),
    (PCMDevice, "t0_s", 0.0, ValueError),
    (PCMDevice, "t_read_s", None, TypeError),
    (PCMDevice, "drift", 1, TypeError),
    (PCMDevice, "read_noise", "yes", TypeError),
    # Capacitor3T1C
    (Capacitor3T1C, "v_min_v", math.nan, ValueError),
    (Capacitor3T1C, "v_max_v", "1.0", TypeError),
    (Capacitor3T1C, "v_init_v", -math.inf, ValueError),
    (Capacitor3T1C, "v_leak_v", True, TypeError),
    (Capacitor3T1C, "tau_s", 0.0, ValueError),
    (Capacitor3T1C, "tau_s", math.inf, ValueError),
    (Capacitor3T1C, "seconds_per_example_s", -1e-6, ValueError),
    (Capacitor3T1C, "v_t_sigma_v", -0.02, ValueError),
    (Capacitor3T1C, "k_us_per_v2", 0.0, ValueError),
    (Capacitor3T1C, "dv_pulse_v", 0.0, ValueError),
    (Capacitor3T1C, "mismatch_sigma", -0.1, ValueError),
    (Capacitor3T1C, "c2c_sigma", math.nan, ValueError),
    (Capacitor3T1C, "rail_margin_v", -0.05, ValueError),
    (Capacitor3T1C, "soft_bounds", 0, TypeError),
    (Capacitor3T1C, "max_pulses", 0, ValueError),
    (Capacitor3T1C, "max_pulses", 128, ValueError),
    (Capacitor3T1C, "max_pulses", 15.0, TypeError),
    # UnitCell
    (UnitCell, "pcm", Capacitor3T1C(), TypeError),
    (UnitCell, "capacitor", PCMDevice(), TypeError),
    (UnitCell, "capacitor", {"tau_s": 1.0}, TypeError),
    (UnitCell, "gain_f", 0.0, ValueError),
    (UnitCell, "offset_us", -2.0, ValueError),
    (UnitCell, "transfer_every", 0, ValueError),
    (UnitCell, "transfer_every", 8000.0, TypeError),
    (UnitCell, "polarity_inversion", None, TypeError),
    (UnitCell, "weight_range_fraction", 0.0, ValueError),
    (UnitCell, "weight_range_fraction", 1.01, ValueError),
    # Periphery
    (Periphery, "in_bits", -1, ValueError),
    (Periphery, "in_bits", 25, ValueError),
    (Periphery, "in_bits", 1, ValueError),
    (Capacitor3T1C, "rail_margin_v", 0.0, ValueError),
    (Periphery, "in_bits", False, TypeError),
    (Periphery, "in_bound", 0.0, ValueError),
    (Periphery, "out_bits", 8.5, TypeError),
    (Periphery, "out_bits", 32, ValueError),
    (Periphery, "out_bound", -10.0, ValueError),
    (Periphery, "out_noise", -0.01, ValueError),
    (Periphery, "out_noise", math.inf, ValueError),
    (Periphery, "backward_like_forward", "true", TypeError),
]


@pytest.mark.parametrize(
    ("cls", "name", "value", "error"),
    BAD_VALUES,
    ids=[f"{cls.__name__}.{name}={value!r}" for cls, name, value, _ in BAD_VALUES],
)
def test_bad_values_are_rejected_naming_the_field(cls, name, value, error):
    with pytest.raises(error) as info:
        cls(**{name: value})
    assert str(info.value).startswith(f"{name}: ")


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

CROSS_FIELD = [
    (PCMDevice, {"g_reset_us": 25.0}, "g_reset_us"),
    (PCMDevice, {"target_clip_us": 26.0}, "target_clip_us"),
    (PCMDevice, {"g_max_us": 15.0}, "target_clip_us"),
    (PCMDevice, {"g_reset_us": 20.0}, "target_clip_us"),
    (Capacitor3T1C, {"v_min_v": 1.0}, "v_max_v"),
    (Capacitor3T1C, {"v_max_v": -0.5}, "v_max_v"),
    (Capacitor3T1C, {"v_init_v": 1.0}, "v_init_v"),
    (Capacitor3T1C, {"v_init_v": 0.0}, "v_init_v"),
    (Capacitor3T1C, {"v_min_v": 0.6}, "v_init_v"),
    (Capacitor3T1C, {"v_leak_v": 1.2}, "v_leak_v"),
    (Capacitor3T1C, {"v_leak_v": -0.1}, "v_leak_v"),
    (Capacitor3T1C, {"v_t_v": 0.5}, "v_t_v"),
    (Capacitor3T1C, {"dv_pulse_v": 1.0}, "dv_pulse_v"),
    (Capacitor3T1C, {"rail_margin_v": 0.5}, "rail_margin_v"),
    (UnitCell, {"offset_us": 5.0}, "offset_us"),  # it may carry 2 offsets; it can rise only 10.78 - 0.88 = 9.9 uS
    (UnitCell, {"offset_us": 2.0, "capacitor": Capacitor3T1C(k_us_per_v2=2.0)}, "offset_us"),  # swing 0.9 uS
]


@pytest.mark.parametrize(
    ("cls", "changes", "name"),
    CROSS_FIELD,
    ids=[f"{cls.__name__}-{'-'.join(changes)}" for cls, changes, _ in CROSS_FIELD],
)
def test_cross_field_checks(cls, changes, name):
    with pytest.raises(ValueError) as info:
        cls(**changes)
    assert str(info.value).startswith(f"{name}: ")


def test_cross_field_checks_accept_consistent_changes():
    pcm = PCMDevice(g_max_us=15.0, target_clip_us=12.0)
    assert pcm.target_clip_us == 12.0
    cap = Capacitor3T1C(v_min_v=-1.0, v_max_v=1.0, v_init_v=0.0, v_leak_v=-1.0, v_t_v=-0.2)
    assert cap.g_shared_us == pytest.approx(22.0 * 0.04)
    assert UnitCell(offset_us=4.9).offset_us == 4.9  # twice that is just below the 9.9 uS swing


# ---------------------------------------------------------------------------------------------
# replace()
# ---------------------------------------------------------------------------------------------


def test_replace_returns_a_validated_copy():
    pcm = PCMDevice()
    changed = replace(pcm, g_max_us=30, programming="open_loop")
    assert changed.g_max_us == 30.0 and type(changed.g_max_us) is float
    assert changed.programming == "open_loop"
    assert pcm.g_max_us == 25.0  # the original is untouched


@pytest.mark.parametrize(
    ("config", "changes", "error", "name"),
    [
        (PCMDevice(), {"g_max_us": -1.0}, ValueError, "g_max_us"),
        (PCMDevice(), {"g_max_us": 10.0}, ValueError, "target_clip_us"),
        (Capacitor3T1C(), {"v_init_v": 2.0}, ValueError, "v_init_v"),
        (UnitCell(), {"pcm": None}, TypeError, "pcm"),
        (UnitCell(), {"capacitor": Capacitor3T1C(k_us_per_v2=1.0)}, ValueError, "offset_us"),
        (Periphery(), {"out_bits": True}, TypeError, "out_bits"),
    ],
)
def test_replace_revalidates(config, changes, error, name):
    with pytest.raises(error) as info:
        replace(config, **changes)
    assert str(info.value).startswith(f"{name}: ")


def test_nested_configs_are_validated_at_their_own_construction():
    with pytest.raises(ValueError, match=r"^tau_s: "):
        UnitCell(capacitor=Capacitor3T1C(tau_s=-1.0))
