"""Which files make up a data set in a user's directory, and one hash of their content.

The layouts live here, not in `bench.data`, because a run's identity depends on them: a
spec names the data by the content of the files the loader will read (`data_sha256`),
and a spec is validated and its record looked up before anything heavy is imported.
`bench.data.files` parses what these functions find.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from bench.core import checksum

IDX_FILES: tuple[str, ...] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
TORCHVISION_DIR = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
CIFAR_DIR = "cifar-10-batches-py"
CIFAR_FILES: tuple[str, ...] = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
# Data sets read from files (the rest, digits and none, have no files of the user's).
FILE_DATASETS = ("mnist", "fashion_mnist", "cifar10", "npz")


def candidate_dirs(name: str, root: Path) -> list[Path]:
    """Directories that may hold the files of ``name``, most specific layout first."""
    if name == "cifar10":
        return [root / CIFAR_DIR, root]
    return [root, root / TORCHVISION_DIR[name] / "raw"]


def find_files(name: str, root: Path, test_only: bool = False) -> list[Path] | None:
    """Return the paths of all required files from the first directory that has all of them.

    Requiring one complete directory (instead of mixing files from several) avoids pairing the
    images of one download with the labels of another. `test_only`: only the test split's
    files are required (an external model is evaluated, not trained).
    """
    for directory in candidate_dirs(name, root):
        if name == "cifar10":
            paths = [directory / f for f in (CIFAR_FILES[-1:] if test_only else CIFAR_FILES)]
            if all(p.is_file() for p in paths):
                return paths
            continue
        found: list[Path] = []
        for base in IDX_FILES[2:] if test_only else IDX_FILES:
            # Prefer the un-gzipped file: torchvision keeps both and it is faster to read.
            match = next(
                (p for p in (directory / base, directory / f"{base}.gz") if p.is_file()), None
            )
            if match is None:
                break
            found.append(match)
        else:
            return found
    return None


def find_npz(root: Path) -> Path | None:
    """`data.npz` in the directory, else its only .npz file."""
    if (root / "data.npz").is_file():
        return root / "data.npz"
    found = sorted(root.glob("*.npz"))
    return found[0] if len(found) == 1 else None


def data_files(name: str, root: Path, test_only: bool = False) -> list[Path]:
    """The files the loader reads for data set ``name`` from ``root``, in its order; empty
    if the directory does not hold a complete set (the run then fails loading it)."""
    if name == "npz":
        found = find_npz(root) if root.is_dir() else None
        return [] if found is None else [found]
    return (find_files(name, root, test_only) if root.is_dir() else None) or []


def data_sha256(name: str, root: Path, test_only: bool = False) -> str:
    """One SHA-256 over the content of the files the loader reads, in the loader's order.

    Only the content counts: the same files in another directory (or an npz file under
    another name) are the same data. A directory without a complete set hashes as no
    files, which is still not the published data set of that name.
    """
    digest = hashlib.sha256()
    for path in data_files(name, root, test_only):
        digest.update(file_sha256(path).encode() + b"\n")
    return digest.hexdigest()


# Hashing a data set takes a moment (CIFAR-10 is 180 MB) and a sweep makes many specs
# from one directory: a large file is hashed again only when its size or mtime changed.
# Small files are always read (cheap, and two writes within one clock tick can share an
# mtime).
_HASHED: dict[tuple[str, int, int, int], str] = {}
_MEMO_FROM_BYTES = 1 << 24


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's content (of a large one remembered per process)."""
    stat = path.stat()
    memo = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if memo in _HASHED:
        return _HASHED[memo]
    digest = checksum.file_sha256(path)
    if stat.st_size >= _MEMO_FROM_BYTES:
        _HASHED[memo] = digest
    return digest
