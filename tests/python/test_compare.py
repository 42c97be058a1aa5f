"""python -m analogtorch compare on a small --limit: the files and fields it writes (settings first),
its plots, its networks and its data loader."""

import gzip
import json
import struct
import subprocess
import sys

from pathlib import Path

import numpy as np
import pytest
import torch

import analogtorch
from analogtorch.apps import compare
from analogtorch.apps.data import DEFAULT_FASHION_MNIST_DIR, load_idx, load_image_dataset

ROOT = Path(__file__).resolve().parents[2]


def write_idx(path, array):
    codes = {np.uint8: 0x08, np.int32: 0x0C}
    header = bytes([0, 0, codes[array.dtype.type], array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    with (gzip.open(path, "wb") if str(path).endswith(".gz") else open(path, "wb")) as stream:
        stream.write(data)


@pytest.fixture
def tiny_mnist(tmp_path):
    """An MNIST-format directory (plain and gzipped files) of 300 random 28x28 images."""
    rng = np.random.default_rng(0)
    for split, n, suffix in (("train", 240, ".gz"), ("t10k", 60, "")):
        write_idx(tmp_path / f"{split}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte{suffix}", rng.integers(0, 10, n, dtype=np.uint8))
    return tmp_path


def test_the_loader_reads_mnist_format_files(tiny_mnist):
    train = load_image_dataset(tiny_mnist, "train")
    test = load_image_dataset(tiny_mnist, "test")
    assert train.images.shape == (240, 784) and test.images.shape == (60, 784)
    assert train.images.dtype == torch.float32 and 0.0 <= train.images.min() and train.images.max() <= 1.0
    assert train.labels.dtype == torch.int64 and int(train.labels.max()) <= 9
    assert load_idx(tiny_mnist / "t10k-labels-idx1-ubyte").shape == (60,)
    images = load_image_dataset(tiny_mnist, "test", flat=False).images
    assert images.shape == (60, 1, 28, 28) and torch.equal(images.reshape(60, 784), test.images)
    assert len(train.head(100)) == 100 and train.head(0) is train and train.head(10_000) is train


@pytest.mark.skipif(not DEFAULT_FASHION_MNIST_DIR.exists(), reason="needs Debian's dataset-fashion-mnist")
def test_fashion_mnist_from_the_debian_package():
    test = load_image_dataset(split="test")
    assert test.images.shape == (10_000, 784) and sorted(test.labels.unique().tolist()) == list(range(10))


def test_compare_writes_results_tables_and_plots(tiny_mnist, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "analogtorch", "compare", "--data", str(tiny_mnist), "--limit", "96",
               "--epochs", "2", "--batch-size", "32", "--hidden", "16", "8", "--reads", "2", "--quiet",
               "--out", str(out)]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Test accuracy after 2 epochs" in completed.stdout
    assert completed.stdout.strip().splitlines()[-1] == f"The full setting: {compare.FULL_SETTING}"
    for name in ("results.json", "results.md", "accuracy_vs_epoch.png", "accuracy_vs_time.png"):
        assert (out / name).stat().st_size > 0, name
    report = json.loads((out / "results.json").read_text())
    assert set(report["summary"]) == {"digital", "ambrogio2018", "pcm_only", "hardware_aware"}
    assert report["versions"]["torch"] == torch.__version__ and report["wall_seconds"] > 0
    runs = {run["preset"]: run for run in report["runs"]}
    for run in runs.values():
        assert len(run["test_accuracy"]) == 2 and all(0.0 <= a <= 1.0 for a in run["test_accuracy"])
    assert runs["digital"]["config"] is None and runs["ambrogio2018"]["config_kind"] == "UnitCellConfig"
    assert runs["ambrogio2018"]["config"]["unit_cell"]["transfer_every"] > 0
    drift = runs["ambrogio2018"]["drift"]
    assert set(drift) == {"compensated", "column-compensated", "uncompensated"} and len(drift["compensated"]["1 year"]["reads"]) == 2
    assert runs["ambrogio2018"]["hardware"]["0"]["examples"] == 2 * 96
    assert "estimate" in runs["ambrogio2018"] and "| ambrogio2018 |" in (out / "results.md").read_text()

    # --limit cuts the training set only; every setting is recorded.
    settings = report["settings"]
    assert (settings["train_examples"], settings["train_examples_available"]) == (96, 240)
    assert (settings["test_examples"], settings["test_examples_available"], settings["test_limit"]) == (60, 60, 0)
    expected = {"epochs": 2, "batch_size": 32, "lr": 0.5, "train_limit": 96, "seeds": [0], "hidden": [16, 8],
                "model": "mlp", "device": "cpu", "quick": False, "reads": 2,
                "presets": ["digital", "ambrogio2018", "pcm_only", "hardware_aware"]}  # fmt: skip
    assert {key: settings[key] for key in expected} == expected
    assert settings["versions"]["analogtorch"] == analogtorch.__version__ and settings["wall_seconds"] > 0
    assert "--limit 96" in settings["command"] and "--test-limit 0" in settings["command"]


def test_results_md_lists_the_settings_first(tiny_mnist, tmp_path, capsys):
    from analogtorch.__main__ import main

    out = tmp_path / "out"
    argv = ["compare", "--data", str(tiny_mnist), "--out", str(out), "--presets", "digital", "--epochs", "2",
            "--batch-size", "16", "--lr", "0.25", "--seeds", "3", "4", "--hidden", "12", "--limit", "100",
            "--test-limit", "30", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    text = (out / "results.md").read_text()
    settings_part = text.split("Test accuracy per epoch")[0]
    for line in ("| epochs | 2 |", "| batch size | 16 |", "| learning rate | 0.25 ", "| seeds | 3 4 |",
                 "| hidden sizes | 12 |", "| presets | digital |", "| model | mlp: 784-12-10",
                 "| training set | first 100 of 240 examples (--limit 100) |",
                 "| test set | first 30 of 60 examples (--test-limit 30) |", "| device | cpu (",
                 f"torch {torch.__version__}", f"analogtorch {analogtorch.__version__}", "| wall time | ",
                 "| preset overrides (--config) | none |", "--seeds 3 4", "Not the full data"):  # fmt: skip
        assert line in settings_part, line
    assert "| digital | " in text.split("Test accuracy per epoch")[1]
    assert "training set: first 100 of 240 examples" in printed and "Not the full data" in printed
    report = json.loads((out / "results.json").read_text())
    assert len(report["runs"]) == 2 and report["settings"]["test_examples"] == 30


def test_compare_reports_pulses_per_weight_beside_ed_fig_2(tiny_mnist, tmp_path, capsys):
    from analogtorch.__main__ import main

    out = tmp_path / "out"
    argv = ["compare", "--data", str(tiny_mnist), "--out", str(out), "--presets", "digital", "ambrogio2018", "pcm_only",
            "--limit", "48", "--epochs", "1", "--batch-size", "4", "--hidden", "8", "--reads", "1", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "results.json").read_text())
    runs = {run["preset"]: run for run in report["runs"]}
    assert "pulses" not in runs["digital"] and "pulses" not in report["summary"]["digital"]
    for name in ("ambrogio2018", "pcm_only"):
        layers = runs[name]["pulses"]
        assert set(layers) == {"0", "2"} and layers["0"]["weights"] == 8 * 784 and layers["2"]["weights"] == 80
        entry = layers["0"]
        assert entry["examples"] == 48 == runs[name]["hardware"]["0"]["examples"] and entry["updates"] == 12
        assert entry["scale"] == 16_000 / 48 and entry["total"]["p50"] == pytest.approx(entry["total_raw"]["p50"] * 16_000 / 48)
        assert entry["total"]["p10"] <= entry["total"]["p50"] <= entry["total"]["p90"]
        assert report["summary"][name]["pulses"]["0"]["total"] == pytest.approx(entry["total"])  # one seed
    assert runs["pcm_only"]["pulses"]["0"]["rail_sampled_at"] == "updates"
    text = (out / "results.md").read_text()
    for shown in (text, printed):
        assert "Pulses per weight of the in-situ presets" in shown
        assert "| preset | layer | weights | examples trained on | pulses in all: p10 / median / p90 |" in shown
        assert "| ambrogio2018 | 0 | 6,272 | 48 | " in shown and "| pcm_only | 2 | 80 | 48 | " in shown
        assert "| ED Fig 2: 2PCM + 3T1C | a typical weight | - | 16,000 MNIST images, one update each | ~1,000 (median) | ~100 (median) | - |" in shown
        assert "| ED Fig 2: 2PCM only | a typical weight |" in shown and "Mini-batches of 4" in shown
    # The accuracies are all still there.
    assert "| ambrogio2018 | " in text.split("Pulses per weight")[0] and "Test accuracy after 1 epochs" in printed


@pytest.mark.parametrize("mapping", ["room", "uniform"])
def test_layer_mapping_maps_each_unit_cell_layer_and_says_so(mapping, tiny_mnist, tmp_path):
    from analogtorch.__main__ import main

    out = tmp_path / "out"
    argv = ["compare", "--data", str(tiny_mnist), "--out", str(out), "--presets", "digital", "ambrogio2018", "pcm_only",
            "--limit", "48", "--epochs", "1", "--batch-size", "4", "--hidden", "8", "--reads", "1", "--quiet"]  # fmt: skip
    assert main(argv + ([] if mapping == "room" else ["--layer-mapping", "uniform"])) == 0  # room: the default
    report = json.loads((out / "results.json").read_text())
    runs = {run["preset"]: run for run in report["runs"]}
    assert runs["digital"]["layer_fractions"] is None and runs["pcm_only"]["layer_fractions"] is None
    assert report["settings"]["layer_mapping"] == mapping and f"--layer-mapping {mapping}" in report["settings"]["command"]
    text = (out / "results.md").read_text()
    assert f"| weight mapping (--layer-mapping) | {mapping}: " in text
    fractions = runs["ambrogio2018"]["layer_fractions"]
    if mapping == "uniform":
        assert fractions is None and "weight_range_fraction per layer" not in text
    else:
        assert set(fractions) == {"0", "2"} and all(0 < value <= 0.5 for value in fractions.values())
        assert "ambrogio2018 seed 0: weight_range_fraction per layer 0: " in text


def test_the_plots_show_integer_epochs_a_digital_line_and_a_labelled_band(monkeypatch, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analogtorch.apps import report as report_module

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    drift = {key: {label: {"mean": 0.8 - 0.01 * i, "reads": [0.79 - 0.01 * i, 0.81 - 0.01 * i]}
                   for i, label in enumerate(compare.DRIFT_TIMES_S)} for key in ("compensated", "column-compensated", "uncompensated")}  # fmt: skip
    runs = [{"preset": "digital", "seed": s, "test_accuracy": [0.5, 0.7, 0.84 + 0.01 * s]} for s in (0, 1)]
    runs += [{"preset": "ambrogio2018", "seed": s, "test_accuracy": [0.4, 0.6, 0.8], "drift": drift} for s in (0, 1)]
    summary = compare.summarise(runs, ["digital", "ambrogio2018"])
    report_module.plot(tmp_path, {"dataset": "tiny", "runs": runs, "summary": summary})
    epochs, times = figures
    ticks = [tick for tick in epochs.axes[0].get_xticks() if 1 <= tick <= 3]
    assert ticks and all(float(tick).is_integer() for tick in ticks)
    labels = [text.get_text() for text in times.axes[0].get_legend().get_texts()]
    assert "digital, final test accuracy (84.5%)" in labels
    assert "ambrogio2018, compensated: min-max over 2 seeds" in labels
    reference = [line for line in times.axes[0].get_lines() if line.get_label().startswith("digital")]
    assert reference and list(reference[0].get_ydata()) == pytest.approx([84.5, 84.5])
    monkeypatch.undo()
    for figure in figures:
        plt.close(figure)


def test_the_full_setting_is_named_alike_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    assert f"the full setting is `{compare.FULL_SETTING}`" in " ".join(readme.split())


def test_the_networks(monkeypatch):
    mlp = compare.build_network("mlp", None, 0)
    assert [m.out_features for m in mlp if isinstance(m, torch.nn.Linear)] == [250, 125, 10]
    assert mlp(torch.zeros(2, 784)).shape == (2, 10)
    cnn = compare.build_network("cnn", None, 0)
    assert [type(m).__name__ for m in cnn] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d",
                                               "Flatten", "Linear"]  # fmt: skip
    assert cnn(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_a_digital_cnn_trains_on_images(tiny_mnist, tmp_path, capsys):
    from analogtorch.__main__ import main

    out = tmp_path / "out"
    argv = ["compare", "--model", "cnn", "--presets", "digital", "--data", str(tiny_mnist), "--out", str(out),
            "--epochs", "1", "--lr", "0.05", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    report = json.loads((out / "results.json").read_text())
    assert report["settings"]["model"] == "cnn" and report["settings"]["hidden"] is None
    assert "Conv2d(1,16,5)" in (out / "results.md").read_text()


def test_a_diverged_run_stops_loudly_and_writes_nothing(tiny_mnist, tmp_path):
    # A learning rate far too large (1e30) makes the digital CNN's loss NaN: the run must stop naming the
    # cause, not report chance accuracy as a result, and leave no results behind.
    from analogtorch.__main__ import main

    out = tmp_path / "out"
    argv = ["compare", "--model", "cnn", "--presets", "digital", "--data", str(tiny_mnist), "--out", str(out),
            "--epochs", "2", "--batch-size", "16", "--lr", "1e30", "--quiet"]  # fmt: skip
    # Whichever comes first stops it: a non-finite loss (compare) or gradient (AnalogSGD).
    with pytest.raises((RuntimeError, ValueError), match=r"training diverged \(loss (nan|inf) at epoch 1|gradient of \d+ parameter\(s\).* holds NaN or Inf"):
        main(argv)
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.skipif(not hasattr(analogtorch, "AnalogConv2d"), reason="needs AnalogConv2d (convert_to_analog of Conv2d)")
def test_an_analog_cnn_runs(tiny_mnist, tmp_path, capsys):
    from analogtorch.__main__ import main

    out = tmp_path / "out"
    argv = ["compare", "--model", "cnn", "--presets", "digital", "ambrogio2018", "hardware_aware",
            "--data", str(tiny_mnist), "--out", str(out), "--limit", "32", "--test-limit", "20", "--epochs", "1",
            "--batch-size", "16", "--lr", "0.05", "--reads", "1", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    report = json.loads((out / "results.json").read_text())
    runs = {run["preset"]: run for run in report["runs"]}
    assert set(runs) == {"digital", "ambrogio2018", "hardware_aware"}
    assert "drift" in runs["ambrogio2018"] and "estimate" in runs["hardware_aware"]
    assert (out / "accuracy_vs_time.png").stat().st_size > 0


def test_the_drop_in_example_runs():
    example = ROOT / "examples" / "drop_in.py"
    completed = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "1 year after programming" in completed.stdout
