"""How the folding search's answer changes when it prices layers by the calibrated models
instead of FINN's: the Pareto front (cycles vs LUT) of a network on a board, both ways.

For each network, the search runs twice on the same hardware graph (RTL layers, the
default): once with FINN's per-layer estimates, once with the calibrated costs. The
fastest point of each front is then priced by the other model, which shows what a user
would have been told: with FINN's costs, "the fastest folding that fits" may not fit at
all once its MVUs are priced by what Yosys builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core.devices import get_board
from bench.core.spec import make_spec
from bench.engine.stage import run_stages
from bench.engine.store import Store

# (label, model, bits, input shape): MLPs at MNIST size, where the search has room
NETWORKS: list[tuple[str, str, int, tuple[int, int, int]]] = [
    (f"{name.upper()} W{bits}A{bits}", name, bits, (1, 28, 28))
    for name in ("tfc", "sfc") for bits in (2, 4, 8)
]


@dataclass
class FrontComparison:
    network: str
    board: str
    finn_front: int  # points on the front priced by FINN
    cal_front: int
    finn_best_fps: float | None  # fastest point that fits, as FINN prices it
    cal_best_fps: float | None
    finn_best_cal_lut: float | None  # FINN's fastest point, priced by the calibration
    finn_best_finn_lut: float | None
    finn_best_fits_calibrated: bool | None
    finn_best_over: str  # resources it exceeds once priced by the calibration
    finn_best_cal_dsp: float | None
    finn_best_finn_dsp: float | None


def _price(options: dict[str, list[dict[str, Any]]], choice: dict[str, Any]) -> dict[str, float]:
    picked = {name: next(o for o in opts if (o["pe"], o["simd"]) == choice[name])
              for name, opts in options.items()}
    return {r: sum(o[r] for o in picked.values()) for r in ("lut", "bram18", "uram", "dsp")}


def compare(graph: Any, network: str, board_name: str, limit: float) -> FrontComparison:
    """Both fronts of one folded graph under `limit` of the board's resources."""
    from bench.core import folding as fold

    board = get_board(board_name)
    budget = {r: limit * c for r, c in board.capacity().items()}
    bits = fold.stream_capped_bits(graph.layers)
    options = {basis: {la.name: graph.layer_options(la, costs=basis) for la in graph.layers}
               for basis in ("finn", "calibrated")}
    fronts = {basis: fold.pareto_search(opts, budget, bits, graph.feeds)
              for basis, opts in options.items()}
    fps = {basis: (1e9 / graph.clk_ns) / front[0].max_cycles if front else None
           for basis, front in fronts.items()}
    best = fronts["finn"][0] if fronts["finn"] else None
    priced = _price(options["calibrated"], best.choice) if best else None
    return FrontComparison(
        network=network, board=board.name, finn_front=len(fronts["finn"]),
        cal_front=len(fronts["calibrated"]), finn_best_fps=fps["finn"],
        cal_best_fps=fps["calibrated"],
        finn_best_cal_lut=priced["lut"] if priced else None,
        finn_best_finn_lut=best.totals["lut"] if best else None,
        finn_best_fits_calibrated=(all(priced[r] <= budget[r] for r in priced)
                                   if priced else None),
        finn_best_over=", ".join(r.upper() for r in (priced or {})
                                 if priced[r] > budget[r]),  # type: ignore[index]
        finn_best_cal_dsp=priced["dsp"] if priced else None,
        finn_best_finn_dsp=best.totals["dsp"] if best else None,
    )


def run_fronts(results_dir: Path, board: str = "Pynq-Z1", limit: float = 0.85
               ) -> list[FrontComparison]:
    """The comparison for every network of `NETWORKS` (untrained: costs do not depend on
    the weight values), through the run's own cached stages."""
    from bench.stages.plan import UNTRAINED_HW, untrained_context

    store = Store(results_dir)
    rows = []
    for label, model, bits, shape in NETWORKS:
        spec = make_spec(model=model, dataset="mnist", weight_bits=bits, act_bits=bits,
                         board=board)
        graph = run_stages(UNTRAINED_HW, untrained_context(spec, store, shape))["foldable"]
        rows.append(compare(graph, label, board, limit))
    return rows


def format_fronts(rows: list[FrontComparison], limit: float) -> str:
    def num(value: float | None) -> str:
        return "-" if value is None else f"{value:,.0f}"

    lines = [f"Pareto fronts within {100 * limit:g} % of the board, FINN's costs vs calibrated",
             "| network | board | front (FINN) | front (cal.) | fastest FPS (FINN) | "
             "fastest FPS (cal.) | its LUT by FINN / cal. | its DSP by FINN / cal. | "
             "fits (cal.) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        fits = {True: "yes", False: f"**no** ({r.finn_best_over})",
                None: "-"}[r.finn_best_fits_calibrated]
        lines.append(f"| {r.network} | {r.board} | {r.finn_front} | {r.cal_front} | "
                     f"{num(r.finn_best_fps)} | {num(r.cal_best_fps)} | "
                     f"{num(r.finn_best_finn_lut)} / {num(r.finn_best_cal_lut)} | "
                     f"{num(r.finn_best_finn_dsp)} / {num(r.finn_best_cal_dsp)} | {fits} |")
    return "\n".join(lines)
