"""``HardwareAwareTile``: digital master weights read as freshly programmed, drifting PCM would hold
them (``HardwareAwareConfig``; docs/physics.md section 4, after Joshi et al. 2020)."""

from __future__ import annotations

import math

import torch

from .. import _ops as ops
from ..config import PCMDevice
from ..presets import HardwareAwareConfig
from .base import Tile
from .periphery import TINY, block_l1, block_max, mul_blocks_

__all__ = ["HardwareAwareTile", "programmable_range_us"]


def programmable_range_us(pcm: PCMDevice) -> float:
    """The conductance the largest weight is mapped to: target_clip_us in closed loop, G_max open."""
    return pcm.target_clip_us if pcm.programming == "closed_loop" else pcm.g_max_us


class HardwareAwareTile(Tile):
    """In training, every forward programs the clipped weights into fresh PCM pairs and reads them at
    a random time of the training window (programming noise, drift, global drift compensation, read
    noise per input vector), through the arrays' periphery; gradients pass straight through the
    device noise (clipping passes none beyond its bound). Weights map onto conductances per array
    (or per column), as they will be programmed. In eval, the weights are read through the
    periphery only. A fresh device every ``device_noise_every`` forwards: in between, the last
    draw's deviation is added to the current weights (kept in buffers: a resume is bit-identical)."""

    config_class = HardwareAwareConfig
    mirrored = ("noise_forwards",)

    def __init__(self, out_features, in_features, config, device=None):
        super().__init__(out_features, in_features, config, device)
        shape = (out_features, in_features)
        if config.device_noise_every > 1:
            factory = {"device": device, "dtype": torch.float32}
            self.register_buffer("noise_deviation", torch.zeros(shape, **factory))
            self.register_buffer("noise_variance", torch.zeros(shape, **factory))
            self.register_buffer("noise_bound", torch.zeros((), **factory))
            self.register_buffer("noise_full_scale", torch.ones((self.grid.row_blocks, out_features), **factory))
            # Forwards that used the last draw; device_noise_every: a draw is due.
            self.register_buffer("noise_forwards", torch.full((), config.device_noise_every, dtype=torch.int64, device=device))
            self._host_noise_forwards = config.device_noise_every

    def _full_scale(self, weight: torch.Tensor, bound: torch.Tensor | None = None) -> torch.Tensor:
        """``[row_blocks, out]``: what one device at G_max stands for, per array (or column), for
        ``weight`` clipped at ``bound`` (the largest clipped |w| is the smaller of the two)."""
        pcm = self.config.pcm
        largest = block_max(weight, self.grid, self.config.periphery.weight_mapping)
        if bound is not None:
            largest = torch.minimum(largest, bound).clamp(min=TINY)
        return largest * (pcm.g_max_us / programmable_range_us(pcm))

    def clip_bound(self, weight: torch.Tensor) -> torch.Tensor:
        """The bound training clips ``weight`` at (0-dim): ``weight_clip_sigmas`` standard deviations
        of the layer's weights (the largest float for a single weight, which has none)."""
        detached = weight.detach().float()
        if detached.numel() > 1:
            return self.config.weight_clip_sigmas * detached.std()
        return detached.new_full((), torch.finfo(torch.float32).max)

    def program(self, weight: torch.Tensor, pcm=None, *, seed: int | None = None):
        """As :meth:`Tile.program`, with the weights clipped as every training forward clipped them:
        the deployed network computes the function training saw, and the largest weight programmed
        (which sets every array's conductance scale) is the bound, not an outlier beyond it."""
        bound = self.clip_bound(weight)
        return super().program(torch.clamp(weight.detach().float(), -bound, bound), pcm, seed=seed)

    def read(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        config = self.config
        rng = self._rng()
        if not self.training:
            # Clipped as in training (and as programmed): clamp's gradient passes none beyond the bound.
            bound = self.clip_bound(weight)
            weight = torch.clamp(weight, -bound.to(weight.dtype), bound.to(weight.dtype))
            y = self._read(x, weight, rng, full_scale=self._full_scale(weight.detach()))
            self._advance_rng()
            self._count_reads(x.shape[0], training=False)
            return y
        reuse = config.device_noise_every > 1 and not torch.compiler.is_compiling()
        # The forwards since the last draw, from the host mirror (reading the buffer would
        # synchronise with the device every forward).
        if reuse and self._host("noise_forwards") < config.device_noise_every:
            deviation, variance, bound, full_scale = self.noise_deviation, self.noise_variance, self.noise_bound, self.noise_full_scale
            draw_rng, uses = None, 1
            # Clipping passes no gradient beyond the bound; the device noise passes it straight through.
            noisy = _ClipAndAdd.apply(weight, bound, deviation)
        else:
            draw_rng, uses = rng.clone(), 2
            draw_rng[1] += 1
            read_weight, variance, bound, full_scale = self._draw_device_noise(weight, draw_rng)
            noisy = _ClippedStraightThrough.apply(weight, bound, read_weight)
            if reuse:
                with torch.no_grad():
                    deviation = read_weight - torch.clamp(weight.detach().float(), -bound, bound)
        y = self._read(x, noisy, rng, full_scale=full_scale, variance=variance if config.pcm.read_noise else None)
        # Commit only after the read succeeded: a refused forward leaves the tile as it was.
        self._advance_rng(uses)
        if reuse:
            if draw_rng is not None:
                self.noise_deviation.copy_(deviation)
                self.noise_variance.copy_(variance)
                self.noise_bound.copy_(bound)
                self.noise_full_scale.copy_(full_scale)
                self._set_host("noise_forwards", 0)
            self._add_host("noise_forwards", 1)
        self._count_reads(x.shape[0], training=False)
        return y

    @torch.no_grad()
    def _draw_device_noise(self, weight: torch.Tensor, rng: torch.Tensor):
        """Programs the clipped weights into fresh PCM pairs (the largest of each array, or column,
        at the programmable range) and reads them at a random time of the training window: the
        weights read (network units, drift compensated), the variance of their read noise, the
        clip bound and the full-scale weight per array. Tensor operations only (no host sync); the
        [out, in] passes are the clip, the block maxima, the scaling, the kernel, the read's L1 norms
        and the scaling back."""
        config = self.config
        pcm = config.pcm
        detached = weight.detach().float()
        bound = self.clip_bound(detached)
        full_scale = self._full_scale(detached, bound)
        clipped = torch.clamp(detached, -bound, bound)
        clipped_l1 = torch.linalg.vector_norm(clipped, ord=1)
        # uS per network unit of every array row block and output (docs/physics.md section 2):
        # applied block by block, in place, so that no [out, in] scale is materialised.
        scale = pcm.g_max_us / full_scale  # [R, out]
        window = (max(config.train_time_min_s, 1e-9), max(config.train_time_max_s, 1e-9)) if pcm.drift else (0.0, 0.0)
        weight_us = mul_blocks_(clipped, scale, self.grid)
        mean_us, variance_us2, _ = ops.hardware_aware_read(weight_us, rng, pcm, time_min_s=window[0], time_max_s=window[1])
        # Global drift compensation: one scalar restores the mean weight magnitude.
        read_l1 = (block_l1(mean_us, self.grid) / scale).sum()
        gain = clipped_l1 / read_l1.clamp(min=1e-12 * detached.numel())
        per_block = gain / scale  # network units per uS read, drift compensated
        read_weight = mul_blocks_(mean_us, per_block, self.grid)
        variance = mul_blocks_(variance_us2, per_block.square(), self.grid)
        return read_weight, variance, bound, full_scale

    def _state_spec(self):
        spec = super()._state_spec()
        if self.config.device_noise_every > 1:
            shape = [self.out_features, self.in_features]
            spec["noise_deviation"] = (torch.float32, shape, (-1e30, 1e30))
            spec["noise_variance"] = (torch.float32, shape, (0.0, 1e30))
            spec["noise_bound"] = (torch.float32, [], (0.0, torch.finfo(torch.float32).max))
            spec["noise_full_scale"] = (torch.float32, [self.grid.row_blocks, self.out_features], (0.0, 1e30))
            spec["noise_forwards"] = (torch.int64, [], (0, self.config.device_noise_every))
        return spec


class _ClippedStraightThrough(torch.autograd.Function):
    """The weights as read (``read_weight``: computed without autograd from the clipped weights),
    with the gradient of ``torch.clamp(weight, -bound, bound)``: the device noise passes it straight
    through, clipping passes none beyond the bound."""

    @staticmethod
    def forward(ctx, weight, bound, read_weight):
        ctx.save_for_backward(weight, bound)  # a fresh bound of this draw (never a buffer rewritten later)
        return read_weight  # returned as a view of itself, holding this function's gradient

    @staticmethod
    def backward(ctx, grad):
        weight, bound = ctx.saved_tensors
        return torch.where(weight.abs() <= bound, grad, 0.0), None, None


class _ClipAndAdd(torch.autograd.Function):
    """``clamp(weight, -bound, bound) + deviation`` whose gradient reaches the weight inside the bound
    only (as ``torch.clamp``'s, at the bound included), in three passes where ``torch.clamp`` with
    tensor bounds takes ten."""

    @staticmethod
    def forward(ctx, weight, bound, deviation):
        ctx.save_for_backward(weight, bound.clone())  # a copy: the tile's noise_bound buffer is rewritten in place
        return torch.clamp(weight, -bound, bound) + deviation  # out of place: the weight's dtype may be narrower

    @staticmethod
    def backward(ctx, grad):
        weight, bound = ctx.saved_tensors
        return torch.where(weight.abs() <= bound, grad, 0.0), None, None
