"""Deployment of a trained model: program its analog layers into PCM, move it in time, return it to
training; and what the simulated hardware did (counted events; the opt-in pulse record)."""

from __future__ import annotations

from typing import Any

from torch import nn

from .config import PCMDevice
from .nn import analog_layers
from .nn.base import AnalogModule, check_time

__all__ = ["analog_stats", "program", "pulse_stats", "set_time", "track_pulses", "unprogram"]


def _layers(model: nn.Module) -> list[tuple[str, AnalogModule]]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    layers = list(analog_layers(model))
    if not layers:
        raise ValueError("model: it holds no analog layer (convert it with analogtorch.convert_to_analog)")
    return layers


def program(model: nn.Module, pcm: PCMDevice | None = None) -> nn.Module:
    """Programs every analog layer's current weights into PCM pairs (time 0 after programming); the
    model then reads the programmed devices (inference only) until :func:`unprogram`."""
    if pcm is not None and not isinstance(pcm, PCMDevice):
        raise TypeError(f"pcm: expected a PCMDevice, got {type(pcm).__name__}")
    for _, layer in _layers(model):
        layer.program(pcm)
    return model


def set_time(model: nn.Module, seconds: float, *, drift_compensation: bool | str | None = ...) -> nn.Module:
    """Moves every programmed analog layer to ``seconds`` after programming (at most a century):
    drift, fresh read noise on every forward, and drift compensation as the layers' configuration
    says (``"global"`` in every preset) unless ``drift_compensation`` is given: ``"global"`` (one
    factor per array), ``"column"`` (one per column of each array) or ``None`` (off; ``True`` and
    ``False`` mean "global" and None). All or nothing: every layer is checked and computed before
    any changes."""
    seconds = check_time(seconds)
    plans = []
    for name, layer in _layers(model):
        try:
            plans += layer.plan_time(seconds, drift_compensation=drift_compensation)
        except RuntimeError as error:
            raise RuntimeError(f"{name}: {error}") from None
    for tile, plan in plans:
        tile.commit_time(plan)
    return model


def unprogram(model: nn.Module) -> nn.Module:
    """Returns a programmed model to training: its layers compute with their weights again."""
    for _, layer in _layers(model):
        layer.unprogram()
    return model


def analog_stats(model: nn.Module) -> dict[str, dict[str, Any]]:
    """Per analog layer (by qualified name; an attention's out-projection on its own): pulses,
    transfers, programming work, reads, simulated time, the tile shapes."""
    _layers(model)
    return {name: module.analog_stats() for name, module in model.named_modules() if isinstance(module, AnalogModule)}


def _every_layer(model: nn.Module) -> list[tuple[str, AnalogModule]]:
    """Every analog layer, an attention's out-projection on its own (each holds its own tiles)."""
    _layers(model)
    return [(name, module) for name, module in model.named_modules() if isinstance(module, AnalogModule)]


def track_pulses(model: nn.Module, enabled: bool = True) -> nn.Module:
    """Starts (afresh) or stops a record, per weight of every in-situ layer (``ambrogio2018``,
    ``pcm_only``), of the update pulses it receives and, at each sample, whether it sits at a rail
    (docs/physics.md 1.12). Off by default; not part of the state_dict; the training is the same
    with or without it. Read it with :func:`pulse_stats`."""
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled: expected a bool, got {type(enabled).__name__}")
    # The tiles, not the layers, keep the record: only in-situ tiles (they hold the weights) pulse.
    tiles = [tile for _, layer in _every_layer(model) for tiles in layer.tiles.values() for tile in tiles if tile.holds_weights]
    for tile in tiles:
        tile.track_pulses(enabled)
    if enabled and not tiles:
        raise ValueError("model: it holds no in-situ layer (ambrogio2018 or pcm_only); only those pulse their devices")
    return model


def pulse_stats(model: nn.Module, images: int = 16_000) -> dict[str, dict[str, Any]]:
    """Per tracked weight matrix, by the layer's qualified name (``name.parameter`` for a parameter
    other than ``weight``): percentiles (p10, p50 = the median, p90) of the pulses per weight in all
    (``total``) and of |net| (``net_abs``), scaled to ``images`` training images, the unscaled
    ones, and the mean share of cells at a rail (``analogtorch.tiles.in_situ.summarise_pulses`` lists the
    fields). Layers that do not track are left out."""
    stats = {}
    for name, layer in _every_layer(model):
        for parameter, summary in layer.pulse_stats(images).items():
            stats[name if parameter == "weight" else f"{name}.{parameter}"] = summary
    return stats
