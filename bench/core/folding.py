"""Folding (per-layer PE/SIMD parallelism): strategies and validation, without FINN.

FINN describes a layer's parallelism by PE (output channels computed in parallel) and
SIMD (input elements consumed in parallel); PE must divide the layer's output dimension
and SIMD its input dimension. `bench.finn_flow` reads those dimensions off the hardware
graph into `Layer` objects; everything here is plain arithmetic on them, so strategies
can be tested and searched without importing FINN.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

from bench.core.op_kinds import base_op
from bench.core.stream_rate import stream_cycles


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
    weight_bits: int | None = None


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


# -- per-layer files (FINN's folding-config format) --------------------------------------


class FoldingError(ValueError):
    """A folding that does not fit the graph; the message names the layer and valid values."""


def resolve_layer_names(layers: list[Layer], config: dict[str, dict[str, int]]) -> dict[str, str]:
    """Map each key of a folding file onto a node of this graph.

    Keys that name a node are taken as they are. A file written for another
    specialization of the same network (FINN names the last layer `MVAU_rtl_0` at some
    bit widths and `MVAU_hls_3` at others) is matched by position among the layers of the
    same kind, in file order, when the counts agree.
    """
    names = {layer.name for layer in layers}
    mapping = {key: key for key in config if key in names}
    unknown = [key for key in config if key not in names]
    if not unknown:
        return mapping
    for kind in sorted({base_op(key.rsplit("_", 1)[0]) for key in unknown}):
        keys = [k for k in config if base_op(k.rsplit("_", 1)[0]) == kind]
        nodes = [la.name for la in layers if base_op(la.op_type) == kind]
        if len(keys) != len(nodes):
            raise FoldingError(
                f"folding file names {', '.join(k for k in unknown)}, which this graph does "
                f"not have; its layers are: {', '.join(la.name for la in layers)}"
            )
        mapping.update(dict(zip(keys, nodes, strict=True)))
    return mapping


def layers_folding(layers: list[Layer], config: dict[str, dict[str, int]]) -> list[LayerFolding]:
    """Validate a per-layer folding against the graph's dimensions, before FINN sees it.

    FINN itself accepts any value here and only fails later in the estimate step; we
    reject it up front with the layer's valid values instead.
    """
    mapping = resolve_layer_names(layers, config)
    by_node = {mapping[key]: attrs for key, attrs in config.items()}
    result: list[LayerFolding] = []
    for layer in layers:
        attrs = by_node.get(layer.name) or _standalone_thresholds(layer, result)
        pe, simd = attrs.get("PE", 1 if layer.pe_dim else None), attrs.get(
            "SIMD", 1 if layer.simd_dim else None
        )
        for attr, value, dim, what in (
            ("PE", pe, layer.pe_dim, "output"), ("SIMD", simd, layer.simd_dim, "input"),
        ):
            if value is None:
                continue
            if dim is None:
                raise FoldingError(f"layer {layer.name} has no {attr} attribute")
            if dim % value:
                raise FoldingError(
                    f"layer {layer.name}: {attr}={value} does not divide its {what} size "
                    f"{dim}; valid {attr} values: {', '.join(map(str, divisors(dim)))}"
                )
        result.append(LayerFolding(layer.name, layer.op_type, pe, simd, pe, simd))
    return result


def _standalone_thresholds(layer: Layer, before: list[LayerFolding]) -> dict[str, int]:
    """A thresholds layer the file does not name, right after an MVU, runs at the MVU's PE.

    Files are written for graphs whose thresholds are fused into the MVAU (FINN's default
    build); in the RTL graph they are a layer of their own, which must keep pace with its
    MVU exactly as the fused thresholds did."""
    if (base_op(layer.op_type) == "Thresholding" and before
            and base_op(before[-1].op_type) == "MVAU" and before[-1].pe is not None):
        return {"PE": before[-1].pe}
    return {}


def tie_pool_inputs(layers: list[Layer], folding: list[LayerFolding]) -> list[LayerFolding]:
    """The folding with each max pool's sliding-window generator streaming as many
    channels a beat as the pool takes (its SIMD = the pool's PE), whatever was asked.

    A pool reads its generator's stream as it comes, PE channels a beat, so the two must
    agree or the hardware computes garbage (FINN's Python execution would not notice). The
    pool's PE decides, as in FINN's own SetFolding. FINN places a pool's generator right
    before it; a generator of the pool's channel count there is taken to be it.
    """
    by_name = {f.node: f for f in folding}
    for before, layer in itertools.pairwise(layers):
        pool, swg = by_name.get(layer.name), by_name.get(before.name)
        if (pool is None or swg is None or base_op(layer.op_type) != "Pool"
                or base_op(before.op_type) != "ConvolutionInputGenerator"
                or before.simd_dim != layer.pe_dim or pool.pe is None
                or swg.simd == pool.pe):
            continue
        by_name[before.name] = LayerFolding(swg.node, swg.op_type, swg.pe, pool.pe,
                                            swg.requested_pe, swg.requested_simd)
    return [by_name[f.node] for f in folding]


def folding_from_config(
    layers: list[Layer], config: dict[str, dict[str, int]]
) -> list[LayerFolding]:
    """Describe a folding chosen by someone else (e.g. FINN's auto-folding) per layer."""
    return [
        LayerFolding(
            la.name, la.op_type, config.get(la.name, {}).get("PE"),
            config.get(la.name, {}).get("SIMD"), None, None,
        )
        for la in layers
    ]


# -- device-budget search -----------------------------------------------------------------

# FINN's HLS MVAU streams a whole PE x SIMD block of weights per cycle in one ap_int, whose
# width HLS caps at 8191 bits; foldings past it do not synthesize, so the search skips them.
MAX_WEIGHT_STREAM_BITS = 8191


def stream_capped_bits(layers: list[Layer]) -> dict[str, int]:
    """Weight bits of the layers the HLS weight-stream cap applies to (FINN's HLS MVAUs);
    RTL layers, FINN's and ours, keep their weights in memories of any width."""
    return {la.name: la.weight_bits for la in layers
            if la.weight_bits and la.op_type.endswith("_hls")}
RESOURCES = ("lut", "bram18", "uram", "dsp")


@dataclass(frozen=True)
class FrontPoint:
    """One Pareto-optimal folding: throughput, its resource totals and per-layer choices."""

    max_cycles: int
    totals: dict[str, float]
    choice: dict[str, tuple[int | None, int | None]]


def pareto_search(
    layer_options: dict[str, list[dict[str, Any]]],
    budget: dict[str, float],
    weight_bits: dict[str, int] | None = None,
    feeds: dict[str, str] | None = None,
) -> list[FrontPoint]:
    """Pareto front of (max cycles, LUT) over per-layer foldings within a resource budget.

    Throughput is set by the slowest layer, and resources add up over layers. So for a
    cycle bound T, the cheapest network meeting it picks, for every layer independently,
    the cheapest option with cycles <= T. Sweeping T over every cycle count some layer can
    take gives all candidates; those within the budget and not dominated in (cycles, LUT)
    form the front. Ties on LUT are broken by BRAM, then DSP, then URAM.

    A layer in `feeds` (consumer -> producer, `stream_rate.feeds`) is slower than its own
    cycles when its SIMD is wider than its producer's PE; its options then carry a
    `rate`, and it is chosen after its producer (graph order), against the producer's PE.
    That choice is greedy (a dearer producer could let the consumer be cheaper), but it
    never reports a folding faster than it runs.

    `layer_options[name]` lists {"pe", "simd", "cycles", "lut", "bram18", "uram", "dsp"}
    (and "rate", a `stream_rate.LayerRate`, for layers in `feeds`), in graph order;
    `budget` gives the maximum of each resource.
    """
    weight_bits = weight_bits or {}
    feeds = feeds or {}

    def cycles(name: str, option: dict[str, Any], choice: dict[str, Any]) -> int:
        producer = choice.get(feeds.get(name, ""))
        if option.get("rate") is None or producer is None:
            return option["cycles"]
        return stream_cycles(option["rate"], producer["pe"])

    def allowed(name: str, option: dict[str, Any]) -> bool:
        bits = weight_bits.get(name)
        if bits is None or option["pe"] is None or option["simd"] is None:
            return True
        return option["pe"] * option["simd"] * bits <= MAX_WEIGHT_STREAM_BITS

    def cost(option: dict[str, Any]) -> tuple[float, ...]:
        return (option["lut"], option["bram18"], option["dsp"], option["uram"])

    options = {
        name: sorted((o for o in opts if allowed(name, o)), key=cost)
        for name, opts in layer_options.items()
    }
    reachable = {o["cycles"] for opts in options.values() for o in opts}
    for name, producer in feeds.items():  # a stalled layer's cycles are bounds too
        reachable |= {cycles(name, o, {producer: p})
                      for o in options.get(name, []) for p in options.get(producer, [])}
    candidates: list[FrontPoint] = []
    for bound in sorted(reachable):
        choice = {}
        for name, opts in options.items():
            feasible = [o for o in opts if cycles(name, o, choice) <= bound]
            if not feasible:
                break
            choice[name] = feasible[0]  # sorted by cost: the cheapest that meets the bound
        else:
            totals = {r: sum(o.get(r, 0.0) for o in choice.values()) for r in RESOURCES}
            if all(totals[r] <= budget.get(r, float("inf")) for r in RESOURCES):
                candidates.append(
                    FrontPoint(
                        max_cycles=max(cycles(n, o, choice) for n, o in choice.items()),
                        totals=totals,
                        choice={n: (o["pe"], o["simd"]) for n, o in choice.items()},
                    )
                )
    return pareto_front(candidates)


def pareto_front(points: list[FrontPoint]) -> list[FrontPoint]:
    """Points not dominated in (fewer cycles, fewer LUTs), fastest first."""
    front: list[FrontPoint] = []
    for p in sorted(points, key=lambda p: (p.max_cycles, p.totals["lut"])):
        if not front or p.totals["lut"] < front[-1].totals["lut"]:
            front.append(p)
    return front


def front_point_folding(layers: list[Layer], point: FrontPoint) -> list[LayerFolding]:
    return [
        LayerFolding(la.name, la.op_type, *point.choice[la.name], None, None) for la in layers
    ]
