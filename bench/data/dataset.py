"""The `Dataset` every loader returns, and its fingerprint (part of cache keys)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from bench.core.errors import DatasetError

NUM_CLASSES = 10
# (C, H, W) of each data set's images as stored (the IDX and CIFAR loaders enforce these),
# so a study can reason about input geometry before any data is loaded.
STORED_SHAPES: dict[str, tuple[int, int, int]] = {
    "digits": (1, 8, 8), "mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28),
    "cifar10": (3, 32, 32),
}


@dataclass(frozen=True)
class Dataset:
    """A labelled train/test split of images as raw pixels (or of signed features).

    ``x_*`` are uint8 arrays of shape (N, C, H, W) with values 0..255 (an npz data set may
    instead hold int8 features, -128..127, for an external model with a signed input;
    both splits have the same dtype), ``y_*`` are int64 arrays
    of shape (N,) with values in ``0..num_classes-1``. The invariants are checked on
    construction so that every consumer can rely on them without re-checking.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    def __post_init__(self) -> None:
        splits = (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test))
        for split, x, y in splits:
            if x.dtype not in (np.uint8, np.int8) or x.dtype != self.x_test.dtype or x.ndim != 4:
                raise DatasetError(
                    f"{self.name}: x_{split} must be uint8 (or int8 in both splits) with shape "
                    f"(N, C, H, W), got {x.dtype} {x.shape}"
                )
            if y.dtype != np.int64 or y.shape != (x.shape[0],):
                raise DatasetError(
                    f"{self.name}: y_{split} must be int64 with shape ({x.shape[0]},), "
                    f"got {y.dtype} {y.shape}"
                )
            if y.size and (y.min() < 0 or y.max() >= self.num_classes):
                raise DatasetError(
                    f"{self.name}: y_{split} has labels outside 0..{self.num_classes - 1}"
                )
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise DatasetError(
                f"{self.name}: train images {self.x_train.shape[1:]} and test images "
                f"{self.x_test.shape[1:]} have different (C, H, W)"
            )

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image, as stored (before any model-side padding or flattening)."""
        c, h, w = self.x_train.shape[1:]
        return int(c), int(h), int(w)


def fingerprint(ds: Dataset) -> str:
    """Return a short, stable hash of the data (16 hex chars of a SHA-256).

    It covers dtype, shape and bytes of all four arrays, so it changes whenever the pixels,
    labels or split change, and is identical across machines for identical data. It is used
    as a cache key for trained models and compiled hardware, hence short but collision-safe
    enough for that purpose.
    """
    h = hashlib.sha256()
    for label, arr in (
        ("x_train", ds.x_train),
        ("y_train", ds.y_train),
        ("x_test", ds.x_test),
        ("y_test", ds.y_test),
    ):
        # Little-endian bytes on every machine, so the key does not depend on the host CPU.
        arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
        h.update(f"{label}:{arr.dtype.str}:{arr.shape};".encode())
        if arr.size:  # an empty split (test-only data) adds only its header
            h.update(memoryview(arr).cast("B"))
    return h.hexdigest()[:16]


def zero_pad(ds: Dataset, size: int | None) -> Dataset:
    """The data set with every image centred in a size x size frame of zero pixels.

    This is the input geometry of a run (`RunSpec.input_size`): the host pads, so the
    network, the exported graph and the accelerator all see size x size images, as in the
    paper's code, which fed 28x28 MNIST to TFC as 32x32 (1,024 inputs). `None`, or a
    frame the images already fill, leaves the data set unchanged.
    """
    if size is None:
        return ds
    _, height, width = ds.input_shape
    if (height, width) == (size, size):
        return ds
    if height > size or width > size or (size - height) % 2 or (size - width) % 2:
        raise DatasetError(
            f"{ds.name}: cannot zero-pad {height}x{width} images to {size}x{size} (the frame "
            f"must be at least as large, with an even margin); try input_size "
            f"{_next_frame(height, width)} or leave it unset"
        )
    top, left = (size - height) // 2, (size - width) // 2
    pad = ((0, 0), (0, 0), (top, top), (left, left))
    return Dataset(ds.name, np.pad(ds.x_train, pad), ds.y_train, np.pad(ds.x_test, pad),
                   ds.y_test, ds.num_classes)


def _next_frame(height: int, width: int) -> int:
    """The smallest frame a height x width image can be centred in."""
    size = max(height, width)
    while (size - height) % 2 or (size - width) % 2:
        size += 1
    return size
