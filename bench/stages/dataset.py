"""The `Dataset` every loader returns, and its fingerprint (part of cache keys)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from bench.core.errors import DatasetError

NUM_CLASSES = 10


@dataclass(frozen=True)
class Dataset:
    """A labelled train/test split of images as raw pixels.

    ``x_*`` are uint8 arrays of shape (N, C, H, W) with values 0..255, ``y_*`` are int64 arrays
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
            if x.dtype != np.uint8 or x.ndim != 4:
                raise DatasetError(
                    f"{self.name}: x_{split} must be uint8 with shape (N, C, H, W), "
                    f"got {x.dtype} {x.shape}"
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
