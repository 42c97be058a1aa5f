"""analogtorch: train and evaluate PyTorch networks as they would run on analog in-memory hardware.

- ``AnalogLinear``, ``AnalogConv1d``, ``AnalogConv2d``, ``AnalogMultiheadAttention``, ``AnalogLSTM`` /
  ``convert_to_analog``: layers whose weight matrices sit on tiles of simulated PCM and 3T1C devices
  (``analogtorch.tiles``, configured by ``analogtorch.presets``), trained with
  ``analogtorch.optim.AnalogSGD``.
- ``program`` / ``set_time`` / ``unprogram``: deploy a trained model into PCM, let it drift, return
  it to training.
- ``track_pulses`` / ``pulse_stats``: an opt-in record of the update pulses each in-situ weight receives.
- ``analogtorch.mapping``: a per-layer weight mapping for unit cells, calibrated to the capacitor's room.
- ``estimate``: energy, time and area of what the simulated hardware did, beside a digital baseline.
- ``save_checkpoint`` / ``load_checkpoint``: atomic, checked, all-or-nothing checkpoints.
- ``analogtorch.ops``: the device physics as registered ops, with CPU and CUDA kernels that share
  one copy of each law and one counter-based random generator (a seed gives the same bits everywhere).
"""

from . import config, hardware, mapping, ops, optim, presets, tiles
from ._ops import cuda_kernels_available, cuda_kernels_built, make_rng_state
from .checkpoint import load_checkpoint, save_checkpoint
from .config import Capacitor3T1C, PCMDevice, Periphery, UnitCell
from .hardware import DigitalBaseline, HardwareCosts, estimate
from .inference import analog_stats, program, pulse_stats, set_time, track_pulses, unprogram
from .nn import (
    AnalogConv1d,
    AnalogConv2d,
    AnalogLinear,
    AnalogLSTM,
    AnalogMultiheadAttention,
    ConversionReport,
    conversion_report,
    convert_to_analog,
    convert_to_digital,
)
from .presets import AnalogConfig, HardwareAwareConfig, IdealConfig, PCMPairConfig, UnitCellConfig

__version__ = "0.1.0"

__all__ = [
    "AnalogConfig",
    "AnalogConv1d",
    "AnalogConv2d",
    "AnalogLSTM",
    "AnalogLinear",
    "AnalogMultiheadAttention",
    "ConversionReport",
    "HardwareAwareConfig",
    "IdealConfig",
    "PCMPairConfig",
    "UnitCellConfig",
    "conversion_report",
    "tiles",
    "unprogram",
    "Capacitor3T1C",
    "DigitalBaseline",
    "HardwareCosts",
    "PCMDevice",
    "Periphery",
    "UnitCell",
    "__version__",
    "analog_stats",
    "config",
    "hardware",
    "mapping",
    "convert_to_analog",
    "convert_to_digital",
    "cuda_kernels_available",
    "cuda_kernels_built",
    "estimate",
    "load_checkpoint",
    "make_rng_state",
    "ops",
    "optim",
    "presets",
    "program",
    "pulse_stats",
    "save_checkpoint",
    "set_time",
    "track_pulses",
]
