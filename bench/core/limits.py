"""Bounds on every number a spec holds, and the small checks that enforce them.

What FINN, PyTorch and a clock can represent: an absurd value is a one-line error before
any work instead of a record nobody can tabulate.
"""

from __future__ import annotations

from typing import Any

MAX_PARALLEL = 2**16  # PE / SIMD (FINN's layer dimensions are far smaller)
MAX_SEED = 2**32 - 1  # numpy's seed range
CLK_NS_RANGE = (0.5, 100.0)  # 2 GHz .. 10 MHz
MAX_EPOCHS = 100_000
MAX_BATCH = 100_000
MAX_LR = 10.0
MAX_TARGET_FPS = 10**9


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
