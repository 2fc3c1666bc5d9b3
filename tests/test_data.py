"""Tests for bench.data: real file formats written here, errors, and downloads via file:// URLs."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from bench.data import files as data_files
from bench.data.load import DATASETS, Dataset, DatasetError, fingerprint, load_dataset

IDX_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
N_TRAIN, N_TEST = 20, 8

# Pinned so that any change to the digits pixels, scaling or split is noticed (the split must be
# identical on every machine, because trained models and hardware builds are cached by it).
DIGITS_FINGERPRINT = "6beb6316dec1ef9e"


# ----------------------------------------------------------------------------- helpers


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file."""
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def make_mnist_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }


def write_mnist(directory: Path, arrays: dict[str, np.ndarray], gz: bool = True) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        raw = idx_bytes(arr)
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (directory / name).write_bytes(raw)


def assert_matches_mnist(ds: Dataset, arrays: dict[str, np.ndarray]) -> None:
    assert ds.x_train.shape == (N_TRAIN, 1, 28, 28)
    assert ds.x_test.shape == (N_TEST, 1, 28, 28)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64
    assert ds.input_shape == (1, 28, 28)
    assert ds.num_classes == 10
    np.testing.assert_array_equal(ds.x_train[:, 0], arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(ds.y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(ds.x_test[:, 0], arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte"])


def cifar_batches(per_batch: int = 4, seed: int = 0) -> dict[str, tuple[np.ndarray, list[int]]]:
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    return {
        n: (
            rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            [int(v) for v in rng.integers(0, 10, per_batch)],
        )
        for n in names
    }


def cifar_pickle(data_arr: np.ndarray, labels: list[int], protocol: int = 2) -> bytes:
    return pickle.dumps(
        {b"batch_label": b"x", b"data": data_arr, b"labels": labels}, protocol=protocol
    )


def write_cifar(directory: Path, batches: dict[str, tuple[np.ndarray, list[int]]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, (arr, labels) in batches.items():
        (directory / name).write_bytes(cifar_pickle(arr, labels))


def one_line(err: pytest.ExceptionInfo[DatasetError]) -> str:
    message = str(err.value)
    assert "\n" not in message and message.strip() == message and message
    return message


def file_url(directory: Path) -> str:
    return directory.resolve().as_uri() + "/"


# ----------------------------------------------------------------------------- digits


def test_dataset_names() -> None:
    assert DATASETS == ("digits", "mnist", "fashion_mnist", "cifar10")


def test_digits_shapes_values_and_split() -> None:
    ds = load_dataset("digits")
    assert ds.name == "digits"
    assert ds.input_shape == (1, 8, 8)
    assert ds.x_train.dtype == np.uint8 and ds.x_test.dtype == np.uint8
    assert ds.y_train.dtype == np.int64 and ds.y_test.dtype == np.int64
    assert len(ds.x_train) + len(ds.x_test) == 1797
    assert ds.x_train.min() == 0 and ds.x_train.max() == 255
    # Scaled from 0..16: every pixel is round(v * 255 / 16) for an integer v.
    allowed = np.rint(np.arange(17) * 255 / 16).astype(np.uint8)
    assert np.isin(ds.x_train, allowed).all()
    # Stratified 80/20: each class has round(20 %) of its images in the test split.
    for cls in range(10):
        total = int((ds.y_train == cls).sum() + (ds.y_test == cls).sum())
        assert (ds.y_test == cls).sum() == round(total * 0.2)


def test_digits_split_is_deterministic() -> None:
    first, second = load_dataset("digits"), load_dataset("digits")
    assert fingerprint(first) == fingerprint(second)
    assert fingerprint(first) == DIGITS_FINGERPRINT


# ----------------------------------------------------------------------------- MNIST-like


@pytest.mark.parametrize(
    ("name", "subdir"),
    [
        ("mnist", ""),
        ("mnist", "MNIST/raw"),
        ("fashion_mnist", ""),
        ("fashion_mnist", "FashionMNIST/raw"),
    ],
)
def test_idx_layouts(tmp_path: Path, name: str, subdir: str) -> None:
    arrays = make_mnist_arrays()
    write_mnist(tmp_path / subdir, arrays)
    ds = load_dataset(name, data_dir=tmp_path)
    assert ds.name == name
    assert_matches_mnist(ds, arrays)


def test_idx_ungzipped_and_str_path(tmp_path: Path) -> None:
    arrays = make_mnist_arrays(seed=1)
    write_mnist(tmp_path / "MNIST" / "raw", arrays, gz=False)
    ds = load_dataset("mnist", data_dir=str(tmp_path))
    assert_matches_mnist(ds, arrays)


def test_fashion_mnist_does_not_read_mnist_layout(tmp_path: Path) -> None:
    write_mnist(tmp_path / "MNIST" / "raw", make_mnist_arrays())
    with pytest.raises(DatasetError) as err:
        load_dataset("fashion_mnist", data_dir=tmp_path)
    assert "FashionMNIST" in one_line(err)


def test_missing_files_message_names_files_and_dirs(tmp_path: Path) -> None:
    arrays = make_mnist_arrays()
    del arrays["t10k-labels-idx1-ubyte"]
    write_mnist(tmp_path, arrays)
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", data_dir=tmp_path)
    message = one_line(err)
    for name in IDX_NAMES:
        assert name in message
    assert str(tmp_path) in message and "MNIST/raw" in message
    assert "DATA_DIR" in message


def test_nonexistent_data_dir(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", data_dir=tmp_path / "nope")
    assert "does not exist" in one_line(err)


def test_unknown_dataset_lists_choices() -> None:
    with pytest.raises(DatasetError) as err:
        load_dataset("imagenet")
    message = one_line(err)
    assert "imagenet" in message
    for name in DATASETS:
        assert name in message


def test_truncated_gzip_is_rejected(tmp_path: Path) -> None:
    write_mnist(tmp_path, make_mnist_arrays())
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", data_dir=tmp_path)
    message = one_line(err)
    assert "train-images-idx3-ubyte.gz" in message and "truncated" in message


def test_truncated_idx_is_rejected(tmp_path: Path) -> None:
    write_mnist(tmp_path, make_mnist_arrays(), gz=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", data_dir=tmp_path)
    message = one_line(err)
    assert "t10k-images-idx3-ubyte" in message and "size mismatch" in message


@pytest.mark.parametrize(
    ("offset", "value"),
    [(0, 0x12), (2, 0x07), (3, 0x00)],  # non-zero prefix, unknown type code, zero dimensions
)
def test_bad_magic_is_rejected(tmp_path: Path, offset: int, value: int) -> None:
    write_mnist(tmp_path, make_mnist_arrays(), gz=False)
    path = tmp_path / "train-labels-idx1-ubyte"
    raw = bytearray(path.read_bytes())
    raw[offset] = value
    path.write_bytes(bytes(raw))
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", data_dir=tmp_path)
    message = one_line(err)
    assert "train-labels-idx1-ubyte" in message and "magic" in message


def test_trailing_garbage_is_rejected(tmp_path: Path) -> None:
    write_mnist(tmp_path, make_mnist_arrays())
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()) + b"\0\0"))
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", data_dir=tmp_path)
    message = one_line(err)
    assert "t10k-labels-idx1-ubyte.gz" in message and "size mismatch" in message


def test_non_byte_idx_labels_are_rejected(tmp_path: Path) -> None:
    write_mnist(tmp_path, make_mnist_arrays())
    labels = np.arange(N_TRAIN, dtype=">i4") % 10
    raw = struct.pack(">BBBBI", 0, 0, 0x0C, 1, N_TRAIN) + labels.tobytes()
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(raw))
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", data_dir=tmp_path)
    message = one_line(err)
    assert "train-labels-idx1-ubyte.gz" in message and "int32" in message


def test_wrong_image_size_is_rejected(tmp_path: Path) -> None:
    arrays = make_mnist_arrays()
    arrays["train-images-idx3-ubyte"] = np.zeros((N_TRAIN, 32, 32), dtype=np.uint8)
    write_mnist(tmp_path, arrays)
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", data_dir=tmp_path)
    assert "(N, 28, 28)" in one_line(err)


def test_label_count_mismatch_is_rejected(tmp_path: Path) -> None:
    arrays = make_mnist_arrays()
    arrays["train-labels-idx1-ubyte"] = arrays["train-labels-idx1-ubyte"][:-1]
    write_mnist(tmp_path, arrays)
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", data_dir=tmp_path)
    message = one_line(err)
    assert "count mismatch" in message and f"{N_TRAIN} images" in message


# ----------------------------------------------------------------------------- CIFAR-10


@pytest.mark.parametrize("as_root", [False, True])
def test_cifar_layouts(tmp_path: Path, as_root: bool) -> None:
    batches = cifar_batches()
    batch_dir = tmp_path / "cifar-10-batches-py"
    write_cifar(batch_dir, batches)
    ds = load_dataset("cifar10", data_dir=batch_dir if as_root else tmp_path)
    assert ds.input_shape == (3, 32, 32)
    assert ds.x_train.shape == (20, 3, 32, 32) and ds.x_test.shape == (4, 3, 32, 32)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64
    # Batches are concatenated in order 1..5, and each row is reshaped as R, G, B planes.
    expected = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)])
    np.testing.assert_array_equal(ds.x_train.reshape(20, -1), expected)
    assert ds.x_train[0, 1, 0, 0] == batches["data_batch_1"][0][0, 1024]
    np.testing.assert_array_equal(ds.y_test, batches["test_batch"][1])


def test_cifar_numpy1_style_pickle(tmp_path: Path) -> None:
    # The published batches reference numpy.core.multiarray (numpy 1.x); make sure they load.
    batches = cifar_batches()
    batch_dir = tmp_path / "cifar-10-batches-py"
    write_cifar(batch_dir, batches)
    legacy = cifar_pickle(*batches["test_batch"]).replace(b"numpy._core.", b"numpy.core.")
    assert b"numpy.core.multiarray" in legacy
    (batch_dir / "test_batch").write_bytes(legacy)
    ds = load_dataset("cifar10", data_dir=tmp_path)
    np.testing.assert_array_equal(ds.x_test.reshape(4, -1), batches["test_batch"][0])


class _RemoveFile:
    """Pickles as a call to os.remove(path): what a hostile 'batch' could do."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.remove, (str(self.path),))


def test_cifar_pickle_cannot_run_code(tmp_path: Path) -> None:
    batch_dir = tmp_path / "cifar-10-batches-py"
    write_cifar(batch_dir, cifar_batches())
    victim = tmp_path / "victim.txt"
    victim.write_text("still here")
    payload = pickle.dumps({b"data": _RemoveFile(victim), b"labels": []}, protocol=2)
    (batch_dir / "data_batch_3").write_bytes(payload)
    with pytest.raises(DatasetError) as err:
        load_dataset("cifar10", data_dir=tmp_path)
    message = one_line(err)
    assert "data_batch_3" in message and "refusing" in message
    assert victim.exists()


def test_cifar_bad_batch_shape(tmp_path: Path) -> None:
    batches = cifar_batches()
    batches["data_batch_2"] = (np.zeros((4, 100), dtype=np.uint8), [0, 1, 2, 3])
    write_cifar(tmp_path, batches)
    with pytest.raises(DatasetError) as err:
        load_dataset("cifar10", data_dir=tmp_path)
    message = one_line(err)
    assert "data_batch_2" in message and "3072" in message


def test_cifar_missing_batch(tmp_path: Path) -> None:
    batches = cifar_batches()
    del batches["data_batch_5"]
    write_cifar(tmp_path / "cifar-10-batches-py", batches)
    with pytest.raises(DatasetError) as err:
        load_dataset("cifar10", data_dir=tmp_path)
    message = one_line(err)
    assert "data_batch_5" in message and "cifar-10-batches-py" in message


# ----------------------------------------------------------------------------- Dataset, fingerprint


def _tiny_dataset(**overrides: object) -> Dataset:
    fields: dict[str, object] = {
        "name": "t",
        "x_train": np.zeros((3, 1, 2, 2), dtype=np.uint8),
        "y_train": np.array([0, 1, 2], dtype=np.int64),
        "x_test": np.zeros((1, 1, 2, 2), dtype=np.uint8),
        "y_test": np.array([1], dtype=np.int64),
        "num_classes": 3,
    }
    fields.update(overrides)
    return Dataset(**fields)  # type: ignore[arg-type]


def test_fingerprint_is_short_and_sensitive() -> None:
    base = _tiny_dataset()
    fp = fingerprint(base)
    assert len(fp) == 16 and set(fp) <= set("0123456789abcdef")
    assert fingerprint(_tiny_dataset()) == fp
    x = np.zeros((3, 1, 2, 2), dtype=np.uint8)
    x[2, 0, 1, 1] = 1
    assert fingerprint(_tiny_dataset(x_train=x)) != fp
    assert fingerprint(_tiny_dataset(y_test=np.array([2], dtype=np.int64))) != fp
    # Moving an image from train to test is a different split, hence a different key.
    moved = _tiny_dataset(
        x_train=np.zeros((2, 1, 2, 2), dtype=np.uint8),
        y_train=np.array([0, 1], dtype=np.int64),
        x_test=np.zeros((2, 1, 2, 2), dtype=np.uint8),
        y_test=np.array([2, 1], dtype=np.int64),
    )
    assert fingerprint(moved) != fp


@pytest.mark.parametrize(
    "overrides",
    [
        {"x_train": np.zeros((3, 1, 2, 2), dtype=np.float32)},
        {"x_train": np.zeros((3, 4), dtype=np.uint8)},
        {"y_train": np.array([0, 1, 2], dtype=np.int32)},
        {"y_train": np.array([0, 1], dtype=np.int64)},
        {"y_test": np.array([3], dtype=np.int64)},
        {"x_test": np.zeros((1, 1, 3, 3), dtype=np.uint8)},
    ],
)
def test_dataset_rejects_inconsistent_arrays(overrides: dict[str, object]) -> None:
    with pytest.raises(DatasetError):
        _tiny_dataset(**overrides)


# ----------------------------------------------------------------------------- downloads


def _serve_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, np.ndarray]:
    """Write MNIST-like .gz files to a 'mirror' dir and point the mnist source at it."""
    arrays = make_mnist_arrays(seed=3)
    mirror = tmp_path / "mirror"
    write_mnist(mirror, arrays)
    files = {
        f"{n}.gz": hashlib.sha256((mirror / f"{n}.gz").read_bytes()).hexdigest() for n in IDX_NAMES
    }
    source = data_files.Source(mirrors=(file_url(tmp_path / "dead"), file_url(mirror)), files=files)
    monkeypatch.setitem(data_files.SOURCES, "mnist", source)
    return arrays


def test_download_into_cache_then_reuse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arrays = _serve_mnist(tmp_path, monkeypatch)
    cache = tmp_path / "cache"
    ds = load_dataset("mnist", cache_dir=cache)
    assert_matches_mnist(ds, arrays)
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == sorted(
        f"{n}.gz" for n in IDX_NAMES
    )  # the first (dead) mirror was skipped, no temporary files were left behind
    # Second load is served from the cache: the mirror can disappear.
    for f in (tmp_path / "mirror").iterdir():
        f.unlink()
    again = load_dataset("mnist", cache_dir=cache, download=False)
    assert fingerprint(again) == fingerprint(ds)


def test_download_checksum_mismatch(tmp_path: Path) -> None:
    src = tmp_path / "train-images-idx3-ubyte.gz"
    src.write_bytes(b"not the real file")
    actual = hashlib.sha256(b"not the real file").hexdigest()
    expected = "0" * 64
    dest = tmp_path / "cache" / "train-images-idx3-ubyte.gz"
    with pytest.raises(DatasetError) as err:
        data_files.download(src.as_uri(), dest, expected)
    message = one_line(err)
    assert "train-images-idx3-ubyte.gz" in message
    assert expected in message and actual in message
    assert not dest.exists() and list(dest.parent.iterdir()) == []


def test_load_rejects_mirror_with_wrong_checksum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve_mnist(tmp_path, monkeypatch)
    source = data_files.SOURCES["mnist"]
    bad = dict(source.files, **{"t10k-labels-idx1-ubyte.gz": "ab" * 32})
    monkeypatch.setitem(data_files.SOURCES, "mnist", data_files.Source(source.mirrors, bad))
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", cache_dir=tmp_path / "cache")
    message = one_line(err)
    assert "checksum mismatch" in message and "ab" * 32 in message
    assert not (tmp_path / "cache" / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()


def test_download_failure_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = data_files.Source(
        mirrors=(file_url(tmp_path / "nowhere"),), files=dict(data_files.SOURCES["mnist"].files)
    )
    monkeypatch.setitem(data_files.SOURCES, "mnist", source)
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", cache_dir=cache)
    message = one_line(err)
    for name in IDX_NAMES:
        assert name in message
    assert str(cache / "mnist") in message
    assert "DATA_DIR=" in message and "download" in message


def test_no_download_uses_default_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(DatasetError) as err:
        load_dataset("fashion_mnist", download=False)
    message = one_line(err)
    assert str(tmp_path / ".cache" / "qnn-bench" / "fashion_mnist") in message
    assert "disabled" in message


def test_cifar_download_extracts_only_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = cifar_batches(seed=5)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    archive = mirror / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        members = {f"cifar-10-batches-py/{n}": cifar_pickle(*b) for n, b in batches.items()}
        members["cifar-10-batches-py/../../escaped"] = b"should not be written"
        for member_name, payload in members.items():
            info = tarfile.TarInfo(member_name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    source = data_files.Source(mirrors=(file_url(mirror),), files={archive.name: digest})
    monkeypatch.setitem(data_files.SOURCES, "cifar10", source)

    cache = tmp_path / "cache"
    ds = load_dataset("cifar10", cache_dir=cache)
    np.testing.assert_array_equal(ds.x_test.reshape(4, -1), batches["test_batch"][0])
    assert sorted(p.name for p in (cache / "cifar10" / "cifar-10-batches-py").iterdir()) == sorted(
        batches
    )
    assert not (cache / "cifar10" / "cifar-10-python.tar.gz").exists()
    assert not (tmp_path / "escaped").exists() and not (cache / "escaped").exists()


def test_published_checksums_are_well_formed() -> None:
    assert set(data_files.SOURCES) == set(DATASETS) - {"digits"}
    for source in data_files.SOURCES.values():
        assert source.mirrors and all(m.endswith("/") for m in source.mirrors)
        for digest in source.files.values():
            assert len(digest) == 64 and set(digest) <= set("0123456789abcdef")


# -- input geometry and MNIST-format files from digits ------------------------------------


def test_zero_padding_centres_images_in_the_frame() -> None:
    from bench.data.dataset import STORED_SHAPES, zero_pad

    digits = load_dataset("digits")
    assert digits.input_shape == STORED_SHAPES["digits"]
    padded = zero_pad(digits, 32)
    assert padded.input_shape == (1, 32, 32)
    assert np.array_equal(padded.x_train[:, :, 12:20, 12:20], digits.x_train)
    assert padded.x_train.sum() == digits.x_train.sum()  # only zeros were added
    assert np.array_equal(padded.y_test, digits.y_test)
    assert fingerprint(padded) != fingerprint(digits)  # a new cache key for training
    assert zero_pad(digits, None) is digits and zero_pad(digits, 8) is digits


@pytest.mark.parametrize(("size", "hint"), [(6, "try input_size 8"), (31, "try input_size 8")])
def test_zero_padding_refuses_frames_that_do_not_fit(size: int, hint: str) -> None:
    from bench.data.dataset import zero_pad

    with pytest.raises(DatasetError, match=hint) as err:
        zero_pad(load_dataset("digits"), size)
    assert "\n" not in str(err.value)


def test_digits_idx_files_load_as_mnist(tmp_path: Path) -> None:
    from bench.data.digits_idx import main

    assert main([str(tmp_path), "--train", "50", "--test", "20"]) == 0
    ds = load_dataset("mnist", data_dir=tmp_path)
    assert ds.x_train.shape == (50, 1, 28, 28) and ds.x_test.shape == (20, 1, 28, 28)
    assert set(np.unique(ds.y_train)) <= set(range(10)) and len(np.unique(ds.y_train)) == 10
    # a 20x20 digit box shifted at most 2 pixels: the outer 2-pixel border stays empty
    assert ds.x_train[:, :, :2].max() == 0 and ds.x_train[:, :, :, -2:].max() == 0
    assert ds.x_train.max() > 200
    again = tmp_path / "again"
    main([str(again), "--train", "50", "--test", "20"])
    assert fingerprint(load_dataset("mnist", data_dir=again)) == fingerprint(ds)
