"""python -m analogtorch compare on a small --limit: the files and fields it writes, and its data loader."""

import gzip
import json
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch

from analogtorch.data import DEFAULT_FASHION_MNIST_DIR, load_idx, load_image_dataset


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


@pytest.mark.skipif(not DEFAULT_FASHION_MNIST_DIR.exists(), reason="needs Debian's dataset-fashion-mnist")
def test_fashion_mnist_from_the_debian_package():
    test = load_image_dataset(split="test")
    assert test.images.shape == (10_000, 784) and sorted(test.labels.unique().tolist()) == list(range(10))


def test_compare_writes_results_tables_and_plots(tiny_mnist, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "analogtorch", "compare", "--data", str(tiny_mnist), "--limit", "240",
               "--epochs", "2", "--batch-size", "32", "--hidden", "16", "8", "--reads", "2", "--quiet",
               "--out", str(out)]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Test accuracy after 2 epochs" in completed.stdout
    for name in ("results.json", "results.md", "accuracy_vs_epoch.png", "accuracy_vs_time.png"):
        assert (out / name).stat().st_size > 0, name
    report = json.loads((out / "results.json").read_text())
    assert set(report["summary"]) == {"digital", "ambrogio2018", "pcm_only", "hardware_aware"}
    assert report["versions"]["torch"] == torch.__version__ and report["wall_seconds"] > 0
    runs = {run["preset"]: run for run in report["runs"]}
    for run in runs.values():
        assert len(run["test_accuracy"]) == 2 and all(0.0 <= a <= 1.0 for a in run["test_accuracy"])
    assert runs["digital"]["config"] is None and runs["ambrogio2018"]["config"]["mode"] == "in_situ"
    drift = runs["ambrogio2018"]["drift"]
    assert set(drift) == {"compensated", "uncompensated"} and len(drift["compensated"]["1 year"]["reads"]) == 2
    assert runs["ambrogio2018"]["hardware"]["0"]["examples"] == 2 * 240
    assert "| ambrogio2018 |" in (out / "results.md").read_text()


def test_the_drop_in_example_runs():
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "drop_in.py"
    completed = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "1 year after programming" in completed.stdout
