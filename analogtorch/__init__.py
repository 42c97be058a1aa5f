"""analogtorch: train and evaluate PyTorch networks as they would run on analog in-memory hardware.

The ops (``analogtorch.ops``) simulate phase-change-memory (PCM) devices and 3T1C capacitor cells
element by element, with CPU and CUDA kernels that share one copy of each physical law and one
counter-based random generator, so that a seed gives the same bits everywhere. The hardware is
described by the frozen dataclasses of ``analogtorch.config``.
"""

from . import _ops as ops
from . import config
from ._ops import cuda_kernels_available, make_rng_state
from .config import Capacitor3T1C, PCMDevice, Periphery, UnitCell

__version__ = "0.1.0"

__all__ = [
    "Capacitor3T1C",
    "PCMDevice",
    "Periphery",
    "UnitCell",
    "__version__",
    "config",
    "cuda_kernels_available",
    "make_rng_state",
    "ops",
]
