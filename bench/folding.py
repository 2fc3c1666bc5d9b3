"""Folding (per-layer PE/SIMD parallelism): strategies and validation, without FINN.

FINN describes a layer's parallelism by PE (output channels computed in parallel) and
SIMD (input elements consumed in parallel); PE must divide the layer's output dimension
and SIMD its input dimension. `bench.finn_flow` reads those dimensions off the hardware
graph into `Layer` objects; everything here is plain arithmetic on them, so strategies
can be tested and searched without importing FINN.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Layer:
    """A foldable node of the hardware graph.

    `pe_dim` / `simd_dim` are the dimensions PE / SIMD must divide; None means the layer
    has no such attribute (e.g. a pure streaming layer without SIMD).
    """

    name: str
    op_type: str
    pe_dim: int | None
    simd_dim: int | None


@dataclass(frozen=True)
class LayerFolding:
    """What one layer got, and what was asked for when it had to be clamped."""

    node: str
    op_type: str
    pe: int | None
    simd: int | None
    requested_pe: int | None
    requested_simd: int | None

    @property
    def clamped(self) -> bool:
        return (self.pe, self.simd) != (self.requested_pe, self.requested_simd)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def largest_divisor_at_most(n: int, limit: int) -> int:
    """The largest d with d | n and d <= limit (at least 1)."""
    return max(d for d in divisors(n) if d <= max(1, limit))


def uniform_folding(layers: list[Layer], pe: int, simd: int) -> list[LayerFolding]:
    """Ask every layer for the same PE/SIMD; each gets the largest valid value not above it.

    Clamping instead of rejecting lets one "PE=8" mean "as parallel as 8 where the layer
    allows": a 10-class output layer gets PE 5, not an error.
    """
    if pe < 1 or simd < 1:
        raise ValueError(f"PE and SIMD must be positive integers, got PE={pe} SIMD={simd}")
    result = []
    for layer in layers:
        got_pe = largest_divisor_at_most(layer.pe_dim, pe) if layer.pe_dim else None
        got_simd = largest_divisor_at_most(layer.simd_dim, simd) if layer.simd_dim else None
        result.append(
            LayerFolding(
                node=layer.name,
                op_type=layer.op_type,
                pe=got_pe,
                simd=got_simd,
                requested_pe=pe if layer.pe_dim else None,
                requested_simd=simd if layer.simd_dim else None,
            )
        )
    return result


def to_finn_config(folding: list[LayerFolding]) -> dict[str, dict[str, int]]:
    """FINN's folding-config format: {node name: {"PE": .., "SIMD": ..}}."""
    config: dict[str, dict[str, int]] = {}
    for f in folding:
        attrs = {}
        if f.pe is not None:
            attrs["PE"] = f.pe
        if f.simd is not None:
            attrs["SIMD"] = f.simd
        if attrs:
            config[f.node] = attrs
    return config
