"""What a layer's cost is made of, per layer type: the terms the calibrated models weigh.

Each function takes a plain layer description (`bench.finn_flow.single_layer.layer_config`)
and returns named terms that count a piece of the hardware: lanes of arithmetic, bits of
accumulators and comparators, stream widths, the LUTs of memories Yosys keeps in LUT RAM.
A model (`bench.cost.model`) is a non-negative weight per term, so every coefficient
reads as "LUTs per lane-bit" or similar, and no term can make a larger layer cheaper.
Memories are listed separately: they decide block RAM, which is counted, not fitted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from bench.cost.memory import in_lutram, lut_ram_luts

Config = dict[str, Any]


def _log2(n: float) -> float:
    return math.log2(max(n, 1))


# -- memories: (depth, width) of each memory the layer holds ------------------------------


def mvau_memories(c: Config) -> list[tuple[int, int]]:
    """The weight memory FINN's streamer reads: one word per (row fold, column fold)."""
    depth = (c["mw"] // c["simd"]) * (c["mh"] // c["pe"])
    return [(depth, c["pe"] * c["simd"] * c["w_bits"])]


def thresholding_memories(c: Config) -> list[tuple[int, int]]:
    """Per PE and per binary-search stage, that stage's thresholds of the PE's channels."""
    cf = c["channels"] // c["pe"]
    stages = max(1, math.ceil(math.log2(c["steps"] + 1)))
    return [(cf << s, c["in_bits"]) for s in range(stages) for _ in range(c["pe"])]


def swg_memories(c: Config) -> list[tuple[int, int]]:
    """The sliding window's line buffer: K-1 rows and K pixels of folded channels."""
    cf = c["channels"] // c["simd"]
    return [(((c["k"] - 1) * c["ifm"] + c["k"]) * cf, c["simd"] * c["bits"])]


MEMORIES: dict[str, Callable[[Config], list[tuple[int, int]]]] = {
    "MVAU_rtl": mvau_memories,
    "Thresholding_rtl": thresholding_memories,
    "ConvolutionInputGenerator_rtl": swg_memories,
    "FMPadding_rtl": lambda c: [],
}


# Thresholds are constants: their memories are ROMs, which Yosys builds in block RAM from
# about this many bits and in LUT logic below (the rule that matched the most rows of the
# corpus). Writable memories (weights, line buffers) follow `memory.in_lutram` instead.
# FINN's sliding window asks for distributed RAM (its `ram_style` default), so its line
# buffer is LUT RAM at any depth.
ROM_TYPES = ("Thresholding_rtl",)
ROM_BRAM_BITS = 10_000
LUT_RAM_TYPES = ("ConvolutionInputGenerator_rtl",)


def in_block_ram(op_type: str, depth: int, width: int) -> bool:
    if op_type in ROM_TYPES:
        return depth * width >= ROM_BRAM_BITS
    if op_type in LUT_RAM_TYPES:
        return False
    return not in_lutram(depth, width)


def lutram_term(c: Config) -> float:
    """RAM64M LUTs of the layer's writable memories that stay out of block RAM."""
    if c["op_type"] in ROM_TYPES:
        return 0.0
    return float(sum(lut_ram_luts(d, w) for d, w in MEMORIES[c["op_type"]](c)
                     if not in_block_ram(c["op_type"], d, w)))


def rom_logic_bits(c: Config) -> float:
    """Bits of the layer's ROMs that Yosys builds in LUT logic (in units of 64, a LUT6)."""
    return sum(d * w for d, w in MEMORIES[c["op_type"]](c)
               if not in_block_ram(c["op_type"], d, w)) / 64


# -- logic terms ---------------------------------------------------------------------------


def _mvau(c: Config) -> dict[str, float]:
    lanes = c["pe"] * c["simd"]
    return {"1": 1.0, "PE": c["pe"], "SIMD": c["simd"], "lanes": lanes,
            "PE*ACC": c["pe"] * c["acc_bits"], "lanes*A": lanes * c["a_bits"],
            "lanes*W": lanes * c["w_bits"], "SIMD*A": c["simd"] * c["a_bits"],
            "PE*log2(SIMD)*ACC": c["pe"] * _log2(c["simd"]) * c["acc_bits"],
            "log2(depth)": _log2(mvau_memories(c)[0][0])}


def _thresholding(c: Config) -> dict[str, float]:
    stages = max(1, math.ceil(math.log2(c["steps"] + 1)))
    return {"1": 1.0, "PE": c["pe"], "PE*IN": c["pe"] * c["in_bits"],
            "PE*stages*IN": c["pe"] * stages * c["in_bits"],
            "PE*OUT": c["pe"] * c["out_bits"],
            "PE*stages*log2(CF)": c["pe"] * stages * _log2(c["channels"] // c["pe"]),
            "ROM bits in logic/64": rom_logic_bits(c)}


def _swg(c: Config) -> dict[str, float]:
    """Address counters and control; the line buffer itself is the LUT RAM term."""
    return {"1": 1.0, "width": c["simd"] * c["bits"],
            "log2(depth)": _log2(swg_memories(c)[0][0]),
            "log2(IFM*CF)": _log2(c["ifm"] * c["channels"] // c["simd"])}


def _padding(c: Config) -> dict[str, float]:
    width = c["simd"] * c["bits"]
    return {"1": 1.0, "width": width,
            "log2(img)": _log2(c["img"] + 2 * c["pad"]),
            "log2(CF)": _log2(c["channels"] // c["simd"])}


LOGIC: dict[str, Callable[[Config], dict[str, float]]] = {
    "MVAU_rtl": _mvau,
    "Thresholding_rtl": _thresholding,
    "ConvolutionInputGenerator_rtl": _swg,
    "FMPadding_rtl": _padding,
}


def delay_terms(c: Config) -> dict[str, float]:
    """Logic depth grows with the log of what is added or compared, not its size."""
    terms = LOGIC[c["op_type"]](c)
    return {"1": 1.0, **{f"log2({k})": _log2(v) for k, v in terms.items() if k != "1"}}
