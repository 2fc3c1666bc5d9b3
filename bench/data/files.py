"""Data set files: the accepted layouts, IDX and CIFAR-10 parsing, verified downloads.

Everything here turns files into a `Dataset` or puts verified files in place; which data
set to load and from where is decided by `bench.data.load`.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import struct
import tarfile
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.core.data_files import (
    CIFAR_DIR,
    CIFAR_FILES,
    IDX_FILES,
    candidate_dirs,
)
from bench.core.errors import DatasetError
from bench.data.dataset import NUM_CLASSES, Dataset

DOWNLOAD_TIMEOUT_S = 60.0


# ----------------------------------------------------------------------------- file layouts

# Which files make up a data set is decided in `bench.core.data_files` (a run's identity
# hashes them); they are parsed here.


def expected_files_text(name: str, test_only: bool = False) -> str:
    if name == "cifar10":
        files = CIFAR_FILES[-1:] if test_only else CIFAR_FILES
        return f"{CIFAR_DIR}/{{{','.join(files)}}}"
    files = IDX_FILES[2:] if test_only else IDX_FILES
    return ", ".join(f"{f}.gz" for f in files) + " (or un-gzipped)"


def search_dirs_text(name: str, root: Path) -> str:
    return " and ".join(str(d) for d in candidate_dirs(name, root))


def default_cache_root() -> Path:
    return Path.home() / ".cache" / "qnn-bench"


def load_files(name: str, files: list[Path]) -> Dataset:
    if name == "cifar10" and len(files) == 1:  # test split only
        x_test, y_test = _load_cifar_batch(files[0])
        return test_only_dataset(name, np.ascontiguousarray(x_test), y_test, NUM_CLASSES)
    if name == "cifar10":
        return _load_cifar10(files)
    return _load_idx_dataset(name, files)


# ----------------------------------------------------------------------------- IDX (MNIST)

# IDX type codes (third byte of the magic number) -> numpy dtype; multi-byte types are big-endian.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_maybe_gzip(path: Path) -> bytes:
    """Read a file, decompressing it if it starts with the gzip magic (whatever its name)."""
    try:
        with path.open("rb") as f:
            compressed = f.read(2) == b"\x1f\x8b"
        if not compressed:
            return path.read_bytes()
        with gzip.open(path, "rb") as f:
            return f.read()
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise DatasetError(
            f"{path}: corrupted or truncated gzip data ({err}); delete the file and get it again"
        ) from err
    except OSError as err:
        raise DatasetError(f"{path}: cannot read file ({err})") from err


def _read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file: magic ``00 00 <type> <ndim>``, ``ndim`` big-endian uint32 dims, data."""
    raw = _read_maybe_gzip(path)
    if len(raw) < 4:
        raise DatasetError(f"{path}: only {len(raw)} bytes, too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    type_code, ndim = raw[2], raw[3]
    if raw[0] != 0 or raw[1] != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        raise DatasetError(
            f"{path}: bad IDX magic number 0x{magic:08x} (expected 0x0000TTNN with a known type "
            f"code TT and NN >= 1 dimensions); this is not an IDX file or it is corrupted"
        )
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DatasetError(f"{path}: truncated IDX header ({len(raw)} of {header_len} bytes)")
    dims = struct.unpack(f">{ndim}I", raw[4:header_len])
    dtype = _IDX_DTYPES[type_code]
    count = int(np.prod(dims, dtype=np.int64))
    expected = header_len + count * dtype.itemsize
    if len(raw) != expected:
        raise DatasetError(
            f"{path}: size mismatch, the header declares shape {tuple(dims)} ({expected} bytes) "
            f"but the data has {len(raw)} bytes; the file is truncated or corrupted, get it again"
        )
    return np.frombuffer(raw, dtype=dtype, count=count, offset=header_len).reshape(dims)


def _load_idx_split(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = _read_idx(images_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DatasetError(
            f"{images_path}: expected unsigned-byte images of shape (N, 28, 28), "
            f"got {images.dtype.name} {images.shape}"
        )
    labels = _read_idx(labels_path)
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DatasetError(
            f"{labels_path}: expected unsigned-byte labels of shape (N,), "
            f"got {labels.dtype.name} {labels.shape}"
        )
    if labels.shape[0] != images.shape[0]:
        raise DatasetError(
            f"count mismatch: {images_path} has {images.shape[0]} images but {labels_path} has "
            f"{labels.shape[0]} labels; the two files do not belong together"
        )
    if labels.size and labels.max() >= NUM_CLASSES:
        raise DatasetError(
            f"{labels_path}: label {int(labels.max())} is outside 0..{NUM_CLASSES - 1}"
        )
    # copy(): frombuffer views are read-only; consumers (e.g. torch.from_numpy) expect writable.
    return images[:, None, :, :].copy(), labels.astype(np.int64)


def _load_idx_dataset(name: str, files: list[Path]) -> Dataset:
    x_test, y_test = _load_idx_split(*files[-2:])
    if len(files) == 2:  # test split only
        return test_only_dataset(name, x_test, y_test, NUM_CLASSES)
    x_train, y_train = _load_idx_split(*files[:2])
    return Dataset(name, x_train, y_train, x_test, y_test, NUM_CLASSES)


def test_only_dataset(name: str, x_test: np.ndarray, y_test: np.ndarray,
                      num_classes: int) -> Dataset:
    """A data set with an empty training split, for evaluating a model trained elsewhere."""
    empty_x = np.zeros((0, *x_test.shape[1:]), dtype=x_test.dtype)
    return Dataset(name, empty_x, np.zeros(0, np.int64), x_test, y_test, num_classes)


# ----------------------------------------------------------------------------- npz


NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _npz_images(path: Path, key: str, x: np.ndarray) -> np.ndarray:
    """uint8 images (or int8 features) as (N, C, H, W); (N, H, W) gets one channel,
    (N, H, W, 1|3) is moved, feature vectors (N, F) become (N, 1, 1, F)."""
    if x.dtype not in (np.uint8, np.int8):
        raise DatasetError(f"{path}: {key} must hold uint8 pixels 0..255 (or int8 features "
                           f"-128..127, for an external model with a signed input), got {x.dtype}")
    if x.ndim == 2:
        return x[:, None, None, :].copy()
    if x.ndim == 3:
        return x[:, None, :, :].copy()
    if x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    if x.ndim == 4:
        return np.ascontiguousarray(x)
    raise DatasetError(f"{path}: {key} must have shape (N, C, H, W), (N, H, W) or (N, F), "
                       f"got {x.shape}")


def load_npz(path: Path, test_only: bool = False) -> Dataset:
    """A user's data set in one .npz file: x_train, y_train, x_test, y_test (only the test
    arrays with `test_only`). Labels are 0..K-1; K is the number of classes."""
    needed = NPZ_KEYS[2:] if test_only else NPZ_KEYS
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in needed if k not in data.files]
            if missing:
                raise DatasetError(f"{path}: missing array(s) {', '.join(missing)} (an npz data "
                                   f"set holds {', '.join(needed)})")
            arrays = {k: data[k] for k in needed}
    except (OSError, ValueError) as err:
        raise DatasetError(f"{path}: not a readable npz file ({err})") from None
    xs = {k: _npz_images(path, k, arrays[k]) for k in needed if k.startswith("x")}
    ys = {}
    for k in (k for k in needed if k.startswith("y")):
        y = arrays[k]
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise DatasetError(f"{path}: {k} must be integer labels of shape (N,), "
                               f"got {y.dtype} {y.shape}")
        ys[k] = y.astype(np.int64)
    classes = max(int(y.max()) + 1 if y.size else 0 for y in ys.values())
    classes = max(classes, 2)
    if test_only:
        return test_only_dataset("npz", xs["x_test"], ys["y_test"], classes)
    return Dataset("npz", xs["x_train"], ys["y_train"], xs["x_test"], ys["y_test"], classes)


# ----------------------------------------------------------------------------- CIFAR-10

# The CIFAR-10 "python version" batches are pickles (written by Python 2 / numpy 1.x). Pickle can
# run arbitrary code, so we only unpickle the handful of globals a numpy array needs.
_PICKLE_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 encode bytes
    }
)


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _PICKLE_ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        return super().find_class(module, name)


def _load_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load one CIFAR-10 batch: a pickled dict with b"data" (N x 3072 uint8) and b"labels".

    Pickle is only acceptable here because this is the well-known, trusted format published by
    the CIFAR authors (checksummed when we download it); on top of that the unpickler refuses
    every global except those needed to rebuild numpy arrays, so a hostile file in a user's
    DATA_DIR cannot execute code.
    """
    try:
        with path.open("rb") as f:
            batch = _ArrayOnlyUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise DatasetError(
            f"{path}: not a valid CIFAR-10 python batch ({err}); get the file again"
        ) from err
    except OSError as err:
        raise DatasetError(f"{path}: cannot read file ({err})") from err
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DatasetError(f"{path}: not a CIFAR-10 batch (expected a dict with data and labels)")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DatasetError(
            f"{path}: expected uint8 data of shape (N, 3072), got {data.dtype} {data.shape}"
        )
    if labels.ndim != 1 or labels.shape[0] != data.shape[0]:
        raise DatasetError(
            f"{path}: count mismatch, {data.shape[0]} images but {labels.size} labels"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise DatasetError(f"{path}: labels outside 0..{NUM_CLASSES - 1}")
    # Rows are 1024 red, then 1024 green, then 1024 blue values, each row-major: already CHW.
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _load_cifar10(files: list[Path]) -> Dataset:
    train = [_load_cifar_batch(p) for p in files[:-1]]
    x_test, y_test = _load_cifar_batch(files[-1])
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return Dataset("cifar10", x_train, y_train, np.ascontiguousarray(x_test), y_test, NUM_CLASSES)


# ----------------------------------------------------------------------------- downloading


@dataclass(frozen=True)
class Source:
    """Where a data set is published: mirror base URLs (tried in order) and file -> SHA-256."""

    mirrors: tuple[str, ...]
    files: dict[str, str]


# SHA-256 digests of the published files, as pinned by several independent public loaders (for
# MNIST/Fashion-MNIST next to the official MD5s that torchvision and the Fashion-MNIST README
# list; for CIFAR-10 the value Keras and torchvision pin for the tarball). Mirrors are tried in
# order; a file from any of them must match the digest.
_IDX_GZ_FILES: tuple[str, ...] = tuple(f"{f}.gz" for f in IDX_FILES)
SOURCES: dict[str, Source] = {
    "mnist": Source(
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        files=dict(
            zip(
                _IDX_GZ_FILES,
                (
                    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                ),
                strict=True,
            )
        ),
    ),
    "fashion_mnist": Source(
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        files=dict(
            zip(
                _IDX_GZ_FILES,
                (
                    "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                    "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                    "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                    "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                ),
                strict=True,
            )
        ),
    ),
    "cifar10": Source(
        mirrors=("https://www.cs.toronto.edu/~kriz/",),
        files={
            "cifar-10-python.tar.gz": (
                "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
            ),
        },
    ),
}


def how_to_get_text(name: str) -> str:
    """The manual fix, for machines that cannot download: where to fetch, what DATA_DIR holds."""
    source = SOURCES[name]
    urls = ", ".join(source.mirrors[0] + f for f in source.files)
    if name == "cifar10":
        return f"download and unpack {urls} and pass DATA_DIR=<directory containing {CIFAR_DIR}>"
    return f"download {urls} and pass DATA_DIR=<directory containing them>"


def download(url: str, dest: Path, sha256: str) -> None:
    """Download ``url`` to ``dest``, verifying its SHA-256 before it appears under that name.

    The data goes to a temporary file in the same directory and is renamed only after the
    digest matched, so an interrupted or corrupted download never leaves a file that a later
    run would trust.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response,
        ):
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        actual = digest.hexdigest()
        if actual != sha256:
            raise DatasetError(
                f"checksum mismatch for {dest.name} from {url}: expected sha256 {sha256}, "
                f"got {actual}; the download is corrupted or the mirror changed"
            )
        os.replace(tmp, dest)
    except DatasetError:
        raise
    except (OSError, ValueError) as err:  # URLError, HTTPError and timeouts are OSErrors
        raise DatasetError(f"cannot download {url}: {err}") from err
    finally:
        tmp.unlink(missing_ok=True)


def download_dataset(name: str, target: Path) -> None:
    """Fetch every file of ``name`` into ``target``, trying each mirror in turn."""
    source = SOURCES[name]
    for filename, sha256 in source.files.items():
        if (target / filename).is_file():  # verified by an earlier, interrupted run
            continue
        errors: list[str] = []
        for mirror in source.mirrors:
            try:
                download(mirror + filename, target / filename, sha256)
                break
            except DatasetError as err:
                errors.append(str(err))
        else:
            raise DatasetError(
                f"{name}: {expected_files_text(name)} not found in {target} and the download "
                f"failed ({'; '.join(errors)}); {how_to_get_text(name)}"
            )
    if name == "cifar10":
        _extract_cifar(target / "cifar-10-python.tar.gz", target)


def _extract_cifar(archive: Path, target: Path) -> None:
    """Extract only the six expected batch files, each written atomically.

    Taking named members (instead of ``extractall``) means a crafted archive cannot write
    outside ``target`` or plant links. The archive is deleted afterwards to save 160 MB.
    """
    out_dir = target / CIFAR_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for filename in CIFAR_FILES:
                member = tar.getmember(f"{CIFAR_DIR}/{filename}")
                src = tar.extractfile(member) if member.isfile() else None
                if src is None:
                    raise KeyError(f"{CIFAR_DIR}/{filename} is not a regular file")
                fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", dir=out_dir)
                try:
                    with os.fdopen(fd, "wb") as out, src:
                        while chunk := src.read(1 << 20):
                            out.write(chunk)
                    os.replace(tmp_name, out_dir / filename)
                finally:
                    Path(tmp_name).unlink(missing_ok=True)
    except (KeyError, tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise DatasetError(
            f"cifar10: cannot extract {archive} ({err}); delete it and try again"
        ) from err
    archive.unlink()
