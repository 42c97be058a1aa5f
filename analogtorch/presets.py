"""Ready-made configurations of an analog layer (``AnalogConfig``) and the presets users start from.

- ``ideal()``: no non-ideality at all; an ``AnalogLinear`` equals ``nn.Linear``.
- ``hardware_aware()``: digital master weights, trained with a forward pass that sees what the
  hardware would do to them (PCM programming noise, drift over a window, read noise, converters),
  gradients straight through (PHYSICS.md section 4, after Joshi et al. 2020).
- ``ambrogio2018()``: in-situ training on 2PCM + 3T1C unit cells with transfers every
  ``transfer_every`` examples and polarity inversion (Ambrogio et al. 2018).
- ``pcm_only()``: in-situ training directly on a PCM pair per weight, the paper's foil (after Burr
  et al. 2015): nonlinear, noisy, SET-only updates with occasional refresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import PCMDevice, Periphery, UnitCell, _boolean, _choice, _in_range, _instance, _int_in_range, _require, replace

__all__ = ["MODES", "AnalogConfig", "ambrogio2018", "hardware_aware", "ideal", "pcm_only", "replace"]

MODES = ("ideal", "hardware_aware", "in_situ", "pcm_only")


@dataclass(frozen=True)
class AnalogConfig:
    """How an analog layer trains and runs.

    ``mode``: ``"ideal"`` (a digital layer), ``"hardware_aware"`` (digital weights, hardware-like
    forward), ``"in_situ"`` (the weights live in the simulated 2PCM + 3T1C unit cells and change only
    through device updates: train with ``analogtorch.optim.AnalogSGD``) or ``"pcm_only"`` (in-situ
    on a bare PCM pair per weight).
    """

    mode: str = "in_situ"
    """``"ideal"``, ``"hardware_aware"``, ``"in_situ"`` or ``"pcm_only"``."""

    unit_cell: UnitCell = field(default_factory=UnitCell)
    """The devices that hold each weight."""

    periphery: Periphery = field(default_factory=Periphery)
    """Converters and output noise around every read (forward and, if configured, backward)."""

    train_time_min_s: float = 1.0  # PHYSICS.md section 4: a chosen window; 1 s to 1 day by default
    """Hardware-aware training: shortest time after programming sampled for a forward pass (s)."""

    train_time_max_s: float = 86400.0
    """Hardware-aware training: longest time after programming sampled for a forward pass (s)."""

    device_noise_every: int = 1  # 1: a fresh device every forward, as Joshi et al. 2020
    """Hardware-aware training: forwards per fresh draw of the device noise (programming noise, drift
    exponents, read time). In between, the last draw's deviation from the weights it was drawn for is
    added to the current weights: training meets fewer device instances, each forward costs a GEMM
    plus the read-noise GEMM instead of a draw per weight. Read and output noise stay fresh."""

    weight_clip_sigmas: float = 3.0  # PHYSICS.md section 4: "weights clipped to a few standard deviations"
    """Hardware-aware training: weights are clipped to this many standard deviations of the layer's weights."""

    pcm_update_amplitude: float = 0.05  # no public source: a training pulse moves G by ~0.1 uS from RESET
    """PCM-only training: relative amplitude of one training partial-SET pulse (of a full one), in (0, 1]."""

    pcm_update_max_pulses: int = 15  # no public source: as the capacitor's pulse counter
    """PCM-only training: most pulses per device per update (1..127)."""

    pcm_refresh_fraction: float = 0.8  # no public source: at the programmable range (target_clip_us = 0.8 G_max)
    """PCM-only training: a pair is refreshed when a device exceeds this fraction of g_max_us, in (0, 1);
    above target_clip_us / g_max_us a refresh would clip the weight."""

    drift_compensation: bool = True  # Le Gallo et al.: global drift compensation, on by default
    """Deployment: scale outputs by a calibration read's reference / current response."""

    seed: int = 0
    """Seed of every random draw of the layer (devices, noise); layers of a model offset it by their index."""

    def __post_init__(self) -> None:
        _choice(self, "mode", MODES)
        _instance(self, "unit_cell", UnitCell)
        _instance(self, "periphery", Periphery)
        low = _in_range(self, "train_time_min_s", 0.0)
        high = _in_range(self, "train_time_max_s", 0.0)
        _require(low <= high, "train_time_max_s", f"expected >= train_time_min_s ({low!r}), got {high!r}")
        _int_in_range(self, "device_noise_every", 1, 2**31 - 1)
        _in_range(self, "weight_clip_sigmas", 0.0, low_open=True)
        _in_range(self, "pcm_update_amplitude", 0.0, 1.0, low_open=True)
        _int_in_range(self, "pcm_update_max_pulses", 1, 127)
        _in_range(self, "pcm_refresh_fraction", 0.0, 1.0, low_open=True, high_open=True)
        _boolean(self, "drift_compensation")
        _int_in_range(self, "seed", -(2**63), 2**64 - 1)


_NO_CONVERTERS = Periphery(in_bits=0, out_bits=0, out_noise=0.0, backward_like_forward=False)


def ideal() -> AnalogConfig:
    """No non-ideality: the layer computes exactly what ``nn.Linear`` computes."""
    return AnalogConfig(mode="ideal", periphery=_NO_CONVERTERS)


def hardware_aware(*, out_noise: float = 0.04, train_time_max_s: float = 86400.0) -> AnalogConfig:
    """Digital weights trained through a hardware-like forward (PHYSICS.md section 4): 8-bit DAC and
    ADC, output noise 0.04 of the output range (Joshi et al. 2020), PCM programming noise, drift
    sampled between 1 s and ``train_time_max_s``, read noise; straight-through gradients. The PCM
    are programmed open loop with the programming-noise law of Joshi et al. 2020 (section 2), in
    training and at deployment.
    """
    periphery = Periphery(in_bits=8, out_bits=8, out_noise=out_noise, backward_like_forward=False)
    unit_cell = UnitCell(pcm=PCMDevice(programming="open_loop"))
    return AnalogConfig(
        mode="hardware_aware", unit_cell=unit_cell, periphery=periphery, train_time_max_s=train_time_max_s
    )


def ambrogio2018(*, transfer_every: int = 8000, polarity_inversion: bool = True) -> AnalogConfig:
    """In-situ training on 2PCM + 3T1C unit cells (Ambrogio et al. 2018): capacitor updates every
    step, transfers into PCM by program-and-verify every ``transfer_every`` examples, polarity
    inversion between transfers.
    """
    unit_cell = UnitCell(transfer_every=transfer_every, polarity_inversion=polarity_inversion)
    return AnalogConfig(mode="in_situ", unit_cell=unit_cell)


def pcm_only() -> AnalogConfig:
    """In-situ training directly on a PCM pair per weight (the Nature 2018 paper's foil)."""
    return AnalogConfig(mode="pcm_only")
