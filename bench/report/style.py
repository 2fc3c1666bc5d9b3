"""Colours and markers shared by every figure, so a bit width looks the same everywhere."""

from __future__ import annotations

from typing import Any

from matplotlib import colormaps
from matplotlib.colors import to_hex

# -- colours ------------------------------------------------------------------------------

# One fixed colour per bit width 1..8, shared by every figure (Okabe-Ito based, colour-blind
# friendly; the common widths 1, 2, 4, 8 are black, orange, green, pink).
BIT_COLORS: dict[int, str] = {
    1: "#222222", 2: "#E69F00", 3: "#56B4E9", 4: "#009E73",
    5: "#8C564B", 6: "#0072B2", 7: "#D55E00", 8: "#CC79A7",
}
OTHER_BITS_COLOR = "#999999"
SERIES_COLORS = [to_hex(c) for c in colormaps["tab10"].colors]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p", "d", "8"]
# Marker per weight quantizer in the folding figures (colour is the bit width).
QUANT_MARKERS = {"int": "o", "pot": "s", "binary": "^", "ternary": "D"}


def bits_color(bits: Any) -> str:
    """The fixed colour of a bit width (1..8); grey for anything else."""
    try:
        return BIT_COLORS.get(int(bits), OTHER_BITS_COLOR)
    except (TypeError, ValueError):
        return OTHER_BITS_COLOR


class FigureSkipped(Exception):
    """The data cannot make this figure; the message says why."""
