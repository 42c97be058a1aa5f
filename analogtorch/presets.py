"""What an analog layer is made of: one configuration class per tile kind, and the presets users start from.

Each configuration names one kind of tile (``analogtorch.tiles``), i.e. one physics:

- :class:`IdealConfig` -> ``DigitalTile``: no non-ideality; an ``AnalogLinear`` equals ``nn.Linear``.
- :class:`HardwareAwareConfig` -> ``HardwareAwareTile``: digital master weights, trained through a
  forward pass that sees what the hardware would do to them (PCM programming noise, drift over a
  window, read noise, converters), gradients straight through (docs/physics.md section 4).
- :class:`UnitCellConfig` -> ``UnitCellTile``: in-situ training on 2PCM + 3T1C unit cells with
  transfers and polarity inversion (Ambrogio et al. 2018; docs/physics.md section 1).
- :class:`PCMPairConfig` -> ``PCMPairTile``: in-situ training directly on a PCM pair per weight, the
  paper's foil (after Burr et al. 2015): nonlinear, noisy, SET-only updates with occasional refresh.

Every trained tile can be programmed into PCM for inference (``DeployedTile``, section 2).

Presets (each takes its configuration's fields as keyword arguments):
``ideal()``, ``hardware_aware()``, ``ambrogio2018()``, ``pcm_only()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from .config import (
    PCMDevice,
    Periphery,
    UnitCell,
    _in_range,
    _instance,
    _int_in_range,
    _require,
    replace,
)

__all__ = [
    "AnalogConfig",
    "HardwareAwareConfig",
    "IdealConfig",
    "PCMPairConfig",
    "UnitCellConfig",
    "ambrogio2018",
    "hardware_aware",
    "ideal",
    "pcm_only",
    "replace",
]

_NO_CONVERTERS = Periphery(in_bits=0, out_bits=0, out_noise=0.0, bound_management=False, backward_like_forward=False)


DRIFT_COMPENSATIONS = ("global", "column", None)


def compensation_choice(value: Any, name: str = "drift_compensation") -> str | None:
    """A drift compensation: ``"global"``, ``"column"`` or None; ``True``/``False`` mean "global"/None."""
    if isinstance(value, bool):
        return "global" if value else None
    if value not in DRIFT_COMPENSATIONS:
        raise ValueError(f"{name}: expected one of {DRIFT_COMPENSATIONS} (or True / False), got {value!r}")
    return value


@dataclass(frozen=True)
class AnalogConfig:
    """What every tile kind shares: the periphery of its arrays, deployment defaults and its seed.

    Not used directly: build one of its subclasses (or a preset), each of which names its tile kind.
    """

    periphery: Periphery = field(default_factory=Periphery)
    """Converters and output noise around every read (forward and, if configured, backward)."""

    drift_compensation: str | None = "global"  # Le Gallo et al.: global drift compensation, on by default
    """Deployment: ``"global"`` scales each array's partial sums by one factor from a calibration read
    (reference / current response), ``"column"`` by one factor per column of each array, ``None``
    not at all (``True``/``False`` are read as ``"global"``/``None``)."""

    seed: int = 0
    """Seed of every random draw of the layer (devices, noise); ``convert_to_analog`` offsets it per layer."""

    def __post_init__(self) -> None:
        if type(self) is AnalogConfig:
            raise TypeError(
                "AnalogConfig: build one of its tile kinds (IdealConfig, HardwareAwareConfig, UnitCellConfig, "
                "PCMPairConfig) or a preset (analogtorch.presets.hardware_aware(), ...)"
            )
        _instance(self, "periphery", Periphery)
        object.__setattr__(self, "drift_compensation", compensation_choice(self.drift_compensation, "drift_compensation"))
        _int_in_range(self, "seed", -(2**63), 2**64 - 1)

    @property
    def kind(self) -> str:
        """A short name of the tile kind, for reports (not used for any decision)."""
        return type(self).__name__.removesuffix("Config")

    @property
    def deployment_pcm(self) -> PCMDevice:
        """The PCM devices a trained layer of this kind is programmed into for inference."""
        return PCMDevice()


@dataclass(frozen=True)
class IdealConfig(AnalogConfig):
    """A digital layer: exactly what the torch layer it replaces computes (no converters by default)."""

    periphery: Periphery = field(default_factory=lambda: _NO_CONVERTERS)


@dataclass(frozen=True)
class HardwareAwareConfig(AnalogConfig):
    """Digital master weights trained through a hardware-like forward (docs/physics.md section 4)."""

    periphery: Periphery = field(
        default_factory=lambda: Periphery(in_bits=8, out_bits=8, out_noise=0.04, backward_like_forward=False)
    )  # Joshi et al. 2020: 8-bit converters, output noise 0.04 in training

    pcm: PCMDevice = field(default_factory=lambda: PCMDevice(programming="open_loop"))
    """The PCM devices the weights are (and will be) programmed into: open loop with the programming
    noise of Joshi et al. 2020 by default, in training and at deployment."""

    train_time_min_s: float = 1.0  # docs/physics.md section 4: a chosen window; 1 s to 1 day by default
    """Shortest time after programming sampled for a training forward (s)."""

    train_time_max_s: float = 86400.0
    """Longest time after programming sampled for a training forward (s)."""

    device_noise_every: int = 1  # 1: a fresh device every forward, as Joshi et al. 2020
    """Forwards per fresh draw of the device noise (programming noise, drift exponents, read time). In
    between, the last draw's deviation from the weights it was drawn for is added to the current
    weights. Read and output noise stay fresh."""

    weight_clip_sigmas: float = 3.0  # docs/physics.md section 4: "weights clipped to a few standard deviations"
    """Weights are clipped to this many standard deviations of the layer's weights."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _instance(self, "pcm", PCMDevice)
        low = _in_range(self, "train_time_min_s", 0.0)
        high = _in_range(self, "train_time_max_s", 0.0)
        _require(low <= high, "train_time_max_s", f"expected >= train_time_min_s ({low!r}), got {high!r}")
        _int_in_range(self, "device_noise_every", 1, 2**31 - 1)
        _in_range(self, "weight_clip_sigmas", 0.0, low_open=True)

    @property
    def deployment_pcm(self) -> PCMDevice:
        return self.pcm


@dataclass(frozen=True)
class UnitCellConfig(AnalogConfig):
    """In-situ training on 2PCM + 3T1C unit cells (Ambrogio et al. 2018; docs/physics.md section 1).
    Train with ``analogtorch.optim.AnalogSGD``: only it changes the devices."""

    periphery: Periphery = field(default_factory=Periphery)

    unit_cell: UnitCell = field(default_factory=UnitCell)
    """The devices that hold each weight, the transfer schedule and polarity inversion."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _instance(self, "unit_cell", UnitCell)

    @property
    def deployment_pcm(self) -> PCMDevice:
        return self.unit_cell.pcm


@dataclass(frozen=True)
class PCMPairConfig(AnalogConfig):
    """In-situ training directly on a PCM pair per weight (the Nature 2018 paper's foil, after Burr et
    al. 2015). W = gain_f (G+ - G-) / scale. Train with ``analogtorch.optim.AnalogSGD``."""

    periphery: Periphery = field(default_factory=Periphery)

    pcm: PCMDevice = field(default_factory=PCMDevice)
    """The two PCM devices of each weight (closed-loop programming for the initial weights and refreshes)."""

    gain_f: float = 3.0  # as UnitCell.gain_f, so that the two in-situ kinds map weights alike
    """Gain of the pair in the weight (dimensionless)."""

    weight_range_fraction: float = 0.5  # docs/physics.md section 1: initial weights use about half the range
    """Fraction of the pair's programmable range that a layer's initial weights use, in (0, 1]."""

    update_amplitude: float = 0.05  # assumption: a training pulse moves G by ~0.1 uS from RESET
    """Relative amplitude of one training partial-SET pulse (of a full one), in (0, 1]."""

    update_max_pulses: int = 15  # assumption: a 4-bit pulse counter, as the capacitor's
    """Most pulses per device per update (1..127)."""

    refresh_fraction: float = 0.8  # assumption: at the programmable range (target_clip_us = 0.8 G_max)
    """A pair is refreshed when a device exceeds this fraction of g_max_us, in (0, 1)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _instance(self, "pcm", PCMDevice)
        _in_range(self, "gain_f", 0.0, low_open=True)
        _in_range(self, "weight_range_fraction", 0.0, 1.0, low_open=True)
        _in_range(self, "update_amplitude", 0.0, 1.0, low_open=True)
        _int_in_range(self, "update_max_pulses", 1, 127)
        _in_range(self, "refresh_fraction", 0.0, 1.0, low_open=True, high_open=True)

    @property
    def deployment_pcm(self) -> PCMDevice:
        return self.pcm


# ---------------------------------------------------------------------------------------------
# Presets: the configurations users start from. Each accepts its configuration's fields by name.
# ---------------------------------------------------------------------------------------------


# The nested configurations whose fields each preset also takes by name (a path of field names).
_NESTED: dict[type, tuple[tuple[str, ...], ...]] = {
    IdealConfig: (("periphery",),),
    HardwareAwareConfig: (("periphery",), ("pcm",)),
    UnitCellConfig: (("periphery",), ("unit_cell",), ("unit_cell", "capacitor"), ("unit_cell", "pcm")),
    PCMPairConfig: (("periphery",), ("pcm",)),
}


def _build(cls: type, changes: dict[str, Any]) -> AnalogConfig:
    """``cls()`` with ``changes`` applied: each name a field of ``cls`` or of one of its nested
    configurations (``_NESTED``); an unknown name raises TypeError listing every accepted one."""
    own = {f.name for f in fields(cls)}
    nested: dict[tuple[str, ...], dict[str, Any]] = {}
    defaults = cls()
    for name, value in changes.items():
        if name in own:
            continue
        for path in _NESTED[cls]:
            holder = defaults
            for step in path:
                holder = getattr(holder, step)
            if name in {f.name for f in fields(holder)}:
                nested.setdefault(path, {})[name] = value
                break
        else:
            accepted = sorted(own | {f.name for path in _NESTED[cls] for f in fields(_follow(defaults, path))})
            raise TypeError(f"{name}: not a field of {cls.__name__} or of its parts (fields: {accepted})")
    config = cls(**{name: value for name, value in changes.items() if name in own})
    # Deepest parts first, so that a changed part is then placed into its (changed) holder.
    for path in sorted(nested, key=len, reverse=True):
        part = replace(_follow(config, path), **nested[path])
        config = _place(config, path, part)
    return config


def _follow(config: Any, path: tuple[str, ...]) -> Any:
    for step in path:
        config = getattr(config, step)
    return config


def _place(config: Any, path: tuple[str, ...], part: Any) -> Any:
    if len(path) == 1:
        return replace(config, **{path[0]: part})
    return replace(config, **{path[0]: _place(getattr(config, path[0]), path[1:], part)})


def ideal(**changes: Any) -> IdealConfig:
    """No non-ideality: the layer computes what its torch twin computes. Keyword arguments set
    fields of :class:`IdealConfig` or of its ``Periphery`` (e.g. ``out_bits=8`` for converters)."""
    return _build(IdealConfig, changes)


def hardware_aware(**changes: Any) -> HardwareAwareConfig:
    """Digital weights trained through a hardware-like forward (docs/physics.md section 4): 8-bit DAC
    and ADC, output noise, PCM programming noise (open loop, Joshi et al. 2020), drift sampled between
    1 s and ``train_time_max_s``, read noise; straight-through gradients.

    Keyword arguments set fields of :class:`HardwareAwareConfig` (e.g. ``device_noise_every=16``), of
    its ``Periphery`` (e.g. ``out_noise=0.02``) or of its ``PCMDevice`` (e.g. ``programming="closed_loop"``).
    """
    return _build(HardwareAwareConfig, changes)


def ambrogio2018(**changes: Any) -> UnitCellConfig:
    """In-situ training on 2PCM + 3T1C unit cells (Ambrogio et al. 2018): capacitor updates every step,
    transfers into PCM by program-and-verify every ``transfer_every`` examples, polarity inversion.

    Keyword arguments set fields of :class:`UnitCellConfig`, of its ``Periphery``, of its
    ``UnitCell`` (e.g. ``transfer_every=4000``, ``polarity_inversion=False``), or of the cell's
    ``Capacitor3T1C`` (e.g. ``tau_s=10.0``) or ``PCMDevice`` (e.g. ``verify_tolerance_us=0.25``).
    """
    return _build(UnitCellConfig, changes)


def pcm_only(**changes: Any) -> PCMPairConfig:
    """In-situ training directly on a PCM pair per weight (the Nature 2018 paper's foil). Keyword
    arguments set fields of :class:`PCMPairConfig`, of its ``Periphery`` or of its ``PCMDevice``."""
    return _build(PCMPairConfig, changes)
