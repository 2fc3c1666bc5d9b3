"""Bounds on every number a spec holds, and the small checks that enforce them.

What FINN, PyTorch and a clock can represent: an absurd value is a one-line error before
any work instead of a record nobody can tabulate.
"""

from __future__ import annotations

import struct
from typing import Any

MAX_PARALLEL = 2**16  # PE / SIMD (FINN's layer dimensions are far smaller)
MAX_SEED = 2**32 - 1  # numpy's seed range
CLK_NS_RANGE = (0.5, 100.0)  # 2 GHz .. 10 MHz
MAX_EPOCHS = 100_000
MAX_BATCH = 100_000
MAX_LR = 10.0
MAX_TARGET_FPS = 10**9
# The input mapping of an external model, x * scale + offset, runs in float32 (the
# graph's arithmetic): a number float32 does not hold to this relative accuracy would
# silently become another (1e-300 becomes 0) while the record kept the one given.
MAX_INPUT_MAPPING = 1e6
FLOAT32_RTOL = 1e-6


def not_bool(value: Any) -> Any:
    """YAML's `true` is not the number 1 here."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number, got {str(value).lower()}")
    return value


def within(value: Any, low: float, high: float) -> Any:
    if not low <= value <= high:  # also false for NaN
        raise ValueError(f"must be in {low:g}..{high:g}, got {value}")
    return value


def short(value: Any, limit: int = 40) -> str:
    """A value for an error message, never longer than a line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def float32_mapping(value: float, nonzero: bool) -> float:
    """An input scale (`nonzero`) or offset: finite, of magnitude <= MAX_INPUT_MAPPING, and
    held by float32 to within FLOAT32_RTOL relative (0 exactly)."""
    held = struct.unpack("f", struct.pack("f", value))[0] if abs(value) <= 3e38 else value
    if (abs(value) <= MAX_INPUT_MAPPING  # also false for NaN and infinities
            and abs(held - value) <= FLOAT32_RTOL * abs(value)
            and (value != 0 or not nonzero)):
        return value
    what = "a nonzero number" if nonzero else "a number"
    raise ValueError(
        f"must be {what} of magnitude <= {MAX_INPUT_MAPPING:g} that float32 holds to within "
        f"{FLOAT32_RTOL:g} relative (the input mapping runs in float32), got {value}"
    )
