"""The analog-vs-digital comparison: train one network digitally and with analog presets on the same
data order and seeds, report test accuracy per epoch and, after programming into PCM, over time.

``python -m analogtorch compare --help`` lists the options; the README's main command runs it.
Network: the paper's fully connected 784-250-125-10 (Ambrogio et al. 2018), sigmoid hidden units,
softmax output, on uncropped 28x28 images; mini-batch SGD (default 64 examples: per-example updates,
the paper's setting, are ``--batch-size 1`` and take hours on a 2-core CPU).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import platform
import statistics
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from . import __version__, presets
from .data import DEFAULT_FASHION_MNIST_DIR, Dataset, load_image_dataset
from .hardware import estimate, format_quantity
from .inference import analog_stats, program, set_time
from .nn import convert_to_analog
from .optim import AnalogSGD

__all__ = ["DRIFT_TIMES_S", "PRESETS", "main", "run"]

PRESETS = {
    "digital": None,
    "ambrogio2018": presets.ambrogio2018,
    "pcm_only": presets.pcm_only,
    "hardware_aware": presets.hardware_aware,
    "ideal": presets.ideal,
}
DRIFT_TIMES_S = {"1 s": 1.0, "1 min": 60.0, "1 h": 3600.0, "1 day": 86400.0, "1 month": 2.628e6, "1 year": 3.156e7}
DRIFT_PRESETS = ("hardware_aware", "ambrogio2018")


def build_network(hidden: list[int], seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    sizes = [784, *hidden, 10]
    layers: list[nn.Module] = []
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if index < len(sizes) - 2:
            layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def _apply_overrides(config: presets.AnalogConfig, overrides: dict[str, Any]) -> presets.AnalogConfig:
    """JSON overrides of preset fields; nested dataclasses by nested objects
    (e.g. {"unit_cell": {"transfer_every": 4000, "pcm": {"verify_tolerance_us": 0.25}}})."""
    changes = {}
    for name, value in overrides.items():
        if not hasattr(config, name):
            raise ValueError(f"--config: {type(config).__name__} has no field {name!r}")
        current = getattr(config, name)
        changes[name] = _apply_overrides(current, value) if isinstance(value, dict) else value
    return presets.replace(config, **changes)


@torch.no_grad()
def accuracy(model: nn.Module, data: Dataset, device: torch.device, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    for start in range(0, len(data), batch):
        x = data.images[start : start + batch].to(device)
        correct += (model(x).argmax(1).cpu() == data.labels[start : start + batch]).sum().item()
    return correct / max(len(data), 1)


def train_one(name: str, args: argparse.Namespace, seed: int, train: Dataset, test: Dataset, overrides: dict) -> dict:
    device = torch.device(args.device)
    model = build_network(args.hidden, seed).to(device)
    config = None
    if PRESETS[name] is not None:
        config = presets.replace(PRESETS[name](), seed=seed)
        config = _apply_overrides(config, overrides.get(name, {}))
        convert_to_analog(model, config)
    optimizer = AnalogSGD(model.parameters(), lr=args.lr)
    order = torch.Generator().manual_seed(seed)  # the same data order for every preset
    curve, losses = [], []
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        permutation = torch.randperm(len(train), generator=order)
        steps = range(0, len(train), args.batch_size)
        running = 0.0
        progress = tqdm(steps, desc=f"{name:>15} seed {seed} epoch {epoch}/{args.epochs}", leave=False,
                        disable=args.quiet, unit="batch")  # fmt: skip
        for count, i in enumerate(progress, 1):
            index = permutation[i : i + args.batch_size]
            x, y = train.images[index].to(device), train.labels[index].to(device)
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += loss.item()
            if count % 50 == 0:
                progress.set_postfix(loss=f"{running / count:.4f}")
        test_accuracy = accuracy(model, test, device)
        losses.append(running / max(len(steps), 1))
        curve.append(test_accuracy)
        if not args.quiet:
            print(f"{name:>15} seed {seed} epoch {epoch}: loss {losses[-1]:.4f}, test accuracy {100 * test_accuracy:.2f}%")
    result = {"preset": name, "seed": seed, "test_accuracy": curve, "train_loss": losses,
              "train_seconds": time.perf_counter() - start,
              "config": None if config is None else asdict(config)}  # fmt: skip
    if name in DRIFT_PRESETS:
        result["drift"] = drift_study(model, test, device, args.reads)
    if config is not None:
        result["hardware"] = analog_stats(model)
        result["estimate"] = estimate(model).as_dict()
    return result


def drift_study(model: nn.Module, test: Dataset, device: torch.device, reads: int) -> dict:
    """Accuracy after programming into PCM, at growing times, with and without global drift
    compensation: mean and standard deviation over ``reads`` repeated evaluations (fresh read noise)."""
    deployed = copy.deepcopy(model)
    program(deployed)
    study: dict[str, dict] = {}
    for compensation in (True, False):
        key = "compensated" if compensation else "uncompensated"
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
                for key in ("compensated", "uncompensated")
            }
    return summary


def write_report(out: Path, report: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(report, indent=2))
    lines = [f"# analogtorch compare ({report['dataset']})", "",
             f"{report['args']['epochs']} epochs, batch {report['args']['batch_size']}, lr {report['args']['lr']}, "
             f"network 784-{'-'.join(map(str, report['args']['hidden']))}-10, seeds {report['args']['seeds']}, "
             f"{report['wall_seconds']:.0f} s", "",
             "| preset | final test accuracy (mean +- std over seeds) |", "|---|---|"]  # fmt: skip
    for name, entry in report["summary"].items():
        lines.append(f"| {name} | {100 * entry['final_mean']:.2f}% +- {100 * entry['final_std']:.2f} |")
    drift_rows = [(n, e["drift"]) for n, e in report["summary"].items() if "drift" in e]
    if drift_rows:
        lines += ["", "Accuracy after programming into PCM (compensated / uncompensated):", "",
                  "| preset | " + " | ".join(DRIFT_TIMES_S) + " |", "|---|" + "---|" * len(DRIFT_TIMES_S)]  # fmt: skip
        for name, drift in drift_rows:
            cells = [f"{100 * drift['compensated'][t]:.2f} / {100 * drift['uncompensated'][t]:.2f}" for t in DRIFT_TIMES_S]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    estimates = estimate_table(report["summary"])
    if len(estimates) > 2:
        lines += ["", ESTIMATE_NOTE, "", *estimates]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    plot(out, report)


ESTIMATE_NOTE = (
    "Energy and time per example, estimated from the events the layers counted times per-event costs "
    "(analogtorch.hardware: every cost an assumption or a cited figure; an estimate, not a measurement):"
)


def estimate_table(summary: dict) -> list[str]:
    """Markdown rows: per analog preset, training (in situ only) and inference energy, time and
    efficiency, then the digital baseline doing the same arithmetic."""
    lines = ["| preset | training energy | training time | training GOP/s/W | training TOP/s/mm^2 | "
             "inference energy | inference GOP/s/W |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    estimated = [(name, entry["estimate"]) for name, entry in summary.items() if "estimate" in entry]
    if estimated:
        digital = estimated[0][1]  # the same network: the same digital arithmetic for every preset
        estimated.append(("digital baseline", {k: digital["digital_" + k] for k in ("training", "inference")}))
    for name, figures in estimated:
        training, inference = figures["training"], figures["inference"]
        cells = ["-"] * 4 if training is None else [
            format_quantity(training["energy_j"], "J"), format_quantity(training["time_s"], "s"),
            f"{training['ops_per_s_per_w'] / 1e9:,.0f}", f"{training['ops_per_s_per_mm2'] / 1e12:.3g}",
        ]  # fmt: skip
        cells += [format_quantity(inference["energy_j"], "J"), f"{inference['ops_per_s_per_w'] / 1e9:,.0f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def plot(out: Path, report: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for name in report["summary"]:
        runs = [r for r in report["runs"] if r["preset"] == name]
        epochs = range(1, len(runs[0]["test_accuracy"]) + 1)
        mean = [statistics.fmean(r["test_accuracy"][e - 1] for r in runs) * 100 for e in epochs]
        axis.plot(list(epochs), mean, marker="o", label=name)
    axis.set_xlabel("epoch")
    axis.set_ylabel("test accuracy [%]")
    axis.set_title(f"{report['dataset']}: training")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(out / "accuracy_vs_epoch.png", dpi=120)
    plt.close(figure)

    drift_runs = [r for r in report["runs"] if "drift" in r]
    if not drift_runs:
        return
    figure, axis = plt.subplots(figsize=(6, 4))
    times = list(DRIFT_TIMES_S.values())
    for name in DRIFT_PRESETS:
        runs = [r for r in drift_runs if r["preset"] == name]
        if not runs:
            continue
        for key, style in (("compensated", "-"), ("uncompensated", "--")):
            reads = [[v for r in runs for v in r["drift"][key][label]["reads"]] for label in DRIFT_TIMES_S]
            mean = [statistics.fmean(v) * 100 for v in reads]
            spread = [statistics.pstdev(v) * 100 for v in reads]
            axis.errorbar(times, mean, yerr=spread, linestyle=style, marker="o", capsize=3, label=f"{name}, {key}")
    axis.set_xscale("log")
    axis.set_xlabel("time after programming [s]")
    axis.set_ylabel("test accuracy [%]")
    axis.set_title("after programming into PCM (mean, spread over reads)")
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "accuracy_vs_time.png", dpi=120)
    plt.close(figure)


def run(args: argparse.Namespace) -> dict:
    overrides = json.loads(Path(args.config).read_text()) if args.config else {}
    unknown = set(overrides) - set(PRESETS)
    if unknown:
        raise ValueError(f"--config: keys must be preset names {sorted(PRESETS)}, got {sorted(unknown)}")
    train = load_image_dataset(args.data, "train")
    test = load_image_dataset(args.data, "test")
    if args.limit:
        train = Dataset(train.images[: args.limit], train.labels[: args.limit])
        test = Dataset(test.images[: max(args.limit // 6, 100)], test.labels[: max(args.limit // 6, 100)])
    start = time.perf_counter()
    results = [train_one(name, args, seed, train, test, overrides) for seed in args.seeds for name in args.presets]
    report = {
        "dataset": Path(args.data).name,
        "args": {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, list, bool, type(None)))},
        "versions": {"analogtorch": __version__, "torch": torch.__version__, "python": platform.python_version()},
        "train_examples": len(train), "test_examples": len(test), "runs": results,
        "summary": summarise(results, args.presets), "wall_seconds": time.perf_counter() - start,
    }  # fmt: skip
    write_report(Path(args.out), report)
    print_table(report)
    return report


def print_table(report: dict) -> None:
    print(f"\nTest accuracy after {report['args']['epochs']} epochs ({report['dataset']}, seeds {report['args']['seeds']}):")
    for name, entry in report["summary"].items():
        print(f"  {name:>15}: {100 * entry['final_mean']:6.2f}% +- {100 * entry['final_std']:.2f}")
        for key in ("compensated", "uncompensated"):
            if "drift" in entry:
                row = "  ".join(f"{t} {100 * v:5.2f}%" for t, v in entry["drift"][key].items())
                print(f"  {'':>15}  after programming, {key}: {row}")
    rows = estimate_table(report["summary"])
    if len(rows) > 2:
        print("\n" + ESTIMATE_NOTE)
        print("\n".join(rows))
    print(f"\nResults, tables and plots in {report['args']['out']}/ ({report['wall_seconds']:.0f} s).")
    print("The paper's setting: --epochs 20 --batch-size 1 --seeds 0 1 2 (hours on a 2-core CPU).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--presets", nargs="+", default=["digital", "ambrogio2018", "pcm_only", "hardware_aware"],
                        choices=list(PRESETS))  # fmt: skip
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[250, 125])
    parser.add_argument("--out", default="results")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--limit", type=int, default=0, help="use only this many training examples (quick runs)")
    parser.add_argument("--config", default=None, help='JSON file of preset-field overrides: {"ambrogio2018": {...}}')
    parser.add_argument("--data", default=str(DEFAULT_FASHION_MNIST_DIR), help="directory of MNIST-format idx files")
    parser.add_argument("--reads", type=int, default=3, help="repeated evaluations per time after programming")
    parser.add_argument("--quiet", action="store_true")


def validate(args: argparse.Namespace) -> None:
    for name in ("epochs", "batch_size", "reads"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')}: expected an integer >= 1, got {getattr(args, name)}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise ValueError(f"--lr: expected a finite number > 0, got {args.lr}")
    if args.limit < 0:
        raise ValueError(f"--limit: expected an integer >= 0, got {args.limit}")
    if any(h < 1 for h in args.hidden):
        raise ValueError(f"--hidden: expected layer sizes >= 1, got {args.hidden}")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")


def main(args: argparse.Namespace) -> int:
    validate(args)
    run(args)
    return 0
