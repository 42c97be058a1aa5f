"""Configuration of the simulated hardware: frozen, validated dataclasses.

- ``PCMDevice``: one phase-change-memory device and how it is programmed (closed-loop
  program-and-verify or open loop), drifts and is read (docs/physics.md sections 1 and 2).
- ``Capacitor3T1C``: the 3-transistor-1-capacitor cell: capacitor voltage range, leakage, the read
  curve g(V_C) and the update pulses (docs/physics.md section 1).
- ``UnitCell``: the 2PCM + 3T1C synapse of Ambrogio et al. 2018: the two above plus gain, transfer
  offset, transfer interval and polarity inversion.
- ``Periphery``: input DAC, output ADC and output noise of a crossbar read (docs/physics.md section 3).

Units are in field names (``_us`` microsiemens, ``_v`` volts, ``_s`` seconds) or, for dimensionless and
network-unit fields, in the field's docstring. Every default cites its source on its own line:
Ambrogio et al., Nature 558, 60-67 (2018); Joshi et al., Nat. Commun. 11, 2473 (2020); or "no public
source" with the reason for the value. Construction validates every field: a wrong type raises
``TypeError``, a bad value ``ValueError``, each message starting with the field's name. ints are
accepted for float fields and stored as float. Use ``replace(config, field=value)`` to derive a changed
copy; it validates again.
"""

from __future__ import annotations

import math
import numbers
import struct
from dataclasses import dataclass, field, replace

__all__ = ["Capacitor3T1C", "PCMDevice", "Periphery", "UnitCell", "replace"]


# ---------------------------------------------------------------------------------------------
# Validation helpers. Each takes the config and a field name, checks the field, stores the
# normalised value (ints given for floats become floats) and returns it.
# ---------------------------------------------------------------------------------------------


# The kernels compute in float32: a value must keep its meaning there. Positive fields must be at
# least float32's smallest normal number (GPU kernels may flush subnormals to zero).
_FLOAT32_MAX = 3.4028234663852886e38
_FLOAT32_TINY = 1.1754943508222875e-38


def _float32(value: float) -> float:
    """``value`` rounded to float32 (+-inf where it overflows)."""
    try:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


def _store(config: object, name: str, value: object) -> None:
    object.__setattr__(config, name, value)  # the dataclasses are frozen


def _number(config: object, name: str) -> float:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__} {value!r}")
    value = float(value)
    _store(config, name, value)
    return value


def _in_range(
    config: object,
    name: str,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite float in the interval from low to high (closed ends unless *_open)."""
    value = _number(config, name)
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if math.isfinite(low) and math.isfinite(high):
        bounds = f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif math.isfinite(low):
        bounds = f" {'>' if low_open else '>='} {low:g}"
    elif math.isfinite(high):
        bounds = f" {'<' if high_open else '<='} {high:g}"
    else:
        bounds = ""
    if not (math.isfinite(value) and above and below):
        raise ValueError(f"{name}: expected a finite number{bounds}, got {value!r}")
    rounded = _float32(value)
    if not math.isfinite(rounded):
        raise ValueError(f"{name}: expected a number within float32's range (|x| <= {_FLOAT32_MAX!r}), got {value!r}")
    if low_open and low == 0.0 and rounded < _FLOAT32_TINY:
        raise ValueError(f"{name}: expected a number > 0 that float32 holds (>= {_FLOAT32_TINY!r}), got {value!r}")
    # An open end must stay open after rounding (0.999999999999 is 1.0 in float32).
    if (low_open and not rounded > low) or (high_open and not rounded < high):
        raise ValueError(f"{name}: expected a number{bounds} also in float32 (it rounds to {rounded!r}), got {value!r}")
    return value


def _finite(config: object, name: str) -> float:
    return _in_range(config, name)


def _finite_positive(config: object, name: str) -> float:
    return _in_range(config, name, 0.0, low_open=True)


def _finite_nonnegative(config: object, name: str) -> float:
    return _in_range(config, name, 0.0)


def _int_in_range(config: object, name: str, low: int, high: int | None = None) -> int:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name}: expected an int {bounds}, got {value}")
    _store(config, name, value)
    return value


def _converter_bits(config: object, name: str) -> int:
    """0 (converter off) or 2..24 bits: a signed converter needs at least one level per side."""
    value = _int_in_range(config, name, 0, 24)
    _require(value != 1, name, "expected 0 (off) or an int in [2, 24], got 1")
    return value


def _boolean(config: object, name: str) -> bool:
    value = getattr(config, name)
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__} {value!r}")
    return value


def _choice(config: object, name: str, choices: tuple[str, ...]) -> str:
    value = getattr(config, name)
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a str, one of {choices}, got {type(value).__name__} {value!r}")
    if value not in choices:
        raise ValueError(f"{name}: expected one of {choices}, got {value!r}")
    return value


def _instance(config: object, name: str, cls: type) -> None:
    value = getattr(config, name)
    if not isinstance(value, cls):
        raise TypeError(f"{name}: expected a {cls.__name__}, got {type(value).__name__}")


def _require(condition: bool, name: str, message: str) -> None:
    """A cross-field check: ValueError naming the field when the condition fails."""
    if not condition:
        raise ValueError(f"{name}: {message}")


# ---------------------------------------------------------------------------------------------
# The configurations
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PCMDevice:
    """One phase-change-memory device: programming, drift and read (docs/physics.md sections 1 and 2).

    Closed-loop programming starts from RESET (``g_reset_us``) and applies partial-SET pulses of mean
    ``set_step_us * (1 - G / g_max_us)``, reading G after each pulse, until G is within
    ``verify_tolerance_us`` of the target (targets clipped at ``target_clip_us``). Open-loop programming
    is one shot with the programming noise of Joshi et al. 2020.
    """

    g_max_us: float = 25.0  # no public source: an assumption (docs/physics.md); the scale of the Joshi et al. 2020 laws
    """Saturation conductance G_max: partial-SET steps shrink to zero as G nears it; scales the noise laws."""

    g_reset_us: float = 0.1  # no public source: an assumption (docs/physics.md), a RESET device conducts almost nothing
    """Conductance of a device after RESET, where programming starts."""

    target_clip_us: float = 20.0  # no public source: docs/physics.md, closed-loop control degrades above about 20 uS
    """Programming targets are clipped to this; must satisfy g_reset_us < target_clip_us <= g_max_us."""

    programming: str = "closed_loop"  # Ambrogio et al. 2018: transfers program the PCM by program-and-verify
    """``"closed_loop"`` (iterative program-and-verify) or ``"open_loop"`` (one shot, Joshi et al. 2020 noise)."""

    set_step_us: float = 2.0  # no public source: an assumption (docs/physics.md)
    """dG0: mean conductance step of one partial-SET pulse from RESET; the mean is dG0 * (1 - G / g_max_us)."""

    set_step_c2c: float = 0.5  # no public source: an assumption (docs/physics.md) ("about half the mean")
    """Cycle-to-cycle spread of a step, as a fraction of its mean (dimensionless, >= 0)."""

    set_step_d2d: float = 0.2  # no public source: an assumption (docs/physics.md)
    """Device-to-device spread of dG0, as a fraction of set_step_us (dimensionless, in [0, 1))."""

    verify_tolerance_us: float = 0.5  # no public source: an assumption (docs/physics.md)
    """Programming stops once |G - target| <= this; an overshoot beyond it means RESET and retry."""

    max_iterations: int = 20  # no public source: an assumption (docs/physics.md)
    """Most program-and-verify iterations (verify reads, each followed by a pulse if short) per attempt (>= 1)."""

    max_resets: int = 2  # no public source: an assumption (docs/physics.md)
    """Most RESET-and-restart retries after an overshoot (>= 0)."""

    approach_fraction: float = 0.5  # no public source: usual program-and-verify; rare overshoots at 50% c2c
    """Each pulse aims at this fraction of the remaining error, capped at a full pulse (dimensionless, in (0, 1])."""

    verify_delay_s: float = 1e-6  # no public source: a verify read follows its pulse within about a microsecond
    """Time between a pulse and its verify read; sets the 1/f noise of that read."""

    t0_s: float = 20.0  # Joshi et al. 2020
    """Drift reference time t0: G(t) = G_p (t / t0)^-nu."""

    t_read_s: float = 250e-9  # Joshi et al. 2020
    """Read duration t_r in the 1/f read-noise law."""

    drift: bool = True  # Joshi et al. 2020: programmed PCM drifts
    """Whether programmed conductances drift with time."""

    read_noise: bool = True  # Joshi et al. 2020: every PCM read carries 1/f noise
    """Whether every read adds fresh 1/f read noise."""

    def __post_init__(self) -> None:
        g_max = _finite_positive(self, "g_max_us")
        g_reset = _finite_nonnegative(self, "g_reset_us")
        clip = _finite_positive(self, "target_clip_us")
        _choice(self, "programming", ("closed_loop", "open_loop"))
        _finite_positive(self, "set_step_us")
        _finite_nonnegative(self, "set_step_c2c")
        _in_range(self, "set_step_d2d", 0.0, 1.0, high_open=True)
        _finite_positive(self, "verify_tolerance_us")
        _int_in_range(self, "max_iterations", 1, 1000)  # bounded: one device's draws and time stay finite
        _int_in_range(self, "max_resets", 0, 50)
        _in_range(self, "approach_fraction", 0.0, 1.0, low_open=True)
        _finite_positive(self, "verify_delay_s")
        _finite_positive(self, "t0_s")
        _finite_positive(self, "t_read_s")
        _boolean(self, "drift")
        _boolean(self, "read_noise")

        _require(g_reset < g_max, "g_reset_us", f"expected < g_max_us ({g_max!r}), got {g_reset!r}")
        _require(
            g_reset < clip <= g_max,
            "target_clip_us",
            f"expected g_reset_us ({g_reset!r}) < target_clip_us <= g_max_us ({g_max!r}), got {clip!r}",
        )


@dataclass(frozen=True)
class Capacitor3T1C:
    """The 3T1C cell: capacitor voltage V_C, its leakage, read curve and update pulses (docs/physics.md
    section 1). The shared reference g_shared of each output is a 3T1C cell of the same kind.

    Read curve: g(V_C) = k * max(V_C - V_T, 0)^alpha in uS (alpha = ``read_exponent``: 1 is the read
    transistor's channel conductance in the triode region, 2 the square law), V_T drawn per cell
    around ``v_t_v``. Each up pulse moves V_C by ``dv_pulse_v`` (a down pulse by ``dv_pulse_v *
    down_up_ratio``) times a per-cell up or down factor N(1, mismatch_sigma) times (1 + c2c_sigma
    N(0, 1)) times the step curve: 1 + step_slope_per_v * (headroom - headroom at v_init), the
    headroom being the distance to the rail the pulse moves toward, falling to zero within
    ``rail_margin_v`` of that rail (unless ``soft_bounds``). Between steps V_C relaxes toward
    ``v_leak_v`` with time constant ``tau_s``.
    """

    v_min_v: float = 0.0  # no public source: an assumption (docs/physics.md), the rails of a 1 V supply
    """Lower rail of V_C."""

    v_max_v: float = 1.0  # no public source: an assumption (docs/physics.md), the rails of a 1 V supply
    """Upper rail of V_C."""

    v_init_v: float = 0.5  # Ambrogio et al. 2018 (docs/physics.md section 1): V_C is re-initialised to 0.5 V
    """V_C at construction and after every transfer; must lie strictly between the rails."""

    v_leak_v: float = 0.8  # Ambrogio et al. 2018 (docs/physics.md section 1)
    """Voltage V_C leaks toward; within the rails."""

    tau_s: float = 1.0  # no public source: an assumption (docs/physics.md) (no confirmed value)
    """Leakage time constant: V_C <- v_leak + (V_C - v_leak) exp(-dt / tau)."""

    seconds_per_example_s: float = 1e-6  # Ambrogio et al. 2018's projected hardware pace (docs/physics.md: an assumption)
    """Simulated time per training example; a step's leakage time dt is this times the examples in it."""

    v_t_v: float = 0.3  # assumption (docs/physics.md 1.11): 0.2 V below v_init, 200 down pulses of room to g = 0
    """Nominal threshold voltage V_T of the read transistor; must be below v_init_v."""

    v_t_sigma_v: float = 0.02  # no public source: an assumption (docs/physics.md)
    """Per-cell standard deviation of V_T."""

    k_us_per_v2: float = 50.0  # calibrated (docs/physics.md 1.11): k dv = 0.05 uS per pulse, ED Fig 2's 1,000 pulses
    """Read-curve gain k in uS / V^alpha (uS / V^2 for the square law; the name is kept for that)."""

    read_exponent: float = 1.0  # triode-region read (docs/physics.md 1.11); the abstract's "near-linear updates"
    """alpha of the read curve g = k (V_C - V_T)^alpha, in [1, 2] (the alpha-power law of a MOSFET)."""

    dv_pulse_v: float = 0.001  # calibrated (docs/physics.md 1.11): room for ED Fig 2's net pulses in both directions
    """Nominal V_C change of one up pulse at v_init_v."""

    down_up_ratio: float = 1.0  # assumption: no nominal asymmetry given (ED Fig 10); the per-cell factors carry it
    """Nominal down step over nominal up step (pull-down NMOS against pull-up PMOS source), > 0."""

    step_slope_per_v: float = 0.1  # assumption: channel-length modulation of the pulling transistor, ~0.1 / V
    """Relative change of a step per volt of headroom of its pulling transistor (>= 0): the up step
    shrinks as V_C rises, the down step as it falls (ED Fig 10: separate V_C-dependent curves)."""

    mismatch_sigma: float = 0.1  # no public source: an assumption (docs/physics.md) (transistor mismatch)
    """Per-cell up and down step factors are each N(1, mismatch_sigma), fixed at construction (dimensionless)."""

    c2c_sigma: float = 0.1  # no public source: an assumption (docs/physics.md)
    """Per-pulse relative spread: each step is multiplied by (1 + c2c_sigma N(0, 1)) (dimensionless)."""

    rail_margin_v: float = 0.05  # no public source: an assumption (docs/physics.md) (the paper reports near-linear updates)
    """The step falls to zero only within this distance of the rail it moves toward."""

    soft_bounds: bool = False  # Ambrogio et al. 2018 report near-linear updates; soft bounds are a study option
    """Whether the step shrinks across the whole range (soft bounds) instead of only near the rails."""

    max_pulses: int = 15  # no public source: a 4-bit pulse counter
    """Most pulses per cell per update step (in [1, 127])."""

    def __post_init__(self) -> None:
        v_min = _finite(self, "v_min_v")
        v_max = _finite(self, "v_max_v")
        v_init = _finite(self, "v_init_v")
        v_leak = _finite(self, "v_leak_v")
        _finite_positive(self, "tau_s")
        _finite_positive(self, "seconds_per_example_s")
        v_t = _finite(self, "v_t_v")
        _finite_nonnegative(self, "v_t_sigma_v")
        _finite_positive(self, "k_us_per_v2")
        _in_range(self, "read_exponent", 1.0, 2.0)
        dv = _finite_positive(self, "dv_pulse_v")
        _finite_positive(self, "down_up_ratio")
        _finite_nonnegative(self, "step_slope_per_v")
        _finite_nonnegative(self, "mismatch_sigma")
        _finite_nonnegative(self, "c2c_sigma")
        margin = _finite_positive(self, "rail_margin_v")
        _boolean(self, "soft_bounds")
        _int_in_range(self, "max_pulses", 1, 127)

        span = v_max - v_min
        _require(v_min < v_max, "v_max_v", f"expected > v_min_v ({v_min!r}), got {v_max!r}")
        _require(
            v_min < v_init < v_max,
            "v_init_v",
            f"expected v_min_v ({v_min!r}) < v_init_v < v_max_v ({v_max!r}), got {v_init!r}",
        )
        _require(
            v_min <= v_leak <= v_max,
            "v_leak_v",
            f"expected within the rails [{v_min!r}, {v_max!r}], got {v_leak!r}",
        )
        # With v_t_v >= v_init_v the read curve is flat at v_init_v: g_shared and dg_per_pulse_us would be 0.
        _require(v_t < v_init, "v_t_v", f"expected < v_init_v ({v_init!r}), got {v_t!r}")
        # The kernels evaluate the read curve and convert weight changes to pulses in float32.
        g_top = self.read_conductance_us(v_max)
        _require(
            math.isfinite(_float32(g_top)),
            "k_us_per_v2",
            f"expected g(v_max_v) = k_us_per_v2 (v_max_v - v_t_v)^read_exponent within float32's range, got {g_top!r} uS",
        )
        dg = self.dg_per_pulse_us
        _require(
            _float32(dg) >= _FLOAT32_TINY,
            "dv_pulse_v",
            f"expected dg_per_pulse_us = read_exponent k_us_per_v2 (v_init_v - v_t_v)^(read_exponent - 1) dv_pulse_v >= {_FLOAT32_TINY!r} "
            f"(float32's smallest normal), got {dg!r}",
        )
        _require(dv < span, "dv_pulse_v", f"expected < v_max_v - v_min_v ({span!r}), got {dv!r}")
        # Each direction needs some range with the full step.
        half = span / 2.0
        _require(margin < half, "rail_margin_v", f"expected < (v_max_v - v_min_v) / 2 ({half!r}), got {margin!r}")

    def read_conductance_us(self, v_c_v: float, v_t_v: float | None = None) -> float:
        """The read curve g(V_C) = k * max(V_C - V_T, 0)^alpha in uS (docs/physics.md section 1).

        Args:
            v_c_v: capacitor voltage V_C in volts.
            v_t_v: threshold voltage in volts of this cell; the nominal ``self.v_t_v`` by default.
        """
        v_t = self.v_t_v if v_t_v is None else float(v_t_v)
        return self.k_us_per_v2 * max(float(v_c_v) - v_t, 0.0) ** self.read_exponent

    @property
    def g_shared_us(self) -> float:
        """Nominal reference conductance: the read curve at v_init_v with the nominal V_T (each output's
        reference cell reads this up to its own threshold and its leak)."""
        return self.read_conductance_us(self.v_init_v)

    @property
    def dg_per_pulse_us(self) -> float:
        """Nominal conductance change of one up pulse at v_init_v: alpha k (v_init - v_t)^(alpha - 1)
        dv_pulse_v, in uS. The slope of the read curve at v_init_v times the nominal step; converts
        requested weight changes into pulse counts.
        """
        overdrive = self.v_init_v - self.v_t_v
        return self.read_exponent * self.k_us_per_v2 * overdrive ** (self.read_exponent - 1.0) * self.dv_pulse_v

    def pulses_to_rail(self, up: bool) -> float:
        """Nominal pulses from v_init_v to where the step starts to fall (rail_margin_v from the rail
        the pulses move toward), and, for down pulses, no further than V_T (below it g is 0)."""
        if up:
            return (self.v_max_v - self.rail_margin_v - self.v_init_v) / self.dv_pulse_v
        floor = max(self.v_min_v + self.rail_margin_v, self.v_t_v)
        return max(self.v_init_v - floor, 0.0) / (self.dv_pulse_v * self.down_up_ratio)


@dataclass(frozen=True)
class UnitCell:
    """The 2PCM + 3T1C synapse of Ambrogio et al. 2018 (docs/physics.md section 1).

    W_uS = gain_f * (G+ - G-) + p * (g(V_C) - g_shared), p = +-1 flipped at every transfer when
    ``polarity_inversion``. Every ``transfer_every`` examples the weight moves into the PCM pair, whose
    target leaves the capacitor pair ``offset_us`` of room in its easy (growing) direction.
    """

    pcm: PCMDevice = field(default_factory=PCMDevice)
    """The two PCM devices G+ and G- of the cell."""

    capacitor: Capacitor3T1C = field(default_factory=Capacitor3T1C)
    """The 3T1C cell and its shared reference."""

    gain_f: float = 3.0  # no public source: docs/physics.md, F is not confirmed from the paper
    """F: gain of the PCM pair over the capacitor pair (dimensionless)."""

    offset_us: float = 2.0  # Ambrogio et al. 2018 transfer rule (value as in docs/physics.md section 1)
    """Transfer offset: the PCM target leaves the capacitor this much room in the direction of the next polarity."""

    transfer_every: int = 8000  # Ambrogio et al. 2018 (MNIST)
    """Training examples between transfers of the weight into the PCM pair (>= 1)."""

    polarity_inversion: bool = True  # Ambrogio et al. 2018 (also IBM patent US 11,074,499)
    """Whether the capacitor pair's polarity p flips at every transfer, cancelling its up/down asymmetry."""

    weight_range_fraction: float = 0.5  # no public source: docs/physics.md section 1 (network-unit mapping), about half the range
    """Fraction of the PCM pair's range that a layer's initial weights use; sets scale_uS_per_unit (in (0, 1])."""

    transfer_keeps_weight: bool = True  # our reading of docs/physics.md section 1.3, steps 2-3 (see the docstring)
    """After a transfer V_C is set so that the capacitor carries what the PCM target left out (p' offset_us,
    or all of W where the pair stays RESET): the transfer keeps W. False: V_C returns to v_init_v, so each
    transfer moves every weight by -p' offset_us and training has to win it back (docs/physics.md section 1.3 step 3 read
    literally; 4 points of test accuracy lost in 2-epoch Fashion-MNIST runs)."""

    remap_at_transfer: bool = False
    """When a transfer finds the layer's largest weight beyond what the PCM pair can be programmed to
    (F * ``target_clip_us``), it re-maps the layer (the largest weight at half that range) rather than
    cut the weight: the digital scale that turns conductance into network units changes, and the cells
    are programmed in the new mapping (docs/physics.md section 1.3). False: the first programming's
    mapping is kept for good."""

    def __post_init__(self) -> None:
        _instance(self, "pcm", PCMDevice)
        _instance(self, "capacitor", Capacitor3T1C)
        _finite_positive(self, "gain_f")
        offset = _finite_nonnegative(self, "offset_us")
        _int_in_range(self, "transfer_every", 1)
        _boolean(self, "polarity_inversion")
        _in_range(self, "weight_range_fraction", 0.0, 1.0, low_open=True)
        _boolean(self, "transfer_keeps_weight")
        _boolean(self, "remap_at_transfer")

        # After a transfer the capacitor carries p' offset_us; when the target lies inside the offset
        # (the pair stays RESET) it carries up to twice that, which its upward swing must allow.
        cap = self.capacitor
        swing = cap.read_conductance_us(cap.v_max_v) - cap.g_shared_us
        _require(
            2.0 * offset <= swing,
            "offset_us",
            f"expected <= half the capacitor's upward swing g(v_max_v) - g_shared_us ({swing:.4g} uS), got {offset!r}",
        )


@dataclass(frozen=True)
class Periphery:
    """The crossbar arrays of a layer and the periphery around every read, in hardware units
    (docs/physics.md section 3).

    A weight matrix is split over arrays of at most ``array_rows`` inputs x ``array_cols`` outputs,
    each with its own converters and noise; their partial sums are added digitally. Every limit is
    in the array's units, never in network units, so that the same hardware gives the same relative
    error whatever the scale of a network's activations:

    - inputs: each input vector's slice is scaled so that its largest magnitude uses the DAC's full
      range (``input_scaling="per_vector"``, noise management) or by a fixed ``in_bound``
      (``"fixed"``), then quantised to ``in_bits``;
    - weights: one full-scale device (G_max) stands for the largest weight of its array
      (``weight_mapping="array"``) or of its column within the array (``"column"``);
    - outputs: in units of one full-scale input on one full-scale device; Gaussian output noise of
      ``out_noise``, the ADC's range ``out_bound`` and ``out_bits``; with ``bound_management`` a
      saturated output is read again with its inputs halved, at most ``max_rereads`` times;
    - the transposed read of in-situ training does the same with the error vector when
      ``backward_like_forward``.
    """

    array_rows: int = 512  # docs/physics.md section 3, assumption: a common array size (the paper's PCM arrays were 512 x 1,024)
    """Most inputs (word lines) of one array; a layer with more inputs is split over arrays."""

    array_cols: int = 512  # docs/physics.md section 3, assumption: as array_rows
    """Most outputs (bit lines) of one array; a layer with more outputs is split over arrays."""

    in_bits: int = 8  # Joshi et al. 2020 (8-bit DAC)
    """Input DAC resolution in bits; 0 turns quantisation off, else in [2, 24]."""

    input_scaling: str = "per_vector"  # docs/physics.md section 3: noise management, on by default
    """``"per_vector"``: each input vector (its slice per array) is scaled to the DAC's full range;
    ``"fixed"``: inputs are divided by ``in_bound`` and clipped to the full range."""

    in_bound: float = 1.0  # assumption: with "fixed", inputs in [-1, 1] use the full range as they come
    """The input magnitude (network units) that uses the DAC's full range when ``input_scaling="fixed"``."""

    weight_mapping: str = "array"  # docs/physics.md section 3: per array by default
    """``"array"``: the largest weight of each array uses a full-scale device; ``"column"``: the largest
    of each column within its array. In-situ tiles keep their training mapping (one per layer)."""

    out_bits: int = 8  # Joshi et al. 2020 (8-bit ADC)
    """Output ADC resolution in bits; 0 (with out_noise 0) turns the ADC off, else in [2, 24]."""

    out_bound: float = 12.0  # docs/physics.md section 3, assumption: no public source; headroom for typical partial sums
    """ADC range: outputs saturate at +-out_bound full-scale device reads."""

    out_noise: float = 0.04  # docs/physics.md section 3, assumption: no public source (Joshi et al. 2020 train with 0.04)
    """Standard deviation of the Gaussian output noise of every read, in full-scale device reads (>= 0)."""

    bound_management: bool = True  # docs/physics.md 3.5: on, as the peer simulator's default (Gokmen et al. 2017)
    """Whether a saturated output is read again with halved inputs (each re-read is counted); without
    an ADC (``out_bits`` 0 and ``out_noise`` 0) nothing saturates and it does nothing."""

    max_rereads: int = 3  # assumption: three halvings cover an 8x overshoot
    """Most re-reads of one saturated output with bound management (each halves the inputs again)."""

    backward_like_forward: bool = True  # docs/physics.md section 3: the transposed read is the same array
    """Whether the backward (transposed) read sees the same converters, scaling and noise as the forward read."""

    def __post_init__(self) -> None:
        _int_in_range(self, "array_rows", 1, 2**20)
        _int_in_range(self, "array_cols", 1, 2**20)
        _converter_bits(self, "in_bits")
        _choice(self, "input_scaling", ("per_vector", "fixed"))
        _finite_positive(self, "in_bound")
        _choice(self, "weight_mapping", ("array", "column"))
        _converter_bits(self, "out_bits")
        _finite_positive(self, "out_bound")
        _finite_nonnegative(self, "out_noise")
        _boolean(self, "bound_management")
        _int_in_range(self, "max_rereads", 1, 16)
        _boolean(self, "backward_like_forward")

    @property
    def saturates(self) -> bool:
        """Whether outputs can saturate (an ADC, or output noise before its range): else there is no
        ADC, and bound management has nothing to do."""
        return self.out_bits > 0 or self.out_noise > 0.0

    @property
    def ideal(self) -> bool:
        """No converter and no output noise: a read is an exact product (arrays and scaling then change nothing)."""
        return self.in_bits == 0 and not self.saturates
