"""``AnalogLinear``: a drop-in for ``nn.Linear`` whose weight matrix sits on a tile."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..presets import AnalogConfig
from .base import AnalogModule, resolve_config

__all__ = ["AnalogLinear"]


def check_features(**sizes: int) -> None:
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
        if value < 0:
            raise ValueError(f"{name}: expected an int >= 0, got {value}")


def analog_factory(config: AnalogConfig, device, dtype) -> dict:
    """Parameter factory kwargs: devices hold float32 (every kind but the ideal one)."""
    from ..presets import IdealConfig

    if not isinstance(config, IdealConfig) and dtype not in (None, torch.float32):
        raise ValueError(f"dtype: {config.kind} layers simulate float32 devices and return the input's dtype, got {dtype}")
    return {"device": device, "dtype": dtype}


class AnalogLinear(AnalogModule):
    """``y = x W^T + b`` with ``W`` on a tile of the configured kind (:mod:`analogtorch.tiles`); the
    bias is digital.

    Same constructor, attributes and ``reset_parameters`` as ``nn.Linear``, plus ``config`` (default:
    :func:`analogtorch.presets.hardware_aware`). ``state_dict`` carries all device state.

    Shapes: input ``[*, in_features]``, output ``[*, out_features]`` in the input's dtype.
    """

    __constants__ = ["in_features", "out_features"]
    in_features: int
    out_features: int

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        config: AnalogConfig | None = None,
    ) -> None:
        super().__init__()
        check_features(in_features=in_features, out_features=out_features)
        config = resolve_config(config)
        factory = analog_factory(config, device, dtype)
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty((out_features, in_features), **factory))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, **factory))
        else:
            self.register_parameter("bias", None)
        self._init_analog(config)
        self._place("weight")
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``nn.Linear``'s initialisation; in-situ tiles then program it into their devices."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            nn.init.uniform_(self.bias, -bound, bound)
        self._program_devices()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x, self.in_features)
        if x.dim() == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"input: expected shape [*, {self.in_features}], got {list(x.shape)}")
        flat = x.reshape(math.prod(x.shape[:-1]), self.in_features)
        y = self._tile_read("weight", flat).reshape(*x.shape[:-1], self.out_features)
        self._count_examples(x.shape[0] if x.dim() > 1 else 1)
        return y if self.bias is None else y + self.bias.to(y.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, config={self.config.kind}"
