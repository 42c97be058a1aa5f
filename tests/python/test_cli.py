"""python -m analogtorch: help texts with defaults, and every refused option refused before any
training, as one line on standard error with exit status 2, leaving --out untouched."""

import os
import subprocess
import sys

import numpy as np
import pytest

import analogtorch
from analogtorch.__main__ import build_parser, main, run
from analogtorch.apps import compare
from test_compare import write_idx


@pytest.fixture
def tiny_mnist(tmp_path):
    """An MNIST-format directory of 48 + 12 random 28x28 images."""
    return write_dataset(tmp_path / "data")


def write_dataset(directory, images=(28, 28), labels_high=10):
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 48), ("t10k", 12)):
        write_idx(directory / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, *images), dtype=np.uint8))
        write_idx(directory / f"{split}-labels-idx1-ubyte", rng.integers(0, labels_high, n, dtype=np.uint8))
    return directory


@pytest.fixture
def no_training(monkeypatch):
    """Training fails the test if it starts."""

    def train_one(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(compare, "train_one", train_one)


def refused(capsys, argv):
    """Runs the command line; returns its one-line error message (asserting exit status 2)."""
    status = main(argv)
    captured = capsys.readouterr()
    assert status == 2, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("python -m analogtorch compare: error: "), lines[0]
    return lines[0]


def compare_argv(data, out, *extra):
    return ["compare", "--data", str(data), "--out", str(out), "--epochs", "1", "--hidden", "8", "--quiet", *extra]


def write_config(tmp_path, text):
    path = tmp_path / "config.json"
    path.write_text(text)
    return path


# --- help ------------------------------------------------------------------------------------


def test_compare_help_shows_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    parser = build_parser()
    compare_parser = parser._subparsers._group_actions[0].choices["compare"]
    for action in compare_parser._actions:
        if action.dest == "help":
            continue
        assert action.help, action.dest
        assert " ".join(action.help.split()).split("(default")[0].strip() in text, action.dest
    assert text.count("(default:") == len(compare_parser._actions) - 1
    for shown in ("(default: 5; with --quick: 3)", "(default: 64)", "(default: mlp)", "(default: results)",
                  "the test set is cut only by --test-limit", "dataset-fashion-mnist"):  # fmt: skip
        assert shown in text, shown


def test_demo_help_shows_defaults_and_demo_runs(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "(default: 512)" in capsys.readouterr().out
    assert main(["demo", "--rows", "4", "--cols", "4"]) == 0
    assert "1 year" in capsys.readouterr().out


def test_quick_sets_what_was_not_given():
    parser = build_parser()
    quick = compare.resolve(parser.parse_args(["compare", "--quick"]))
    assert (quick.limit, quick.epochs, quick.test_limit) == tuple(compare.QUICK[k] for k in ("limit", "epochs", "test_limit"))
    # The learning rate is the model's own unless given.
    assert quick.lr == compare.MODEL_LR["mlp"] == 0.5
    assert compare.resolve(parser.parse_args(["compare", "--model", "cnn"])).lr == compare.MODEL_LR["cnn"]
    assert compare.resolve(parser.parse_args(["compare", "--model", "cnn", "--lr", "0.2"])).lr == 0.2
    explicit = compare.resolve(parser.parse_args(["compare", "--quick", "--epochs", "5", "--limit", "0"]))
    assert (explicit.epochs, explicit.limit) == (5, 0)
    default = compare.resolve(parser.parse_args(["compare"]))
    assert (default.limit, default.epochs) == (compare.DEFAULTS["limit"], compare.DEFAULTS["epochs"])


# --- refusals before training ----------------------------------------------------------------


def test_out_that_is_a_file_is_refused(tiny_mnist, tmp_path, capsys, no_training):
    out = tmp_path / "results"
    out.write_text("keep me")
    message = refused(capsys, compare_argv(tiny_mnist, out))
    assert "--out" in message and "not a directory" in message
    assert out.read_text() == "keep me"


def test_out_below_a_file_is_refused(tiny_mnist, tmp_path, capsys, no_training):
    (tmp_path / "file").write_text("")
    message = refused(capsys, compare_argv(tiny_mnist, tmp_path / "file" / "results"))
    assert "--out" in message and "is not a directory" in message


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_out_is_refused(tiny_mnist, tmp_path, capsys, no_training):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        message = refused(capsys, compare_argv(tiny_mnist, locked / "results"))
    finally:
        locked.chmod(0o700)
    assert "--out" in message and "cannot write" in message
    assert not (locked / "results").exists()


def test_unwritable_out_is_refused_whoever_runs(tiny_mnist, tmp_path, capsys, no_training, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(compare.tempfile, "TemporaryFile", denied)
    message = refused(capsys, compare_argv(tiny_mnist, tmp_path / "out"))
    assert "--out" in message and "cannot write in" in message and "Permission denied" in message
    assert not (tmp_path / "out").exists()


CONFIG_REFUSALS = [
    # (file text, extra options, what the message must say)
    ('{"pcm_only": {"pcm": {"g_max_us": -1}}}', ["--presets", "digital"], ["--config", "pcm_only.pcm", "g_max_us"]),
    ('{"hardware_aware": {"nope": 1}}', [], ["--config", "HardwareAwareConfig has no field 'nope'", "hardware_aware"]),
    ('{"ambrogio2018": {"unit_cell": {"transfer_every": 0}}}', [], ["--config", "transfer_every: expected an int >= 1, got 0"]),
    ('[{"ambrogio2018": {}}]', [], ["--config", "expected a JSON object keyed by preset name", "got a list"]),
    ('{"digital": {}}', ["--presets", "digital"], ["--config", "'digital' has no configuration"]),
    ('{"ambrogio2018": {unit_cell: 1}}', [], ["--config", "not valid JSON", "line 1 column 19 (char 18)"]),
    ('{"ambrogio2018": {"unit_cell": {"transfer_every": [4000]}}}', [], ["--config", "transfer_every: expected an int, got list [4000]"]),
    ('{"hardware_aware": {"train_time_max_s": [1, 2]}}', [], ["--config", "train_time_max_s: expected a number, got list"]),
    ('{"ambrogio2018": [1, 2]}', [], ["--config", "ambrogio2018: expected an object of UnitCellConfig fields, got list"]),
    ('{"ambrogio2018": {"seed": {"value": 1}}}', [], ["--config", "ambrogio2018.seed: expected a value of type int, not an object"]),
]  # fmt: skip


@pytest.mark.parametrize("text, extra, expected", CONFIG_REFUSALS, ids=range(len(CONFIG_REFUSALS)))
def test_bad_config_is_refused_before_training(text, extra, expected, tiny_mnist, tmp_path, capsys, no_training):
    out = tmp_path / "out"
    message = refused(capsys, compare_argv(tiny_mnist, out, "--config", str(write_config(tmp_path, text)), *extra))
    for part in expected:
        assert part in message, (part, message)
    assert not out.exists()


def test_a_list_where_a_number_belongs_raises_type_error_not_attribute_error(tiny_mnist, tmp_path, no_training):
    for text in ('{"ambrogio2018": {"unit_cell": {"transfer_every": [1]}}}', '{"ambrogio2018": [1]}', "[1]"):
        config = write_config(tmp_path, text)
        with pytest.raises(TypeError, match="--config"):
            run(compare_argv(tiny_mnist, tmp_path / "out", "--config", str(config)))


def test_labels_outside_0_to_9_are_refused_naming_the_file(tmp_path, capsys, no_training):
    data = write_dataset(tmp_path / "data", labels_high=12)
    message = refused(capsys, compare_argv(data, tmp_path / "out"))
    assert "train-labels-idx1-ubyte" in message and "expected labels in 0..9" in message
    assert not (tmp_path / "out").exists()


def test_images_not_28x28_are_refused_naming_the_file(tmp_path, capsys, no_training):
    data = write_dataset(tmp_path / "data", images=(32, 32))
    message = refused(capsys, compare_argv(data, tmp_path / "out"))
    assert "train-images-idx3-ubyte" in message and "expected 28x28 images, got 32x32" in message
    assert not (tmp_path / "out").exists()


def test_hidden_sizes_with_the_cnn_are_refused(tiny_mnist, tmp_path, capsys, no_training):
    message = refused(capsys, compare_argv(tiny_mnist, tmp_path / "out", "--model", "cnn", "--presets", "digital"))
    assert "--hidden" in message and "cnn" in message


@pytest.mark.skipif(hasattr(analogtorch, "AnalogConv2d"), reason="convert_to_analog converts Conv2d: nothing to refuse")
def test_an_analog_cnn_needs_every_layer_converted(tiny_mnist, tmp_path, capsys, no_training):
    """Until convert_to_analog converts Conv2d, an analog CNN would be partly digital: refused."""
    argv = ["compare", "--data", str(tiny_mnist), "--out", str(tmp_path / "out"), "--model", "cnn", "--quiet"]
    message = refused(capsys, argv)
    assert "--model cnn" in message and "left" in message
    assert not (tmp_path / "out").exists()


def test_a_missing_data_set_is_one_line_naming_the_package_and_exit_2(tmp_path):
    command = [sys.executable, "-m", "analogtorch", "compare", "--data", str(tmp_path / "none"),
               "--out", str(tmp_path / "out")]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert "dataset-fashion-mnist" in lines[0] and "--data" in lines[0] and "Traceback" not in completed.stderr
    assert not (tmp_path / "out").exists()


def test_refusals_leave_the_report_unwritten_but_good_options_train(tiny_mnist, tmp_path, capsys, monkeypatch):
    """The fixture that stops training is what the refusals rely on: without a refusal, training
    starts."""
    calls = []

    def train_one(name, plan, seed):
        calls.append(name)
        raise RuntimeError("stop")

    monkeypatch.setattr(compare, "train_one", train_one)
    with pytest.raises(RuntimeError, match="stop"):
        main(compare_argv(tiny_mnist, tmp_path / "out", "--presets", "digital"))
    assert calls == ["digital"] and not (tmp_path / "out").exists()
