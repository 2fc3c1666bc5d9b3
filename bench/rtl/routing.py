"""`--target route`: the layers and the stitched design that `measure` and `stitch`
build, placed and routed on Lattice ECP5 (`ecp5.route`).

The HDL is exactly what Yosys synthesizes for the Xilinx numbers (same sources, tops
and memory files), so the routed Fmax is that of the same RTL on another fabric: the one
clock rate here that comes from placement and routing rather than from a logic-depth
estimate. Layers out of context (their ports would not fit a package); the stitched
design with its ports serialized behind a pin wrapper, so that it gets a bitstream.
A layer the flow cannot build (FINN's DSP-packed MVU instantiates Xilinx primitives)
gets its reason instead of numbers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.rtl import ecp5, measure, stitch
from bench.rtl.layer import LayerHdl
from bench.rtl.tools import RtlToolError, RtlToolInterrupted

DEVICE = "85k"  # LFE5U-85F, the largest ECP5


def route_layers(layers: list[LayerHdl], clk_ns: float, cache_dir: Path | None,
                 stitched: tuple[list[LayerHdl], Path] | None = None
                 ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Routed rows for `layers` and, with `stitched` (its layers and work directory),
    the stitched design; all at once, one nextpnr per core (each is single-threaded)."""
    jobs: list[Callable[[], dict[str, Any]]] = [
        (lambda layer=layer: {"node": layer.node, "op_type": layer.op_type,
                              **route_layer(layer, clk_ns, cache_dir)})
        for layer in layers]
    if stitched is not None:
        jobs.append(lambda: route_stitched(*stitched, clk_ns, cache_dir))
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        results = list(pool.map(lambda job: job(), jobs))
    if stitched is not None:
        return results[:-1], results[-1]
    return results, None


def route_layer(layer: LayerHdl, clk_ns: float, cache_dir: Path | None) -> dict[str, Any]:
    """One layer out of context."""
    sources = measure.prepare_sources(layer)
    return _routed(lambda: ecp5.route(
        sources, measure.TOP, {}, layer.hdl_dir, device=DEVICE, clock_mhz=1000.0 / clk_ns,
        data_files=measure.memory_files(layer), cache_dir=cache_dir))


def route_stitched(layers: list[LayerHdl], work_dir: Path, clk_ns: float,
                   cache_dir: Path | None) -> dict[str, Any]:
    """The stitched design behind the pin wrapper, with a bitstream."""
    sources = stitch.prepare_sources(layers, work_dir)
    data = [f for layer in layers for f in measure.memory_files(layer)]
    return _routed(lambda: ecp5.route(
        sources, stitch.TOP, {}, work_dir, device=DEVICE, clock_mhz=1000.0 / clk_ns,
        out_of_context=False, bitstream=True, data_files=data, cache_dir=cache_dir))


def _routed(call: Callable[[], ecp5.RouteResult]) -> dict[str, Any]:
    try:
        res = call()
    except RtlToolInterrupted:
        raise  # the machine's failure, not the design's: the point fails, a re-run retries
    except RtlToolError as err:
        return {"route_error": str(err)[:500]}
    return {"lut4": res.lut4, "ff": res.ff, "dsp": res.dsp, "bram": res.bram,
            "fmax_mhz": res.fmax_mhz, "met": res.met, "route_seconds": round(res.seconds, 1),
            "pnr_seconds": round(res.pnr_seconds, 1), "route_cached": res.cached,
            **({"bitstream": str(res.bitstream)} if res.bitstream else {})}


def capacity() -> dict[str, int]:
    """The routed device's LUT4, DP16KD and MULT18 counts."""
    dev = ecp5.DEVICES[DEVICE]
    return {"lut4": dev.lut4, "bram": dev.dp16kd, "dsp": dev.mult18}
