"""analogtorch.config: defaults (PHYSICS.md), derived values, the format of validation messages and
the edge values accepted (the values refused are in test_bad_inputs.py)."""

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
