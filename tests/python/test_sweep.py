"""python -m analogtorch sweep on a tiny grid: the files it writes, resuming without retraining, a
point saved as soon as it is trained, refusals before any training; presets take nested fields."""

import json

import numpy as np
import pytest

from analogtorch import presets
from analogtorch.__main__ import main
from analogtorch.apps import sweep
from test_compare import write_idx

GRID = ["--axes", "gain_f", "transfer_every", "--values", "gain_f=2,4", "transfer_every=40,80"]
POINTS = {"digital", "defaults", "gain_f=2", "gain_f=4", "transfer_every=40", "transfer_every=80"}


@pytest.fixture
def tiny_mnist(tmp_path):
    """An MNIST-format directory of 300 + 60 random 28x28 images."""
    directory = tmp_path / "data"
    directory.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 300), ("t10k", 60)):
        write_idx(directory / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(directory / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n, dtype=np.uint8))
    return directory


def argv(data, out, *extra):
    return ["sweep", "--data", str(data), "--out", str(out), "--limit", "200", "--epochs", "1", "--batch-size", "8",
            "--lr", "0.2", "--hidden", "16", "8", "--quiet", *GRID, *extra]  # fmt: skip


def counting(monkeypatch):
    """Counts the points trained (the real training still runs)."""
    calls = []
    train = sweep.train_point

    def wrapper(config, plan, label):
        calls.append(label)
        return train(config, plan, label)

    monkeypatch.setattr(sweep, "train_point", wrapper)
    return calls


def test_a_tiny_sweep_writes_its_files_and_resumes_without_retraining(tiny_mnist, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    calls = counting(monkeypatch)
    assert main(argv(tiny_mnist, out)) == 0
    assert sorted(calls) == sorted(POINTS)
    printed = capsys.readouterr().out
    for name in ("sweep.json", "sweep.md", "gap_gain_f.png", "gap_transfer_every.png"):
        assert (out / name).stat().st_size > 0, name
    results = json.loads((out / "sweep.json").read_text())
    assert set(results["points"]) == POINTS and "one-at-a-time" in results["sweep"]
    assert results["axes"]["gain_f"]["values"] == [2.0, 3.0, 4.0]  # the default is the shared centre
    assert results["axes"]["transfer_every"]["values"] == [40, 80, 8000]
    point = results["points"]["transfer_every=40"]
    assert point["fields"] == {"transfer_every": 40} and len(point["test_accuracy"]) == 1
    assert point["pulses"]["0"]["rail_samples"] == 5  # 200 examples, a transfer every 40
    assert "pulses" not in results["points"]["digital"] and results["settings"]["train_examples"] == 200
    text = (out / "sweep.md").read_text()
    for shown in (text, printed):
        assert "| gain_f | test accuracy | gap to digital [pp] |" in shown and "| 3 (default) | " in shown
        assert "| transfer_every [examples] |" in shown and "| 80 | " in shown
    assert "Trained 6 point(s) in this run" in printed

    # The same command again trains nothing and writes the same tables.
    calls.clear()
    assert main(argv(tiny_mnist, out)) == 0
    assert calls == [] and "Trained 0 point(s) in this run" in capsys.readouterr().out
    assert (out / "sweep.md").read_text() == text

    # A point missing from the file (a sweep stopped there) is the only one trained.
    results["points"].pop("gain_f=4")
    (out / "sweep.json").write_text(json.dumps(results))
    assert main(argv(tiny_mnist, out)) == 0
    assert calls == ["gain_f=4"]


def test_each_point_is_saved_as_soon_as_it_is_trained(tiny_mnist, tmp_path, monkeypatch):
    out = tmp_path / "out"
    done = []

    def train_point(config, plan, label):
        if len(done) == 2:
            raise KeyboardInterrupt
        done.append(label)
        return {"test_accuracy": [0.5], "train_loss": [1.0], "final": 0.5, "train_seconds": 0.0}

    monkeypatch.setattr(sweep, "train_point", train_point)
    with pytest.raises(KeyboardInterrupt):
        main(argv(tiny_mnist, out))
    assert set(json.loads((out / "sweep.json").read_text())["points"]) == set(done) == {"digital", "defaults"}


@pytest.mark.parametrize("extra, expected", [
    (["--values", "gain_f=0"], "--values gain_f=0: gain_f: expected a finite number > 0, got 0.0"),
    (["--values", "tau_s=1"], "--values tau_s=1: tau_s is not among the swept axes ['gain_f', 'transfer_every']"),
    (["--values", "gain_f"], "--values: expected AXIS=V1,V2,..."),
    (["--axes", "volts"], "--axes: expected axes from ['range_pulses', "),
    (["--values", "transfer_every=0.5"], "--values transfer_every=0.5: transfer_every takes integers >= 1"),
    (["--epochs", "0"], "--epochs: expected an integer >= 1, got 0"),
    (["--lr", "nan"], "--lr: expected a finite number > 0, got nan"),
])  # fmt: skip
def test_bad_options_are_one_line_and_exit_2_before_training(extra, expected, tiny_mnist, tmp_path, capsys, monkeypatch):
    calls = counting(monkeypatch)
    out = tmp_path / "out"
    assert main(argv(tiny_mnist, out) + extra) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("python -m analogtorch sweep: error: ") and expected in error[0], error
    assert calls == [] and not out.exists()


def test_a_sweep_of_other_settings_in_out_is_refused(tiny_mnist, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    saved = {"settings": {"epochs": 5}, "points": {}}
    (out / "sweep.json").write_text(json.dumps(saved))
    calls = counting(monkeypatch)
    assert main(argv(tiny_mnist, out)) == 2
    error = capsys.readouterr().err
    assert "holds a sweep of other settings (network: saved None" in error and "epochs: saved 5, now 1" in error
    assert calls == [] and json.loads((out / "sweep.json").read_text()) == saved


def test_a_room_mapped_sweep_maps_each_point_and_does_not_resume_a_uniform_one(tiny_mnist, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert main(argv(tiny_mnist, out)) == 0  # room: the default
    saved = json.loads((out / "sweep.json").read_text())
    assert saved["settings"]["layer_mapping"] == "room" and "--layer-mapping room" in saved["settings"]["command"]
    for label, point in saved["points"].items():
        fractions = point.get("layer_fractions")
        if label == "digital":
            assert fractions is None
        else:
            assert set(fractions) == {"0", "2", "4"} and all(0 < value <= 0.5 for value in fractions.values())
    capsys.readouterr()
    calls = counting(monkeypatch)
    assert main(argv(tiny_mnist, out, "--layer-mapping", "uniform")) == 2  # the same grid, other settings
    assert "layer_mapping: saved 'room', now 'uniform'" in capsys.readouterr().err and calls == []


def test_a_room_mapped_sweep_measures_the_digital_copy_once(tiny_mnist, tmp_path, monkeypatch):
    measured = []
    measure = sweep.room_movement

    def counted(*args):
        measured.append(args[3])
        return measure(*args)

    monkeypatch.setattr(sweep, "room_movement", counted)
    assert main(argv(tiny_mnist, tmp_path / "out")) == 0
    points = json.loads((tmp_path / "out" / "sweep.json").read_text())["points"]
    assert len(points) > 2 and len(measured) == 1  # every analog point maps from one measurement


def test_presets_take_the_fields_of_every_part_by_keyword():
    config = presets.ambrogio2018(dv_pulse_v=0.002, transfer_every=4000, verify_tolerance_us=0.25, out_bits=6, seed=7)
    cell = config.unit_cell
    assert (cell.capacitor.dv_pulse_v, cell.transfer_every, cell.pcm.verify_tolerance_us) == (0.002, 4000, 0.25)
    assert (config.periphery.out_bits, config.seed) == (6, 7)
    default_dv = presets.ambrogio2018().unit_cell.capacitor.dv_pulse_v  # the range axis's default is the preset's
    assert sweep.AXES["range_pulses"].to_field(sweep.AXES["range_pulses"].default) == pytest.approx(default_dv)
    with pytest.raises(TypeError, match="not a field of UnitCellConfig"):
        presets.ambrogio2018(dv_pulse=0.002)
