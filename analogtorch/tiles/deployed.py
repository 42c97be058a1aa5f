"""``DeployedTile``: a trained weight matrix programmed into PCM pairs for inference, drifting with
the time since programming (docs/physics.md section 2)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from .. import _ops as ops
from ..config import PCMDevice
from ..presets import AnalogConfig
from .base import Tile, config_fields
from .hardware_aware import programmable_range_us
from .periphery import array_read

__all__ = ["CALIBRATION_VECTORS", "DeployedTile", "MAX_TIME_S"]

CALIBRATION_VECTORS = 64
"""Input vectors of the calibration read that drift compensation compares outputs by."""

MAX_TIME_S = 3.2e9
"""The latest time after programming a tile can be moved to: a century. Beyond, the drift law of
Joshi et al. 2020 is an extrapolation over orders of magnitude no measurement covers."""

_COMPENSATIONS = (None, "global")


class DeployedTile(Tile):
    """PCM pairs programmed once (scale G_max / max|w|, the programmable range in closed loop; one
    device per sign), read at ``time_s`` after programming: drifted conductances with fresh 1/f read
    noise for every input vector, through the periphery of the layer's configuration, with global
    drift compensation (one output scale from a calibration read) when asked for.

    The drifted weights and their read-noise variance are fixed at :meth:`set_time`, so a forward is
    two GEMMs.
    """

    config_class = AnalogConfig

    def __init__(self, out_features, in_features, config: AnalogConfig, pcm: PCMDevice, device=None):
        super().__init__(out_features, in_features, config, device)
        if not isinstance(pcm, PCMDevice):
            raise TypeError(f"pcm: expected a PCMDevice, got {type(pcm).__name__}")
        self.pcm = pcm
        shape = (out_features, in_features)
        state = {"device": device, "dtype": torch.float32}
        for name in ("g_plus_us", "nu_plus", "g_minus_us", "nu_minus"):
            self.register_buffer(name, torch.zeros(shape, **state))
        self.register_buffer("calibration", torch.zeros((CALIBRATION_VECTORS, in_features), **state))
        scalar = {"device": device, "dtype": torch.float64}
        self.register_buffer("scale_us_per_unit", torch.ones((), **scalar))
        self.register_buffer("time_s", torch.zeros((), **scalar))
        self.register_buffer("reference", torch.zeros((), **scalar))
        self.register_buffer("compensation", torch.ones((), **scalar))
        self._weight: torch.Tensor | None = None  # drifted weights at time_s (network units)
        self._variance: torch.Tensor | None = None  # their read-noise variance (None: no read noise)

    @classmethod
    @torch.no_grad()
    def programmed(cls, weight: torch.Tensor, config: AnalogConfig, pcm: PCMDevice, device=None) -> "DeployedTile":
        """A tile holding ``weight`` (``[out, in]``, network units) in PCM, at time 0 after programming."""
        tile = cls(weight.shape[0], weight.shape[1], config, pcm, device=device)
        weight = weight.detach().float()
        largest = weight.abs().max().item() if weight.numel() else 0.0
        scale = programmable_range_us(pcm) / max(largest, 1e-12)
        weight_us = (weight * scale).contiguous()
        closed = pcm.programming == "closed_loop"
        offset = pcm.g_reset_us if closed else 0.0
        rng = tile._rng()
        plus = ops.pcm_program(weight_us.clamp(min=0) + offset, rng, pcm, device_stride=2, device_offset=0)
        minus = ops.pcm_program((-weight_us).clamp(min=0) + offset, rng, pcm, device_stride=2, device_offset=1)
        if closed:  # the zero side stays RESET
            positive = weight_us > 0
            plus = plus._replace(conductance_us=torch.where(positive, plus.conductance_us, offset))
            minus = minus._replace(conductance_us=torch.where(positive, offset, minus.conductance_us))
        tile._advance_rng()
        tile.g_plus_us.copy_(plus.conductance_us)
        tile.nu_plus.copy_(plus.drift_nu)
        tile.g_minus_us.copy_(minus.conductance_us)
        tile.nu_minus.copy_(minus.drift_nu)
        tile.scale_us_per_unit.fill_(scale)
        generator = torch.Generator().manual_seed(int(config.seed) % (2**63))
        tile.calibration.copy_(torch.randn(CALIBRATION_VECTORS, weight.shape[1], generator=generator).clamp(-1, 1))
        weight_at_0, variance_at_0 = tile._moments(0.0)
        tile.reference.fill_(tile._calibration_response(weight_at_0, None, None))
        tile.commit_time(tile.plan_time(0.0, drift_compensation=config.drift_compensation))
        return tile

    # --- time ---------------------------------------------------------------------------------

    def _moments(self, time_s: float) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The programmed weights read at ``time_s``: drifted, and the variance of their read noise."""
        pcm = self.pcm
        time_s = time_s if pcm.drift else 0.0
        kwargs = {"g_max_us": pcm.g_max_us, "t0_s": pcm.t0_s, "t_read_s": pcm.t_read_s}
        mean_plus, variance_plus = ops.pcm_read_moments(self.g_plus_us, self.nu_plus, time_s, **kwargs)
        mean_minus, variance_minus = ops.pcm_read_moments(self.g_minus_us, self.nu_minus, time_s, **kwargs)
        scale = float(self.scale_us_per_unit)
        variance = (variance_plus + variance_minus) / scale**2 if pcm.read_noise else None
        return (mean_plus - mean_minus) / scale, variance

    def _calibration_response(self, weight: torch.Tensor, variance: torch.Tensor | None, rng: torch.Tensor | None) -> float:
        """Mean output magnitude of the calibration inputs through ``weight`` (read noise with ``rng``)."""
        y = F.linear(self.calibration, weight)
        if variance is not None and rng is not None:
            y = ops.add_read_noise(y, F.linear(self.calibration.square(), variance), rng)
        return y.abs().mean().item()

    @torch.no_grad()
    def plan_time(self, time_s: float, *, drift_compensation: bool | str | None = None) -> dict[str, Any]:
        """Everything :meth:`commit_time` sets for ``time_s``, computed without changing the tile
        (so that a model-wide move is validated whole before any layer changes)."""
        if isinstance(time_s, bool) or not isinstance(time_s, (int, float)):
            raise TypeError(f"time_s: expected a number of seconds, got {type(time_s).__name__}")
        if not (math.isfinite(time_s) and 0 <= time_s <= MAX_TIME_S):
            raise ValueError(f"time_s: expected a number of seconds in [0, {MAX_TIME_S:g}] (a century), got {time_s!r}")
        compensate = self._compensation_choice(drift_compensation)
        weight, variance = self._moments(float(time_s))
        compensation = 1.0
        if compensate:
            rng = self._rng()
            current = self._calibration_response(weight, variance, rng)
            compensation = float(self.reference) / max(current, 1e-30)
            if not math.isfinite(compensation):
                raise ValueError(f"time_s: drift compensation at {time_s!r} s is not finite (the calibration read is {current!r})")
        return {"time_s": float(time_s), "weight": weight, "variance": variance, "compensation": compensation,
                "rng_uses": int(compensate)}  # fmt: skip

    def commit_time(self, plan: dict[str, Any]) -> None:
        self.time_s.fill_(plan["time_s"])
        self.compensation.fill_(plan["compensation"])
        self._weight, self._variance = plan["weight"], plan["variance"]
        self._advance_rng(plan["rng_uses"])

    def set_time(self, time_s: float, *, drift_compensation: bool | str | None = None) -> None:
        """Moves the tile to ``time_s`` seconds after programming; with drift compensation (default:
        the configuration's), a calibration read sets the output scale."""
        self.commit_time(self.plan_time(time_s, drift_compensation=drift_compensation))

    def _compensation_choice(self, drift_compensation: bool | str | None) -> bool:
        if drift_compensation is None:
            return self.config.drift_compensation
        if isinstance(drift_compensation, bool):
            return drift_compensation
        if drift_compensation not in _COMPENSATIONS:
            raise ValueError(f"drift_compensation: expected True, False, None or one of {_COMPENSATIONS}, got {drift_compensation!r}")
        return drift_compensation == "global"

    def drifted_weight(self) -> torch.Tensor:
        """The weights the tile computes with now (drifted, compensated, without read noise)."""
        weight, _ = self._current()
        return weight * self.compensation.float()

    def _current(self):
        if self._weight is None:
            self._weight, self._variance = self._moments(float(self.time_s))
        return self._weight, self._variance

    # --- reads --------------------------------------------------------------------------------

    def read(self, x: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """``weight`` is ignored: the devices hold the weights."""
        drifted, variance = self._current()
        rng = self._rng()
        y = array_read(x, drifted, rng, self.config.periphery, variance=variance)
        y = y * self.compensation.float()
        self._advance_rng()
        self._count_reads(x.shape[0], training=False)
        return y

    # --- state --------------------------------------------------------------------------------

    def get_extra_state(self) -> dict[str, Any]:
        state = super().get_extra_state()
        state["pcm"] = config_fields(self.pcm)
        return state

    def _check_extra_state(self, state: Any) -> None:
        super()._check_extra_state(state)
        if state.get("pcm") != config_fields(self.pcm):
            raise ValueError(f"state_dict: deployed with other PCM devices: {state.get('pcm')!r:.300}")

    def _state_spec(self):
        spec = super()._state_spec()
        shape = [self.out_features, self.in_features]
        for name in ("g_plus_us", "g_minus_us"):
            spec[name] = (torch.float32, shape, (0.0, self.pcm.g_max_us))
        for name in ("nu_plus", "nu_minus"):
            spec[name] = (torch.float32, shape, (0.0, 1.0))
        spec["calibration"] = (torch.float32, [CALIBRATION_VECTORS, self.in_features], (-1.0, 1.0))
        spec["scale_us_per_unit"] = (torch.float64, [], (1e-30, 1e30))
        spec["time_s"] = (torch.float64, [], (0.0, MAX_TIME_S))
        spec["reference"] = (torch.float64, [], (0.0, 1e30))
        spec["compensation"] = (torch.float64, [], (0.0, 1e30))
        return spec

    def _invalidate_caches(self) -> None:
        self._weight = self._variance = None
