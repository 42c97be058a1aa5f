"""Energy, time and area of what the simulated hardware did: an estimate from counted events.

Every tile of an analog layer counts its array reads (forward and transposed), converter operations,
updates, capacitor pulses, transfers, refreshes, PCM programming pulses and verify reads
(``analogtorch.analog_stats``). :func:`estimate` multiplies those counts by a table of per-event
costs (:class:`HardwareCosts`) and sets the result beside a digital baseline (:class:`DigitalBaseline`:
FLOPs times an energy per FLOP). It is arithmetic on counted events under stated assumptions, not a
circuit simulation: it tells which events dominate and the order of magnitude, not a chip's datasheet.

Conventions:
- An operation is a multiply or an add, so one read of an r x c array performs 2 r c operations, and
  one update of it 2 r c (the outer product of the paper's per-example update).
- Layers run one after another (no pipelining across layers); within an array every row and column
  works in parallel; transfers program one array row at a time, all columns in parallel.
- Area counts the unit cells of the arrays only (no periphery, no routing).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from torch import nn

from .config import _in_range

__all__ = ["DigitalBaseline", "Estimate", "HardwareCosts", "estimate", "format_quantity"]


@dataclass(frozen=True)
class HardwareCosts:
    """Per-event energy (J), time (s) and area of the simulated hardware. Each default gives its
    source or says it is an assumption, with the arithmetic behind it."""

    cell_read_j: float = 5e-15  # assumption: a 0.2 V read across a unit cell of ~6 uS for 20 ns, V^2 G t = 4.8 fJ
    """Energy of one unit cell (2 PCM + 3T1C) in one array read."""

    dac_conversion_j: float = 0.1e-12  # assumption: one row driver's pulse-width-encoded input, ~100 fJ
    """Energy of one input conversion (one row of one read)."""

    adc_conversion_j: float = 1.3e-12  # Murmann's ADC performance survey: SAR ADCs near 5 fJ/conversion step; 2^8 steps
    """Energy of one output conversion (one column of one read; also one verify read)."""

    capacitor_pulse_j: float = 10e-15  # assumption: C dV V_dd = 10 fF * 4 mV * 1 V = 0.04 fJ; the pulse driver dominates
    """Energy of one capacitor (3T1C) update pulse."""

    pcm_set_pulse_j: float = 10e-12  # assumption: a partial-SET pulse of ~100 uA at ~1 V for ~100 ns
    """Energy of one PCM SET (or partial-SET) pulse."""

    pcm_reset_j: float = 30e-12  # assumption: a RESET pulse of ~500 uA at ~1.5 V for ~40 ns
    """Energy of one PCM RESET pulse (both devices of a cell are RESET before a transfer)."""

    read_time_s: float = 100e-9  # assumption: integrate the column currents and convert them, one array read
    """Time of one array read (every row and column at once)."""

    update_time_s: float = 100e-9  # assumption: one row-and-column pulse-coincidence update of a whole array
    """Time of one array update."""

    program_verify_time_s: float = 1e-6  # assumption: a SET pulse, settling, then a verify read
    """Time of one program-and-verify iteration (a transfer programs one row at a time)."""

    unit_cell_area_um2: float = 1.0  # assumption: 2 PCM + 3 transistors + a capacitor of ~10 fF in a mature node
    """Area of one unit cell."""

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            _in_range(self, name, 0.0, low_open=name == "unit_cell_area_um2")


@dataclass(frozen=True)
class DigitalBaseline:
    """A digital accelerator doing the same arithmetic in float32: FLOPs times an energy per FLOP."""

    energy_per_flop_j: float = 28e-12  # NVIDIA Tesla P100 (SXM2) datasheet: 10.6 TFLOP/s FP32 at 300 W
    """Energy of one floating-point operation, all overheads included."""

    flops_per_s: float = 10.6e12  # NVIDIA Tesla P100 (SXM2) datasheet, FP32 peak
    """Sustained operations per second (peak by default: a best case for the baseline)."""

    die_area_mm2: float = 610.0  # NVIDIA Tesla P100 (GP100) die size
    """Area of the accelerator."""

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            _in_range(self, name, 0.0, low_open=True)


@dataclass
class Estimate:
    """Energy, time and operations per training example and per inference, with efficiencies,
    for the analog hardware and the digital baseline. ``layers`` holds each layer's breakdown."""

    layers: dict[str, dict[str, Any]]
    training: dict[str, float] | None  # None when no layer trained in situ
    inference: dict[str, float]
    digital_training: dict[str, float]
    digital_inference: dict[str, float]
    costs: HardwareCosts = field(default_factory=HardwareCosts)
    baseline: DigitalBaseline = field(default_factory=DigitalBaseline)

    def as_dict(self) -> dict[str, Any]:
        return {
            "layers": self.layers, "training": self.training, "inference": self.inference,
            "digital_training": self.digital_training, "digital_inference": self.digital_inference,
            "costs": asdict(self.costs), "baseline": asdict(self.baseline),
        }  # fmt: skip

    def table(self) -> str:
        """A Markdown table: per training example and per inference, analog against digital."""
        rows = [("training", self.training, self.digital_training), ("inference", self.inference, self.digital_inference)]
        lines = [
            "| per example | analog energy | analog time | digital energy | digital time | analog GOP/s/W | digital GOP/s/W | analog TOP/s/mm^2 | digital TOP/s/mm^2 |",
            "|---|---|---|---|---|---|---|---|---|",
        ]  # fmt: skip
        for label, analog, digital in rows:
            if analog is None:
                continue
            lines.append(
                f"| {label} | {format_quantity(analog['energy_j'], 'J')} | {format_quantity(analog['time_s'], 's')} | "
                f"{format_quantity(digital['energy_j'], 'J')} | {format_quantity(digital['time_s'], 's')} | "
                f"{analog['ops_per_s_per_w'] / 1e9:,.0f} | {digital['ops_per_s_per_w'] / 1e9:,.0f} | "
                f"{analog['ops_per_s_per_mm2'] / 1e12:.3g} | {digital['ops_per_s_per_mm2'] / 1e12:.3g} |"
            )
        if self.training is not None:
            shares = ", ".join(f"{name} {100 * share:.0f}%" for name, share in self.training["energy_shares"].items())
            lines += ["", f"Training energy by event: {shares}."]
        return "\n".join(lines)


def format_quantity(value: float, unit: str) -> str:
    """A value with an SI prefix (f, p, n, u, m): 8.58e-9 J -> "8.58 nJ"."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {unit}"
    exponent = max(-15, min(0, 3 * math.floor(math.log10(abs(value)) / 3)))
    prefix = {-15: "f", -12: "p", -9: "n", -6: "u", -3: "m", 0: ""}[exponent]
    return f"{value / 10.0**exponent:.3g} {prefix}{unit}"


def _rates(ops: float, energy_j: float, time_s: float, area_mm2: float) -> dict[str, float]:
    return {
        "ops": ops,
        "energy_j": energy_j,
        "time_s": time_s,
        "ops_per_s_per_w": ops / energy_j if energy_j > 0 else math.inf,
        "ops_per_s_per_mm2": ops / time_s / area_mm2 if time_s > 0 and area_mm2 > 0 else math.inf,
    }


def _layer_estimate(stats: dict[str, Any], costs: HardwareCosts) -> dict[str, Any]:
    rows, cols = stats["in_features"], stats["out_features"]  # the tile's matrix: one row per input
    cells = rows * cols
    # Its arrays each have their own converters: an input slice is converted once per array column
    # of arrays it drives, an output once per array row of arrays that produce a partial sum.
    row_blocks, col_blocks = stats.get("row_blocks", 1), stats.get("col_blocks", 1)
    read_j = cells * costs.cell_read_j + rows * col_blocks * costs.dac_conversion_j + cols * row_blocks * costs.adc_conversion_j
    transposed_read_j = cells * costs.cell_read_j + cols * row_blocks * costs.dac_conversion_j + rows * col_blocks * costs.adc_conversion_j
    # Training events: every training forward read is followed by a transposed read (backward_reads).
    trained = stats["backward_reads"]
    pulse_j = costs.capacitor_pulse_j if stats["update_pulse"] == "capacitor" else costs.pcm_set_pulse_j
    verify_j = costs.cell_read_j + costs.adc_conversion_j  # one device read through one ADC
    energy = {
        "array reads": trained * (read_j + transposed_read_j),
        "update pulses": stats["pulses"] * pulse_j,
        # A transfer RESETs both devices of every cell; a refresh RESETs both devices of one cell.
        "PCM RESET": (2 * cells * stats["transfers"] + 2 * stats["refreshes"]) * costs.pcm_reset_j,
        "PCM SET pulses": stats["programming_pulses"] * costs.pcm_set_pulse_j,
        "verify reads": stats["programming_iterations"] * verify_j,
    }
    time = {
        "array reads": 2 * trained * costs.read_time_s,
        "updates": stats["updates"] * costs.update_time_s,
        # one row at a time, every column in parallel
        "programming": stats["programming_iterations"] / max(cols, 1) * costs.program_verify_time_s,
    }
    ops = 2 * cells * (2 * trained + stats["updates"])
    return {
        "shape": [cols, rows],
        "kind": stats["kind"],
        "reads_per_example": stats["reads_per_example"],
        "examples": stats["examples"],
        "ops": ops,
        "energy_j": energy,
        "time_s": time,
        "inference_energy_j": read_j,
        "cells": cells,
    }


def estimate(
    model: nn.Module, costs: HardwareCosts | None = None, baseline: DigitalBaseline | None = None
) -> Estimate:
    """Energy and time per training example and per inference of ``model``'s analog layers, from
    what they counted, beside a digital baseline (see the module docstring for the conventions).

    Training figures come from the layers that trained in situ (``ambrogio2018``, ``pcm_only``):
    their totals (initial programming included) divided by the examples they trained on. Inference
    figures are the forward reads of every analog tile per example (one per vector through the
    array: a patch of a convolution, a time step of a recurrent layer), as the layers counted them
    (one per tile before any forward)."""
    from .nn import AnalogModule

    costs = HardwareCosts() if costs is None else costs
    baseline = DigitalBaseline() if baseline is None else baseline
    if not isinstance(costs, HardwareCosts):
        raise TypeError(f"costs: expected a HardwareCosts, got {type(costs).__name__}")
    if not isinstance(baseline, DigitalBaseline):
        raise TypeError(f"baseline: expected a DigitalBaseline, got {type(baseline).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    layers = {
        f"{name}.{tile}" if name else tile: _layer_estimate(stats, costs)
        for name, module in model.named_modules() if isinstance(module, AnalogModule)
        for tile, stats in module.tile_stats().items()
    }  # fmt: skip
    if not layers:
        raise ValueError("model: it holds no analog layer (convert it with analogtorch.convert_to_analog)")
    weights = sum(layer["cells"] for layer in layers.values())
    area_mm2 = weights * costs.unit_cell_area_um2 * 1e-6
    # Multiply-accumulates of one inference: every tile's cells, once per read per example.
    inference_macs = sum(layer["cells"] * layer["reads_per_example"] for layer in layers.values())
    inference = _rates(
        2 * inference_macs,
        sum(layer["inference_energy_j"] * layer["reads_per_example"] for layer in layers.values()),
        sum(layer["reads_per_example"] for layer in layers.values()) * costs.read_time_s,
        area_mm2,
    )
    digital_inference = _digital(2 * inference_macs, baseline)
    trained = {name: layer for name, layer in layers.items() if layer["examples"] > 0}
    training = None
    if trained:
        energy = {name: 0.0 for name in next(iter(trained.values()))["energy_j"]}
        time_s = ops = 0.0
        for layer in trained.values():
            examples = layer["examples"]
            for name, value in layer["energy_j"].items():
                energy[name] += value / examples
            time_s += sum(layer["time_s"].values()) / examples
            ops += layer["ops"] / examples
        total = sum(energy.values())
        training = _rates(ops, total, time_s, sum(layer["cells"] for layer in trained.values()) * costs.unit_cell_area_um2 * 1e-6)
        training["energy_shares"] = {name: value / total if total else 0.0 for name, value in energy.items()}
    # Digital training: forward, gradient of the input, gradient of the weights: 3 x 2 FLOPs per weight.
    digital_training = _digital(6 * inference_macs, baseline)
    return Estimate(layers, training, inference, digital_training, digital_inference, costs, baseline)


def _digital(flops: float, baseline: DigitalBaseline) -> dict[str, float]:
    return _rates(flops, flops * baseline.energy_per_flop_j, flops / baseline.flops_per_s, baseline.die_area_mm2)

