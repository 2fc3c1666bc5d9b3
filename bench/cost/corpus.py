"""The calibration corpus: which layer configurations are synthesized to fit the cost models.

Each layer type gets a designed sample of the space networks actually use (matrix sizes
from the MLPs and CNV, PE/SIMD that divide them, 2-8-bit operands). Configurations are
drawn from a seeded generator, so the corpus is the same on every machine and a new entry
never reshuffles the old ones. A second, independent draw is the held-out set the errors
in `qnnbench calibrate --check` are measured on; the fit never sees it.

A configuration is a plain dict (see `bench.finn_flow.single_layer.layer_config`) plus
`family`, the Yosys `synth_xilinx` family it is synthesized for.
"""

from __future__ import annotations

import random
from typing import Any

# A representative part per family (FINN picks the DSP block, and with it the RTL MVU,
# from the part).
PARTS = {"xc7": "xc7z020clg400-1", "xcup": "xczu9eg-ffvb1156-2-e"}

FIT_SEED, HELD_OUT_SEED = 20, 21

# (op type, family, configurations to fit on, held-out configurations)
PLAN: list[tuple[str, str, int, int]] = [
    ("MVAU_rtl", "xc7", 45, 10),
    ("MVAU_rtl", "xcup", 20, 6),
    ("Thresholding_rtl", "xc7", 36, 9),
    ("ConvolutionInputGenerator_rtl", "xc7", 28, 8),
    ("FMPadding_rtl", "xc7", 16, 5),
]


# Our unit with integer weights whose products Yosys puts in DSPs (9+ product bits),
# synthesized with DSPs and again without (-nodsp): what one DSP saves in LUTs.
# (MW, MH, PE, SIMD, activation bits, weight bits)
DSP_PAIRS: list[tuple[int, int, int, int, int, int]] = [
    (64, 32, 4, 4, 5, 4), (64, 32, 2, 8, 4, 5), (64, 32, 4, 8, 8, 8), (64, 32, 8, 4, 6, 6),
]


def _divisors(n: int, at_most: int) -> list[int]:
    return [d for d in range(1, min(n, at_most) + 1) if n % d == 0]


def _ceil_log2(n: int) -> int:
    return max(1, (n - 1).bit_length())


def _mvau(rng: random.Random) -> dict[str, Any]:
    mw = rng.choice([16, 27, 32, 64, 72, 128, 144, 256, 288, 576, 784, 1024])
    mh = rng.choice([10, 16, 32, 64, 128, 256])
    w_bits, a_bits = rng.randint(2, 8), rng.randint(2, 8)
    while True:
        pe, simd = rng.choice(_divisors(mh, 32)), rng.choice(_divisors(mw, 64))
        if pe * simd <= 512:
            break
    acc = min(a_bits + w_bits + _ceil_log2(mw), 32)
    return {"op_type": "MVAU_rtl", "mw": mw, "mh": mh, "pe": pe, "simd": simd,
            "w_bits": w_bits, "a_bits": a_bits, "a_signed": 0, "acc_bits": acc}


def _thresholding(rng: random.Random) -> dict[str, Any]:
    channels = rng.choice([10, 16, 32, 64, 128, 256, 512])
    out_bits = rng.randint(1, 8)
    in_bits = rng.randint(max(out_bits + 2, 8), 24)
    return {"op_type": "Thresholding_rtl", "channels": channels,
            "pe": rng.choice(_divisors(channels, 64)), "in_bits": in_bits,
            "out_bits": out_bits, "steps": (1 << out_bits) - 1}


def _swg(rng: random.Random) -> dict[str, Any]:
    channels = rng.choice([1, 3, 16, 32, 64, 128, 256])
    k = rng.choice([2, 3, 5])
    ifm = rng.choice([d for d in (4, 6, 8, 12, 14, 16, 28, 30, 32) if d >= k])
    return {"op_type": "ConvolutionInputGenerator_rtl", "channels": channels,
            "simd": rng.choice(_divisors(channels, 64)), "ifm": ifm, "k": k,
            "stride": rng.choice([1, 1, 2]) if k == 2 else 1, "bits": rng.randint(1, 8),
            "depthwise": 0, "parallel_window": 0}


def _padding(rng: random.Random) -> dict[str, Any]:
    channels = rng.choice([1, 3, 16, 32, 64, 128])
    return {"op_type": "FMPadding_rtl", "channels": channels,
            "simd": rng.choice(_divisors(channels, 32)), "img": rng.choice([8, 14, 16, 28, 32]),
            "pad": rng.choice([1, 2]), "bits": rng.randint(1, 8)}


SAMPLERS = {"MVAU_rtl": _mvau, "Thresholding_rtl": _thresholding,
            "ConvolutionInputGenerator_rtl": _swg, "FMPadding_rtl": _padding}


def draw(op_type: str, family: str, count: int, seed: int) -> list[dict[str, Any]]:
    """`count` distinct configurations of one type, the same for the same arguments."""
    rng = random.Random(f"{seed}-{op_type}-{family}")
    seen: set[tuple[Any, ...]] = set()
    configs: list[dict[str, Any]] = []
    while len(configs) < count:
        config = {**SAMPLERS[op_type](rng), "family": family}
        key = tuple(sorted(config.items()))
        if key not in seen:
            seen.add(key)
            configs.append(config)
    return configs


def corpus() -> list[tuple[str, dict[str, Any]]]:
    """Every configuration with its role, "fit" or "held_out"; held-out ones that happen
    to equal a fit configuration are left out, so the check never grades memorization."""
    result: list[tuple[str, dict[str, Any]]] = []
    for op_type, family, n_fit, n_held in PLAN:
        fit = draw(op_type, family, n_fit, FIT_SEED)
        keys = {tuple(sorted(c.items())) for c in fit}
        held = [c for c in draw(op_type, family, n_held, HELD_OUT_SEED)
                if tuple(sorted(c.items())) not in keys]
        result += [("fit", c) for c in fit] + [("held_out", c) for c in held]
    return result


def config_id(config: dict[str, Any]) -> str:
    """A readable, unique name for a configuration (its values in a fixed order)."""
    return "-".join(f"{k}{v}" for k, v in sorted(config.items()) if k != "op_type") \
        .replace("family", "").replace("_", "")
