"""The device physics as registered ops (``torch.ops.analogtorch``), with typed wrappers: PCM
programming, drift and read noise, the 3T1C capacitor's updates and leakage, the unit cell's weight
and transfer, converters. CPU and CUDA kernels share one copy of each law and one counter-based
random generator: a seed gives the same bits everywhere. Units: uS, V, s (docs/physics.md).

``import analogtorch.ops`` or ``from analogtorch.ops import pcm_read``; the namespace holds the ops
and their result types only.
"""

from ._ops import *  # noqa: F403
from ._ops import __all__  # noqa: F401
