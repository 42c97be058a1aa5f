"""``AnalogConv1d`` and ``AnalogConv2d``: drop-ins for ``nn.Conv1d`` and ``nn.Conv2d`` whose kernels sit
on tiles. The input is unfolded into patches (im2col) and every patch is one read of the array that
holds the kernel as an ``out_channels x (in_channels / groups * kernel size)`` matrix; each group of a
grouped convolution is an array of its own. Padding (any ``padding_mode``), stride, dilation and
groups as torch's layers; the bias is digital.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair, _reverse_repeat_tuple, _single

from ..presets import AnalogConfig
from .base import AnalogModule, resolve_config
from .linear import analog_factory, check_features

__all__ = ["AnalogConv1d", "AnalogConv2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _AnalogConvNd(AnalogModule):
    """What both convolutions share; ``_dims`` is the number of spatial dimensions."""

    _dims: int
    __constants__ = ["stride", "padding", "dilation", "groups", "padding_mode", "output_padding", "in_channels",
                     "out_channels", "kernel_size"]  # fmt: skip

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                 device, dtype, config):  # fmt: skip
        super().__init__()
        check_features(in_channels=in_channels, out_channels=out_channels, groups=groups)
        if groups < 1:
            raise ValueError(f"groups: expected an int >= 1, got {groups}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups: expected to divide in_channels ({in_channels}) and out_channels ({out_channels}), got {groups}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode: expected one of {_PADDING_MODES}, got {padding_mode!r}")
        tuple_of = _pair if self._dims == 2 else _single
        kernel_size, stride, dilation = tuple_of(kernel_size), tuple_of(stride), tuple_of(dilation)
        for name, values, low in (("kernel_size", kernel_size, 1), ("stride", stride, 1), ("dilation", dilation, 1)):
            if any(isinstance(v, bool) or not isinstance(v, int) or v < low for v in values):
                raise ValueError(f"{name}: expected ints >= {low}, got {values}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"padding: expected 'same', 'valid' or ints, got {padding!r}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding: 'same' is not supported for strided convolutions (as in torch)")
        else:
            padding = tuple_of(padding)
            if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in padding):
                raise ValueError(f"padding: expected ints >= 0, got {padding}")
        config = resolve_config(config)
        factory = analog_factory(config, device, dtype)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.padding_mode, self.transposed, self.output_padding = padding_mode, False, tuple_of(0)
        # The padding of each side, last dimension first (F.pad's order), as torch's layers compute it.
        if isinstance(padding, str):
            self._reversed_padding_repeated_twice = [0, 0] * self._dims
            if padding == "same":
                for d, k, i in zip(dilation, kernel_size, range(self._dims - 1, -1, -1)):
                    total = d * (k - 1)
                    left = total // 2
                    self._reversed_padding_repeated_twice[2 * i] = left
                    self._reversed_padding_repeated_twice[2 * i + 1] = total - left
        else:
            self._reversed_padding_repeated_twice = _reverse_repeat_tuple(padding, 2)
        self.weight = nn.Parameter(torch.empty((out_channels, in_channels // groups, *kernel_size), **factory))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels, **factory))
        else:
            self.register_parameter("bias", None)
        self._init_analog(config)
        self._place("weight", groups)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's convolution initialisation; in-situ tiles then program it into their devices."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight[0].numel()
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            nn.init.uniform_(self.bias, -bound, bound)
        self._program_devices()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x, self.in_channels)
        if x.dim() not in (self._dims + 1, self._dims + 2) or x.shape[-self._dims - 1] != self.in_channels:
            raise ValueError(
                f"input: expected shape [N, {self.in_channels}, {', '.join('*' * self._dims)}] (or without N), got {list(x.shape)}"
            )
        unbatched = x.dim() == self._dims + 1
        if unbatched:
            x = x.unsqueeze(0)
        if any(self._reversed_padding_repeated_twice):
            mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
            x = F.pad(x, self._reversed_padding_repeated_twice, mode=mode)
        if self._dims == 1:  # unfold works on images: a sequence is an image of height 1
            x = x.unsqueeze(2)
            kernel, dilation, stride = (1, *self.kernel_size), (1, *self.dilation), (1, *self.stride)
        else:
            kernel, dilation, stride = self.kernel_size, self.dilation, self.stride
        batch, spatial = x.shape[0], x.shape[2:]
        out_size = [(size - d * (k - 1) - 1) // s + 1 for size, k, d, s in zip(spatial, kernel, dilation, stride)]
        if any(size <= 0 for size in out_size):
            raise ValueError(f"input: spatial size {list(spatial)} (after padding) is smaller than the kernel {list(kernel)}")
        patches = F.unfold(x, kernel, dilation=dilation, stride=stride)  # [N, C * k, L]
        vectors = patches.transpose(1, 2).reshape(-1, patches.shape[1])  # one array read per patch
        y = self._tile_read("weight", vectors)
        self._count_examples(batch)
        y = y.reshape(batch, -1, self.out_channels).transpose(1, 2)
        y = y.reshape(batch, self.out_channels, *(out_size if self._dims == 2 else out_size[1:]))
        if self.bias is not None:
            y = y + self.bias.to(y.dtype).view(-1, *([1] * self._dims))
        return y.squeeze(0) if unbatched else y

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._dims:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text + f", config={self.config.kind}"


class AnalogConv1d(_AnalogConvNd):
    """A drop-in for ``nn.Conv1d`` (same constructor and attributes, plus ``config``). Input
    ``[N, C_in, L]`` or ``[C_in, L]``; output in the input's dtype."""

    _dims = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None, *,
                 config: AnalogConfig | None = None) -> None:  # fmt: skip
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         device, dtype, config)  # fmt: skip


class AnalogConv2d(_AnalogConvNd):
    """A drop-in for ``nn.Conv2d`` (same constructor and attributes, plus ``config``). Input
    ``[N, C_in, H, W]`` or ``[C_in, H, W]``; output in the input's dtype."""

    _dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None, *,
                 config: AnalogConfig | None = None) -> None:  # fmt: skip
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         device, dtype, config)  # fmt: skip
