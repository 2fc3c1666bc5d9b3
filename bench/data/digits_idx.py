"""MNIST-format files made from scikit-learn's digits, for machines without internet.

`python -m bench.data.digits_idx DIR` writes the four IDX files MNIST ships as
(`train-images-idx3-ubyte` ...) into DIR, so `--dataset mnist --data-dir DIR` runs the
28x28 (784-input) code path end to end offline. The images are the 8x8 digits scaled up
to 20x20 by bilinear interpolation and placed in a 28x28 frame the way MNIST centres its
20x20 digit boxes, each copy shifted by up to 2 pixels (seeded), so the files hold more
images than the 1,797 originals. Train and test copies come from disjoint original
images, so the test set measures generalization, not memory of a shifted twin.

This is not MNIST: it is easier (about 97 % for TFC) and has fewer distinct writers. It
exercises geometry, loaders and the whole flow; for the paper's numbers use real MNIST.
"""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

import numpy as np

DIGIT_BOX, FRAME, MAX_SHIFT = 20, 28, 2
TRAIN_IMAGES, TEST_IMAGES = 8_000, 2_000
TEST_FRACTION = 0.2


def upscale(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of (N, h, w) images to (N, size, size), corners aligned."""
    _, height, width = images.shape
    rows = np.linspace(0, height - 1, size)
    cols = np.linspace(0, width - 1, size)
    r0 = np.floor(rows).astype(int).clip(0, height - 2)
    c0 = np.floor(cols).astype(int).clip(0, width - 2)
    fr, fc = (rows - r0)[:, None], (cols - c0)[None, :]
    top = images[:, r0][:, :, c0] * (1 - fc) + images[:, r0][:, :, c0 + 1] * fc
    bottom = images[:, r0 + 1][:, :, c0] * (1 - fc) + images[:, r0 + 1][:, :, c0 + 1] * fc
    return top * (1 - fr) + bottom * fr


def framed_copies(boxes: np.ndarray, labels: np.ndarray, count: int,
                  rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """`count` 28x28 images: digit boxes drawn in turn, each at a random small shift."""
    picks = np.arange(count) % len(boxes)
    shifts = rng.randint(-MAX_SHIFT, MAX_SHIFT + 1, size=(count, 2))
    out = np.zeros((count, FRAME, FRAME), dtype=np.uint8)
    margin = (FRAME - DIGIT_BOX) // 2
    for i, (pick, (dy, dx)) in enumerate(zip(picks, shifts, strict=True)):
        top, left = margin + dy, margin + dx
        out[i, top:top + DIGIT_BOX, left:left + DIGIT_BOX] = boxes[pick]
    return out, labels[picks].astype(np.uint8)


def make_digits_idx(out_dir: Path, train: int = TRAIN_IMAGES, test: int = TEST_IMAGES,
                    seed: int = 0) -> list[Path]:
    """Write the four MNIST IDX files into `out_dir`; returns their paths."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    rng = np.random.RandomState(seed)  # numpy's frozen legacy stream: same files everywhere
    order = rng.permutation(len(bunch.target))
    n_test = round(len(order) * TEST_FRACTION)
    boxes = np.rint(upscale(bunch.images * (255.0 / 16.0), DIGIT_BOX)).clip(0, 255)
    boxes = boxes.astype(np.uint8)
    labels = np.asarray(bunch.target)
    sets = {
        "train": framed_copies(boxes[order[n_test:]], labels[order[n_test:]], train, rng),
        "t10k": framed_copies(boxes[order[:n_test]], labels[order[:n_test]], test, rng),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for prefix, (images, targets) in sets.items():
        paths.append(_write_idx(out_dir / f"{prefix}-images-idx3-ubyte", images))
        paths.append(_write_idx(out_dir / f"{prefix}-labels-idx1-ubyte", targets))
    return paths


def _write_idx(path: Path, array: np.ndarray) -> Path:
    """IDX: magic (0, 0, type 0x08 = unsigned byte, dimensions), big-endian sizes, bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.data.digits_idx",
        description="Write MNIST-format IDX files made from scikit-learn's digits.",
    )
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--train", type=int, default=TRAIN_IMAGES)
    parser.add_argument("--test", type=int, default=TEST_IMAGES)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.train < 1 or args.test < 1:
        parser.error("--train and --test must be positive")
    for path in make_digits_idx(args.out_dir, args.train, args.test, args.seed):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
