"""A per-layer weight mapping for in-situ unit cells, calibrated to the capacitor's room
(docs/physics.md section 1.11, step 6).

``weight_range_fraction`` maps a layer's largest initial weight onto a fraction of the PCM pair's
programmable range, the same fraction for every layer. A capacitor pulse is then worth the same
conductance in every layer, but not the same share of a layer's weights: a layer whose updates move
its weights far more than the first layer's (the output layer of a classifier) asks for far more
pulses than its capacitors can hold between transfers, and its weights outgrow the pair's range.

:func:`room_fractions` measures, on a digital copy trained per example, how far a typical weight of
each layer moves (the median over the layer of |net change|), and lowers the layer's fraction so
that this movement is ``net_pulses`` capacitor pulses: ED Fig 2's +-100 net pulses per 16,000
images, which the first layer of the paper's network already shows at the preset's fraction. It
looks at training data and the update statistics only, never at test accuracy.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.nn import functional as F

from .presets import UnitCellConfig, replace

__all__ = ["fractions_for", "layer_configs", "net_movement", "room_fractions"]

# ED Fig 2: a typical weight's net capacitor pulses over 16,000 images (two transfer intervals).
ED_FIG2_NET_PULSES = 100


def _mapped_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The layers a per-layer mapping is measured for: linear layers and convolutions, except those
    inside an attention layer (converted whole, with one configuration)."""
    attention = [name for name, module in model.named_modules() if isinstance(module, nn.MultiheadAttention)]
    return {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d))
        and not any(name.startswith(prefix + ".") for prefix in attention)
    }


def _require_positive(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")


def room_fractions(
    model: nn.Module,
    examples: Iterable[tuple[torch.Tensor, torch.Tensor]],
    lr: float,
    config: UnitCellConfig,
    *,
    net_pulses: float = ED_FIG2_NET_PULSES,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
) -> dict[str, float]:
    """``weight_range_fraction`` per layer (by qualified name) for converting ``model`` (digital,
    untouched) to ``config``'s unit cells: its linear layers and convolutions (an attention layer
    is converted whole and keeps ``config``).

    A copy of ``model`` takes one plain SGD step at ``lr`` per ``(input, target)`` of ``examples``
    (the paper trains per example: pass single examples). For each layer, m = the median over its
    weights of |net change|, in units of its largest initial weight (:func:`net_movement`); the
    fraction is (:func:`fractions_for`)

        min(weight_range_fraction, net_pulses * dg_per_pulse_us / (m * F * target_clip_us))

    so that a typical weight's net movement over ``examples`` is ``net_pulses`` pulses (ED Fig 2:
    100 per 16,000 images; scale it to the examples given), and no layer is mapped finer than the
    preset. A layer whose weights did not move keeps the preset's fraction.
    """
    _check_config(config)
    _require_positive(net_pulses, "net_pulses")
    return fractions_for(net_movement(model, examples, lr, loss_fn=loss_fn), config, net_pulses=net_pulses)


def net_movement(
    model: nn.Module,
    examples: Iterable[tuple[torch.Tensor, torch.Tensor]],
    lr: float,
    *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
) -> dict[str, float]:
    """Per layer, the median over its weights of |net change| after one plain SGD step at ``lr``
    per ``(input, target)`` of ``examples`` on a copy of ``model`` (untouched), in units of the
    layer's largest initial weight. It depends on the network and the data only, not on the cell:
    one measurement serves every configuration (:func:`fractions_for`)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    _require_positive(lr, "lr")
    twin = copy.deepcopy(model)
    layers = _mapped_layers(twin)
    if not layers:
        raise ValueError("model: it holds no layer with a weight matrix to map")
    start = {name: layer.weight.detach().clone() for name, layer in layers.items()}
    optimizer = torch.optim.SGD(twin.parameters(), lr=lr)
    twin.train()
    steps = 0
    for x, target in examples:
        loss = loss_fn(twin(x), target)
        if not torch.isfinite(loss):
            raise ValueError(f"examples: the digital copy's loss became {loss.item()} at example {steps}; lr {lr!r} is too large")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        steps += 1
    if steps == 0:
        raise ValueError("examples: expected at least one (input, target) pair, got none")
    if not all(torch.isfinite(layer.weight).all() for layer in layers.values()):
        raise ValueError(f"examples: the digital copy's weights became NaN or Inf; lr {lr!r} is too large")
    movement = {}
    for name, layer in layers.items():
        largest = start[name].abs().max().item()
        movement[name] = (layer.weight.detach() - start[name]).abs().median().item() / largest if largest > 0 else 0.0
    return movement


def fractions_for(movement: dict[str, float], config: UnitCellConfig, *, net_pulses: float = ED_FIG2_NET_PULSES) -> dict[str, float]:
    """The fractions of :func:`room_fractions` from a :func:`net_movement` measurement."""
    _check_config(config)
    _require_positive(net_pulses, "net_pulses")
    cell = config.unit_cell
    pulse_us = cell.capacitor.dg_per_pulse_us
    programmable_us = cell.gain_f * cell.pcm.target_clip_us
    return {
        name: min(cell.weight_range_fraction, net_pulses * pulse_us / (moved * programmable_us) if moved > 0 else math.inf)
        for name, moved in movement.items()
    }


def _check_config(config: object) -> None:
    if not isinstance(config, UnitCellConfig):
        raise TypeError(f"config: expected a UnitCellConfig (presets.ambrogio2018()), got {type(config).__name__}")


def layer_configs(config: UnitCellConfig, fractions: dict[str, float]) -> dict[str, UnitCellConfig]:
    """``config`` with each layer's ``weight_range_fraction``: ``convert_to_analog(model, config,
    layer_configs=layer_configs(config, fractions))``."""
    _check_config(config)
    return {
        name: replace(config, unit_cell=replace(config.unit_cell, weight_range_fraction=float(fraction)))
        for name, fraction in fractions.items()
    }
