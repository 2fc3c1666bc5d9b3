"""FPGA boards and their resource capacities.

Capacities are the parts' data-sheet totals, so utilization is relative to the whole chip
(FINN's own platform table rounds some of these down). FINN needs the exact part name to
pick HLS vs RTL layer variants, so each board carries it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Board:
    name: str
    part: str
    lut: int
    ff: int
    bram18: int
    uram: int
    dsp: int

    def capacity(self) -> dict[str, int]:
        """Resources the estimates are compared against (FFs are never estimated by FINN)."""
        return {"lut": self.lut, "bram18": self.bram18, "uram": self.uram, "dsp": self.dsp}


BOARDS: dict[str, Board] = {
    b.name: b
    for b in (
        Board("Pynq-Z1", "xc7z020clg400-1", 53_200, 106_400, 280, 0, 220),
        Board("Pynq-Z2", "xc7z020clg400-1", 53_200, 106_400, 280, 0, 220),
        Board("Ultra96", "xczu3eg-sbva484-1-e", 70_560, 141_120, 432, 0, 360),
        Board("ZCU104", "xczu7ev-ffvc1156-2-e", 230_400, 460_800, 624, 96, 1_728),
        Board("ZCU102", "xczu9eg-ffvb1156-2-e", 274_080, 548_160, 1_824, 0, 2_520),
    )
}


def get_board(name: str) -> Board:
    """Look a board up by name, case-insensitively, with a one-line error otherwise."""
    for key, board in BOARDS.items():
        if key.lower() == name.lower():
            return board
    raise ValueError(f"unknown board {name!r}; allowed: {', '.join(BOARDS)}")


def utilization(board: Board, used: dict[str, float]) -> tuple[dict[str, float], bool]:
    """Fraction of each resource used, and whether everything fits.

    A resource the part does not have (URAM on 7-series) fits only if none is used.
    """
    fractions: dict[str, float] = {}
    fits = True
    for resource, capacity in board.capacity().items():
        amount = float(used.get(resource, 0.0))
        if capacity == 0:
            fractions[resource] = 0.0 if amount == 0 else float("inf")
        else:
            fractions[resource] = amount / capacity
        fits = fits and fractions[resource] <= 1.0
    return fractions, fits
