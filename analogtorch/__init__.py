"""analogtorch: train and evaluate PyTorch networks as they would run on analog in-memory hardware.

- ``AnalogLinear`` / ``convert_to_analog``: layers whose weights live on simulated PCM and 3T1C
  devices (configured by ``analogtorch.presets``), trained with ``analogtorch.optim.AnalogSGD``.
- ``program`` / ``set_time``: deploy a trained model into PCM and let it drift.
- ``estimate``: energy, time and area of what the simulated hardware did, beside a digital baseline.
- ``save_checkpoint`` / ``load_checkpoint``: atomic, checked, all-or-nothing checkpoints.
- ``analogtorch.ops``: the device physics as registered ops, with CPU and CUDA kernels that share
  one copy of each law and one counter-based random generator (a seed gives the same bits everywhere).
"""

from . import _ops as ops
from . import config, hardware, optim, presets
from ._ops import cuda_kernels_available, make_rng_state
from .checkpoint import load_checkpoint, save_checkpoint
from .config import Capacitor3T1C, PCMDevice, Periphery, UnitCell
from .hardware import DigitalBaseline, HardwareCosts, estimate
from .inference import analog_stats, program, set_time
from .nn import AnalogLinear, convert_to_analog, convert_to_digital
from .presets import AnalogConfig

__version__ = "0.1.0"

__all__ = [
    "AnalogConfig",
    "AnalogLinear",
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
    "convert_to_analog",
    "convert_to_digital",
    "cuda_kernels_available",
    "estimate",
    "load_checkpoint",
    "make_rng_state",
    "ops",
    "optim",
    "presets",
    "program",
    "save_checkpoint",
    "set_time",
]
