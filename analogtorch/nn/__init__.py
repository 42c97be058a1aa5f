"""Analog layers and the conversion of whole models.

:func:`convert_to_analog` puts every weight matrix of a model on tiles: ``nn.Linear`` ->
:class:`AnalogLinear`, ``nn.Conv1d``/``nn.Conv2d`` -> :class:`AnalogConv1d`/:class:`AnalogConv2d`,
``nn.MultiheadAttention`` (so every ``nn.Transformer*`` layer) -> :class:`AnalogMultiheadAttention`,
``nn.LSTM`` -> :class:`AnalogLSTM`. A module with a weight matrix it cannot convert is an error (or
left digital when asked); modules whose parameters are vectors (norms, PReLU) and lookup tables
(``nn.Embedding``) stay digital, and the report says so.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from ..presets import AnalogConfig, IdealConfig, replace
from .attention import AnalogMultiheadAttention
from .base import AnalogModule, device_owner
from .conv import AnalogConv1d, AnalogConv2d
from .linear import AnalogLinear
from .recurrent import AnalogLSTM

__all__ = [
    "AnalogConv1d",
    "AnalogConv2d",
    "AnalogLSTM",
    "AnalogLinear",
    "AnalogModule",
    "AnalogMultiheadAttention",
    "ConversionReport",
    "analog_layers",
    "conversion_report",
    "convert_to_analog",
    "convert_to_digital",
    "device_owner",
]

ON_UNSUPPORTED = ("error", "digital")


def analog_layers(model: nn.Module) -> Iterable[tuple[str, AnalogModule]]:
    """The analog layers of a model (outermost only: an attention's ``out_proj`` belongs to it), with
    their qualified names."""
    inside: list[str] = []
    for name, module in model.named_modules():
        if not isinstance(module, AnalogModule) or any(name.startswith(prefix + ".") for prefix in inside):
            continue
        inside.append(name)
        yield name, module


@dataclass
class ConversionReport:
    """What :func:`convert_to_analog` did: each converted module with its tile shapes (rows = outputs,
    columns = inputs of each array), each module with parameters left digital and why."""

    converted: list[tuple[str, str, list[list[int]]]] = field(default_factory=list)
    digital: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"analog ({len(self.converted)}):"]
        lines += [f"  {name or '(model)'}: {kind} on tiles {shapes}" for name, kind, shapes in self.converted]
        lines.append(f"digital ({len(self.digital)}):")
        lines += [f"  {name or '(model)'}: {kind}, {reason}" for name, kind, reason in self.digital]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


_REPORTS: "weakref.WeakKeyDictionary[nn.Module, ConversionReport]" = weakref.WeakKeyDictionary()


def conversion_report(model: nn.Module) -> ConversionReport:
    """The report of the last :func:`convert_to_analog` of ``model``."""
    if model not in _REPORTS:
        raise ValueError("model: it was not converted by analogtorch.convert_to_analog")
    return _REPORTS[model]


# --- conversion of each module type ---------------------------------------------------------------


def _factory(module: nn.Module, config: AnalogConfig) -> dict:
    param = next(module.parameters())
    return {"device": param.device, "dtype": param.dtype if isinstance(config, IdealConfig) else None}


@torch.no_grad()
def _copy_parameters(source: nn.Module, target: AnalogModule, names: Iterable[str]) -> None:
    for name in names:
        value = getattr(source, name)
        if value is not None:
            getattr(target, name).copy_(value)


def _linear(module: nn.Linear, config: AnalogConfig) -> AnalogLinear:
    layer = AnalogLinear(module.in_features, module.out_features, module.bias is not None, **_factory(module, config), config=config)
    _copy_parameters(module, layer, ("weight", "bias"))
    layer._program_devices()
    return layer


def _conv(module: nn.Conv1d | nn.Conv2d, config: AnalogConfig) -> AnalogModule:
    cls = AnalogConv1d if isinstance(module, nn.Conv1d) else AnalogConv2d
    layer = cls(module.in_channels, module.out_channels, module.kernel_size, module.stride, module.padding, module.dilation,
                module.groups, module.bias is not None, module.padding_mode, **_factory(module, config), config=config)  # fmt: skip
    _copy_parameters(module, layer, ("weight", "bias"))
    layer._program_devices()
    return layer


def _attention(module: nn.MultiheadAttention, config: AnalogConfig) -> AnalogMultiheadAttention:
    layer = AnalogMultiheadAttention(
        module.embed_dim, module.num_heads, module.dropout, module.in_proj_bias is not None, module.bias_k is not None,
        module.add_zero_attn, module.kdim, module.vdim, module.batch_first, **_factory(module, config), config=config,
    )  # fmt: skip
    _copy_parameters(module, layer, ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias",
                                     "bias_k", "bias_v"))  # fmt: skip
    _copy_parameters(module.out_proj, layer.out_proj, ("weight", "bias"))
    layer._program_devices()
    layer.out_proj._program_devices()
    return layer


def _lstm(module: nn.LSTM, config: AnalogConfig) -> AnalogLSTM:
    layer = AnalogLSTM(module.input_size, module.hidden_size, module.num_layers, module.bias, module.batch_first,
                       module.dropout, module.bidirectional, 0, **_factory(module, config), config=config)  # fmt: skip
    _copy_parameters(module, layer, module._flat_weights_names)
    layer._program_devices()
    return layer


_CONVERSIONS = (
    (nn.MultiheadAttention, _attention),
    (nn.Linear, _linear),
    (nn.Conv1d, _conv),
    (nn.Conv2d, _conv),
    (nn.LSTM, _lstm),
)


def _digital_reason(module: nn.Module) -> str | None:
    """Why a module with parameters of its own may stay digital, or None if it holds a weight matrix
    that belongs on an array."""
    own = list(module.parameters(recurse=False))
    if isinstance(module, nn.Embedding | nn.EmbeddingBag):
        return "a lookup table, not a matrix-vector product: digital"
    if all(param.dim() <= 1 for param in own):
        return "vector parameters only (scales, shifts): digital periphery"
    return None


def convert_to_analog(
    model: nn.Module,
    config: AnalogConfig,
    *,
    exclude: Iterable[str] = (),
    on_unsupported: str = "error",
    verbose: bool = False,
    layer_configs: Mapping[str, AnalogConfig] | None = None,
) -> nn.Module:
    """Puts every weight matrix of ``model`` on analog tiles (in place; the model is also returned)
    keeping its trained weights; in-situ tiles program them into their devices.

    Args:
        config: the tile kind and its physics (a preset, e.g. ``presets.hardware_aware()``). The
            i-th converted module (in module order) gets seed ``config.seed + i``.
        exclude: qualified names of modules to keep digital (reported as excluded).
        on_unsupported: ``"error"`` (default): a module with a weight matrix that no analog layer
            replaces (e.g. ``nn.Conv3d``, ``nn.GRU``, a lazy module not yet initialised) raises
            ValueError naming it; ``"digital"``: it stays digital and the report says so.
        verbose: print the :class:`ConversionReport` (also available from :func:`conversion_report`).
        layer_configs: configurations for some modules, by qualified name, in place of ``config``
            (e.g. a per-layer weight mapping, :func:`analogtorch.mapping.room_fractions`); each
            keeps its own seed, plus the module's index as for ``config``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    if not isinstance(config, AnalogConfig):
        raise TypeError(f"config: expected an analogtorch.presets.AnalogConfig, got {type(config).__name__}")
    if on_unsupported not in ON_UNSUPPORTED:
        raise ValueError(f"on_unsupported: expected one of {ON_UNSUPPORTED}, got {on_unsupported!r}")
    if isinstance(exclude, str):
        raise TypeError("exclude: expected an iterable of module names, got a str (wrap it in a list)")
    exclude = set(exclude)
    modules = dict(model.named_modules())
    unknown = exclude - set(modules)
    if unknown:
        raise ValueError(f"exclude: no module named {sorted(unknown)} in the model")
    layer_configs = dict(layer_configs or {})
    for name, layer_config in layer_configs.items():
        if name not in modules:
            raise ValueError(f"layer_configs: no module named {name!r} in the model")
        if not isinstance(layer_config, AnalogConfig):
            raise TypeError(f"layer_configs[{name!r}]: expected an analogtorch.presets.AnalogConfig, got {type(layer_config).__name__}")

    # Plan everything first: an unsupported module raises before anything is converted.
    report = ConversionReport()
    plan: list[tuple[str, nn.Module, object]] = []
    claimed: list[str] = []  # modules converted whole (their children go with them)
    for name, module in modules.items():
        if any(name.startswith(prefix + ".") or prefix == "" and name for prefix in claimed):
            continue
        if isinstance(module, AnalogModule):
            claimed.append(name)
            continue
        if name in exclude:
            if list(module.parameters()):
                report.digital.append((name, type(module).__name__, "excluded by the user"))
            claimed.append(name)
            continue
        if isinstance(module, nn.TransformerEncoder) and module.use_nested_tensor:
            report.notes.append(f"{name or '(model)'}: nn.TransformerEncoder's nested-tensor fast path switched off (it reads weights directly)")
        convert = next((fn for cls, fn in _CONVERSIONS if isinstance(module, cls)), None)
        lazy = any(isinstance(param, nn.parameter.UninitializedParameter) for param in module.parameters(recurse=False))
        if convert is not None and not lazy and not (isinstance(module, nn.LSTM) and module.proj_size):
            plan.append((name, module, convert))
            claimed.append(name)
            continue
        if not list(module.parameters(recurse=False)):
            continue
        reason = None if lazy else _digital_reason(module)
        if reason is not None:
            report.digital.append((name, type(module).__name__, reason))
            continue
        why = ("lazy: its parameters are not initialised yet (run one forward first)" if lazy
               else "no analog layer replaces this module type")  # fmt: skip
        if on_unsupported == "error":
            raise ValueError(
                f"model: {name or '(model)'} ({type(module).__name__}) holds a weight matrix that cannot go on analog "
                f"tiles ({why}); exclude it (exclude=[{name!r}]) or pass on_unsupported='digital'"
            )
        report.digital.append((name, type(module).__name__, f"unsupported, left digital: {why}"))

    unused = set(layer_configs) - {name for name, _, _ in plan}
    if unused:
        raise ValueError(f"layer_configs: {sorted(unused)} would not be converted (excluded, inside a converted module, or not a layer with a weight matrix)")
    if isinstance(model, tuple(cls for cls, _ in _CONVERSIONS)) and plan and plan[0][0] == "":
        config = layer_configs.get("", config)
        converted = plan[0][2](model, replace(config, seed=config.seed % 2**64))
        converted.train(model.training)
        report.converted.append(("", type(converted).__name__, _tile_shapes(converted)))
        _finish(converted, report, verbose)
        return converted
    for index, (name, module, convert) in enumerate(plan):
        own = layer_configs.get(name, config)
        layer = convert(module, replace(own, seed=(own.seed + index) % 2**64))
        layer.train(module.training)
        parent_name, _, child = name.rpartition(".")
        setattr(modules[parent_name] if parent_name else model, child, layer)
        report.converted.append((name, type(layer).__name__, _tile_shapes(layer)))
    for module in model.modules():
        if isinstance(module, nn.TransformerEncoder):
            module.use_nested_tensor = False
    _finish(model, report, verbose)
    return model


def _tile_shapes(layer: AnalogModule) -> list[list[int]]:
    """The tile shapes of a layer and of the analog layers inside it (an attention's out-projection)."""
    return [shape for module in layer.modules() if isinstance(module, AnalogModule) for shape in module.analog_stats()["tiles"]]


def _finish(model: nn.Module, report: ConversionReport, verbose: bool) -> None:
    _REPORTS[model] = report
    if verbose:
        print(report)


# --- back to digital ------------------------------------------------------------------------------


@torch.no_grad()
def _digital_copy(layer: AnalogModule) -> nn.Module:
    """The torch module a layer replaces, holding what the layer computes with now (the drifted,
    compensated weights when it is programmed)."""
    if isinstance(layer, AnalogLinear):
        module = nn.Linear(layer.in_features, layer.out_features, layer.bias is not None, device=layer.weight.device, dtype=layer.weight.dtype)
    elif isinstance(layer, (AnalogConv1d, AnalogConv2d)):
        cls = nn.Conv1d if isinstance(layer, AnalogConv1d) else nn.Conv2d
        module = cls(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding, layer.dilation,
                     layer.groups, layer.bias is not None, layer.padding_mode, device=layer.weight.device, dtype=layer.weight.dtype)  # fmt: skip
    elif isinstance(layer, AnalogMultiheadAttention):
        param = layer.out_proj.weight
        module = nn.MultiheadAttention(layer.embed_dim, layer.num_heads, layer.dropout, layer.in_proj_bias is not None,
                                       layer.bias_k is not None, layer.add_zero_attn, layer.kdim, layer.vdim, layer.batch_first,
                                       device=param.device, dtype=param.dtype)  # fmt: skip
        module.out_proj = _digital_copy(layer.out_proj)
    elif isinstance(layer, AnalogLSTM):
        param = layer.weight_hh_l0
        module = nn.LSTM(layer.input_size, layer.hidden_size, layer.num_layers, layer.bias, layer.batch_first, layer.dropout,
                         layer.bidirectional, device=param.device, dtype=param.dtype)  # fmt: skip
    else:
        raise TypeError(f"layer: no torch module is known for {type(layer).__name__}")
    for name, param in layer.named_parameters(recurse=False):
        value = layer.effective_weight(name) if name in layer.tiles else param.detach()
        getattr(module, name).copy_(value)
    module.train(layer.training)
    return module


def convert_to_digital(model: nn.Module) -> nn.Module:
    """Replaces every analog layer (in place; also returned) by the torch module it replaced, holding
    what the layer computes with now: the devices' weights, or the drifted and compensated weights of
    a programmed layer (without read noise)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    if isinstance(model, AnalogModule):
        return _digital_copy(model)
    for name, layer in list(analog_layers(model)):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, _digital_copy(layer))
    return model
