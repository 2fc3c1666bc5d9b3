"""The seed paper's study as data: foldings, the geometry each was written for, bit widths.

Shared by the runner (`bench.studies.reproduce`) and its tables
(`bench.studies.reproduce_tables`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.core.folding_spec import FOLDINGS_DIR
from bench.data.dataset import STORED_SHAPES

CONFIGS = FOLDINGS_DIR
PAPER_FOLDINGS = ("a", "b", "c", "d", "e", "f")
# The frame each folding was written for: 32 = images zero-padded to 32x32 (1,024 inputs
# for one channel); None = the data set's own images ((e) is FINN's 784-input folding).
PAPER_INPUT_SIZE: dict[str, int | None] = {
    "a": 32, "b": 32, "c": 32, "d": 32, "e": None, "f": 32,
}
TFC_BITS = (2, 3, 4, 5, 6, 7, 8)
POT_BITS = (2, 3, 4)
CNV_BITS = (2, 4, 8)
HARDWARE_SEED = 0  # the seed whose builds the hardware tables show
PAPER_SPAN = 62  # measured on the board
PAPER_CYCLE_SPAN = 64  # (c) vs (a): 4,096 vs 64 cycles per image in FINN's cycle model
TFC_HIDDEN, TFC_CLASSES = 64, 10


def tfc_inputs(dataset: str, input_size: int | None) -> int:
    """How many inputs TFC's first layer has for this data set and frame."""
    channels, height, width = STORED_SHAPES[dataset]
    if input_size is not None:
        height = width = max(input_size, height)
    return channels * height * width


def geometry_text(dataset: str, input_size: int | None) -> str:
    """E.g. '32×32 (1,024)' or '3×32×32 (3,072)': the frame and the input count."""
    channels, height, width = STORED_SHAPES[dataset]
    if input_size is not None:
        height = width = max(input_size, height)
    frame = f"{height}×{width}" if channels == 1 else f"{channels}×{height}×{width}"
    return f"{frame} ({channels * height * width:,})"


def paper_folding(name: str) -> dict[str, str]:
    """The folding spec of paper folding `name` ('a'..'f')."""
    return {"strategy": "layers", "file": str(CONFIGS / f"tfc_paper_{name}.json")}


def paper_name(record: dict[str, Any]) -> str | None:
    """'a'..'f' for a record folded by a paper folding file, else None."""
    spec = record.get("folding_spec") or {}
    stem = Path(str(spec.get("file", ""))).stem
    label = record.get("folding_id") or ""
    if not stem and label.startswith("layers-"):
        stem = label.removeprefix("layers-")
    return stem.removeprefix("tfc_paper_") if stem.startswith("tfc_paper_") else None
