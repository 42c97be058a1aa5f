"""analogtorch: train and evaluate PyTorch networks as they would run on analog in-memory hardware.

The ops (``analogtorch.ops``) simulate phase-change-memory (PCM) devices and 3T1C capacitor cells
element by element, with CPU and CUDA kernels that share one copy of each physical law and one
counter-based random generator, so that a seed gives the same bits everywhere.
"""

from . import _ops as ops
from ._ops import cuda_kernels_available, make_rng_state

__version__ = "0.1.0"

__all__ = ["__version__", "cuda_kernels_available", "make_rng_state", "ops"]
