"""Measured hardware (target rtl): FINN's graph with RTL layers preferred, and every RTL
layer synthesized by Yosys and simulated by Verilator (the whole network stitched is
`bench.stages.rtl_stitch`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.core.devices import get_board
from bench.core.hardware_choices import RTL_TARGETS
from bench.core.spec import RunSpec
from bench.engine.stage import RunContext, Stage
from bench.stages.artifacts import (
    RTL_SAMPLES,
    RtlGraph,
    exported,
    test_inputs,
)
from bench.stages.choose import finn_config

# -- measured hardware of the RTL layers (target rtl) -----------------------------------------


def _rtl_graph(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench.finn_flow import rtl_layers

    board = get_board(ctx.spec.board)
    hw, reasons = rtl_layers.build_rtl_hw_graph(exported(ctx).path, entry, board.part,
                                         ctx.spec.clk_ns)
    if ctx.spec.mvu == "rtl":
        from bench.finn_flow.pool_transform import use_our_units

        model, _, _ = use_our_units(hw.model(), use_dsp=ctx.spec.dsp == "auto")
        model.save(str(hw.graph_path))
    return {"hls_reasons": reasons}


def _open_rtl_graph(ctx: RunContext, entry: Path, meta: dict[str, Any]) -> RtlGraph:
    from bench import finn_flow

    return RtlGraph(finn_flow.HwGraph(entry), dict(meta.get("hls_reasons", {})))


def _require_tools(spec: RunSpec) -> None:
    from bench.core.errors import SpecError
    from bench.rtl import tools

    try:
        tools.require_tools(tools.TOOLS)
    except tools.RtlToolMissing as err:
        raise SpecError(f"target 'rtl' needs Yosys and Verilator: {err}") from None


# The code that turns a FINN graph into measured RTL: FINN's side (which layers, their
# HDL, our unit as a FINN layer) and the measuring tools with our HDL and fitted model.
RTL_SOURCES = ("bench.finn_flow.rtl_layers", "bench.finn_flow.mvu_op",
               "bench.finn_flow.mvu_transform", "bench.finn_flow.pool_op",
               "bench.finn_flow.pool_transform", "bench.finn_flow.unit_op", "bench.rtl")


RTL_GRAPH = Stage(
    "rtl_graph", produce=_rtl_graph, open=_open_rtl_graph,
    determines=lambda ctx: {"part": get_board(ctx.spec.board).part, "clk_ns": ctx.spec.clk_ns,
                            "finn": ctx.versions["finn"],
                            **({"mvu": ctx.spec.mvu} if ctx.spec.mvu != "finn" else {})},
    upstream=("export", "external"),
    active=lambda spec: spec.target in RTL_TARGETS,
    sources=RTL_SOURCES,
    requires=_require_tools,
    describe=lambda ctx: "building FINN's hardware graph with RTL layers preferred",
)


def _rtl_folding(ctx: RunContext) -> dict[str, dict[str, int]]:
    from bench.finn_flow import rtl_layers

    return rtl_layers.translate_folding(finn_config(ctx), ctx["foldable"].graph,
                                 ctx["rtl_graph"].hw.model())


def folded_rtl_graph(ctx: RunContext) -> Any:
    """A fresh copy of the run's RTL graph with its folding applied: every RTL stage
    (measure, stitch, route) builds its HDL from this same graph."""
    from bench.finn_flow import rtl_layers

    return rtl_layers.apply_folding(ctx["rtl_graph"].hw.model(), _rtl_folding(ctx))


def _rtl_measure(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench.finn_flow import rtl_layers
    from bench.rtl.tools import tool_versions

    board = get_board(ctx.spec.board)
    graph = folded_rtl_graph(ctx)
    rows = rtl_layers.measure_graph(
        graph, test_inputs(ctx, RTL_SAMPLES), entry / "layers", board.part,
        ctx.spec.clk_ns, ctx["rtl_graph"].hls_reasons,
        cache_dir=ctx.store.cache_dir / "verilator", synth_cache_dir=ctx.store.cache_dir / "yosys",
        dsp=ctx.spec.dsp == "auto",
    )
    return {"layers": rows, "tool_versions": dict(tool_versions())}


def _rtl_fields(ctx: RunContext, meta: dict[str, Any]) -> dict[str, Any]:
    rows = _with_fmax(_with_calibrated(meta["layers"], ctx["estimate"].per_layer))
    measured = [r for r in rows if "lut" in r]
    return {
        "rtl_layers": rows,
        **_clock_fields(ctx, rows, None),
        **{f"rtl_{k}": sum(int(r[k]) for r in measured)
           for k in ("lut", "lutram", "ff", "bram18", "dsp")},
        **_calibrated_error(measured),
        "rtl_coverage": len(measured) / len(rows) if rows else 0.0,
        "rtl_lut_coverage": _lut_share(measured, rows),
        "rtl_sim_ok": bool(measured) and all(r.get("sim_ok") is True for r in measured),
        "rtl_tool_versions": dict(meta["tool_versions"]),
        "dsp_policy": ctx.spec.dsp,
    }


def _with_calibrated(rows: list[dict[str, Any]], per_layer: dict[str, dict[str, Any]]
                     ) -> list[dict[str, Any]]:
    """Each measured row with the calibrated cost of the same node beside it (`cal_*`),
    where the estimated graph has that node (it does for the default RTL graph)."""
    keys = ("cal_lut", "cal_ff", "cal_bram18", "cal_dsp", "cost_source")
    return [{**row, **{k: per_layer[row["node"]][k] for k in keys
                       if k in per_layer.get(row["node"], {})}} for row in rows]


def _with_fmax(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each synthesized row with the clock its logic delay is estimated to reach. Added
    when the record is written, not stored with the measurement, so that a refitted
    routing allowance applies without synthesizing again."""
    from bench.rtl.timing import fmax_est_mhz

    return [{**row, "fmax_est_mhz": fmax_est_mhz(row.get("logic_delay"))}
            if "logic_delay" in row else row for row in rows]


def _clock_fields(ctx: RunContext, rows: list[dict[str, Any]],
                  stitched: dict[str, Any] | None) -> dict[str, Any]:
    """The design's clock check (`bench.rtl.timing.clock_check`): the stitched top's
    logic delay when there is one, else the slowest measured layer's."""
    from bench.rtl.timing import clock_check, design_logic_delay, fmax_est_mhz

    delay, source = design_logic_delay(rows, stitched)
    return {**clock_check(fmax_est_mhz(delay), ctx.spec.clk_ns, ctx["estimate"].fps),
            "fmax_est_source": source or None}


def _calibrated_error(measured: list[dict[str, Any]]) -> dict[str, Any]:
    """Calibrated against measured LUTs (logic and LUT RAM) over the measured layers that
    have a calibrated model; None when none has."""
    rows = [r for r in measured if r.get("cost_source") == "calibrated"]
    if not rows:
        return {"rtl_cal_lut": None, "rtl_cal_lut_error": None}
    predicted = sum(float(r["cal_lut"]) for r in rows)
    actual = sum(int(r["lut"]) + int(r["lutram"]) for r in rows)
    return {"rtl_cal_lut": round(predicted, 1),
            "rtl_cal_lut_error": (predicted - actual) / actual if actual else None}


def _layer_mismatch(ctx: RunContext, meta: dict[str, Any]) -> str | None:
    """Which measured layers Verilator found not bit-exact with FINN's execution."""
    bad = [r for r in meta["layers"] if "sim_ok" in r and r["sim_ok"] is not True]
    if not bad:
        return None
    return (f"{len(bad)} RTL layer(s) not bit-exact with FINN's execution: "
            + "; ".join(f"{r['node']}: {r.get('sim_error') or 'outputs differ'}"
                        for r in bad))


def _lut_share(measured: list[dict[str, Any]], rows: list[dict[str, Any]]) -> float | None:
    """FINN's LUT estimate of the measured layers over that of all layers (None if FINN
    estimates no LUTs at all): how much of the estimated design the measurement covers."""
    total = sum(float(r.get("est_lut") or 0.0) for r in rows)
    return sum(float(r.get("est_lut") or 0.0) for r in measured) / total if total else None


def _rtl_determines(ctx: RunContext) -> dict[str, Any]:
    from bench.rtl.tools import tool_versions

    return {"folding": _rtl_folding(ctx), "samples": RTL_SAMPLES,
            "tools": dict(tool_versions()),
            **({"dsp": ctx.spec.dsp} if ctx.spec.dsp != "auto" else {})}


RTL_MEASURE = Stage(
    "rtl_measure", produce=_rtl_measure, open=lambda ctx, entry, meta: meta,
    determines=_rtl_determines,
    upstream=("rtl_graph",),
    active=lambda spec: spec.target in RTL_TARGETS,
    sources=RTL_SOURCES,
    record=_rtl_fields,
    check=_layer_mismatch,
    describe=lambda ctx: f"synthesizing (Yosys) and simulating (Verilator) the RTL layers "
    f"on {RTL_SAMPLES} test samples",
)
