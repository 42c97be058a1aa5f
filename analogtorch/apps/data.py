"""Datasets in the idx format of MNIST and Fashion-MNIST, read without downloading anything.

Fashion-MNIST comes from Debian's ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``);
MNIST in the same format loads the same way from any directory.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = ["DEFAULT_FASHION_MNIST_DIR", "IMAGE_SIZE", "NUM_CLASSES", "Dataset", "load_idx", "load_image_dataset"]

DEFAULT_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
           "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}  # fmt: skip


IMAGE_SIZE = (28, 28)
NUM_CLASSES = 10


@dataclass(frozen=True)
class Dataset:
    """Images and labels of one split, in memory."""

    images: torch.Tensor  # float32 in [0, 1]: [n, 784] (flat) or [n, 1, 28, 28]
    labels: torch.Tensor  # int64 [n], each in 0..9

    def __len__(self) -> int:
        return self.labels.numel()

    def head(self, count: int) -> Dataset:
        """The first ``count`` examples (all of them when ``count`` is 0 or exceeds the size)."""
        if count <= 0 or count >= len(self):
            return self
        return Dataset(self.images[:count], self.labels[:count])


def load_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads one idx file (optionally gzip-compressed): a magic number giving the element type and
    the number of dimensions, the sizes as big-endian int32, then the data."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            header = stream.read(4)
            if len(header) != 4 or header[0] != 0 or header[1] != 0 or header[2] not in _DTYPES:
                raise ValueError(f"{path}: not an idx file (magic bytes {header.hex()})")
            dims = header[3]
            sizes = stream.read(4 * dims)
            if len(sizes) != 4 * dims:
                raise ValueError(f"{path}: truncated header ({dims} sizes announced, {len(sizes)} bytes found)")
            shape = struct.unpack(f">{dims}i", sizes)
            dtype = np.dtype(_DTYPES[header[2]])
            data = stream.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:  # a damaged or mislabelled .gz
        raise ValueError(f"{path}: not a readable gzip file ({error})") from None
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"{path}: expected {expected} bytes of data for shape {shape}, found {len(data)}")
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def _find(directory: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (directory / name).exists():
            return directory / name
    raise FileNotFoundError(
        f"{stem}(.gz) not found in {directory}. Fashion-MNIST comes with Debian's package "
        f"dataset-fashion-mnist (apt-get install dataset-fashion-mnist, files in {DEFAULT_FASHION_MNIST_DIR}); "
        "point --data at a directory holding MNIST-format idx files otherwise."
    )


def load_image_dataset(
    directory: str | os.PathLike = DEFAULT_FASHION_MNIST_DIR, split: str = "train", *, flat: bool = True
) -> Dataset:
    """The images (scaled to [0, 1]) and labels of one split, ``"train"`` or ``"test"``.

    ``flat``: images as ``[n, 784]`` rows (a fully connected network) or, when False, as
    ``[n, 1, 28, 28]`` one-channel images (a convolutional one). Images must be 28x28 and labels in
    0..9: anything else is refused with a ``ValueError`` naming the file.
    """
    if split not in _SPLITS:
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    directory = Path(directory)
    images_stem, labels_stem = _SPLITS[split]
    images_path = _find(directory, images_stem)
    labels_path = _find(directory, labels_stem)
    images = load_idx(images_path)
    labels = load_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"{directory}: images {images.shape} and labels {labels.shape} do not match")
    if tuple(images.shape[1:]) != IMAGE_SIZE:
        raise ValueError(f"{images_path}: expected 28x28 images, got {images.shape[1]}x{images.shape[2]}")
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        bad = labels[(labels < 0) | (labels >= NUM_CLASSES)]
        raise ValueError(
            f"{labels_path}: expected labels in 0..{NUM_CLASSES - 1}, found {bad.size} outside (e.g. {bad[0]})"
        )
    shape = (images.shape[0], -1) if flat else (images.shape[0], 1, *IMAGE_SIZE)
    pixels = torch.from_numpy(images.reshape(shape).astype(np.float32) / 255.0)
    return Dataset(pixels, torch.from_numpy(labels.astype(np.int64)))
