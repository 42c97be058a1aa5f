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
from ..presets import compensation_choice
from .periphery import block_max, expand_blocks

__all__ = ["CALIBRATION_VECTORS", "DeployedTile", "MAX_TIME_S"]

CALIBRATION_VECTORS = 64
"""Input vectors of the calibration read that drift compensation compares outputs by."""

MAX_TIME_S = 3.2e9
"""The latest time after programming a tile can be moved to: a century. Beyond, the drift law of
Joshi et al. 2020 is an extrapolation over orders of magnitude no measurement covers."""



class DeployedTile(Tile):
    """PCM pairs programmed once (the largest weight of each array, or column, at the programmable
    range: G_max open loop, target_clip_us closed loop; one device per sign), read at ``time_s``
    after programming: drifted conductances with fresh 1/f read noise for every input vector,
    through the periphery of the layer's configuration, with drift compensation of each array's
    partial sums (one factor per array, or per column, from calibration reads) when asked for.

    The drifted weights and their read-noise variance are fixed at :meth:`set_time`, so a forward is
    two GEMMs.
    """

    config_class = AnalogConfig
    mirrored = ("time_s",)

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
        blocks = (self.grid.row_blocks, out_features)
        self.register_buffer("scale_us_per_unit", torch.ones(blocks, **scalar))  # per array (or column)
        self.register_buffer("time_s", torch.zeros((), **scalar))
        self._host_time_s = 0.0
        self.register_buffer("reference", torch.zeros(blocks, **scalar))  # calibration response at time 0
        self.register_buffer("compensation", torch.ones(blocks, **scalar))  # on each array's partial sums
        self._weight: torch.Tensor | None = None  # drifted weights at time_s (network units)
        self._variance: torch.Tensor | None = None  # their read-noise variance (None: no read noise)

    @classmethod
    @torch.no_grad()
    def programmed(cls, weight: torch.Tensor, config: AnalogConfig, pcm: PCMDevice, device=None) -> "DeployedTile":
        """A tile holding ``weight`` (``[out, in]``, network units) in PCM, at time 0 after programming."""
        tile = cls(weight.shape[0], weight.shape[1], config, pcm, device=device)
        weight = weight.detach().float()
        largest = block_max(weight, tile.grid, config.periphery.weight_mapping).clamp(min=1e-12)
        scale = programmable_range_us(pcm) / largest.double()  # uS per network unit, per array or column
        weight_us = (weight * expand_blocks(scale.float(), tile.grid)).contiguous()
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
        tile.scale_us_per_unit.copy_(scale)
        generator = torch.Generator().manual_seed(int(config.seed) % (2**63))
        tile.calibration.copy_(torch.randn(CALIBRATION_VECTORS, weight.shape[1], generator=generator).clamp(-1, 1))
        weight_at_0, _ = tile._moments(0.0)
        tile.reference.copy_(tile._calibration_response(weight_at_0, None, None, "column"))
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
        scale = expand_blocks(self.scale_us_per_unit.float(), self.grid)
        variance = (variance_plus + variance_minus) / scale.square() if pcm.read_noise else None
        return (mean_plus - mean_minus) / scale, variance

    def full_scale(self) -> torch.Tensor:
        """``[row_blocks, out]``: the network-unit weight one device at G_max stands for."""
        return (self.pcm.g_max_us / self.scale_us_per_unit).float()

    def _calibration_response(self, weight, variance, rng, compensation: str) -> torch.Tensor:
        """``[row_blocks, out]`` (float64): the mean magnitude of each array's partial sums for the
        calibration inputs through ``weight`` (read noise with ``rng``), per column
        (``compensation="column"``) or per array ("global": the same over an array's columns)."""
        grid = self.grid
        pad = grid.row_blocks * grid.rows - self.in_features
        inputs = F.pad(self.calibration, (0, pad)).view(-1, grid.row_blocks, grid.rows).transpose(0, 1)  # [R, V, rows]
        blocks = F.pad(weight, (0, pad)).view(self.out_features, grid.row_blocks, grid.rows).permute(1, 2, 0)  # [R, rows, out]
        y = torch.bmm(inputs, blocks)  # [R, V, out]
        if variance is not None and rng is not None:
            noise = F.pad(variance, (0, pad)).view(self.out_features, grid.row_blocks, grid.rows).permute(1, 2, 0)
            y = ops.add_read_noise(y.contiguous(), torch.bmm(inputs.square(), noise).contiguous(), rng)
        response = y.abs().mean(dim=1).double()  # [R, out]
        if compensation == "global":
            columns = F.pad(response, (0, grid.col_blocks * grid.cols - self.out_features)).view(grid.row_blocks, grid.col_blocks, grid.cols)
            count = F.pad(torch.ones_like(response), (0, grid.col_blocks * grid.cols - self.out_features)).view_as(columns).sum(-1, keepdim=True)
            response = (columns.sum(-1, keepdim=True) / count).expand_as(columns).reshape(grid.row_blocks, -1)[:, : self.out_features]
        return response

    @torch.no_grad()
    def plan_time(self, time_s: float, *, drift_compensation: bool | str | None = ...) -> dict[str, Any]:
        """Everything :meth:`commit_time` sets for ``time_s``, computed without changing the tile
        (so that a model-wide move is validated whole before any layer changes)."""
        if isinstance(time_s, bool) or not isinstance(time_s, (int, float)):
            raise TypeError(f"time_s: expected a number of seconds, got {type(time_s).__name__}")
        if not (math.isfinite(time_s) and 0 <= time_s <= MAX_TIME_S):
            raise ValueError(f"time_s: expected a number of seconds in [0, {MAX_TIME_S:g}] (a century), got {time_s!r}")
        compensate = self._compensation_choice(drift_compensation)
        weight, variance = self._moments(float(time_s))
        compensation = torch.ones_like(self.compensation)
        if compensate is not None:
            rng = self._rng()
            reference = self._reference(compensate)
            current = self._calibration_response(weight, variance, rng, compensate)
            # An array (or column) whose reference response is 0 holds no weight: nothing to compensate.
            compensation = torch.where(reference > 0, reference / current.clamp(min=1e-30), torch.ones_like(reference))
            if not bool(torch.isfinite(compensation).all()):
                raise ValueError(f"time_s: drift compensation at {time_s!r} s is not finite")
        return {"time_s": float(time_s), "weight": weight, "variance": variance, "compensation": compensation,
                "rng_uses": int(compensate is not None)}  # fmt: skip

    def _reference(self, compensation: str) -> torch.Tensor:
        """The time-0 response per column, averaged per array for "global"."""
        if compensation == "column":
            return self.reference
        grid = self.grid
        pad = grid.col_blocks * grid.cols - self.out_features
        columns = F.pad(self.reference, (0, pad)).view(grid.row_blocks, grid.col_blocks, grid.cols)
        count = F.pad(torch.ones_like(self.reference), (0, pad)).view_as(columns).sum(-1, keepdim=True)
        return (columns.sum(-1, keepdim=True) / count).expand_as(columns).reshape(grid.row_blocks, -1)[:, : self.out_features]

    def commit_time(self, plan: dict[str, Any]) -> None:
        self._set_host("time_s", plan["time_s"])
        self.compensation.copy_(plan["compensation"])
        self._weight, self._variance = plan["weight"], plan["variance"]
        self._advance_rng(plan["rng_uses"])

    def set_time(self, time_s: float, *, drift_compensation: bool | str | None = ...) -> None:
        """Moves the tile to ``time_s`` seconds after programming; with drift compensation (default:
        the configuration's), a calibration read sets the output scale."""
        self.commit_time(self.plan_time(time_s, drift_compensation=drift_compensation))

    def _compensation_choice(self, drift_compensation) -> str | None:
        """The configuration's compensation for the default (``...``), else the one asked for."""
        if drift_compensation is ...:
            return self.config.drift_compensation
        return compensation_choice(drift_compensation)

    def drifted_weight(self) -> torch.Tensor:
        """The weights the tile computes with now (drifted, compensated per array or column, without
        read noise); exact for a tile of one array row block."""
        weight, _ = self._current()
        if self.grid.row_blocks == 1:
            return weight * self.compensation.float().t()
        return weight * expand_blocks(self.compensation.float(), self.grid)

    def _current(self):
        if self._weight is None:
            self._weight, self._variance = self._moments(self._host("time_s"))
        return self._weight, self._variance

    # --- reads --------------------------------------------------------------------------------

    def read(self, x: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """``weight`` is ignored: the devices hold the weights."""
        drifted, variance = self._current()
        rng = self._rng()
        y = self._read(x, drifted, rng, full_scale=self.full_scale(), variance=variance, partial_scale=self.compensation.float())
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
        blocks = [self.grid.row_blocks, self.out_features]
        spec["scale_us_per_unit"] = (torch.float64, blocks, (1e-30, 1e30))
        spec["time_s"] = (torch.float64, [], (0.0, MAX_TIME_S))
        spec["reference"] = (torch.float64, blocks, (0.0, 1e30))
        spec["compensation"] = (torch.float64, blocks, (0.0, 1e30))
        return spec

    def _invalidate_caches(self) -> None:
        self._weight = self._variance = None
