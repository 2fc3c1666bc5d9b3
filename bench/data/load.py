"""Data sets for qnn-bench: load them from local files, or download and verify them once.

Every loader returns the same thing, a :class:`Dataset` of raw 8-bit pixels in NCHW layout and
int64 labels. Keeping pixels as uint8 (no normalisation, no padding) means the arrays are exactly
what the FPGA sees at its input stream, and every model-specific transform (scaling, flattening
for MLPs, padding MNIST to 32x32 for CNV) lives in the model-side input adapter instead of here.

Where files come from:

* ``digits`` is bundled with scikit-learn, so it always works offline.
* ``mnist``, ``fashion_mnist`` and ``cifar10`` are read from ``data_dir`` when one is given
  (user-supplied files, several common layouts accepted, never downloaded into). Otherwise they
  are read from ``cache_dir/<name>/`` and, if missing, downloaded there from the canonical
  mirrors, checked against a pinned SHA-256 and only then moved into place.

Every failure raises :class:`DatasetError` with one line that says what is wrong and how to fix
it, because these messages end up in the CLI output of long benchmark runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from bench.core.data_files import find_files, find_npz
from bench.core.errors import DatasetError
from bench.core.spec import DATASETS
from bench.data.dataset import NUM_CLASSES, Dataset, fingerprint
from bench.data.files import (
    default_cache_root,
    download_dataset,
    expected_files_text,
    how_to_get_text,
    load_files,
    load_npz,
    search_dirs_text,
)

DIGITS_TEST_FRACTION = 0.2
DIGITS_SEED = 0


def load_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    test_only: bool = False,
) -> Dataset:
    """Load data set ``name`` (one of :data:`DATASETS`).

    ``data_dir``: a directory with user-supplied files (see ``docs/datasets.md`` for the
    accepted layouts); nothing is downloaded when it is given, so a typo in the path cannot
    silently trigger a download elsewhere.
    ``cache_dir``: root of the download cache (default ``~/.cache/qnn-bench``); files for
    ``name`` live in ``cache_dir/<name>/``. Used only when ``data_dir`` is None.
    ``download``: whether missing cache files may be fetched from the internet.
    ``digits`` ignores all three: it ships with scikit-learn.
    ``test_only``: only the test split is needed (an external model is evaluated, not
    trained), so only the test files must exist; the training split comes back empty.
    ``npz``: the arrays x_train, y_train, x_test, y_test of ``data_dir``'s .npz file.
    """
    if name == "npz":
        return _load_npz(data_dir, test_only)
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    if name == "digits":
        return _load_digits()

    if data_dir is not None:
        root = Path(os.fspath(data_dir)).expanduser()
        if not root.is_dir():
            raise DatasetError(
                f"{name}: data directory {root} does not exist or is not a directory; "
                f"pass DATA_DIR=<directory containing {expected_files_text(name)}>"
            )
        files = find_files(name, root, test_only)
        if files is None:
            raise DatasetError(
                f"{name}: could not find {expected_files_text(name, test_only)} in "
                f"{search_dirs_text(name, root)}; {how_to_get_text(name)}, or omit DATA_DIR "
                f"to download automatically"
            )
        return load_files(name, files)

    root = default_cache_root() if cache_dir is None else Path(os.fspath(cache_dir)).expanduser()
    target = root / name
    files = find_files(name, target) if target.is_dir() else None
    if files is None:
        if not download:
            raise DatasetError(
                f"{name}: {expected_files_text(name)} not found in {target} and downloading "
                f"is disabled; enable download or pass DATA_DIR=<directory containing them>"
            )
        download_dataset(name, target)
        files = find_files(name, target)
        if files is None:  # the downloaded archive did not contain what we need
            raise DatasetError(
                f"{name}: download finished but {expected_files_text(name)} are still missing "
                f"in {target}; delete that directory and try again"
            )
    return load_files(name, files)


def _load_npz(data_dir: str | os.PathLike[str] | None, test_only: bool) -> Dataset:
    if data_dir is None:
        raise DatasetError("npz: pass DATA_DIR=<directory holding one .npz file with x_train, "
                           "y_train, x_test, y_test>")
    root = Path(os.fspath(data_dir)).expanduser()
    path = find_npz(root) if root.is_dir() else None
    if path is None:
        raise DatasetError(f"npz: {root} holds no data.npz and not exactly one .npz file")
    return load_npz(path, test_only)


# ----------------------------------------------------------------------------- digits


def _load_digits() -> Dataset:
    """scikit-learn's 8x8 digits, scaled from 0..16 to 0..255, with a fixed stratified split.

    The split is computed here with numpy's legacy ``RandomState``, whose stream is frozen by
    numpy's compatibility policy, rather than with scikit-learn's splitters, whose internals may
    change between versions; so the split (and the fingerprint) is the same everywhere.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.float64)
    labels = np.asarray(bunch.target, dtype=np.int64)
    x = np.rint(images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)[:, None, :, :]

    rng = np.random.RandomState(DIGITS_SEED)
    test_idx: list[np.ndarray] = []
    for cls in range(NUM_CLASSES):
        members = np.flatnonzero(labels == cls)
        n_test = round(len(members) * DIGITS_TEST_FRACTION)
        test_idx.append(rng.permutation(members)[:n_test])
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[np.concatenate(test_idx)] = True
    # Keep the original order inside each split: deterministic and easy to reason about.
    return Dataset(
        name="digits",
        x_train=x[~is_test],
        y_train=labels[~is_test],
        x_test=x[is_test],
        y_test=labels[is_test],
        num_classes=NUM_CLASSES,
    )


__all__ = ["DATASETS", "Dataset", "DatasetError", "fingerprint", "load_dataset"]
