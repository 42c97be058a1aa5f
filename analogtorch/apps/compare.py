"""The analog-vs-digital comparison: train one network digitally and with analog presets on the same
data order and seeds, report test accuracy per epoch and, after programming into PCM, over time.

``python -m analogtorch compare --help`` lists the options; the README's main command runs it.
Networks (``--model``): ``mlp``, the paper's fully connected 784-250-125-10 (Ambrogio et al. 2018),
sigmoid hidden units, softmax output, on uncropped 28x28 images; ``cnn``, a small convolutional
network (two 5x5 convolutions with ReLU and max-pooling, then one linear layer). Mini-batch SGD
(default 64 examples: per-example updates, the paper's setting, are ``--batch-size 1`` and take
hours on a 2-core CPU).

Every option is checked, every preset's configuration built and the data loaded by ``prepare``
before any training starts, so that a bad option costs seconds, not a run.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from .. import __version__, presets
from ..inference import analog_stats, program, pulse_stats, set_time, track_pulses
from ..mapping import ED_FIG2_NET_PULSES, fractions_for, layer_configs, net_movement
from ..nn import convert_to_analog
from ..optim import AnalogSGD
from ..tiles.in_situ import PULSE_REFERENCE_IMAGES
from .data import DEFAULT_FASHION_MNIST_DIR, Dataset, load_image_dataset

__all__ = [
    "DEFAULTS",
    "DRIFT_TIMES_S",
    "ED_FIG_2",
    "FULL_SETTING",
    "MODELS",
    "PRESETS",
    "PULSE_PRESETS",
    "MODEL_LR",
    "QUICK",
    "Plan",
    "add_arguments",
    "build_network",
    "fit",
    "main",
    "prepare",
    "run",
]

PRESETS: dict[str, Callable[[], presets.AnalogConfig] | None] = {
    "digital": None,
    "ambrogio2018": presets.ambrogio2018,
    "pcm_only": presets.pcm_only,
    "hardware_aware": presets.hardware_aware,
    "ideal": presets.ideal,
}
DEFAULT_PRESETS = ["digital", "ambrogio2018", "pcm_only", "hardware_aware"]
DRIFT_TIMES_S = {"1 s": 1.0, "1 min": 60.0, "1 h": 3600.0, "1 day": 86400.0, "1 month": 2.628e6, "1 year": 3.156e7}
DRIFT_PRESETS = ("hardware_aware", "ambrogio2018")
# The in-situ presets, whose pulses per weight are recorded (docs/physics.md 1.12), and ED Fig 2's
# figures for them: a typical weight over 16,000 MNIST images of per-example training (section 1.9).
PULSE_PRESETS = ("ambrogio2018", "pcm_only")
# How unit-cell layers are mapped onto their cells (--layer-mapping; docs/physics.md 1.11, step 6).
LAYER_MAPPINGS = ("room", "uniform")
ED_FIG_2 = {
    "ambrogio2018": {"what": "2PCM + 3T1C", "total": 1000, "net_abs": ED_FIG2_NET_PULSES},
    "pcm_only": {"what": "2PCM only", "total": 50, "net_abs": 10},
}
# Drift compensation of each drift study row: per array (the default), per column, none.
DRIFT_COMPENSATIONS = {"compensated": "global", "column-compensated": "column", "uncompensated": None}
MODELS = {
    "mlp": "784-{hidden}-10 fully connected, sigmoid hidden units (Ambrogio et al. 2018)",
    "cnn": "Conv2d(1,16,5)-ReLU-MaxPool(2)-Conv2d(16,32,5)-ReLU-MaxPool(2)-Linear(512,10)",
}
DEFAULT_HIDDEN = [250, 125]

# The settings that --quick changes, and their values without it. Measured on a 2-core CPU (seed 0,
# full test set): the sigmoid network at lr 0.5 needs a few hundred steps before it leaves chance
# (2,000 examples x 2 epochs: 16%); 20,000 x 3 epochs reaches 75% digitally.
DEFAULTS = {"epochs": 5, "limit": 0, "test_limit": 0}
QUICK = {"epochs": 3, "limit": 20_000, "test_limit": 0}
# Learning rate per model unless --lr is given. The sigmoid MLP's 0.5 (the main job's) collapsed the
# digital ReLU CNN to chance (loss ln 10 from its first epoch, quick setting, seed 0); 0.05 trains it.
MODEL_LR = {"mlp": 0.5, "cnn": 0.05}
# The one full setting, named alike here, in the closing line of a run and in the README.
FULL_SETTING = "bash scripts/main.sh --epochs 20 --seeds 0 1 2"


def build_network(model: str, hidden: list[int] | None, seed: int) -> nn.Sequential:
    """The digital network that every preset starts from: the same initial weights for a seed."""
    torch.manual_seed(seed)
    if model == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2),  # 28x28 -> 24x24 -> 12x12
            nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),  # -> 8x8 -> 4x4
            nn.Flatten(), nn.Linear(32 * 4 * 4, 10),
        )  # fmt: skip
    if model != "mlp":
        raise ValueError(f"--model: expected one of {sorted(MODELS)}, got {model!r}")
    sizes = [784, *(DEFAULT_HIDDEN if hidden is None else hidden), 10]
    layers: list[nn.Module] = []
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if index < len(sizes) - 2:
            layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def network_description(model: str, hidden: list[int] | None) -> str:
    return MODELS[model].format(hidden="-".join(map(str, DEFAULT_HIDDEN if hidden is None else hidden)))


# ---------------------------------------------------------------------------------------------
# Options: checked, and every preset's configuration built, before anything trains
# ---------------------------------------------------------------------------------------------


def _apply_overrides(config: Any, overrides: Any, where: str = "") -> Any:
    """JSON overrides of preset fields; nested dataclasses by nested objects
    (e.g. {"unit_cell": {"transfer_every": 4000, "pcm": {"verify_tolerance_us": 0.25}}}).

    ``where``: the dotted path of ``config`` in the file, for the messages. Every error is a
    ``TypeError`` or ``ValueError`` starting with ``--config:`` and naming the field.
    """
    if not isinstance(overrides, dict):
        raise TypeError(
            f"--config: {where or type(config).__name__}: expected an object of {type(config).__name__} fields, "
            f"got {type(overrides).__name__} {overrides!r}"
        )
    fields = {field.name for field in dataclasses.fields(config)}
    changes = {}
    for name, value in overrides.items():
        path = f"{where}.{name}" if where else name
        if name not in fields:
            located = f" (in {where})" if where else ""
            raise ValueError(f"--config: {type(config).__name__} has no field {name!r}{located}")
        current = getattr(config, name)
        if isinstance(value, dict):
            if not dataclasses.is_dataclass(current):
                raise TypeError(f"--config: {path}: expected a value of type {type(current).__name__}, not an object")
            changes[name] = _apply_overrides(current, value, path)
        else:
            changes[name] = value
    try:
        return presets.replace(config, **changes)
    except (TypeError, ValueError) as error:  # the config's own check names the field
        raise type(error)(f"--config: {where + ': ' if where else ''}{error}") from None


def read_overrides(path: str | None) -> dict[str, dict]:
    """The ``--config`` file: a JSON object whose keys are analog preset names."""
    if path is None:
        return {}
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise type(error)(f"--config: {error.strerror}: {str(path)!r}") from None
    try:
        overrides = json.loads(text)
    except json.JSONDecodeError as error:  # the message keeps the position: line, column, char
        raise json.JSONDecodeError(f"--config {path}: not valid JSON: {error.msg}", error.doc, error.pos) from None
    if not isinstance(overrides, dict):
        raise TypeError(
            f"--config {path}: expected a JSON object keyed by preset name "
            f'(e.g. {{"ambrogio2018": {{"unit_cell": {{"transfer_every": 4000}}}}}}), got a {type(overrides).__name__}'
        )
    if "digital" in overrides:
        raise ValueError(f"--config {path}: 'digital' has no configuration to override (it is plain PyTorch); remove it")
    analog = sorted(name for name, factory in PRESETS.items() if factory is not None)
    unknown = set(overrides) - set(analog)
    if unknown:
        raise ValueError(f"--config: keys must be analog preset names {analog}, got {sorted(unknown)}")
    return overrides


def build_configs(
    names: list[str], seeds: list[int], overrides: dict[str, dict]
) -> dict[tuple[str, int], presets.AnalogConfig | None]:
    """Every (preset, seed)'s configuration, overrides applied: a bad field fails here, not after an
    hour of training the presets before it. Overrides of presets not run are checked too."""
    for name, fields in overrides.items():
        _apply_overrides(PRESETS[name](), fields, name)
    configs: dict[tuple[str, int], presets.AnalogConfig | None] = {}
    for name in names:
        for seed in seeds:
            factory = PRESETS[name]
            if factory is None:
                configs[name, seed] = None
            else:
                try:
                    config = presets.replace(factory(), seed=seed)
                except (TypeError, ValueError) as error:
                    raise type(error)(f"--seeds: {error}") from None
                configs[name, seed] = _apply_overrides(config, overrides.get(name, {}), name)
    return configs


def check_out(out: str) -> None:
    """``--out`` must be a directory (or not exist yet) where files can be written; nothing is
    created: a probe file is made and removed in the nearest existing directory."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"--out {out}: exists and is not a directory; expected a directory for the results")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(f"--out {out}: {existing} is not a directory; expected a directory for the results")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise PermissionError(f"--out {out}: cannot write in {existing} ({error.strerror})") from None


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    """Fills the options left unset from ``--quick``'s settings or the defaults (a copy)."""
    resolved = copy.copy(args)
    base = QUICK if args.quick else DEFAULTS
    for name, value in base.items():
        if getattr(resolved, name, None) is None:
            setattr(resolved, name, value)
    if getattr(resolved, "lr", None) is None:
        resolved.lr = MODEL_LR.get(resolved.model, MODEL_LR["mlp"])
    return resolved


def validate(args: argparse.Namespace) -> None:
    """The options' values, one by one (``args`` resolved)."""
    for name in ("epochs", "batch_size", "reads"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')}: expected an integer >= 1, got {getattr(args, name)}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise ValueError(f"--lr: expected a finite number > 0, got {args.lr}")
    for name in ("limit", "test_limit"):
        if getattr(args, name) < 0:
            raise ValueError(f"--{name.replace('_', '-')}: expected an integer >= 0, got {getattr(args, name)}")
    if args.hidden is not None and args.model != "mlp":
        raise ValueError(f"--hidden: sets the mlp's hidden layers; --model {args.model} has none to set")
    if args.hidden is not None and (not args.hidden or any(h < 1 for h in args.hidden)):
        raise ValueError(f"--hidden: expected layer sizes >= 1, got {args.hidden}")
    if len(set(args.seeds)) != len(args.seeds):
        raise ValueError(f"--seeds: expected distinct seeds, got {args.seeds}")
    if len(set(args.presets)) != len(args.presets):
        raise ValueError(f"--presets: expected distinct presets, got {args.presets}")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")


def _check_conversion(model: str, configs: dict[tuple[str, int], presets.AnalogConfig | None]) -> None:
    """Each analog preset must convert every Conv2d and Linear of the network: a layer left digital
    would make an 'analog' result partly digital without saying so."""
    checked = set()
    for (name, seed), config in configs.items():
        if config is None or name in checked:
            continue
        checked.add(name)
        try:
            network = convert_to_analog(build_network(model, None, seed), config)
        except (TypeError, ValueError) as error:  # a layer no analog layer replaces
            raise type(error)(f"--model {model}: preset {name}: {error}") from None
        digital = [n for n, m in network.named_modules() if type(m) in (nn.Linear, nn.Conv2d)]
        if digital:
            raise ValueError(
                f"--model {model}: convert_to_analog left {digital} digital with preset {name}; "
                "this analogtorch has no analog layer for them"
            )


@dataclasses.dataclass
class Plan:
    """Everything a run needs, checked: the resolved options, the data and every configuration."""

    args: argparse.Namespace
    train: Dataset
    test: Dataset
    train_available: int
    test_available: int
    overrides: dict[str, dict]
    configs: dict[tuple[str, int], presets.AnalogConfig | None]


def prepare(args: argparse.Namespace) -> Plan:
    """Checks every option and loads the data before any training: a ``ValueError``, ``TypeError``
    or ``OSError`` naming the option when something is wrong. Writes nothing."""
    args = resolve(args)
    validate(args)
    overrides = read_overrides(args.config)
    configs = build_configs(args.presets, args.seeds, overrides)
    if args.model != "mlp":
        _check_conversion(args.model, configs)
    check_out(args.out)
    import matplotlib  # noqa: F401  (the plots come after training: fail now if it is missing)

    flat = args.model == "mlp"
    train = load_image_dataset(args.data, "train", flat=flat)
    test = load_image_dataset(args.data, "test", flat=flat)
    return Plan(args, train.head(args.limit), test.head(args.test_limit), len(train), len(test), overrides, configs)


# ---------------------------------------------------------------------------------------------
# Training and the drift study
# ---------------------------------------------------------------------------------------------


@torch.no_grad()
def accuracy(model: nn.Module, data: Dataset, device: torch.device, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    for start in range(0, len(data), batch):
        x = data.images[start : start + batch].to(device)
        correct += (model(x).argmax(1).cpu() == data.labels[start : start + batch]).sum().item()
    return correct / max(len(data), 1)


def fit(model: nn.Module, args: argparse.Namespace, train: Dataset, test: Dataset, seed: int, label: str) -> tuple[list[float], list[float]]:
    """Trains ``model`` (on ``args.device``) with AnalogSGD at ``args.lr`` for ``args.epochs`` passes
    of mini-batches of ``args.batch_size``, in the data order of ``seed`` (the same for every
    preset); returns the test accuracy and the mean training loss of each epoch. ``label`` names
    the run in the progress bars and the per-epoch lines."""
    device = torch.device(args.device)
    optimizer = AnalogSGD(model.parameters(), lr=args.lr)
    order = torch.Generator().manual_seed(seed)  # the same data order for every preset
    curve, losses = [], []
    for epoch in range(1, args.epochs + 1):
        model.train()
        permutation = torch.randperm(len(train), generator=order)
        steps = range(0, len(train), args.batch_size)
        running = 0.0
        progress = tqdm(steps, desc=f"{label} epoch {epoch}/{args.epochs}", leave=False,
                        disable=args.quiet, unit="batch")  # fmt: skip
        for count, i in enumerate(progress, 1):
            index = permutation[i : i + args.batch_size]
            x, y = train.images[index].to(device), train.labels[index].to(device)
            loss = nn.functional.cross_entropy(model(x), y)
            value = loss.item()
            if not math.isfinite(value):
                # A diverged run would report chance accuracy as if it were a result. (A NaN that
                # reaches the gradients first is refused by AnalogSGD, as loudly.)
                raise RuntimeError(f"{label}: training diverged (loss {value} at epoch {epoch}, step {count}); "
                                   f"--lr {args.lr:g} is too large for --model {args.model}: try a smaller --lr")  # fmt: skip
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += value
            if count % 50 == 0:
                progress.set_postfix(loss=f"{running / count:.4f}")
        test_accuracy = accuracy(model, test, device)
        losses.append(running / max(len(steps), 1))
        curve.append(test_accuracy)
        if not args.quiet:
            print(f"{label} epoch {epoch}: loss {losses[-1]:.4f}, test accuracy {100 * test_accuracy:.2f}%")
    return curve, losses


def train_one(name: str, plan: Plan, seed: int) -> dict:
    """Trains one preset with one seed; its accuracy per epoch, drift study and counted events."""
    args, train, test = plan.args, plan.train, plan.test
    device = torch.device(args.device)
    model = build_network(args.model, args.hidden, seed).to(device)
    config = plan.configs[name, seed]
    fractions = None
    if config is not None:
        if args.layer_mapping == "room" and isinstance(config, presets.UnitCellConfig):
            fractions = room_mapping(room_movement(model, args, train, seed), train, config)
        convert_to_analog(model, config, layer_configs=None if fractions is None else layer_configs(config, fractions))
        if name in PULSE_PRESETS:
            track_pulses(model)
    start = time.perf_counter()
    curve, losses = fit(model, args, train, test, seed, f"{name:>15} seed {seed}")
    result = {"preset": name, "seed": seed, "test_accuracy": curve, "train_loss": losses,
              "train_seconds": time.perf_counter() - start,
              "config_kind": None if config is None else type(config).__name__,
              "config": None if config is None else dataclasses.asdict(config),
              "layer_fractions": fractions}  # fmt: skip
    if name in PULSE_PRESETS:
        result["pulses"] = pulse_stats(model)
    if name in DRIFT_PRESETS:
        result["drift"] = drift_study(model, test, device, args.reads)
    if config is not None:
        from ..hardware import estimate

        result["hardware"] = analog_stats(model)
        result["estimate"] = estimate(model).as_dict()
    return result


def room_movement(model: nn.Module, args: argparse.Namespace, train: Dataset, seed: int) -> dict[str, float]:
    """``--layer-mapping room``: each layer's net movement (:func:`analogtorch.mapping.net_movement`)
    on a digital copy trained per example (at ``--lr`` / ``--batch-size``, the same update per
    example) on the first 16,000 images of the seed's data order."""
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:PULSE_REFERENCE_IMAGES]
    device = next(model.parameters()).device
    examples = ((train.images[i : i + 1].to(device), train.labels[i : i + 1].to(device)) for i in order.tolist())
    return net_movement(model, examples, args.lr / args.batch_size)


def room_mapping(movement: dict[str, float], train: Dataset, config: presets.UnitCellConfig) -> dict[str, float]:
    """Each layer's ``weight_range_fraction`` for ``config`` from :func:`room_movement`, so that a
    typical weight moves by ED Fig 2's 100 net pulses per 16,000 images (docs/physics.md 1.11, step 6)."""
    images = min(len(train), PULSE_REFERENCE_IMAGES)
    return fractions_for(movement, config, net_pulses=ED_FIG2_NET_PULSES * images / PULSE_REFERENCE_IMAGES)


def drift_study(model: nn.Module, test: Dataset, device: torch.device, reads: int) -> dict:
    """Accuracy after programming into PCM, at growing times, with drift compensation per array
    ("compensated"), per column ("column-compensated") and without: mean and standard deviation over
    ``reads`` repeated evaluations (fresh read noise)."""
    deployed = copy.deepcopy(model)
    program(deployed)
    study: dict[str, dict] = {}
    for key, compensation in DRIFT_COMPENSATIONS.items():
        study[key] = {}
        for label, seconds in DRIFT_TIMES_S.items():
            set_time(deployed, seconds, drift_compensation=compensation)
            values = [accuracy(deployed, test, device) for _ in range(reads)]
            study[key][label] = {"seconds": seconds, "mean": statistics.fmean(values),
                                 "std": statistics.pstdev(values), "reads": values}  # fmt: skip
    return study


def summarise(results: list[dict], presets_run: list[str]) -> dict[str, dict]:
    summary = {}
    for name in presets_run:
        runs = [r for r in results if r["preset"] == name]
        final = [r["test_accuracy"][-1] for r in runs]
        summary[name] = {"final_mean": statistics.fmean(final), "final_std": statistics.pstdev(final),
                         "seeds": [r["seed"] for r in runs]}  # fmt: skip
        if runs and "estimate" in runs[0]:
            keys = ("training", "inference", "digital_training", "digital_inference")
            summary[name]["estimate"] = {key: runs[0]["estimate"][key] for key in keys}
        if name in DRIFT_PRESETS and runs and "drift" in runs[0]:
            summary[name]["drift"] = {
                key: {label: statistics.fmean(r["drift"][key][label]["mean"] for r in runs) for label in DRIFT_TIMES_S}
                for key in DRIFT_COMPENSATIONS
            }
        if runs and all("pulses" in r for r in runs):
            summary[name]["pulses"] = _mean_pulses([r["pulses"] for r in runs])
    return summary


def _mean_pulses(per_seed: list[dict[str, dict]]) -> dict[str, dict]:
    """Per layer, the pulse statistics of several seeds' runs: each percentile and the share at a
    rail averaged over the seeds (the same network, so the same layers and weights)."""
    layers = {}
    for layer, first in per_seed[0].items():
        entries = [stats[layer] for stats in per_seed]
        entry = {key: first[key] for key in ("kind", "weights", "examples", "updates", "images", "rail_samples",
                                              "rail_sampled_at", "rail_definition")}  # fmt: skip
        for key in ("total", "net_abs"):
            values = [e[key] for e in entries if e[key] is not None]
            entry[key] = {p: statistics.fmean(v[p] for v in values) for p in values[0]} if values else None
        shares = [e["rail_share"] for e in entries if e["rail_share"] is not None]
        entry["rail_share"] = statistics.fmean(shares) if shares else None
        layers[layer] = entry
    return layers


def settings(plan: Plan, wall_seconds: float) -> dict[str, Any]:
    """Every setting that shaped the numbers, with the command that repeats the run."""
    args = plan.args
    command = ["python -m analogtorch compare", f"--model {args.model}", f"--presets {' '.join(args.presets)}",
               f"--epochs {args.epochs}", f"--batch-size {args.batch_size}", f"--lr {args.lr:g}",
               f"--seeds {' '.join(map(str, args.seeds))}", f"--limit {args.limit}", f"--test-limit {args.test_limit}",
               f"--reads {args.reads}", f"--device {args.device}"]  # fmt: skip
    if args.hidden is not None:
        command.append(f"--hidden {' '.join(map(str, args.hidden))}")
    if args.config:
        command.append(f"--config {args.config}")
    command.append(f"--layer-mapping {args.layer_mapping}")
    if Path(args.data) != DEFAULT_FASHION_MNIST_DIR:
        command.append(f"--data {args.data}")
    return {
        "command": " ".join(command),
        "quick": bool(args.quick),
        "model": args.model,
        "network": network_description(args.model, args.hidden),
        "hidden": (DEFAULT_HIDDEN if args.hidden is None else args.hidden) if args.model == "mlp" else None,
        "presets": list(args.presets),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": "AnalogSGD, plain SGD on digital weights",
        "seeds": list(args.seeds),
        "train_limit": args.limit,
        "train_examples": len(plan.train),
        "train_examples_available": plan.train_available,
        "test_limit": args.test_limit,
        "test_examples": len(plan.test),
        "test_examples_available": plan.test_available,
        "data": str(args.data),
        "reads": args.reads,
        "drift_times_s": DRIFT_TIMES_S,
        "layer_mapping": args.layer_mapping,
        "config_file": args.config,
        "config_overrides": plan.overrides,
        "device": args.device,
        "device_name": torch.cuda.get_device_name() if args.device == "cuda" else platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "versions": {"analogtorch": __version__, "torch": torch.__version__, "python": platform.python_version()},
        "wall_seconds": wall_seconds,
    }


def run(plan: Plan) -> dict:
    """Trains every preset for every seed, then writes and prints the report."""
    from .report import print_table, write_report

    args = plan.args
    start = time.perf_counter()
    results = [train_one(name, plan, seed) for seed in args.seeds for name in args.presets]
    wall_seconds = time.perf_counter() - start
    report = {
        "settings": settings(plan, wall_seconds),
        "dataset": Path(args.data).name,
        "args": {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, list, bool, type(None)))},
        "versions": {"analogtorch": __version__, "torch": torch.__version__, "python": platform.python_version()},
        "train_examples": len(plan.train), "test_examples": len(plan.test), "runs": results,
        "summary": summarise(results, args.presets), "wall_seconds": wall_seconds,
    }  # fmt: skip
    write_report(Path(args.out), report)
    print_table(report)
    return report


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each default; an option whose default depends on --quick says both in its help."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.help and "default:" in action.help:
            return action.help
        return super()._get_help_string(action)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    def depends(name: str) -> str:
        return f"(default: {DEFAULTS[name]}; with --quick: {QUICK[name]})"

    parser.add_argument("--quick", action="store_true",
                        help=f"a short run that still learns, a fifth of the default's training: --limit {QUICK['limit']} "
                             f"--epochs {QUICK['epochs']} unless given")  # fmt: skip
    parser.add_argument("--model", default="mlp", choices=list(MODELS),
                        help="mlp: the paper's 784-250-125-10 sigmoid network; cnn: two 5x5 convolutions "
                             "(16, 32 channels) with ReLU and 2x2 max-pooling, then Linear(512, 10)")  # fmt: skip
    parser.add_argument("--presets", nargs="+", default=DEFAULT_PRESETS, choices=list(PRESETS), metavar="PRESET",
                        help=f"what to train: digital (plain PyTorch) and analog presets, from {list(PRESETS)}")  # fmt: skip
    parser.add_argument("--epochs", type=int, metavar="N", default=None, help=f"passes over the training set {depends('epochs')}")
    parser.add_argument("--batch-size", type=int, metavar="N", default=64,
                        help="examples per update (the paper's per-example updates: 1, hours on a 2-core CPU)")  # fmt: skip
    parser.add_argument("--lr", type=float, metavar="LR", default=None, help="learning rate of every preset (default: " + ", ".join(f"{m} {lr}" for m, lr in MODEL_LR.items()) + ")")
    parser.add_argument("--seeds", type=int, metavar="SEED", nargs="+", default=[0],
                        help="one run per seed (initial weights, data order, device noise); results give mean +- std")  # fmt: skip
    parser.add_argument("--hidden", type=int, metavar="SIZE", nargs="+", default=None,
                        help=f"hidden layer sizes of --model mlp (default: {' '.join(map(str, DEFAULT_HIDDEN))})")  # fmt: skip
    parser.add_argument("--limit", type=int, metavar="N", default=None,
                        help="train on the first N training examples only (0: all); the test set is cut "
                             f"only by --test-limit {depends('limit')}")  # fmt: skip
    parser.add_argument("--test-limit", type=int, metavar="N", default=None,
                        help=f"evaluate on the first N test examples only (0: all) {depends('test_limit')}")
    parser.add_argument("--out", default="results", metavar="DIR", help="directory for results.json, results.md and the plots")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where to train and evaluate")
    parser.add_argument("--config", default=None, metavar="FILE",
                        help='JSON file of preset-field overrides, keyed by analog preset: '
                             '{"ambrogio2018": {"unit_cell": {"transfer_every": 4000}}}')  # fmt: skip
    parser.add_argument("--data", default=str(DEFAULT_FASHION_MNIST_DIR), metavar="DIR",
                        help="directory of MNIST-format idx files (Fashion-MNIST: Debian's dataset-fashion-mnist)")  # fmt: skip
    parser.add_argument("--layer-mapping", default="room", choices=LAYER_MAPPINGS,
                        help="room: ambrogio2018 lowers weight_range_fraction per layer so that a typical weight's net "
                             "movement, measured on a digital copy over 16,000 training images, is ED Fig 2's 100 pulses "
                             "(docs/physics.md 1.11); uniform: every layer's largest initial weight at the preset's fraction")  # fmt: skip
    parser.add_argument("--reads", type=int, metavar="N", default=3,
                        help="repeated evaluations (fresh read noise) per time after programming")  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")


def main(args: argparse.Namespace) -> int:
    """``python -m analogtorch compare``: checks everything, then trains and reports."""
    run(prepare(args))
    return 0

