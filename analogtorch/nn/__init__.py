"""Analog layers and the conversion of whole models."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from ..presets import AnalogConfig
from .linear import DEVICE_MODES, AnalogLinear

__all__ = ["AnalogLinear", "analog_layers", "convert_to_analog", "convert_to_digital"]


def analog_layers(model: nn.Module) -> Iterable[tuple[str, AnalogLinear]]:
    """The analog layers of a model, with their qualified names."""
    return ((name, module) for name, module in model.named_modules() if isinstance(module, AnalogLinear))


def convert_to_analog(model: nn.Module, config: AnalogConfig, *, exclude: Iterable[str] = ()) -> nn.Module:
    """Replaces every ``nn.Linear`` of ``model`` (in place; also returned) by an ``AnalogLinear`` with
    ``config`` that keeps its trained weights (in-situ layers program them into their unit cells).

    ``exclude``: qualified names of linear layers to keep digital. The i-th converted layer (in the
    model's module order) gets seed ``config.seed + i``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    if not isinstance(config, AnalogConfig):
        raise TypeError(f"config: expected an analogtorch.presets.AnalogConfig, got {type(config).__name__}")
    exclude = set(exclude)
    ordered = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    names = set(ordered)
    unknown = exclude - names
    if unknown:
        raise ValueError(f"exclude: no nn.Linear named {sorted(unknown)} in the model (linear layers: {sorted(names)})")
    if isinstance(model, nn.Linear):
        return _analog_copy(model, config)
    for index, name in enumerate(name for name in ordered if name not in exclude):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        layer_config = _with_seed(config, config.seed + index)
        setattr(parent, child, _analog_copy(getattr(parent, child), layer_config))
    return model


def _with_seed(config: AnalogConfig, seed: int) -> AnalogConfig:
    from ..presets import replace

    return replace(config, seed=seed % 2**64)


@torch.no_grad()
def _analog_copy(linear: nn.Linear, config: AnalogConfig) -> AnalogLinear:
    layer = AnalogLinear(
        linear.in_features, linear.out_features, linear.bias is not None, device=linear.weight.device,
        dtype=None if config.mode != "ideal" else linear.weight.dtype, config=config,
    )  # fmt: skip
    if config.mode in DEVICE_MODES:
        layer._program_unit_cells(linear.weight.detach().float())
    else:
        layer.weight.copy_(linear.weight)
    if linear.bias is not None:
        layer.bias.copy_(linear.bias)
    layer.train(linear.training)
    return layer


def convert_to_digital(model: nn.Module) -> nn.Module:
    """Replaces every ``AnalogLinear`` (in place; also returned) by an ``nn.Linear`` holding its
    current effective weights."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    if isinstance(model, AnalogLinear):
        return _digital_copy(model)
    for name, layer in list(analog_layers(model)):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, _digital_copy(layer))
    return model


@torch.no_grad()
def _digital_copy(layer: AnalogLinear) -> nn.Linear:
    linear = nn.Linear(layer.in_features, layer.out_features, layer.bias is not None,
                       device=layer.weight.device, dtype=layer.weight.dtype)  # fmt: skip
    linear.weight.copy_(layer.weight)
    if layer.bias is not None:
        linear.bias.copy_(layer.bias)
    linear.train(layer.training)
    return linear
