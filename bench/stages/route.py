"""Routed hardware (target route): what `--target rtl` measures, also placed and routed
on an open flow (Lattice ECP5 with nextpnr, `bench.rtl.routing`), so that the FPS a user
reads can come from a clock that placement and routing reached instead of the one asked
for."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from bench.core.devices import get_board
from bench.core.spec import RunSpec
from bench.engine.stage import RunContext, Stage
from bench.stages.artifacts import STITCH_SAMPLES, test_inputs
from bench.stages.rtl_measure import (
    RTL_SOURCES,
    _require_tools,
    _rtl_determines,
    folded_rtl_graph,
)

BITSTREAM = "design.bit"


def _route(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench.finn_flow import rtl_layers
    from bench.finn_flow import stitch_graph as finn_stitch
    from bench.rtl import routing

    board = get_board(ctx.spec.board)
    graph = folded_rtl_graph(ctx)
    layers = [rtl_layers.generate_layer_hdl(graph, name, entry / "layers" / name,
                                            board.part, ctx.spec.clk_ns)
              for name in rtl_layers.rtl_nodes(graph)]
    stitched = None
    if "stitched" in ctx["rtl_stitch"]:
        work = entry / "stitched"
        chained, _, _, _ = finn_stitch.generate_stitched_hdl(
            graph, test_inputs(ctx, STITCH_SAMPLES), work, board.part, ctx.spec.clk_ns,
            ctx["rtl_stitch"]["stitched"]["fifos"]["depths"])  # as sized there
        stitched = (chained, work)
    rows, design = routing.route_layers(layers, ctx.spec.clk_ns,
                                        ctx.store.cache_dir / "ecp5", stitched)
    if design is not None and design.get("bitstream"):
        shutil.copy(design["bitstream"], entry / BITSTREAM)
        design["bitstream"] = str(entry / BITSTREAM)  # the stage's own copy
    return {"layers": rows, "stitched": design, "device": routing.DEVICE}


def _route_fields(ctx: RunContext, meta: dict[str, Any]) -> dict[str, Any]:
    """Per layer and for the design: the routed Fmax and the FPS the design reaches at it
    (its simulated cycles per image where stitched, else FINN's cycle count)."""
    from bench.rtl import ecp5, routing

    rows, design = meta["layers"], meta.get("stitched")
    routed = [r for r in rows if r.get("fmax_mhz")]
    fields: dict[str, Any] = {"route_layers": rows,
                              "route_device": ecp5.DEVICES[meta["device"]].part}
    if design and design.get("fmax_mhz"):
        fmax, basis = design["fmax_mhz"], "stitched"
        cycles = ctx["rtl_stitch"]["stitched"]["cycles_per_image"]
        capacity = routing.capacity()
        fields.update(
            route_stitched=design,
            route_bitstream=design.get("bitstream"),
            **{f"route_{k}": design[k] for k in ("lut4", "ff", "dsp", "bram")},
            route_utilization={k: design[k] / capacity[k] for k in capacity})
    else:
        if design:  # tried and failed: the record keeps why (e.g. nextpnr's time limit)
            fields["route_stitched"] = design
        if not (routed and len(routed) == len(rows)):
            return {**fields, "route_fmax_mhz": None,
                    "route_fmax_source": "not every layer routed"}
        fmax, basis = min(r["fmax_mhz"] for r in routed), "slowest layer"
        cycles = ctx["estimate"].max_cycles
    return {**fields, "route_fmax_mhz": fmax, "route_fmax_source": basis,
            "route_fps": fmax * 1e6 / cycles if cycles else None,
            "route_clock_met": fmax >= 1000.0 / ctx.spec.clk_ns}


def _require_router(spec: RunSpec) -> None:
    from bench.core.errors import SpecError
    from bench.rtl import tools

    _require_tools(spec)
    try:
        tools.find_executable(tools.TOOLS.nextpnr_ecp5)
    except tools.RtlToolMissing as err:
        raise SpecError(f"target route needs nextpnr-ecp5 ({err}); run `make install`") \
            from None


ROUTE = Stage(
    "route", produce=_route, open=lambda ctx, entry, meta: meta,
    determines=lambda ctx: {**_rtl_determines(ctx), "fifo_depth": "sized",
                            "clk_ns": ctx.spec.clk_ns},
    upstream=("rtl_graph", "rtl_measure", "rtl_stitch"),
    active=lambda spec: spec.target == "route",
    sources=(*RTL_SOURCES, "bench.finn_flow.stitch_graph"),
    requires=_require_router,
    record=_route_fields,
    describe=lambda ctx: "placing and routing every RTL layer and the stitched design on "
    "ECP5 (nextpnr-ecp5, one core each)",
)
