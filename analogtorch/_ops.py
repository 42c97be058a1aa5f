"""The op layer: loads the compiled kernels, registers fake kernels and autograd, and gives every
op a typed wrapper.

Nothing else in the package touches ``torch.ops.analogtorch`` directly. The wrappers take the
frozen configuration objects of :mod:`analogtorch.config` (a leaf module without dependencies) and
pass their fields to the kernels as ``float[]`` lists in the order of ``csrc/params.h``.
Conventions: conductances in uS, voltages in V, times in s; ``rng`` is an int64 tensor
``[2] = (seed, step)`` on the device of the data (:func:`make_rng_state`).

Reads (:func:`pcm_read`, :func:`pcm_read_moments`, :func:`hardware_aware_read`,
:func:`add_read_noise`, :func:`quantize`) check arguments, never values: they read nothing back from
the device (no host synchronisation on a GPU), and NaN or Inf in an input propagates to the output
as in torch's own ops. Ops that write device state (:func:`capacitor_step_`, :func:`pcm_pair_step_`,
:func:`capacitor_leak`, :func:`transfer`, :func:`unit_cell_weight`, :func:`pcm_program`,
:func:`capacitor_update`) refuse NaN, Inf and values outside the physics, at the cost of one host
read per call, unless told ``check_values=False`` by a caller that has checked already
(``AnalogSGD`` checks a whole step with one read). :func:`host_reads` counts those reads.
"""

from __future__ import annotations

import importlib
import numbers
import warnings
from typing import NamedTuple

import torch

from . import _C  # registers the schemas and the CPU kernels
from .config import Capacitor3T1C, PCMDevice

__all__ = [
    "CAPACITOR_PARAM_FIELDS",
    "PCM_PARAM_FIELDS",
    "ProgrammingResult",
    "TransferResult",
    "add_read_noise",
    "capacitor_leak",
    "capacitor_step_",
    "capacitor_update",
    "cell_variation",
    "cpu_capability",
    "cuda_kernels_available",
    "cuda_kernels_built",
    "hardware_aware_read",
    "host_reads",
    "make_rng_state",
    "pcm_pair_step_",
    "pcm_program",
    "pcm_read",
    "pcm_read_moments",
    "quantize",
    "transfer",
    "unit_cell_weight",
]


def _load_cuda_kernels() -> bool:
    try:
        importlib.import_module("analogtorch._C_cuda")
    except ModuleNotFoundError:
        return False  # built without CUDA: a CPU-only extension
    except ImportError as error:  # built with CUDA but the library cannot load here
        warnings.warn(f"analogtorch: CUDA kernels present but not loadable ({error}); using the CPU only", stacklevel=2)
        return False
    return True


_CUDA_KERNELS = _load_cuda_kernels()


def cuda_kernels_built() -> bool:
    """Whether the CUDA kernels were compiled and their library loaded (a GPU may still be absent)."""
    return _CUDA_KERNELS


def cuda_kernels_available() -> bool:
    """Whether the CUDA kernels can run here: built and loaded, and a GPU visible to torch."""
    return _CUDA_KERNELS and torch.cuda.is_available()


def make_rng_state(seed: int, step: int = 0, device: torch.device | str | None = None) -> torch.Tensor:
    """The random state that every op takes: an int64 tensor ``[2] = (seed, step)``.

    The same state gives the same bits on every device and thread count. Ops never advance it:
    callers bump ``step`` (``state[1] += 1``) when they want fresh draws. Steps wrap at 2^40.
    """
    # bool is an int subclass: True as a seed is a mistake, not seed 1
    if isinstance(seed, bool) or isinstance(step, bool) or not isinstance(seed, int) or not isinstance(step, int):
        raise TypeError(f"seed and step: expected ints, got {type(seed).__name__} and {type(step).__name__}")
    if not -(2**63) <= seed < 2**64:
        raise ValueError(f"seed: expected a 64-bit integer, got {seed}")
    if step < 0:
        raise ValueError(f"step: expected an integer >= 0, got {step}")
    if seed >= 2**63:
        seed -= 2**64  # same 64 bits, stored as int64
    return torch.tensor([seed, step], dtype=torch.int64, device=device)


# ---------------------------------------------------------------------------------------------
# Parameter lists (the order of csrc/params.h)
# ---------------------------------------------------------------------------------------------

PCM_PARAM_FIELDS = (
    "g_max_us", "g_reset_us", "target_clip_us", "set_step_us", "set_step_c2c", "set_step_d2d",
    "verify_tolerance_us", "max_iterations", "max_resets", "approach_fraction", "verify_delay_s", "t0_s", "t_read_s",
    "read_noise",
)  # fmt: skip

CAPACITOR_PARAM_FIELDS = (
    "v_min_v", "v_max_v", "v_init_v", "v_t_v", "v_t_sigma_v", "k_us_per_v2", "dv_pulse_v", "mismatch_sigma",
    "c2c_sigma", "rail_margin_v", "soft_bounds", "max_pulses", "dg_per_pulse_us", "read_exponent", "down_up_ratio",
    "step_slope_per_v",
)  # fmt: skip


def _config(value: object, expected: type, name: str):
    """The configuration given, or the default one; a TypeError naming the argument otherwise."""
    if value is None:
        return expected()
    if not isinstance(value, expected):
        raise TypeError(f"{name}: expected a {expected.__name__}, got {type(value).__name__}")
    return value


def _float(value: object, name: str) -> float:
    """A number argument as float; a TypeError naming the argument for anything else (a string, None)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__} {value!r:.50}")
    return float(value)


def _int(value: object, name: str) -> int:
    """An integer argument (not truncated from a float); a TypeError naming the argument otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r:.50}")
    return int(value)


def _bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__} {value!r:.50}")
    return value


def _pcm_params(pcm: PCMDevice | None) -> list[float]:
    pcm = _config(pcm, PCMDevice, "pcm")
    return [float(getattr(pcm, field)) for field in PCM_PARAM_FIELDS]


def _capacitor_params(capacitor: Capacitor3T1C | None) -> list[float]:
    capacitor = _config(capacitor, Capacitor3T1C, "capacitor")
    return [float(getattr(capacitor, field)) for field in CAPACITOR_PARAM_FIELDS]


def _reference(v_shared, variation_shared, cells: torch.Tensor, capacitor: Capacitor3T1C) -> tuple[torch.Tensor, torch.Tensor]:
    """The shared reference cells given (both or neither), or one nominal reference at v_init_v for all cells."""
    if (v_shared is None) != (variation_shared is None):
        raise TypeError("v_shared, variation_shared: expected both or neither")
    if v_shared is not None:
        return v_shared, variation_shared
    if not isinstance(cells, torch.Tensor):  # the op names the bad argument
        return torch.tensor(capacitor.v_init_v), torch.zeros(3, dtype=torch.int8)
    return (
        torch.full((), capacitor.v_init_v, dtype=cells.dtype, device=cells.device),
        torch.zeros(3, dtype=torch.int8, device=cells.device),
    )


# ---------------------------------------------------------------------------------------------
# PCM devices
# ---------------------------------------------------------------------------------------------


class ProgrammingResult(NamedTuple):
    conductance_us: torch.Tensor  # float32: G_p, as read at t0
    drift_nu: torch.Tensor  # float32: drift exponent drawn for each device
    pulses: torch.Tensor  # int32: programming pulses applied (partial-SET; 1 in open loop)
    iterations: torch.Tensor  # int32: verify reads (0 in open loop)
    converged: torch.Tensor  # bool: within tolerance (closed loop: by the last verify read)


def pcm_program(
    target_us: torch.Tensor,
    rng: torch.Tensor,
    pcm: PCMDevice | None = None,
    *,
    closed_loop: bool | None = None,
    device_stride: int = 1,
    device_offset: int = 0,
) -> ProgrammingResult:
    """Programs PCM devices to target conductances (docs/physics.md sections 1 and 2).

    Closed loop (default, per ``pcm.programming``): program-and-verify from RESET, targets clipped
    to ``[0, pcm.target_clip_us]``. Open loop: one shot with the programming-noise law of Joshi et
    al. 2020, targets clipped to ``[0, pcm.g_max_us]``. Device i draws its own numbers from
    (seed, i, step): program the two devices of a pair with different steps or seeds.

    Args:
        target_us: float32 [*] target conductances (finite).
        rng: int64 [2] (seed, step) on the same device.
        pcm: the device; defaults to ``PCMDevice()``.
        closed_loop: overrides ``pcm.programming``.
        device_stride, device_offset: element i is physical device ``i * stride + offset`` for its
            random numbers (fixed step-size variation, noise). The devices of unit cell i are 2i (G+)
            and 2i + 1 (G-), as in :func:`transfer`: program G+ with (2, 0) and G- with (2, 1).
    """
    pcm = _config(pcm, PCMDevice, "pcm")
    if closed_loop is None:
        closed_loop = pcm.programming == "closed_loop"
    return ProgrammingResult(
        *torch.ops.analogtorch.pcm_program(
            target_us, rng, _pcm_params(pcm), _bool(closed_loop, "closed_loop"), _int(device_stride, "device_stride"), _int(device_offset, "device_offset")
        )
    )


def pcm_read(
    conductance_us: torch.Tensor,
    drift_nu: torch.Tensor,
    rng: torch.Tensor,
    time_s: float,
    *,
    g_max_us: float = 25.0,
    t0_s: float = 20.0,
    t_read_s: float = 250e-9,
    read_noise: bool = True,
) -> torch.Tensor:
    """Reads PCM devices ``time_s`` seconds after programming: drift, then fresh 1/f read noise.

    G(t) = G_p (t / t0)^-nu for t > t0 (G_p for t <= t0), plus Gaussian read noise of standard
    deviation |G(t)| Q_s sqrt(ln((t + t_r) / (2 t_r))), floored at 0 uS.

    A read: the values are not checked (no host synchronisation). Programmed devices hold
    ``[0, g_max_us]`` with exponents in ``[0, 1]``; NaN in a conductance or exponent reads as NaN
    (never floored to 0), and values outside the physics give what the laws give (Inf or NaN
    where they overflow).

    Args:
        conductance_us: float32 [*] programmed conductances G_p in uS.
        drift_nu: float32, same shape: drift exponent of each device.
        rng: int64 [2] (seed, step) on the same device; bump the step for a fresh read.
        time_s: seconds since programming (>= 0).

    Returns:
        float32 tensor of the shape of ``conductance_us``: conductances read, in uS.
    """
    return torch.ops.analogtorch.pcm_read(
        conductance_us, drift_nu, rng, _float(time_s, "time_s"), _float(g_max_us, "g_max_us"), float(t0_s), _float(t_read_s, "t_read_s"), _bool(read_noise, "read_noise")
    )


def pcm_read_moments(
    conductance_us: torch.Tensor,
    drift_nu: torch.Tensor,
    time_s: float,
    *,
    g_max_us: float = 25.0,
    t0_s: float = 20.0,
    t_read_s: float = 250e-9,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two moments of a read of PCM devices ``time_s`` seconds after programming, without a
    draw: the drifted conductance G(t) (as :func:`pcm_read` without read noise) and the variance of
    its 1/f read noise (uS^2). An array read's outputs then get their noise from
    :func:`add_read_noise`. The floor at 0 uS of a single read is left out.

    A read: the values are not checked (no host synchronisation); NaN or Inf in a device
    propagates to its moments, as in :func:`pcm_read`.

    Returns (mean in uS, variance in uS^2), both of the shape of ``conductance_us``.
    """
    return torch.ops.analogtorch.pcm_read_moments(
        conductance_us, drift_nu, _float(time_s, "time_s"), _float(g_max_us, "g_max_us"), _float(t0_s, "t0_s"), _float(t_read_s, "t_read_s")
    )  # fmt: skip


def add_read_noise(y: torch.Tensor, variance: torch.Tensor, rng: torch.Tensor) -> torch.Tensor:
    """``y + N(0, variance)``, one draw per element: the read noise of an array read's outputs.

    Device read noises are independent Gaussians, so output ``y_i = sum_j G_ij x_j`` carries
    exactly ``N(0, sum_j sigma_ij^2 x_j^2)``: pass ``variance = F.linear(x**2, sigma**2)``. One draw
    per output instead of one per device and read. Differentiable in ``y`` (gradient 1); the
    variance gets no gradient.

    A read (every analog layer's forward and backward): the values are not checked (no host
    synchronisation). NaN or Inf in ``y`` or ``variance`` propagates to the output, as in
    ``y + variance.sqrt() * z``: a negative variance gives NaN.
    """
    return torch.ops.analogtorch.add_read_noise(y, variance, rng)


def hardware_aware_read(
    weight_us: torch.Tensor,
    rng: torch.Tensor,
    pcm: PCMDevice | None = None,
    *,
    time_min_s: float = 1.0,
    time_max_s: float = 86400.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The weights as freshly programmed PCM pairs would read at a random time after programming
    (docs/physics.md section 4), fused: programs each weight's pair (devices 2i and 2i+1; closed loop: the
    weight's side to |w| + g_reset, open loop: G+ = max(w, 0), G- = max(-w, 0)), draws the drift
    exponents and drifts both devices to one time drawn log-uniformly from [time_min_s, time_max_s]
    (``time_min_s == time_max_s``: that time).

    Returns (the drifted G+ - G- in uS, the variance of its 1/f read noise in uS^2, 0 without
    ``pcm.read_noise``; the time drawn: float32 [1]). Draw the read noise per output with
    :func:`add_read_noise`.

    A read (a hardware-aware layer's training forward): the values are not checked (no host
    synchronisation). A NaN or infinite weight cannot be programmed: it reads as itself, with
    variance ``|w|`` (NaN or Inf), so that it propagates.
    """
    pcm = _config(pcm, PCMDevice, "pcm")
    return torch.ops.analogtorch.hardware_aware_read(
        weight_us, rng, _pcm_params(pcm), pcm.programming == "closed_loop",
        _float(time_min_s, "time_min_s"), _float(time_max_s, "time_max_s"),
    )  # fmt: skip


def pcm_pair_step_(
    g_plus_us: torch.Tensor,
    g_minus_us: torch.Tensor,
    weight: torch.Tensor,
    delta_w_us: torch.Tensor,
    rng: torch.Tensor,
    *,
    gain_f: float,
    scale_us_per_unit: float,
    amplitude: float,
    max_pulses: int,
    refresh_us: float,
    pcm: PCMDevice | None = None,
    check_values: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One in-situ training step directly on PCM pairs (the Nature 2018 paper's foil), in place:
    n = stochastic_round(dW / (F * amplitude * set_step_us)) partial-SET pulses of relative
    ``amplitude`` on G+ (dW > 0) or G- (dW < 0); a pair with a device above ``refresh_us`` is RESET
    and its difference re-programmed onto one device; ``weight`` = F (G+ - G-) / scale.

    Refuses NaN or Inf in ``delta_w_us`` and conductances outside ``[0, g_max_us]`` (one host
    read); ``check_values=False``: the caller has checked them, and the op reads nothing back.

    Returns (pulses int8, refreshed int8) per cell.
    """
    return torch.ops.analogtorch.pcm_pair_step_(
        g_plus_us, g_minus_us, weight, delta_w_us, rng, _pcm_params(pcm), _float(gain_f, "gain_f"), _float(scale_us_per_unit, "scale_us_per_unit"),
        _float(amplitude, "amplitude"), _int(max_pulses, "max_pulses"), _float(refresh_us, "refresh_us"),
        _bool(check_values, "check_values"),
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The 3T1C cell
# ---------------------------------------------------------------------------------------------


def cell_variation(rng: torch.Tensor, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    """Draws each 3T1C cell's fixed variation: int8 ``[*shape, 3]`` standard normals in 1/32 steps.

    The three fields scale (through ``Capacitor3T1C``) the up-pulse step, the down-pulse step
    (factors N(1, mismatch_sigma)) and the read-transistor threshold (V_T + v_t_sigma_v z).
    Draw once per array and keep it: it is the array's device-to-device variation.
    """
    if isinstance(shape, (str, bytes)) or not isinstance(shape, (tuple, list, torch.Size)):
        raise TypeError(f"shape: expected a tuple of ints (e.g. (rows, cols)), got {type(shape).__name__} {shape!r:.50}")
    return torch.ops.analogtorch.cell_variation(rng, [_int(size, "shape") for size in shape])


def capacitor_update(
    v_c: torch.Tensor,
    variation: torch.Tensor,
    delta_w_us: torch.Tensor,
    rng: torch.Tensor,
    polarity: int,
    capacitor: Capacitor3T1C | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Applies the pulses that a requested change of W asks of each capacitor.

    n = stochastic_round(p * dW / dg_per_pulse), clipped to +-max_pulses; each pulse moves V_C by
    dv_pulse_v times the cell's up or down factor, times (1 + c2c_sigma N(0,1)), shrinking to zero
    within rail_margin_v of the rail it moves toward; V_C stays within the rails. Far from the rail,
    the n pulses are drawn as one summed step (the same distribution, one normal instead of n).

    Args:
        v_c: float32 [*] capacitor voltages. variation: int8 [*, 3] from :func:`cell_variation`.
        delta_w_us: float32 [*] requested change of W in uS (finite). polarity: +1 or -1.

    Returns:
        (v_c, pulses): new voltages (float32) and the signed pulses applied (int8).
    """
    return torch.ops.analogtorch.capacitor_update(
        v_c, variation, delta_w_us, rng, _int(polarity, "polarity"), _capacitor_params(capacitor)
    )


def capacitor_leak(
    v_c: torch.Tensor, elapsed_s: float, tau_s: float = 1.0, v_leak_v: float = 0.8, *, check_values: bool = True
) -> torch.Tensor:
    """Leakage over ``elapsed_s``: V_C <- V_leak + (V_C - V_leak) exp(-elapsed / tau). Refuses NaN or
    Inf in ``v_c`` (one host read); ``check_values=False``: the caller has checked."""
    return torch.ops.analogtorch.capacitor_leak(
        v_c, _float(elapsed_s, "elapsed_s"), _float(tau_s, "tau_s"), _float(v_leak_v, "v_leak_v"), _bool(check_values, "check_values")
    )  # fmt: skip


def capacitor_step_(
    v_c: torch.Tensor,
    weight: torch.Tensor,
    g_plus_us: torch.Tensor,
    g_minus_us: torch.Tensor,
    variation: torch.Tensor,
    delta_w_us: torch.Tensor,
    rng: torch.Tensor,
    polarity: int,
    *,
    elapsed_s: float,
    gain_f: float,
    scale_us_per_unit: float,
    capacitor: Capacitor3T1C | None = None,
    tau_s: float | None = None,
    v_leak_v: float | None = None,
    v_shared: torch.Tensor | None = None,
    variation_shared: torch.Tensor | None = None,
    check_values: bool = True,
) -> torch.Tensor:
    """One training step of a 2PCM+3T1C array, in place and in one pass per cell:
    :func:`capacitor_update`, then :func:`capacitor_leak` over ``elapsed_s``, then ``weight`` =
    :func:`unit_cell_weight` of the new state. ``v_c`` and ``weight`` must be contiguous.
    Leak parameters default to the capacitor's. ``v_shared`` / ``variation_shared``: the shared
    reference cells (see :func:`unit_cell_weight`), read as given: leak them over the step first
    with :func:`capacitor_leak`. Refuses NaN or Inf in ``delta_w_us`` and state outside the
    physics (V_C and v_shared outside the rails, conductances beyond 1e9 uS; one host read);
    ``check_values=False``: the caller has checked them. Returns the signed pulses applied (int8).
    """
    capacitor = _config(capacitor, Capacitor3T1C, "capacitor")
    v_shared, variation_shared = _reference(v_shared, variation_shared, v_c, capacitor)
    return torch.ops.analogtorch.capacitor_step_(
        v_c,
        weight,
        g_plus_us,
        g_minus_us,
        variation,
        delta_w_us,
        rng,
        _int(polarity, "polarity"),
        _capacitor_params(capacitor),
        _float(elapsed_s, "elapsed_s"),
        float(capacitor.tau_s if tau_s is None else tau_s),
        float(capacitor.v_leak_v if v_leak_v is None else v_leak_v),
        _float(gain_f, "gain_f"),
        v_shared,
        variation_shared,
        _float(scale_us_per_unit, "scale_us_per_unit"),
        _bool(check_values, "check_values"),
    )


# ---------------------------------------------------------------------------------------------
# The unit cell
# ---------------------------------------------------------------------------------------------


def unit_cell_weight(
    g_plus_us: torch.Tensor,
    g_minus_us: torch.Tensor,
    v_c: torch.Tensor,
    variation: torch.Tensor,
    polarity: int,
    *,
    gain_f: float = 3.0,
    scale_us_per_unit: float = 1.0,
    capacitor: Capacitor3T1C | None = None,
    v_shared: torch.Tensor | None = None,
    variation_shared: torch.Tensor | None = None,
    check_values: bool = True,
) -> torch.Tensor:
    """The network weight of each unit cell, differentiable in G+, G- and V_C:
    w = (F (G+ - G-) + p (g(V_C) - g_shared)) / scale_us_per_unit, g(V) = k max(V - V_T, 0)^alpha.

    Args:
        g_plus_us, g_minus_us, v_c: float32 or float64 [*], one dtype. variation: int8 [*, 3].
        v_shared, variation_shared: the shared reference cells (3T1C cells read with the same curve
            and their own threshold): v_shared of v_c's dtype, shape [] (one for all) or
            ``v_c.shape[:-1]`` (one per row: per output of a weight matrix [out, in]); int8
            variation ``v_shared.shape + [3]``. Neither: one nominal reference at v_init_v.
        check_values: refuse NaN, Inf and state outside the physics (V_C and v_shared outside the
            rails, conductances beyond 1e9 uS) at the cost of one host read; False: the caller
            has checked.
    """
    capacitor = _config(capacitor, Capacitor3T1C, "capacitor")
    v_shared, variation_shared = _reference(v_shared, variation_shared, v_c, capacitor)
    return torch.ops.analogtorch.unit_cell_weight(
        g_plus_us,
        g_minus_us,
        v_c,
        variation,
        _int(polarity, "polarity"),
        _capacitor_params(capacitor),
        _float(gain_f, "gain_f"),
        v_shared,
        variation_shared,
        _float(scale_us_per_unit, "scale_us_per_unit"),
        _bool(check_values, "check_values"),
    )


class TransferResult(NamedTuple):
    g_plus_us: torch.Tensor
    g_minus_us: torch.Tensor
    nu_plus: torch.Tensor  # drift exponents drawn at this programming
    nu_minus: torch.Tensor
    v_c: torch.Tensor  # v_init_v, or where the capacitor keeps the weight (keep_weight)
    pulses: torch.Tensor  # int32: PCM programming pulses per cell
    iterations: torch.Tensor  # int32: verify reads per cell


def transfer(
    g_plus_us: torch.Tensor,
    g_minus_us: torch.Tensor,
    v_c: torch.Tensor,
    variation: torch.Tensor,
    rng: torch.Tensor,
    polarity: int,
    *,
    next_polarity: int | None = None,
    gain_f: float = 3.0,
    offset_us: float = 2.0,
    time_since_programming_s: float = 0.0,
    pcm: PCMDevice | None = None,
    capacitor: Capacitor3T1C | None = None,
    keep_weight: bool = True,
    v_shared: torch.Tensor | None = None,
    variation_shared: torch.Tensor | None = None,
    check_values: bool = True,
    rescale: float = 1.0,
) -> TransferResult:
    """The Nature 2018 transfer of each cell's weight into its PCM pair (docs/physics.md section 1).

    Reads W = F (G+ - G-) + p (g(V_C) - g_shared) (with the 1/f noise accumulated over
    ``time_since_programming_s``; the shared reference as in :func:`unit_cell_weight`, read as it
    stands), targets W_t = W - p' (offset + g(v_init) - g_shared(v_init)) with each cell's and each
    reference's own threshold, RESETs both
    devices and programs the one on W_t's side to |W_t| / F, unless 0 <= p' W_t <= offset (the pair
    stays RESET). V_C is re-initialised: with ``keep_weight`` (default) to the voltage at which the
    capacitor carries what the PCM target leaves out (p' offset, or all of W where the pair stays
    RESET; nominal read curve), so that the transfer keeps W up to programming error; otherwise to
    v_init_v, and W moves by -p' offset. ``next_polarity`` p' defaults to -polarity (polarity
    inversion); the caller keeps p and flips it, and re-initialises the reference to v_init_v.
    ``rescale`` (> 0): the new weight-to-uS scale over the old; the cells are programmed to hold
    ``rescale * W`` (a layer re-mapped at the transfer; 1, the default, keeps the mapping).
    Refuses NaN, Inf and state outside the physics (one host read), unless ``check_values=False``:
    the caller has checked.
    """
    pcm = _config(pcm, PCMDevice, "pcm")
    capacitor = _config(capacitor, Capacitor3T1C, "capacitor")
    v_shared, variation_shared = _reference(v_shared, variation_shared, v_c, capacitor)
    next_polarity = -_int(polarity, "polarity") if next_polarity is None else _int(next_polarity, "next_polarity")
    return TransferResult(
        *torch.ops.analogtorch.transfer(
            g_plus_us,
            g_minus_us,
            v_c,
            variation,
            rng,
            _int(polarity, "polarity"),
            next_polarity,
            _pcm_params(pcm),
            _capacitor_params(capacitor),
            _float(gain_f, "gain_f"),
            v_shared,
            variation_shared,
            _float(offset_us, "offset_us"),
            _float(time_since_programming_s, "time_since_programming_s"),
            pcm.programming == "closed_loop",
            bool(pcm.read_noise),
            _bool(keep_weight, "keep_weight"),
            _bool(check_values, "check_values"),
            _float(rescale, "rescale"),
        )
    )


# ---------------------------------------------------------------------------------------------
# Periphery
# ---------------------------------------------------------------------------------------------


def quantize(
    x: torch.Tensor, rng: torch.Tensor, *, bits: int = 8, bound: float = 1.0, noise_std: float = 0.0
) -> torch.Tensor:
    """A converter (DAC or ADC): y = Q(clip(x + noise_std * bound * N(0,1), -bound, bound)), with
    2^(bits-1) - 1 levels on each side of zero (bits = 0: no rounding). Differentiable with a
    straight-through gradient: 1 where |x| <= bound, else 0.

    A read (every converter of every analog layer's forward and backward): the values are not
    checked (no host synchronisation). A converter saturates: +-Inf reads as +-bound; NaN has no
    reading and propagates (NaN in, NaN out, never a clipped number), as in ``torch.clamp``.
    """
    return torch.ops.analogtorch.quantize(x, rng, _int(bits, "bits"), _float(bound, "bound"), _float(noise_std, "noise_std"))


def cpu_capability() -> str:
    """The instruction set the CPU kernels' element loops run with: ``"avx512"``, ``"avx2"`` or
    ``"default"`` (SSE2 on x86-64; the compiler's baseline elsewhere), the widest this CPU
    supports unless the environment variable ``ANALOGTORCH_CPU_CAPABILITY`` chooses one (read once
    per process). Every choice gives the same bits; only the speed differs."""
    return _C.cpu_capability()


def host_reads(device: torch.device | str = "cpu") -> int:
    """The host reads that value checks of the ops have made on ``device``'s backend since it was
    loaded (on a GPU, each one a synchronisation): a diagnostic, to prove that a path (a layer's
    forward and backward, an ``AnalogSGD`` step) makes none. Only the difference between two calls
    means anything."""
    return torch.ops.analogtorch.host_reads(torch.empty(0, device=device))


# ---------------------------------------------------------------------------------------------
# Fake (meta) kernels: output shapes for torch.compile and FakeTensor tracing. They repeat the
# kernels' checks of dtypes, devices and shapes, so that a traced program fails with the same
# message as an eager one.
# ---------------------------------------------------------------------------------------------


def _check_dtype(tensor: torch.Tensor, name: str, *dtypes: torch.dtype) -> None:
    torch._check(
        tensor.dtype in dtypes,
        lambda: f"{name}: expected a {' or '.join(str(d).replace('torch.', '') for d in dtypes)} tensor, "
        f"got {tensor.dtype}",
    )


def _check_same_device(tensor: torch.Tensor, name: str, ref: torch.Tensor, ref_name: str) -> None:
    torch._check(
        tensor.device == ref.device,
        lambda: f"{name}: expected a tensor on the same device as {ref_name} ({ref.device}), got {tensor.device}",
    )


def _check_same_shape(tensor: torch.Tensor, name: str, ref: torch.Tensor, ref_name: str) -> None:
    torch._check(
        tensor.shape == ref.shape,
        lambda: f"{name}: expected the shape of {ref_name} {list(ref.shape)}, got {list(tensor.shape)}",
    )


def _check_cell_state(tensor: torch.Tensor, name: str, ref: torch.Tensor, ref_name: str) -> None:
    _check_dtype(tensor, name, ref.dtype)
    _check_same_device(tensor, name, ref, ref_name)
    _check_same_shape(tensor, name, ref, ref_name)


def _check_like(tensor: torch.Tensor, name: str, ref: torch.Tensor, ref_name: str) -> None:
    torch._check(
        tensor.dtype == ref.dtype,
        lambda: f"{name}: expected the dtype of {ref_name}, got {tensor.dtype} ({ref_name} is {ref.dtype})",
    )
    _check_same_device(tensor, name, ref, ref_name)
    _check_same_shape(tensor, name, ref, ref_name)


def _check_rng(rng: torch.Tensor, ref: torch.Tensor, ref_name: str) -> None:
    torch._check(rng.dtype == torch.int64, lambda: f"rng: expected an int64 tensor (seed, step), got {rng.dtype}")
    torch._check(rng.shape == (2,), lambda: f"rng: expected shape [2] (seed, step), got {list(rng.shape)}")
    _check_same_device(rng, "rng", ref, ref_name)


def _check_variation(variation: torch.Tensor, ref: torch.Tensor, ref_name: str) -> None:
    torch._check(variation.dtype == torch.int8, lambda: f"variation: expected an int8 tensor, got {variation.dtype}")
    _check_same_device(variation, "variation", ref, ref_name)
    torch._check(
        variation.shape == (*ref.shape, 3),
        lambda: f"variation: expected shape {list(ref.shape)} + [3] (the cells of {ref_name}), got {list(variation.shape)}",
    )


def _check_reference(v_shared: torch.Tensor, variation_shared: torch.Tensor, cells: torch.Tensor, name: str) -> None:
    """As reference_stride in csrc/ops/capacitor_ops.h."""
    _check_dtype(v_shared, "v_shared", cells.dtype)
    _check_same_device(v_shared, "v_shared", cells, name)
    rows = tuple(cells.shape[:-1]) if cells.dim() >= 1 else tuple(cells.shape)
    torch._check(v_shared.dim() == 0 or tuple(v_shared.shape) == rows,
                 lambda: f"v_shared: expected shape [] or the rows of {name} {list(rows)}, got {list(v_shared.shape)}")  # fmt: skip
    _check_dtype(variation_shared, "variation_shared", torch.int8)
    _check_same_device(variation_shared, "variation_shared", cells, name)
    torch._check(tuple(variation_shared.shape) == (*v_shared.shape, 3),
                 lambda: f"variation_shared: expected shape {list(v_shared.shape)} + [3], got {list(variation_shared.shape)}")  # fmt: skip


def _empty(ref: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    return torch.empty_like(ref, dtype=dtype, memory_format=torch.contiguous_format)


@torch.library.register_fake("analogtorch::pcm_program")
def _pcm_program_fake(target_us, rng, pcm_params, closed_loop, device_stride=1, device_offset=0):
    _check_dtype(target_us, "target_us", torch.float32)
    _check_rng(rng, target_us, "target_us")
    out = _empty(target_us)
    return out, _empty(out), _empty(out, torch.int32), _empty(out, torch.int32), _empty(out, torch.bool)


@torch.library.register_fake("analogtorch::pcm_read")
def _pcm_read_fake(conductance_us, drift_nu, rng, time_s, g_max_us, t0_s, t_read_s, read_noise):
    _check_dtype(conductance_us, "conductance_us", torch.float32)
    _check_dtype(drift_nu, "drift_nu", torch.float32)
    _check_same_device(drift_nu, "drift_nu", conductance_us, "conductance_us")
    _check_same_shape(drift_nu, "drift_nu", conductance_us, "conductance_us")
    _check_rng(rng, conductance_us, "conductance_us")
    return _empty(conductance_us)


@torch.library.register_fake("analogtorch::pcm_read_moments")
def _pcm_read_moments_fake(conductance_us, drift_nu, time_s, g_max_us, t0_s, t_read_s):
    _check_dtype(conductance_us, "conductance_us", torch.float32)
    _check_dtype(drift_nu, "drift_nu", torch.float32)
    _check_same_device(drift_nu, "drift_nu", conductance_us, "conductance_us")
    _check_same_shape(drift_nu, "drift_nu", conductance_us, "conductance_us")
    return _empty(conductance_us), _empty(conductance_us)


@torch.library.register_fake("analogtorch::hardware_aware_read")
def _hardware_aware_read_fake(weight_us, rng, pcm_params, closed_loop, time_min_s, time_max_s):
    _check_dtype(weight_us, "weight_us", torch.float32)
    _check_rng(rng, weight_us, "weight_us")
    return _empty(weight_us), _empty(weight_us), weight_us.new_empty(1)


@torch.library.register_fake("analogtorch::add_read_noise")
def _add_read_noise_fake(y, variance, rng):
    _check_dtype(y, "y", torch.float32)
    _check_dtype(variance, "variance", torch.float32)
    _check_same_device(variance, "variance", y, "y")
    _check_same_shape(variance, "variance", y, "y")
    _check_rng(rng, y, "y")
    return _empty(y)


@torch.library.register_fake("analogtorch::pcm_pair_step_")
def _pcm_pair_step_fake(g_plus_us, g_minus_us, weight, delta_w_us, rng, *scalars):
    _check_dtype(g_plus_us, "g_plus_us", torch.float32)
    for tensor, name in ((g_minus_us, "g_minus_us"), (weight, "weight"), (delta_w_us, "delta_w_us")):
        _check_cell_state(tensor, name, g_plus_us, "g_plus_us")
    _check_rng(rng, g_plus_us, "g_plus_us")
    return _empty(g_plus_us, torch.int8), _empty(g_plus_us, torch.int8)


@torch.library.register_fake("analogtorch::cell_variation")
def _cell_variation_fake(rng, shape):
    _check_rng(rng, rng, "rng")
    return rng.new_empty((*shape, 3), dtype=torch.int8)


@torch.library.register_fake("analogtorch::capacitor_update")
def _capacitor_update_fake(v_c, variation, delta_w_us, rng, polarity, capacitor_params):
    _check_dtype(v_c, "v_c", torch.float32)
    _check_variation(variation, v_c, "v_c")
    _check_cell_state(delta_w_us, "delta_w_us", v_c, "v_c")
    _check_rng(rng, v_c, "v_c")
    return _empty(v_c), _empty(v_c, torch.int8)


@torch.library.register_fake("analogtorch::capacitor_leak")
def _capacitor_leak_fake(v_c, elapsed_s, tau_s, v_leak_v, check_values=True):
    _check_dtype(v_c, "v_c", torch.float32)
    return _empty(v_c)


@torch.library.register_fake("analogtorch::capacitor_step_")
def _capacitor_step_fake(v_c, weight, g_plus_us, g_minus_us, variation, delta_w_us, rng, polarity, params, elapsed_s,
                         tau_s, v_leak_v, gain_f, v_shared, variation_shared, scale, check_values=True):  # fmt: skip
    _check_dtype(v_c, "v_c", torch.float32)
    for tensor, name in ((weight, "weight"), (g_plus_us, "g_plus_us"), (g_minus_us, "g_minus_us"), (delta_w_us, "delta_w_us")):
        _check_cell_state(tensor, name, v_c, "v_c")
    _check_variation(variation, v_c, "v_c")
    _check_rng(rng, v_c, "v_c")
    _check_reference(v_shared, variation_shared, v_c, "v_c")
    return _empty(v_c, torch.int8)


@torch.library.register_fake("analogtorch::unit_cell_weight")
def _unit_cell_weight_fake(g_plus_us, g_minus_us, v_c, variation, polarity, capacitor_params, gain_f, v_shared,
                           variation_shared, scale, check_values=True):  # fmt: skip
    _check_dtype(g_plus_us, "g_plus_us", torch.float32, torch.float64)
    _check_like(g_minus_us, "g_minus_us", g_plus_us, "g_plus_us")
    _check_like(v_c, "v_c", g_plus_us, "g_plus_us")
    _check_variation(variation, g_plus_us, "g_plus_us")
    _check_reference(v_shared, variation_shared, v_c, "v_c")
    return _empty(g_plus_us)


@torch.library.register_fake("analogtorch::unit_cell_weight_backward")
def _unit_cell_weight_backward_fake(grad_weight, v_c, variation, polarity, capacitor_params, gain_f, scale):
    _check_dtype(grad_weight, "grad_weight", torch.float32, torch.float64)
    _check_like(v_c, "v_c", grad_weight, "grad_weight")
    _check_variation(variation, grad_weight, "grad_weight")
    return _empty(grad_weight), _empty(grad_weight), _empty(grad_weight)


@torch.library.register_fake("analogtorch::transfer")
def _transfer_fake(g_plus_us, g_minus_us, v_c, variation, rng, polarity, next_polarity, pcm_params, capacitor_params,
                   gain_f, v_shared, variation_shared, *rest):  # fmt: skip
    _check_dtype(g_plus_us, "g_plus_us", torch.float32)
    _check_cell_state(g_minus_us, "g_minus_us", g_plus_us, "g_plus_us")
    _check_cell_state(v_c, "v_c", g_plus_us, "g_plus_us")
    _check_variation(variation, g_plus_us, "g_plus_us")
    _check_rng(rng, g_plus_us, "g_plus_us")
    _check_reference(v_shared, variation_shared, v_c, "v_c")
    out = _empty(g_plus_us)
    return out, _empty(out), _empty(out), _empty(out), _empty(out), _empty(out, torch.int32), _empty(out, torch.int32)


@torch.library.register_fake("analogtorch::quantize")
def _quantize_fake(x, rng, bits, bound, noise_std):
    _check_dtype(x, "x", torch.float32)
    _check_rng(rng, x, "x")
    return _empty(x)


@torch.library.register_fake("analogtorch::quantize_backward")
def _quantize_backward_fake(grad_y, x, bound):
    _check_dtype(grad_y, "grad_y", torch.float32)
    _check_cell_state(x, "x", grad_y, "grad_y")
    return _empty(grad_y)


# ---------------------------------------------------------------------------------------------
# Autograd: the backward of a differentiable op is another registered op.
# ---------------------------------------------------------------------------------------------


def _unit_cell_weight_setup(ctx, inputs, output):
    _, _, v_c, variation, polarity, capacitor_params, gain_f, _, _, scale, _ = inputs
    ctx.save_for_backward(v_c, variation)
    ctx.polarity, ctx.capacitor_params, ctx.gain_f, ctx.scale = polarity, capacitor_params, gain_f, scale


def _unit_cell_weight_grad(ctx, grad_weight):
    if torch.is_grad_enabled():
        # The backward kernel has no derivative of its own: a graph built through it would give
        # zero second derivatives where the read curve's are not. Refuse rather than be wrong.
        raise RuntimeError(
            "unit_cell_weight: second derivatives (backward with create_graph=True) are not supported; "
            "differentiate it once"
        )
    v_c, variation = ctx.saved_tensors
    grads = torch.ops.analogtorch.unit_cell_weight_backward(
        grad_weight.contiguous(), v_c, variation, ctx.polarity, ctx.capacitor_params, ctx.gain_f, ctx.scale
    )
    # No gradient for the shared reference: it is never trained.
    return (*grads, None, None, None, None, None, None, None, None)


torch.library.register_autograd(
    "analogtorch::unit_cell_weight", _unit_cell_weight_grad, setup_context=_unit_cell_weight_setup
)


def _quantize_setup(ctx, inputs, output):
    x, _, _, bound, _ = inputs
    ctx.save_for_backward(x)
    ctx.bound = bound


def _quantize_grad(ctx, grad_y):
    (x,) = ctx.saved_tensors
    return torch.ops.analogtorch.quantize_backward(grad_y.contiguous(), x, ctx.bound), None, None, None, None


torch.library.register_autograd("analogtorch::quantize", _quantize_grad, setup_context=_quantize_setup)


def _add_read_noise_grad(ctx, grad_y):
    return grad_y, None, None


torch.library.register_autograd("analogtorch::add_read_noise", _add_read_noise_grad)

