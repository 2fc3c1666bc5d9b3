"""How Yosys builds a memory on Xilinx parts: block RAM or LUT RAM, and how many of each.

Shared by every cost model whose layer holds a memory (weights, thresholds, line buffers),
so a memory of the same shape is priced the same wherever it appears.
"""

from __future__ import annotations

import math

# Yosys puts a memory in LUTRAM while that costs fewer RAM64M LUTs than this per RAMB18
# it would take instead (measured on our unit: 64 LUTs against one RAMB18 went to block
# RAM, 112 against two stayed LUTRAM).
LUTS_PER_BRAM18 = 64


def bram18(depth: int, width: int) -> int:
    """RAMB18s for one memory: the cheapest of the 512x36, 1Kx18, 2Kx9 ... shapes."""
    return min(math.ceil(depth / (512 << i)) * math.ceil(width / (36 >> i))
               for i in range(6))


def lutram_luts(depth: int, width: int) -> int:
    """LUTs of a memory in RAM64M cells (64 words x 3 bits in 4 LUTs)."""
    return 4 * math.ceil(width / 3) * math.ceil(depth / 64)


def lut_ram_luts(depth: int, width: int) -> int:
    """LUTs of a memory in LUT RAM as Yosys maps it: up to 32 words in RAM32M cells (32 x 6
    bits in 4 LUTs), deeper ones in RAM64M. (`lutram_luts` counts RAM64M only: our unit's
    fitted model was made with it.)"""
    if depth <= 32:
        return 4 * math.ceil(width / 6)
    return lutram_luts(depth, width)


def in_lutram(depth: int, width: int) -> bool:
    return lutram_luts(depth, width) < LUTS_PER_BRAM18 * bram18(depth, width)
