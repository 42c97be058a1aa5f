"""The comparison's report: ``results.json``, ``results.md`` (settings first, then the tables), the
printed table and the plots."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from ..hardware import format_quantity
from .compare import DRIFT_COMPENSATIONS, DRIFT_PRESETS, DRIFT_TIMES_S, ED_FIG_2, FULL_SETTING, QUICK

__all__ = ["ESTIMATE_NOTE", "PULSE_NOTE", "estimate_table", "plot", "plot_sweep", "print_sweep", "print_table",
           "pulse_notes", "pulse_table", "settings_rows", "sweep_tables", "write_report", "write_sweep"]  # fmt: skip

ESTIMATE_NOTE = (
    "Energy and time per example, estimated from the events the layers counted times per-event costs "
    "(analogtorch.hardware: every cost an assumption or a cited figure; an estimate, not a measurement):"
)


PULSE_NOTE = (
    "Pulses per weight of the in-situ presets, per layer, scaled to 16,000 training images (percentiles over the "
    "layer's weights, mean over seeds; docs/physics.md 1.12), with ED Fig 2's typical weight as the reference:"
)


def _subset(used: int, available: int, limit: int, option: str) -> str:
    if used < available:
        return f"first {used:,} of {available:,} examples ({option} {limit})"
    return f"all {available:,} examples"


def settings_rows(settings: dict) -> list[tuple[str, str]]:
    """(setting, value) pairs, in the order a reader checks them."""
    versions = settings["versions"]
    overrides = json.dumps(settings["config_overrides"]) if settings["config_overrides"] else "none"
    return [
        ("command", f"`{settings['command']}`" + (" (`--quick`)" if settings["quick"] else "")),
        ("model", f"{settings['model']}: {settings['network']}"),
        ("hidden sizes", "-" if settings["hidden"] is None else " ".join(map(str, settings["hidden"]))),
        ("presets", ", ".join(settings["presets"])),
        ("epochs", str(settings["epochs"])),
        ("batch size", str(settings["batch_size"])),
        ("learning rate", f"{settings['lr']:g} ({settings['optimizer']})"),
        ("training set", _subset(settings["train_examples"], settings["train_examples_available"],
                                 settings["train_limit"], "--limit")),  # fmt: skip
        ("test set", _subset(settings["test_examples"], settings["test_examples_available"],
                             settings["test_limit"], "--test-limit")),  # fmt: skip
        ("data", settings["data"]),
        ("seeds", " ".join(map(str, settings["seeds"]))),
        ("reads per time after programming", str(settings["reads"])),
        ("weight mapping (--layer-mapping)", {"uniform": "uniform: every layer's largest initial weight at the preset's fraction",
                                              "room": "room: ambrogio2018's fraction per layer from a digital copy's net movement (docs/physics.md 1.11)"}[settings.get("layer_mapping", "uniform")]),
        ("preset overrides (--config)", overrides + (f" from {settings['config_file']}" if settings["config_file"] else "")),
        ("device", f"{settings['device']} ({settings['device_name']}; {settings['torch_threads']} CPU threads)"),
        ("versions", f"analogtorch {versions['analogtorch']}, torch {versions['torch']}, Python {versions['python']}"),
        ("wall time", f"{settings['wall_seconds']:.0f} s"),
    ]


def _cut_warning(settings: dict) -> str | None:
    cut = [
        f"{name} set cut to {used:,} of {available:,} examples"
        for name, used, available in (
            ("training", settings["train_examples"], settings["train_examples_available"]),
            ("test", settings["test_examples"], settings["test_examples_available"]),
        )
        if used < available
    ]
    if not cut:
        return None
    return f"Not the full data: {', '.join(cut)}; accuracies are lower than a full run's and not comparable with it."


def write_report(out: Path, report: dict) -> None:
    """Writes results.json, results.md and the plots into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(report, indent=2))
    settings = report["settings"]
    lines = [f"# analogtorch compare ({report['dataset']})", "", "Settings that shaped these numbers:", "",
             "| setting | value |", "|---|---|"]  # fmt: skip
    lines += [f"| {name} | {value} |" for name, value in settings_rows(settings)]
    warning = _cut_warning(settings)
    if warning:
        lines += ["", f"**{warning}**"]
    lines += ["", "Test accuracy per epoch (mean over seeds):", "",
              "| preset | " + " | ".join(f"epoch {e}" for e in range(1, settings["epochs"] + 1)) + " |",
              "|---|" + "---|" * settings["epochs"]]  # fmt: skip
    for name in report["summary"]:
        lines.append(f"| {name} | " + " | ".join(f"{100 * a:.2f}" for a in _epoch_means(report, name)) + " |")
    lines += ["", "| preset | final test accuracy (mean +- std over seeds) |", "|---|---|"]
    for name, entry in report["summary"].items():
        lines.append(f"| {name} | {100 * entry['final_mean']:.2f}% +- {100 * entry['final_std']:.2f} |")
    drift_rows = [(n, e["drift"]) for n, e in report["summary"].items() if "drift" in e]
    if drift_rows:
        lines += ["", "Accuracy after programming into PCM (drift compensation per array / per column / none):", "",
                  "| preset | " + " | ".join(DRIFT_TIMES_S) + " |", "|---|" + "---|" * len(DRIFT_TIMES_S)]  # fmt: skip
        for name, drift in drift_rows:
            cells = [" / ".join(f"{100 * drift[key][t]:.2f}" for key in DRIFT_COMPENSATIONS) for t in DRIFT_TIMES_S]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    pulses = pulse_table(report["summary"])
    if pulses:
        lines += ["", PULSE_NOTE, "", *pulses, "", *(f"- {note}" for note in pulse_notes(report))]
    estimates = estimate_table(report["summary"])
    if len(estimates) > 2:
        lines += ["", ESTIMATE_NOTE, "", *estimates]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    plot(out, report)


def _epoch_means(report: dict, name: str) -> list[float]:
    runs = [r for r in report["runs"] if r["preset"] == name]
    return [statistics.fmean(values) for values in zip(*(r["test_accuracy"] for r in runs))]


def _pulses(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _spread(percentiles: dict | None) -> str:
    if percentiles is None:
        return "- (no update)"
    return " / ".join(_pulses(percentiles[key]) for key in ("p10", "p50", "p90"))


def _rail(entry: dict) -> str:
    share, samples, at = entry["rail_share"], entry["rail_samples"], entry["rail_sampled_at"]
    if share is None:
        return f"- (no {at[:-1]})"
    if at == "transfers":
        return f"{100 * share:.2f}% at {samples} transfer{'s' if samples != 1 else ''}"
    return f"{100 * share:.3g}% refreshed per update ({samples} updates)"


def pulse_table(summary: dict) -> list[str]:
    """Markdown rows: per in-situ preset and layer, the pulses per weight in all and |net| (p10 /
    median / p90, scaled to 16,000 images) and the mean share of cells at a rail, then ED Fig 2's
    figures for the presets that ran. No rows when no preset recorded pulses."""
    recorded = [(name, entry["pulses"]) for name, entry in summary.items() if entry.get("pulses")]
    if not recorded:
        return []
    lines = ["| preset | layer | weights | examples trained on | pulses in all: p10 / median / p90 | "
             "abs(net): p10 / median / p90 | at a rail (mean share) |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, layers in recorded:
        for layer, entry in layers.items():
            lines.append(f"| {name} | {layer} | {entry['weights']:,} | {entry['examples']:,} | {_spread(entry['total'])} | "
                         f"{_spread(entry['net_abs'])} | {_rail(entry)} |")  # fmt: skip
    for name, _ in recorded:
        if name in ED_FIG_2:
            figure = ED_FIG_2[name]
            lines.append(f"| ED Fig 2: {figure['what']} | a typical weight | - | 16,000 MNIST images, one update each | "
                         f"~{figure['total']:,} (median) | ~{figure['net_abs']:,} (median) | - |")  # fmt: skip
    return lines


def pulse_notes(report: dict) -> list[str]:
    """What the pulse table's numbers are, and where they cannot be compared with ED Fig 2."""
    settings = report["settings"]
    notes = ["Scaled linearly from each layer's examples to 16,000 images: exact for a steady pulse rate; a net "
             "that wanders as a random walk grows as the square root, so its scaled figure overstates it."]  # fmt: skip
    if settings["batch_size"] > 1:
        notes.append(f"Mini-batches of {settings['batch_size']}: one update (one burst of pulses) per "
                     f"{settings['batch_size']} examples, where ED Fig 2 counts per-example updates (--batch-size 1, "
                     "lr 0.005: docs/physics.md 1.11); fewer pulses per image are expected.")  # fmt: skip
    if settings["model"] != "mlp":
        notes.append("A convolution's examples are the input vectors (patches) its tiles read, not images.")
    for run in report["runs"]:
        if run.get("layer_fractions"):
            fractions = ", ".join(f"{name}: {value:.3g}" for name, value in run["layer_fractions"].items())
            notes.append(f"{run['preset']} seed {run['seed']}: weight_range_fraction per layer {fractions} (--layer-mapping room).")
    notes.append("At a rail: ambrogio2018, cells whose V_C is within rail_margin_v of a rail (or at V_T, where g "
                 "cannot fall further), just before each transfer; pcm_only, pairs with a device past the refresh "
                 "threshold, which the update then refreshed, per update.")  # fmt: skip
    return notes


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


def _drift_band(runs: list[dict], key: str) -> tuple[list[float], list[float], list[float], str]:
    """Mean accuracy per time, and the band around it: min-max over seeds (each seed's mean over
    reads) when there are several seeds, otherwise min-max over the repeated reads."""
    if len(runs) > 1:
        per_time = [[r["drift"][key][label]["mean"] for r in runs] for label in DRIFT_TIMES_S]
        what = f"min-max over {len(runs)} seeds"
    else:
        per_time = [runs[0]["drift"][key][label]["reads"] for label in DRIFT_TIMES_S]
        what = f"min-max over {len(per_time[0])} reads"
    mean = [100 * statistics.fmean(values) for values in per_time]
    return mean, [100 * min(v) for v in per_time], [100 * max(v) for v in per_time], what


def plot(out: Path, report: dict) -> None:
    """accuracy_vs_epoch.png (integer epochs) and, when a drift preset ran, accuracy_vs_time.png
    (mean with its band, and the digital model's final test accuracy as the reference line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, axis = plt.subplots(figsize=(6, 4))
    for name in report["summary"]:
        means = _epoch_means(report, name)
        axis.plot(range(1, len(means) + 1), [100 * m for m in means], marker="o", label=name)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("epoch")
    axis.set_ylabel("test accuracy [%]")
    axis.set_title(f"{report['dataset']}: training (mean over seeds)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(out / "accuracy_vs_epoch.png", dpi=120)
    plt.close(figure)

    drift_runs = [r for r in report["runs"] if "drift" in r]
    if not drift_runs:
        return
    figure, axis = plt.subplots(figsize=(9.5, 4.5))
    times = list(DRIFT_TIMES_S.values())
    if "digital" in report["summary"]:
        reference = 100 * report["summary"]["digital"]["final_mean"]
        axis.axhline(reference, color="black", linewidth=1, linestyle=":",
                     label=f"digital, final test accuracy ({reference:.1f}%)")  # fmt: skip
    for name in DRIFT_PRESETS:
        runs = [r for r in drift_runs if r["preset"] == name]
        if not runs:
            continue
        for key, style in zip(DRIFT_COMPENSATIONS, ("-", "-.", "--")):
            mean, low, high, what = _drift_band(runs, key)
            (line,) = axis.plot(times, mean, linestyle=style, marker="o", label=f"{name}, {key} (mean)")
            axis.fill_between(times, low, high, color=line.get_color(), alpha=0.2, label=f"{name}, {key}: {what}")
    axis.set_xscale("log")
    axis.set_xlabel("time after programming [s]")
    axis.set_ylabel("test accuracy [%]")
    axis.set_title("after programming into PCM")
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the curves, not on them
    figure.tight_layout()
    figure.savefig(out / "accuracy_vs_time.png", dpi=120)
    plt.close(figure)


def print_table(report: dict) -> None:
    """The summary on standard output: settings, accuracies, drift, the energy estimate, where the
    files are and the full setting."""
    settings = report["settings"]
    print(f"\nSettings ({report['dataset']}):")
    for name, value in settings_rows(settings):
        print(f"  {name:>32}: {value.replace('`', '')}")
    warning = _cut_warning(settings)
    if warning:
        print(warning)
    print(f"\nTest accuracy after {settings['epochs']} epochs ({report['dataset']}, seeds {settings['seeds']}):")
    for name, entry in report["summary"].items():
        print(f"  {name:>15}: {100 * entry['final_mean']:6.2f}% +- {100 * entry['final_std']:.2f}")
        for key in DRIFT_COMPENSATIONS:
            if "drift" in entry:
                row = "  ".join(f"{t} {100 * v:5.2f}%" for t, v in entry["drift"][key].items())
                print(f"  {'':>15}  after programming, {key}: {row}")
    pulses = pulse_table(report["summary"])
    if pulses:
        print("\n" + PULSE_NOTE)
        print("\n".join(pulses))
        print("\n".join(f"  {note}" for note in pulse_notes(report)))
    rows = estimate_table(report["summary"])
    if len(rows) > 2:
        print("\n" + ESTIMATE_NOTE)
        print("\n".join(rows))
    print(f"\nResults, tables and plots in {report['args']['out']}/ ({report['wall_seconds']:.0f} s).")
    if settings["quick"]:
        print(f"That was the quick setting (--limit {QUICK['limit']}): the default trains on all the data.")
    print(f"The full setting: {FULL_SETTING}")


# ---------------------------------------------------------------------------------------------
# The sweep's report (python -m analogtorch sweep)
# ---------------------------------------------------------------------------------------------


def _gap(results: dict, key: str) -> float:
    """Digital's final test accuracy minus the point's, in percentage points (> 0: below digital)."""
    return 100 * (results["points"]["digital"]["final"] - results["points"][key]["final"])


def _rail_share(pulses: dict) -> float | None:
    """The share of all cells at a rail at transfers, the layers weighted by their weights."""
    entries = [entry for entry in pulses.values() if entry["rail_share"] is not None]
    weights = sum(entry["weights"] for entry in entries)
    return sum(entry["rail_share"] * entry["weights"] for entry in entries) / weights if weights else None


def sweep_tables(results: dict) -> list[str]:
    """Markdown: the digital and default accuracies, then one table per axis: each value's test
    accuracy, gap to digital, median pulses per weight of the first layer (per 16,000 images) and
    the share of cells at a rail at transfers."""
    from .sweep import AXES, _format_value, point_key

    points = results["points"]
    digital, defaults = points["digital"]["final"], points["defaults"]["final"]
    lines = [f"Digital: {100 * digital:.2f}%; ambrogio2018 at its defaults: {100 * defaults:.2f}% "
             f"(gap {_gap(results, 'defaults'):+.2f} percentage points).", ""]  # fmt: skip
    for name, entry in results["axes"].items():
        axis = AXES[name]
        unit = f" [{axis.unit}]" if axis.unit else ""
        derived = [axis.derived[0]] if axis.derived else []
        header = [f"{name}{unit}", *derived, "test accuracy", "gap to digital [pp]",
                  "median pulses per weight, first layer (per 16,000 images)", "cells at a rail at transfers"]  # fmt: skip
        lines += [f"{name}: {axis.description} (field {axis.field}).", "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]  # fmt: skip
        for value in entry["values"]:
            key = point_key(axis, value)
            point = points[key]
            pulses = point.get("pulses") or {}
            first = next(iter(pulses.values()), None)
            median = "-" if first is None or first["total"] is None else f"{first['total']['p50']:,.0f}"
            share = _rail_share(pulses) if pulses else None
            cells = [_format_value(axis, value) + (" (default)" if key == "defaults" else "")]
            cells += [axis.derived[1](value)] if axis.derived else []
            cells += [f"{100 * point['final']:.2f}%", f"{_gap(results, key):+.2f}", median,
                      "- (no transfer)" if share is None else f"{100 * share:.2f}%"]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def write_sweep(out: Path, results: dict) -> None:
    """sweep.md (settings, then a table per axis) and gap_<axis>.png per axis."""
    settings = results["settings"]
    lines = [f"# analogtorch sweep ({results['dataset']})", "", "Settings that shaped these numbers:", "",
             "| setting | value |", "|---|---|",
             f"| command | `{settings['command']}` |", f"| network | {settings['network']} |",
             f"| epochs | {settings['epochs']} |", f"| batch size | {settings['batch_size']} |",
             f"| learning rate | {settings['lr']:g} ({settings['optimizer']}) |", f"| seed | {settings['seed']} |",
             f"| training set | {_subset(settings['train_examples'], settings['train_examples_available'], settings['train_limit'], '--limit')} |",
             f"| test set | {_subset(settings['test_examples'], settings['test_examples_available'], settings['test_limit'], '--test-limit')} |",
             f"| data | {settings['data']} |", f"| device | {settings['device']} |",
             f"| versions | analogtorch {settings['versions']['analogtorch']}, torch {settings['versions']['torch']}, "
             f"Python {settings['versions']['python']} |",
             "", f"The sweep is {results['sweep']}. It shows how far each parameter may move before accuracy is lost, "
             "not how parameters interact. Gap: digital's final test accuracy minus the point's, in percentage "
             "points (positive: below digital); one seed, so differences of about 100 / sqrt(test examples) points "
             "are noise.", ""]  # fmt: skip
    lines += sweep_tables(results)
    lines += ["Plots: " + ", ".join(f"gap_{name}.png" for name in results["axes"]) + "."]
    (out / "sweep.md").write_text("\n".join(lines) + "\n")
    plot_sweep(out, results)


def plot_sweep(out: Path, results: dict) -> None:
    """gap_<axis>.png: the accuracy gap to digital against each axis's values, the default marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .sweep import AXES, point_key

    for name, entry in results["axes"].items():
        axis = AXES[name]
        values = entry["values"]
        gaps = [_gap(results, point_key(axis, value)) for value in values]
        figure, plot_axis = plt.subplots(figsize=(6, 4))
        plot_axis.plot(values, gaps, marker="o", label="ambrogio2018")
        plot_axis.axhline(0.0, color="black", linewidth=1, linestyle=":", label="digital")
        plot_axis.axvline(axis.default, color="grey", linewidth=1, linestyle="--", label="default")
        if axis.log and min(values) > 0:
            plot_axis.set_xscale("log")
        plot_axis.set_xlabel(f"{name}" + (f" [{axis.unit}]" if axis.unit else ""))
        plot_axis.set_ylabel("accuracy gap to digital [percentage points]")
        plot_axis.set_title(axis.description, fontsize=8)
        plot_axis.grid(alpha=0.3, which="both")
        plot_axis.legend(fontsize=8)
        figure.tight_layout()
        figure.savefig(out / f"gap_{name}.png", dpi=120)
        plt.close(figure)


def print_sweep(results: dict, out: Path) -> None:
    """The tables on standard output, what this run trained, and where the files are."""
    settings = results["settings"]
    print(f"\nSweep ({results['dataset']}): {results['sweep']}.")
    print(f"  {settings['command']}")
    print("\n".join(sweep_tables(results)))
    trained, resumed = results["trained_this_run"], results["resumed_this_run"]
    print(f"Trained {len(trained)} point(s) in this run ({results['wall_seconds_this_run']:.0f} s); "
          f"{len(resumed)} resumed from {out / 'sweep.json'}.")  # fmt: skip
    print(f"Results, tables and plots in {out}/.")
