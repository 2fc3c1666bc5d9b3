"""Per point and per folding: choosing the folding(s), FINN's estimates, measured RTL
layers (target rtl) and the Vivado targets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core.devices import get_board, utilization
from bench.core.spec import source_hash
from bench.run.stage import RunContext, Stage
from bench.run.stages_hw import _exported, _test_inputs
from bench.run.stages_model import RTL_SAMPLES, STITCH_FIFO_DEPTH, STITCH_SAMPLES, Choice

# -- per point: choose the folding(s) -------------------------------------------------------


def _choose(ctx: RunContext, entry: Path | None) -> list[Choice]:
    from bench.stages import folding as fold

    spec, graph = ctx.spec, ctx["foldable"]
    strategy = spec.folding
    if strategy.strategy == "pareto":
        return _pareto_choices(ctx)
    if strategy.strategy == "uniform":
        chosen = fold.uniform_folding(graph.layers, strategy.pe, strategy.effective_simd)
    elif strategy.strategy == "layers":
        chosen = fold.layers_folding(graph.layers, strategy.config)
    else:
        chosen = fold.folding_from_config(graph.layers, graph.finn_auto_folding(strategy.fps))
    return [Choice(chosen, {"pareto_front": False}, spec.run_id())]


def _pareto_choices(ctx: RunContext) -> list[Choice]:
    from bench.stages import folding as fold

    graph, board = ctx["foldable"], get_board(ctx.spec.board)
    limit = ctx.spec.folding.max_utilization
    budget = {r: limit * c for r, c in board.capacity().items()}
    options = {layer.name: graph.layer_options(layer) for layer in graph.layers}
    bits = {la.name: la.weight_bits for la in graph.layers if la.weight_bits}
    front = fold.pareto_search(options, budget, bits)
    if not front:
        raise RuntimeError(
            f"no folding fits within {100 * limit:g} % of every resource of {board.name}"
        )
    base_id = ctx.spec.run_id()
    choices = [
        Choice(fold.front_point_folding(graph.layers, point), {
            "pareto_front": True, "pareto_index": index, "pareto_best": index == 0,
            "pareto_max_utilization": limit, "pareto_front_size": len(front),
        }, base_id if index == 0 else f"{base_id}-front{index:02d}")
        for index, point in enumerate(front)
    ]
    # The fastest point carries the point's own id and is written last: once it exists,
    # the whole front is on disk.
    return choices[1:] + choices[:1]


CHOOSE = Stage("fold", produce=_choose)


# -- per folding: estimate, synthesize -------------------------------------------------------


def _finn_config(ctx: RunContext) -> dict[str, dict[str, int]]:
    from bench.stages.folding import to_finn_config

    return to_finn_config(ctx["choice"].folding)


def _estimate_fields(ctx: RunContext, est: Any) -> dict[str, Any]:
    board = get_board(ctx.spec.board)
    fractions, fits = utilization(board, est.totals)
    return {
        "est_fps": est.fps, "est_latency_ns": est.latency_ns, "est_max_cycles": est.max_cycles,
        "est_critical_path_cycles": est.critical_path_cycles,
        "est_bottleneck": est.bottleneck,
        **{r: est.totals.get(r, 0.0) for r in ("lut", "bram18", "uram", "dsp")},
        "per_layer": est.per_layer, "utilization": fractions, "fits": fits,
    }


ESTIMATE = Stage(
    "estimate", produce=lambda ctx, entry: ctx["foldable"].estimate(_finn_config(ctx)),
    record=_estimate_fields,
)


def _synth(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench import finn_flow

    board = get_board(ctx.spec.board)
    plan = finn_flow.synthesis_plan(ctx.spec.target, _finn_config(ctx), board.name,
                                    board.part, ctx.spec.clk_ns, entry)
    return finn_flow.run_synthesis(_exported(ctx).path, plan)


SYNTH = Stage(
    "synth", produce=_synth, open=lambda ctx, entry, meta: meta,
    determines=lambda ctx: {"folding": _finn_config(ctx), "target": ctx.spec.target,
                            "board": ctx.spec.board, "clk_ns": ctx.spec.clk_ns},
    upstream=("export", "external"),
    active=lambda spec: spec.target in ("synth", "bitfile"),
    record=lambda ctx, fields: dict(fields),
    describe=lambda ctx: f"running FINN through {ctx.spec.target} (Vivado)",
)


# -- measured hardware of the RTL layers (target rtl) -----------------------------------------


@dataclass
class RtlGraph:
    hw: Any  # bench.finn_flow.HwGraph, thresholds standalone, RTL preferred
    hls_reasons: dict[str, str]  # per node FINN left HLS: why


def _rtl_graph(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench.finn_flow import rtl

    board = get_board(ctx.spec.board)
    hw, reasons = rtl.build_rtl_hw_graph(_exported(ctx).path, entry, board.part,
                                         ctx.spec.clk_ns)
    if ctx.spec.mvu == "rtl":
        from bench.finn_flow.mvu_transform import use_qnnbench_mvu

        model, _, _ = use_qnnbench_mvu(hw.model())
        model.save(str(hw.graph_path))
    return {"hls_reasons": reasons}


def _open_rtl_graph(ctx: RunContext, entry: Path, meta: dict[str, Any]) -> RtlGraph:
    from bench import finn_flow

    return RtlGraph(finn_flow.HwGraph(entry), dict(meta.get("hls_reasons", {})))


def _rtl_source_hash() -> str:
    import bench.finn_flow.rtl as finn_rtl
    import bench.rtl as rtl

    # our unit's files count only for --mvu rtl runs, whose graphs contain it, but
    # hashing them always is simpler than splitting the key
    unit = [Path(finn_rtl.__file__).with_name(n) for n in ("mvu_op.py", "mvu_transform.py")]
    hdl = sorted((Path(rtl.__file__).parent / "hdl").glob("*.sv"))
    return source_hash(Path(finn_rtl.__file__), *Path(rtl.__file__).parent.glob("*.py"),
                       *unit, *hdl, Path(rtl.__file__).with_name("mvu_fit.json"))


RTL_GRAPH = Stage(
    "rtl_graph", produce=_rtl_graph, open=_open_rtl_graph,
    determines=lambda ctx: {"part": get_board(ctx.spec.board).part, "clk_ns": ctx.spec.clk_ns,
                            "finn": ctx.versions["finn"], "source": _rtl_source_hash(),
                            **({"mvu": ctx.spec.mvu} if ctx.spec.mvu != "finn" else {})},
    upstream=("export", "external"),
    active=lambda spec: spec.target == "rtl",
    describe=lambda ctx: "building FINN's hardware graph with RTL layers preferred",
)


def _rtl_folding(ctx: RunContext) -> dict[str, dict[str, int]]:
    from bench.finn_flow import rtl

    return rtl.translate_folding(_finn_config(ctx), ctx["foldable"].graph,
                                 ctx["rtl_graph"].hw.model())


def _rtl_measure(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench.finn_flow import rtl
    from bench.rtl import measure
    from bench.rtl.tools import tool_versions

    board = get_board(ctx.spec.board)
    graph = rtl.apply_folding(ctx["rtl_graph"].hw.model(), _rtl_folding(ctx))
    rows = measure.measure_graph(
        graph, _test_inputs(ctx, RTL_SAMPLES), entry / "layers", board.part,
        ctx.spec.clk_ns, ctx["rtl_graph"].hls_reasons,
        cache_dir=ctx.store.cache_dir / "verilator", synth_cache_dir=ctx.store.cache_dir / "yosys",
    )
    return {"layers": rows, "tool_versions": dict(tool_versions())}


def _rtl_fields(ctx: RunContext, meta: dict[str, Any]) -> dict[str, Any]:
    rows = meta["layers"]
    measured = [r for r in rows if "lut" in r]
    return {
        "rtl_layers": rows,
        **{f"rtl_{k}": sum(int(r[k]) for r in measured) for k in ("lut", "ff", "bram18", "dsp")},
        "rtl_coverage": len(measured) / len(rows) if rows else 0.0,
        "rtl_lut_coverage": _lut_share(measured, rows),
        "rtl_sim_ok": bool(measured) and all(r.get("sim_ok") is True for r in measured),
        "rtl_tool_versions": dict(meta["tool_versions"]),
    }


def _lut_share(measured: list[dict[str, Any]], rows: list[dict[str, Any]]) -> float | None:
    """FINN's LUT estimate of the measured layers over that of all layers (None if FINN
    estimates no LUTs at all): how much of the estimated design the measurement covers."""
    total = sum(float(r.get("est_lut") or 0.0) for r in rows)
    return sum(float(r.get("est_lut") or 0.0) for r in measured) / total if total else None


def _rtl_determines(ctx: RunContext) -> dict[str, Any]:
    from bench.rtl.tools import tool_versions

    return {"folding": _rtl_folding(ctx), "samples": RTL_SAMPLES,
            "tools": dict(tool_versions()), "source": _rtl_source_hash()}


RTL_MEASURE = Stage(
    "rtl_measure", produce=_rtl_measure, open=lambda ctx, entry, meta: meta,
    determines=_rtl_determines,
    upstream=("rtl_graph",),
    active=lambda spec: spec.target == "rtl",
    record=_rtl_fields,
    describe=lambda ctx: f"synthesizing (Yosys) and simulating (Verilator) the RTL layers "
    f"on {RTL_SAMPLES} test samples",
)


# -- the whole network stitched (target rtl, every layer RTL) ---------------------------------


def _stitch_skipped(rows: list[dict[str, Any]]) -> str | None:
    """Why the per-layer rows rule stitching out (not every HW layer measured RTL)."""
    left = [f"{r['node']} ({r['op_type']})" for r in rows if "lut" not in r]
    if not rows or left:
        measured = len(rows) - len(left)
        return (f"not every HW layer is measured RTL (coverage {measured}/{len(rows)}): "
                + ", ".join(left))
    return None


def _rtl_stitch(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench.finn_flow import rtl
    from bench.finn_flow import stitch as finn_stitch
    from bench.rtl import stitch

    graph = rtl.apply_folding(ctx["rtl_graph"].hw.model(), _rtl_folding(ctx))
    reason = _stitch_skipped(ctx["rtl_measure"]["layers"]) or finn_stitch.stitch_blocker(graph)
    if reason:
        return {"skipped": reason}
    board = get_board(ctx.spec.board)
    work = entry / "stitched"
    layers, words_in, expected, glue = finn_stitch.generate_stitched_hdl(
        graph, _test_inputs(ctx, STITCH_SAMPLES), work, board.part, ctx.spec.clk_ns,
        STITCH_FIFO_DEPTH)
    result = stitch.measure_stitched(
        layers, words_in, expected, STITCH_SAMPLES, work, board.part, ctx.spec.clk_ns,
        cache_dir=ctx.store.cache_dir / "verilator", synth_cache_dir=ctx.store.cache_dir / "yosys")
    return {"stitched": {**result, "glue": glue}}


def _stitch_fields(ctx: RunContext, meta: dict[str, Any]) -> dict[str, Any]:
    if "skipped" in meta:
        return {"rtl_stitched_skipped": meta["skipped"]}
    res = meta["stitched"]
    return {
        "rtl_stitched": res, "rtl_stitched_ok": bool(res["sim_ok"]),
        "rtl_fps": res["fps"], "rtl_cycles_per_image": res["cycles_per_image"],
        "rtl_latency_cycles": res["latency_cycles"],
        **{f"rtl_stitched_{k}": int(res[k]) for k in ("lut", "ff", "bram18", "dsp")
           if res.get(k) is not None},
    }


RTL_STITCH = Stage(
    "rtl_stitch", produce=_rtl_stitch, open=lambda ctx, entry, meta: meta,
    determines=lambda ctx: {**_rtl_determines(ctx), "samples": STITCH_SAMPLES,
                            "fifo_depth": STITCH_FIFO_DEPTH},
    upstream=("rtl_graph", "rtl_measure"),
    active=lambda spec: spec.target == "rtl",
    record=_stitch_fields,
    describe=lambda ctx: "stitching the RTL layers into one design: Verilator on "
    f"{STITCH_SAMPLES} test samples, Yosys on the whole top",
)
