"""Tiles: one weight matrix on crossbar arrays of one kind of physics (see :mod:`analogtorch.tiles.base`).

Each configuration class of :mod:`analogtorch.presets` names its tile kind here:

| configuration         | tile                | physics                                                    |
|-----------------------|---------------------|------------------------------------------------------------|
| ``IdealConfig``         | ``DigitalTile``       | none: digital weights                                      |
| ``HardwareAwareConfig`` | ``HardwareAwareTile`` | digital weights read as programmed, drifting PCM           |
| ``UnitCellConfig``      | ``UnitCellTile``      | 2PCM + 3T1C unit cells trained in situ (Ambrogio et al.)   |
| ``PCMPairConfig``       | ``PCMPairTile``       | bare PCM pairs trained in situ                             |
| (``program``)           | ``DeployedTile``      | programmed PCM that drifts, for inference                  |
"""

from __future__ import annotations

import torch

from ..presets import AnalogConfig
from .base import COUNTERS, Tile
from .deployed import DeployedTile
from .digital import DigitalTile
from .hardware_aware import HardwareAwareTile
from .in_situ import InSituTile, PCMPairTile, UnitCellTile

__all__ = [
    "COUNTERS",
    "DeployedTile",
    "DigitalTile",
    "HardwareAwareTile",
    "InSituTile",
    "PCMPairTile",
    "Tile",
    "UnitCellTile",
    "make_tile",
    "tile_class",
]

_TRAINING_TILES = (DigitalTile, HardwareAwareTile, UnitCellTile, PCMPairTile)


def tile_class(config: AnalogConfig) -> type[Tile]:
    """The tile kind a configuration names."""
    if not isinstance(config, AnalogConfig):
        raise TypeError(f"config: expected an analogtorch.presets.AnalogConfig, got {type(config).__name__}")
    for cls in _TRAINING_TILES:
        if type(config) is cls.config_class:
            return cls
    raise TypeError(f"config: no tile kind is registered for {type(config).__name__}")


def make_tile(config: AnalogConfig, out_features: int, in_features: int, device: torch.device | str | None = None) -> Tile:
    """A fresh tile of the kind ``config`` names, ``out_features x in_features``."""
    return tile_class(config)(out_features, in_features, config, device)
