"""Deployment of a trained model: program its analog layers into PCM and move it in time."""

from __future__ import annotations

import math

from torch import nn

from .config import PCMDevice
from .nn import analog_layers

__all__ = ["analog_stats", "program", "set_time"]


def _layers(model: nn.Module):
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    layers = list(analog_layers(model))
    if not layers:
        raise ValueError("model: it holds no AnalogLinear layer (convert it with analogtorch.convert_to_analog)")
    return layers


def program(model: nn.Module, pcm: PCMDevice | None = None) -> nn.Module:
    """Programs every analog layer's current weights into PCM pairs (time 0 after programming)."""
    for _, layer in _layers(model):
        layer.program(pcm)
    return model


def set_time(model: nn.Module, seconds: float, *, drift_compensation: bool | None = None) -> nn.Module:
    """Moves every programmed analog layer to ``seconds`` after programming: drift, fresh read
    noise on every forward, global drift compensation (default: as the layers' configuration says,
    on in every preset; ``drift_compensation=False`` switches it off)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"seconds: expected a number, got {type(seconds).__name__}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds: expected a finite number >= 0, got {seconds}")
    for _, layer in _layers(model):
        layer.set_time(float(seconds), drift_compensation=drift_compensation)
    return model


def analog_stats(model: nn.Module) -> dict[str, dict]:
    """Per analog layer (by qualified name): pulses, transfers, programming work, simulated time."""
    return {name: layer.analog_stats() for name, layer in _layers(model)}
