"""The device requirements for equivalent accuracy: train the paper's network digitally once and with
ambrogio2018 over a grid of device parameters; report each point's test-accuracy gap to digital.

``python -m analogtorch sweep --help`` lists the options. The grid is one-at-a-time: each axis is
varied alone around ``ambrogio2018``'s defaults, every other parameter at its default, and the
default point, shared by every axis, is trained once. It shows how far each parameter may move
before accuracy is lost, not how parameters interact. Axes (``AXES``): the capacitor's range in
pulses (through ``Capacitor3T1C.dv_pulse_v``), its up/down asymmetry (``down_up_ratio``), the
cycle-to-cycle spread of its pulses (``c2c_sigma``), its leakage time constant (``tau_s``, shown
against the transfer interval), the gain F (``UnitCell.gain_f``), the PCM verify tolerance
(``PCMDevice.verify_tolerance_us``) and the transfer interval (``UnitCell.transfer_every``).

Network and training as ``compare``'s: the 784-250-125-10 sigmoid MLP (``--hidden``), AnalogSGD,
the same initial weights and data order for every point (``--seed``), each point's layers mapped
for its own cell's room (``--layer-mapping room``, the default; docs/physics.md 1.11, step 6). Resumable: every finished
point is written to ``sweep.json`` in ``--out`` at once, and a run with the same ``--out`` and
settings trains only the points that are missing. Every option is checked, and every point's
configuration built, before any training.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from .. import __version__, presets
from ..inference import pulse_stats, track_pulses
from ..mapping import layer_configs
from ..nn import convert_to_analog
from ..tiles.base import config_fields
from .compare import DEFAULT_HIDDEN, LAYER_MAPPINGS, build_network, check_out, fit, network_description, room_mapping, room_movement
from .data import DEFAULT_FASHION_MNIST_DIR, Dataset, load_image_dataset

__all__ = ["AXES", "DEFAULTS", "Axis", "SweepPlan", "add_arguments", "main", "prepare", "run", "train_point"]

# compare's --quick setting: short enough for a grid of about thirty points, long enough to learn.
DEFAULTS = {"epochs": 3, "lr": 0.5, "limit": 20_000, "test_limit": 0, "batch_size": 64}
RESULTS, TABLE = "sweep.json", "sweep.md"
# The settings a saved sweep must share with a run that resumes it.
_RESUME_KEYS = ("network", "hidden", "epochs", "batch_size", "lr", "seed", "train_examples", "test_examples",
                "data", "preset_defaults", "layer_mapping")  # fmt: skip
# What a sweep saved before a setting existed ran with.
_RESUME_DEFAULTS = {"layer_mapping": "uniform"}

_CAP = presets.ambrogio2018().unit_cell.capacitor
# The nominal swing in which a pulse has its full step, from the rail margin below v_max_v down to
# V_T (below it g is 0): the capacitor's range, counted in pulses of dv_pulse_v.
_SWING_V = _CAP.v_max_v - _CAP.rail_margin_v - max(_CAP.v_t_v, _CAP.v_min_v + _CAP.rail_margin_v)
_INTERVAL_S = presets.ambrogio2018().unit_cell.transfer_every * _CAP.seconds_per_example_s


@dataclasses.dataclass(frozen=True)
class Axis:
    """One axis of the grid: values in ``unit``, the preset field each sets (``to_field``)."""

    name: str
    field: str
    unit: str
    description: str
    default: float
    values: tuple[float, ...]
    to_field: Callable[[float], float] = float
    integer: bool = False
    log: bool = True
    derived: tuple[str, Callable[[float], str]] | None = None  # another view of the value: (header, format)


AXES: dict[str, Axis] = {
    axis.name: axis
    for axis in (
        Axis("range_pulses", "dv_pulse_v", "pulses",
             f"capacitor range in nominal pulses, {_SWING_V:g} V of full-step swing / dv_pulse_v (the conductance range stays)",
             round(_SWING_V / _CAP.dv_pulse_v), (100, 200, 650, 2000, 6500),
             to_field=lambda pulses: _SWING_V / pulses, integer=True,
             derived=("dv_pulse_v [mV]", lambda pulses: f"{1e3 * _SWING_V / pulses:.3g}")),
        Axis("down_up_ratio", "down_up_ratio", "", "nominal down step over up step of the capacitor",
             _CAP.down_up_ratio, (0.5, 0.8, 1.0, 1.25, 2.0)),
        Axis("c2c_sigma", "c2c_sigma", "", "cycle-to-cycle spread of each capacitor pulse (relative)",
             _CAP.c2c_sigma, (0.0, 0.1, 0.3, 1.0), log=False),
        Axis("tau_s", "tau_s", "s", f"capacitor leakage time constant (transfer interval {_INTERVAL_S:g} s at the defaults)",
             _CAP.tau_s, (0.001, 0.008, 0.1, 1.0, 100.0),
             derived=("tau / transfer interval", lambda tau: f"{tau / _INTERVAL_S:.3g}")),
        Axis("gain_f", "gain_f", "", "F, the gain of the PCM pair over the capacitor pair",
             presets.ambrogio2018().unit_cell.gain_f, (1.0, 2.0, 3.0, 5.0, 8.0)),
        Axis("verify_tolerance_us", "verify_tolerance_us", "uS", "PCM program-and-verify tolerance of a transfer",
             presets.ambrogio2018().unit_cell.pcm.verify_tolerance_us, (0.1, 0.25, 0.5, 1.0, 2.0)),
        Axis("transfer_every", "transfer_every", "examples", "transfer interval",
             presets.ambrogio2018().unit_cell.transfer_every, (500, 2000, 8000, 32_000), to_field=int, integer=True),
    )
}  # fmt: skip


def _format_value(axis: Axis, value: float) -> str:
    return str(int(value)) if axis.integer else f"{value:g}"


def point_key(axis: Axis | None, value: float | None) -> str:
    """The name of a grid point in sweep.json: "defaults", or "axis=value" (the axis's unit)."""
    if axis is None or value == axis.default:
        return "defaults"
    return f"{axis.name}={_format_value(axis, value)}"


# ---------------------------------------------------------------------------------------------
# Options: every one checked and every point's configuration built before any training
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class SweepPlan:
    """Everything a sweep needs, checked: options, data, the grid and its configurations."""

    args: argparse.Namespace
    train: Dataset
    test: Dataset
    train_available: int
    test_available: int
    grid: dict[str, list[float]]  # axis -> its values, ascending, the default among them
    configs: dict[str, presets.UnitCellConfig | None]  # point key -> configuration (None: digital)
    settings: dict[str, Any]
    saved: dict[str, dict]  # points already in --out's sweep.json
    # --layer-mapping room: the digital copy's net movement, the same for every point (measured once)
    movement: dict[str, float] | None = None


def _parse_value(axis: Axis, text: str, option: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{option}: expected numbers, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{option}: expected finite numbers, got {text!r}")
    if axis.integer:
        if not value.is_integer() or value < 1:
            raise ValueError(f"{option}: {axis.name} takes integers >= 1, got {text!r}")
        value = float(int(value))
    return value


def parse_grid(axes: list[str] | None, values: list[str] | None) -> dict[str, list[float]]:
    """The axes to sweep (``--axes``, default all) and their values (``--values AXIS=V1,V2,...``
    replaces an axis's default list); every axis keeps its default value, the shared centre."""
    names = list(AXES) if not axes else list(axes)
    unknown = [name for name in names if name not in AXES]
    if unknown:
        raise ValueError(f"--axes: expected axes from {list(AXES)}, got {unknown}")
    if len(set(names)) != len(names):
        raise ValueError(f"--axes: expected distinct axes, got {names}")
    chosen: dict[str, list[float]] = {name: list(AXES[name].values) for name in names}
    given: set[str] = set()
    for item in values or []:
        name, sep, listed = item.partition("=")
        option = f"--values {item}"
        if not sep or not listed.strip():
            raise ValueError(f"--values: expected AXIS=V1,V2,... (e.g. tau_s=0.01,0.1), got {item!r}")
        if name not in AXES:
            raise ValueError(f"--values: expected an axis from {list(AXES)} before '=', got {name!r}")
        if name not in chosen:
            raise ValueError(f"{option}: {name} is not among the swept axes {names}; add it to --axes")
        if name in given:
            raise ValueError(f"--values: {name} given twice")
        given.add(name)
        parsed = [_parse_value(AXES[name], text.strip(), option) for text in listed.split(",")]
        if len(set(parsed)) != len(parsed):
            raise ValueError(f"{option}: expected distinct values, got {parsed}")
        chosen[name] = parsed
    return {name: sorted(set(listed) | {AXES[name].default}) for name, listed in chosen.items()}


def build_configs(grid: dict[str, list[float]], seed: int) -> dict[str, presets.UnitCellConfig | None]:
    """Every point's configuration, by point key: a value the configuration refuses fails here."""
    try:
        configs: dict[str, presets.UnitCellConfig | None] = {"digital": None, "defaults": presets.ambrogio2018(seed=seed)}
    except (TypeError, ValueError) as error:
        raise type(error)(f"--seed: {error}") from None
    for name, listed in grid.items():
        axis = AXES[name]
        for value in listed:
            key = point_key(axis, value)
            if key == "defaults":
                continue
            try:
                configs[key] = presets.ambrogio2018(seed=seed, **{axis.field: axis.to_field(value)})
            except (TypeError, ValueError) as error:
                raise type(error)(f"--values {name}={_format_value(axis, value)}: {error}") from None
    return configs


def validate(args: argparse.Namespace) -> None:
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')}: expected an integer >= 1, got {getattr(args, name)}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise ValueError(f"--lr: expected a finite number > 0, got {args.lr}")
    for name in ("limit", "test_limit"):
        if getattr(args, name) < 0:
            raise ValueError(f"--{name.replace('_', '-')}: expected an integer >= 0, got {getattr(args, name)}")
    if args.hidden is not None and (not args.hidden or any(h < 1 for h in args.hidden)):
        raise ValueError(f"--hidden: expected layer sizes >= 1, got {args.hidden}")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")


def read_saved(out: Path, settings: dict[str, Any]) -> dict[str, dict]:
    """The points of an earlier sweep in ``out`` with the same settings (empty when none); a sweep
    of other settings there is refused, naming what differs."""
    path = out / RESULTS
    if not path.exists():
        return {}
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"--out {out}: {RESULTS} cannot be read to resume ({error}); remove it or choose another --out") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("settings"), dict) or not isinstance(saved.get("points"), dict):
        raise ValueError(f"--out {out}: {RESULTS} is not a sweep's results; remove it or choose another --out")
    stored = {**_RESUME_DEFAULTS, **saved["settings"]}
    differences = [key for key in _RESUME_KEYS if stored.get(key) != settings[key]]
    if differences:
        shown = "; ".join(f"{key}: saved {stored.get(key)!r:.80}, now {settings[key]!r:.80}" for key in differences)
        raise ValueError(f"--out {out}: holds a sweep of other settings ({shown}); choose another --out or remove {path}")
    return saved["points"]


def prepare(args: argparse.Namespace) -> SweepPlan:
    """Checks every option, builds every point's configuration and loads the data before any
    training; refuses an --out holding a sweep of other settings. Writes nothing."""
    validate(args)
    grid = parse_grid(args.axes, args.values)
    configs = build_configs(grid, args.seed)
    check_out(args.out)
    import matplotlib  # noqa: F401  (the plots come after training: fail now if it is missing)

    train = load_image_dataset(args.data, "train")
    test = load_image_dataset(args.data, "test")
    plan = SweepPlan(args, train.head(args.limit), test.head(args.test_limit), len(train), len(test), grid, configs, {}, {})
    plan.settings = settings(plan)
    plan.saved = read_saved(Path(args.out), plan.settings)
    return plan


def settings(plan: SweepPlan) -> dict[str, Any]:
    """What shaped the numbers, with the command that repeats the sweep."""
    args = plan.args
    hidden = DEFAULT_HIDDEN if args.hidden is None else args.hidden
    values = " ".join(f"{name}={','.join(_format_value(AXES[name], v) for v in listed)}" for name, listed in plan.grid.items())
    command = (f"python -m analogtorch sweep --axes {' '.join(plan.grid)} --values {values} --epochs {args.epochs} "
               f"--batch-size {args.batch_size} --lr {args.lr:g} --seed {args.seed} --limit {args.limit} "
               f"--test-limit {args.test_limit} --hidden {' '.join(map(str, hidden))} --device {args.device}")  # fmt: skip
    if Path(args.data) != DEFAULT_FASHION_MNIST_DIR:
        command += f" --data {args.data}"
    command += f" --layer-mapping {args.layer_mapping}"
    return {
        "command": command,
        "network": network_description("mlp", args.hidden),
        "hidden": list(hidden),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": "AnalogSGD, plain SGD on digital weights",
        "seed": args.seed,
        "train_limit": args.limit,
        "train_examples": len(plan.train),
        "train_examples_available": plan.train_available,
        "test_limit": args.test_limit,
        "test_examples": len(plan.test),
        "test_examples_available": plan.test_available,
        "data": str(args.data),
        "device": args.device,
        "preset": "ambrogio2018",
        "preset_defaults": config_fields(plan.configs["defaults"]),
        "layer_mapping": args.layer_mapping,
        "versions": {"analogtorch": __version__, "torch": torch.__version__, "python": platform.python_version()},
    }


# ---------------------------------------------------------------------------------------------
# Training, resumably
# ---------------------------------------------------------------------------------------------


def train_point(config: presets.UnitCellConfig | None, plan: SweepPlan, label: str) -> dict[str, Any]:
    """Trains the network once (digitally for ``config`` None); its test accuracy per epoch and, in
    situ, the pulse statistics per layer (docs/physics.md 1.12)."""
    args = plan.args
    model = build_network("mlp", args.hidden, args.seed).to(torch.device(args.device))
    fractions = None
    if config is not None:
        if args.layer_mapping == "room":  # for this point's cell: its pulse and its range
            if plan.movement is None:
                plan.movement = room_movement(model, args, plan.train, args.seed)
            fractions = room_mapping(plan.movement, plan.train, config)
        convert_to_analog(model, config, layer_configs=None if fractions is None else layer_configs(config, fractions))
        track_pulses(model)
    start = time.perf_counter()
    curve, losses = fit(model, args, plan.train, plan.test, args.seed, label)
    result = {"test_accuracy": curve, "train_loss": losses, "final": curve[-1], "train_seconds": time.perf_counter() - start}
    if config is not None:
        result["pulses"] = pulse_stats(model)
        result["layer_fractions"] = fractions
    return result


def _write_json(path: Path, data: dict) -> None:
    """Writes ``data`` whole or not at all: an interrupted sweep leaves the last complete file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2))
    os.replace(partial, path)


def _points(plan: SweepPlan) -> list[tuple[str, Axis | None, float | None]]:
    """Every point to report, in training order: digital, the defaults, then each axis's others."""
    points: list[tuple[str, Axis | None, float | None]] = [("digital", None, None), ("defaults", None, None)]
    for name, listed in plan.grid.items():
        axis = AXES[name]
        points += [(point_key(axis, v), axis, v) for v in listed if point_key(axis, v) != "defaults"]
    return points


def run(plan: SweepPlan) -> dict:
    """Trains the points not yet in ``--out``'s sweep.json (each saved as soon as it is done), then
    writes sweep.md and a plot per axis and prints the tables."""
    args = plan.args
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {"settings": plan.settings, "dataset": Path(args.data).name, "sweep": _SWEEP_NOTE,
               "axes": {name: {"field": AXES[name].field, "unit": AXES[name].unit, "description": AXES[name].description,
                               "default": AXES[name].default, "values": listed} for name, listed in plan.grid.items()},
               "points": dict(plan.saved)}  # fmt: skip
    todo = [(key, axis, value) for key, axis, value in _points(plan) if key not in plan.saved]
    start = time.perf_counter()
    for key, axis, value in tqdm(todo, desc="sweep", unit="point", disable=args.quiet):
        config = plan.configs[key]
        entry = train_point(config, plan, key)
        entry.update(axis=None if axis is None else axis.name, value=value,
                     fields=None if axis is None else {axis.field: axis.to_field(value)})  # fmt: skip
        results["points"][key] = entry
        _write_json(out / RESULTS, results)
    results["wall_seconds_this_run"] = time.perf_counter() - start
    results["trained_this_run"] = [key for key, _, _ in todo]
    results["resumed_this_run"] = [key for key, _, _ in _points(plan) if key in plan.saved]
    _write_json(out / RESULTS, results)
    from .report import print_sweep, write_sweep

    write_sweep(out, results)
    print_sweep(results, out)
    return results


_SWEEP_NOTE = ("one-at-a-time around ambrogio2018's defaults: each axis varied alone, every other parameter at "
               "its default; the default point is shared by every axis")  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    axes = "; ".join(f"{a.name} ({a.description}; default {_format_value(a, a.default)}; "
                     f"values {','.join(_format_value(a, v) for v in a.values)})" for a in AXES.values())  # fmt: skip
    parser.add_argument("--axes", nargs="+", metavar="AXIS", default=None,
                        help=f"the axes to sweep, one at a time (default: all): {axes}")  # fmt: skip
    parser.add_argument("--values", nargs="+", metavar="AXIS=V1,V2", default=None,
                        help="replaces the values of swept axes, e.g. tau_s=0.01,0.1 gain_f=2,4 (each axis keeps its "
                             "default value: the shared centre)")  # fmt: skip
    parser.add_argument("--epochs", type=int, metavar="N", default=DEFAULTS["epochs"], help="passes over the training set")
    parser.add_argument("--batch-size", type=int, metavar="N", default=DEFAULTS["batch_size"],
                        help="examples per update (the paper's per-example updates: 1)")  # fmt: skip
    parser.add_argument("--lr", type=float, metavar="LR", default=DEFAULTS["lr"], help="learning rate of every point")
    parser.add_argument("--seed", type=int, metavar="SEED", default=0,
                        help="initial weights, data order and device draws, the same for every point")  # fmt: skip
    parser.add_argument("--hidden", type=int, metavar="SIZE", nargs="+", default=None,
                        help=f"hidden layer sizes of the MLP (default: {' '.join(map(str, DEFAULT_HIDDEN))})")  # fmt: skip
    parser.add_argument("--limit", type=int, metavar="N", default=DEFAULTS["limit"],
                        help="train on the first N training examples only (0: all)")  # fmt: skip
    parser.add_argument("--test-limit", type=int, metavar="N", default=DEFAULTS["test_limit"],
                        help="evaluate on the first N test examples only (0: all)")  # fmt: skip
    parser.add_argument("--out", default="sweep", metavar="DIR",
                        help=f"directory for {RESULTS} (written after every point; a rerun resumes it), {TABLE} and "
                             "a plot per axis")  # fmt: skip
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where to train and evaluate")
    parser.add_argument("--data", default=str(DEFAULT_FASHION_MNIST_DIR), metavar="DIR",
                        help="directory of MNIST-format idx files (Fashion-MNIST: Debian's dataset-fashion-mnist)")  # fmt: skip
    parser.add_argument("--layer-mapping", default="room", choices=LAYER_MAPPINGS,
                        help="each point's weight mapping, as compare's --layer-mapping (room: per layer, from a digital "
                             "copy's net movement; docs/physics.md 1.11)")  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")


def main(args: argparse.Namespace) -> int:
    """``python -m analogtorch sweep``: checks everything, then trains what is missing and reports."""
    run(prepare(args))
    return 0

