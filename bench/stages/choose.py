"""Per point and per folding: the folding(s) a point's strategy picks, and FINN's
estimates of each (in memory, about a millisecond per folding)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.core.devices import get_board, utilization
from bench.engine.stage import RunContext, Stage
from bench.stages.artifacts import Choice

# -- per point: choose the folding(s) -------------------------------------------------------


def _choose(ctx: RunContext, entry: Path | None) -> list[Choice]:
    from bench.core import folding as fold

    spec, graph = ctx.spec, ctx["foldable"]
    strategy = spec.folding
    if strategy.strategy == "pareto":
        return _pareto_choices(ctx)
    if strategy.strategy == "fastest":
        best = _pareto_choices(ctx)[-1]  # the fastest point comes last, with the point's id
        extra = {k: v for k, v in best.extra.items() if k.startswith("pareto_max")}
        return [Choice(best.folding, {"pareto_front": False, **extra}, best.run_id)]
    if strategy.strategy == "uniform":
        chosen = fold.uniform_folding(graph.layers, strategy.pe, strategy.effective_simd)
    elif strategy.strategy == "layers":
        chosen = fold.layers_folding(graph.layers, strategy.config)
    else:
        chosen = fold.folding_from_config(graph.layers, graph.finn_auto_folding(strategy.fps))
    chosen = fold.tie_pool_inputs(graph.layers, chosen)
    return [Choice(chosen, {"pareto_front": False}, spec.run_id())]


def _pareto_choices(ctx: RunContext) -> list[Choice]:
    from bench.core import folding as fold

    graph, board = ctx["foldable"], get_board(ctx.spec.board)
    limit = ctx.spec.folding.max_utilization
    budget = {r: limit * c for r, c in board.capacity().items()}
    options = {layer.name: graph.layer_options(layer) for layer in graph.layers}
    front = fold.pareto_search(options, budget, fold.stream_capped_bits(graph.layers),
                               graph.feeds)
    if not front:
        raise RuntimeError(
            f"no folding fits within {100 * limit:g} % of every resource of {board.name}"
        )
    base_id = ctx.spec.run_id()
    choices = [
        Choice(fold.tie_pool_inputs(graph.layers, fold.front_point_folding(graph.layers, point)), {
            "pareto_front": True, "pareto_index": index, "pareto_best": index == 0,
            "pareto_max_utilization": limit, "pareto_front_size": len(front),
        }, base_id if index == 0 else f"{base_id}-front{index:02d}")
        for index, point in enumerate(front)
    ]
    # The fastest point carries the point's own id and is written last: once it exists,
    # the whole front is on disk.
    return choices[1:] + choices[:1]


CHOOSE = Stage("choose", produce=_choose)


# -- per folding: estimate -------------------------------------------------------


def finn_config(ctx: RunContext) -> dict[str, dict[str, int]]:
    from bench.core.folding import to_finn_config

    return to_finn_config(ctx["choice"].folding)


def _estimate_fields(ctx: RunContext, est: Any) -> dict[str, Any]:
    """FINN's estimates, the calibrated costs and cycles beside them, and the fit on the
    calibrated costs."""
    board = get_board(ctx.spec.board)
    cal = est.calibrated
    fractions, fits = utilization(board, {r: cal[r] for r in ("lut", "bram18", "uram", "dsp")})
    _, fits_finn = utilization(board, est.totals)
    return {
        "est_fps": est.fps, "est_latency_ns": est.latency_ns, "est_max_cycles": est.max_cycles,
        "est_critical_path_cycles": est.critical_path_cycles,
        "est_bottleneck": est.bottleneck,
        "cal_max_cycles": est.cal_max_cycles,
        "cal_fps": (1e9 / ctx.spec.clk_ns) / est.cal_max_cycles if est.cal_max_cycles else None,
        **{r: est.totals.get(r, 0.0) for r in ("lut", "bram18", "uram", "dsp")},
        **{f"cal_{r}": cal[r] for r in ("lut", "ff", "bram18", "dsp")},
        "cost_coverage": cal["cost_coverage"], "lut_equiv": cal["lut_equiv"],
        "per_layer": est.per_layer, "utilization": fractions, "fits": fits,
        "fits_finn": fits_finn,
    }


ESTIMATE = Stage(
    "estimate", produce=lambda ctx, entry: ctx["foldable"].estimate(finn_config(ctx)),
    record=_estimate_fields,
)
