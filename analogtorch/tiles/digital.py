"""``DigitalTile``: the weight matrix as a digital layer holds it (``IdealConfig``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..presets import IdealConfig
from .base import Tile
from .periphery import block_max

__all__ = ["DigitalTile"]


class DigitalTile(Tile):
    """No devices: ``x W^T`` exactly, through converters only if the configuration asks for them.
    It counts nothing (a digital layer does no array reads)."""

    config_class = IdealConfig

    def __init__(self, out_features, in_features, config, device=None):
        super().__init__(out_features, in_features, config, device)
        periphery = config.periphery
        self._converters = periphery.in_bits > 0 or periphery.out_bits > 0 or periphery.out_noise > 0

    def read(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if not self._converters:
            return F.linear(x, weight)
        rng = self._rng()
        # As if the weights were mapped onto devices: the largest of each array (or column) at full scale.
        full_scale = block_max(weight.detach(), self.grid, self.config.periphery.weight_mapping)
        y = self._read(x, weight, rng, full_scale=full_scale)
        self._advance_rng()
        return y
