"""The whole network stitched into one design (target rtl, every layer RTL): FIFO depths
sized by simulation, then the sized design simulated (bit-exact, throughput, also under
output stalls, switching activity) and synthesized.

Sizing (`bench.rtl.fifo_sizing`): the design is first simulated with every FIFO as an
unbounded gauge, for the rate no depth can beat, then again with the images arriving at
that rate (a source that sends as fast as it can fills every FIFO ahead of a slower layer
with images the design will not need for a while); each FIFO gets the depth its gauge
peaked at in the paced run (at most one image); the
sized design is simulated again and must reach the unbounded throughput (FIFOs that were
full are deepened until it does, at most `SIZING_ROUNDS` times); then its memory-backed
FIFOs are tried at the minimum depth and kept there if the rate holds. The record keeps the depths
beside the one-image depths the design would otherwise get and FINN's default (no FIFO
deeper than 2, so none), each with its throughput or cost.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.core.devices import get_board
from bench.core.hardware_choices import RTL_TARGETS
from bench.engine.stage import RunContext, Stage
from bench.stages.artifacts import STITCH_SAMPLES, STITCH_STALL_PERCENT, test_inputs
from bench.stages.rtl_measure import (
    RTL_SOURCES,
    _clock_fields,
    _rtl_determines,
    folded_rtl_graph,
)

SIZING_ROUNDS = 3  # sized designs tried before the last one is kept as it is
STITCHED_DIR = "stitched"  # the sized design, the one the record describes
SHALLOW_DIR = "stitched-shallow"  # the sized design with its memory FIFOs at the minimum
FIFO_COST_KEYS = ("lut", "lutram", "ff", "bram18")
# Above this many LUTs (logic and LUT RAM, summed over the synthesized layers) the stitched
# top is simulated but not synthesized again as a whole: Yosys takes one to several hours
# on such a design on one core, and the layers' sum already stands for it - on 16 stitched
# designs of 19k-46k LUTs the whole design's synthesis came within 3 % of the layers' sum
# (BRAM18 and DSP equal). The record says so in `rtl_stitched_synth_skipped`.
STITCH_SYNTH_MAX_LUT = 100_000


def _whole_synth_skipped(rows: list[dict[str, Any]]) -> str | None:
    """Why the stitched top is not synthesized as a whole (too large to be worth it)."""
    total = sum(int(r["lut"]) + int(r.get("lutram") or 0) for r in rows)
    if total <= STITCH_SYNTH_MAX_LUT:
        return None
    return (f"the layers total {total:,} LUTs, above the {STITCH_SYNTH_MAX_LUT:,} up to "
            "which the whole design is synthesized; its resources are the layers' sum")


def _stitch_skipped(rows: list[dict[str, Any]]) -> str | None:
    """Why the per-layer rows rule stitching out (not every HW layer measured RTL)."""
    left = [f"{r['node']} ({r['op_type']})" for r in rows if "lut" not in r]
    if not rows or left:
        measured = len(rows) - len(left)
        return (f"not every HW layer is measured RTL (coverage {measured}/{len(rows)}): "
                + ", ".join(left))
    return None


class _Stitcher:
    """One network's stitched designs: HDL for a set of FIFO depths, and its simulation."""

    def __init__(self, ctx: RunContext, entry: Path, graph: Any):
        self.ctx, self.entry, self.graph = ctx, entry, graph
        self.board = get_board(ctx.spec.board)
        self.inputs = test_inputs(ctx, STITCH_SAMPLES)

    def build(self, depths: Any, name: str) -> tuple[list[Any], list[int], list[int], dict]:
        from bench.finn_flow import stitch_graph as finn_stitch

        return finn_stitch.generate_stitched_hdl(
            self.graph, self.inputs, self.entry / name, self.board.part, self.ctx.spec.clk_ns,
            depths)

    def simulate(self, design: tuple, name: str, **options: Any) -> dict[str, Any]:
        from bench.rtl import stitch

        layers, words_in, expected, _ = design
        store = self.ctx.store.cache_dir
        return stitch.measure_stitched(
            layers, words_in, expected, STITCH_SAMPLES, self.entry / name, self.board.part,
            self.ctx.spec.clk_ns, cache_dir=store / "verilator",
            synth_cache_dir=store / "yosys", dsp=self.ctx.spec.dsp == "auto",
            **{"synth": False, **options})

    def fifo_cost(self, design: tuple) -> dict[str, int]:
        """Yosys totals of the design's FIFOs, each synthesized on its own."""
        from bench.rtl.measure import measure_layer

        total = dict.fromkeys(FIFO_COST_KEYS, 0)
        for layer in design[0]:
            if layer.op_type.startswith("StreamingFIFO"):
                row = measure_layer(layer, None, self.board.part,
                                    synth_cache_dir=self.ctx.store.cache_dir / "yosys")
                for key in FIFO_COST_KEYS:
                    total[key] += int(row[key])
        return total


def _by_layer(glue: dict[str, Any], per_fifo: dict[str, int]) -> dict[str, int]:
    """FIFO node -> value, re-keyed by the layer each FIFO follows."""
    return {glue[node]["after"]: value for node, value in per_fifo.items()}


def _fifo_widths(glue: dict[str, Any]) -> dict[str, int]:
    return {g["after"]: g["in_width"] for g in glue.values() if "after" in g}


def _rtl_stitch(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench.finn_flow import stitch_graph as finn_stitch
    from bench.rtl import fifo_sizing, stitch

    stitcher = _Stitcher(ctx, entry, folded_rtl_graph(ctx))
    reason = (_stitch_skipped(ctx["rtl_measure"]["layers"])
              or finn_stitch.stitch_blocker(stitcher.graph))
    if reason:
        return {"skipped": reason}
    # 1. one image per FIFO, simulated as unbounded gauges: the throughput no FIFO depth
    #    can beat, then the peaks with images arriving at that rate
    one_image = stitcher.build(None, "unbounded")
    unbounded = stitcher.simulate(one_image, "unbounded", gauge=True)
    glue = one_image[3]
    one_image_depths = {g["after"]: g["depth"] for g in glue.values() if "after" in g}
    paced = unbounded
    if unbounded["sim_ok"] and unbounded["cycles_per_image"]:
        paced = stitcher.simulate(one_image, "unbounded", gauge=True,
                                  input_period=math.ceil(unbounded["cycles_per_image"]))
    peaks = _by_layer(glue, paced["fifo_peaks"])
    free_peaks = _by_layer(glue, unbounded["fifo_peaks"])
    # 2. sized from the peaks, confirmed (and deepened where full) until as fast
    depths = fifo_sizing.depths_from_peaks(peaks, one_image_depths)
    target, rounds = unbounded["cycles_per_image"], 0

    def as_fast(run: dict[str, Any]) -> bool:
        return target is not None and run["cycles_per_image"] is not None \
            and run["cycles_per_image"] <= target

    while True:
        rounds += 1
        design = stitcher.build(depths, STITCHED_DIR)
        sized = stitcher.simulate(design, STITCHED_DIR)
        if not sized["sim_ok"] or target is None or rounds == SIZING_ROUNDS or as_fast(sized):
            break
        full = {layer for layer, peak in _by_layer(design[3], sized["fifo_peaks"]).items()
                if peak >= depths[layer]}
        depths = fifo_sizing.deepen(depths, full)
    where, shallowed, shallow_cycles = STITCHED_DIR, [], None
    trial = fifo_sizing.shallow_trial(depths) if sized["sim_ok"] and as_fast(sized) else None
    if trial is not None:
        shallow = stitcher.build(trial, SHALLOW_DIR)
        tried = stitcher.simulate(shallow, SHALLOW_DIR)
        shallow_cycles = tried["cycles_per_image"] if tried["sim_ok"] else None
        if tried["sim_ok"] and as_fast(tried):
            shallowed = sorted(k for k in trial if trial[k] != depths[k])
            design, depths, where = shallow, trial, SHALLOW_DIR
    synth_skipped = _whole_synth_skipped(ctx["rtl_measure"]["layers"])
    result = stitcher.simulate(design, where, synth=synth_skipped is None)
    result["synth_skipped"] = synth_skipped
    # the same design and images with a consumer that is often not ready: every word must
    # still arrive unchanged; the throughput it then reaches is measured too
    stalled = stitcher.simulate(design, where, stall_percent=STITCH_STALL_PERCENT)
    stalls = {k: stalled[k] for k in ("sim_ok", "sim_mismatches", "sim_words", "sim_timed_out",
                                      "fps", "cycles_per_image")}
    # switching activity of the sized design on the same images: the energy proxy (only
    # of a bit-exact design; a mismatch is reported by the stage's check instead)
    toggles = (stitch.stitched_activity(*design[:3], STITCH_SAMPLES, stitcher.entry / where,
                                        ctx.store.cache_dir / "verilator")
               if result["sim_ok"] else None)
    # 3. FINN's default depths (2: InsertFIFO builds no FIFO at all)
    finn_default = stitcher.simulate(stitcher.build(0, "finn-default"), "finn-default")
    widths = _fifo_widths(glue)
    fifos = {
        "depths": depths, "peaks": peaks, "unpaced_peaks": free_peaks, "rounds": rounds,
        "shallowed": shallowed, "shallow_trial_cycles_per_image": shallow_cycles,
        "one_image_depths": one_image_depths,
        "bits": fifo_sizing.storage_bits(depths, widths),
        "one_image_bits": fifo_sizing.storage_bits(one_image_depths, widths),
        "cost": stitcher.fifo_cost(design), "one_image_cost": stitcher.fifo_cost(one_image),
        "unbounded_cycles_per_image": unbounded["cycles_per_image"],
        "unbounded_ok": unbounded["sim_ok"],
        "as_fast_as_unbounded": as_fast(result),
        "finn_default_cycles_per_image": finn_default["cycles_per_image"],
        "finn_default_fps": finn_default["fps"], "finn_default_ok": finn_default["sim_ok"],
    }
    return {"stitched": {**result, "glue": design[3], "fifos": fifos, "activity": toggles,
                         "stalled": {**stalls, "stall_percent": STITCH_STALL_PERCENT}}}


def _stitch_fields(ctx: RunContext, meta: dict[str, Any]) -> dict[str, Any]:
    if "skipped" in meta:
        return {"rtl_stitched_skipped": meta["skipped"]}
    res = meta["stitched"]
    fifos = res.get("fifos") or {}
    return {
        "rtl_stitched": res, "rtl_stitched_ok": bool(res["sim_ok"]),
        "rtl_fps": res["fps"], "rtl_cycles_per_image": res["cycles_per_image"],
        "rtl_latency_cycles": res["latency_cycles"],
        **{f"rtl_stitched_{k}": int(res[k]) for k in ("lut", "lutram", "ff", "bram18", "dsp")
           if res.get(k) is not None},
        "rtl_stitched_synth_skipped": res.get("synth_skipped"),
        "rtl_stalled_ok": bool(res["stalled"]["sim_ok"]),
        "rtl_stalled_fps": res["stalled"]["fps"],
        "fifo_depths": fifos.get("depths"),
        "fifo_bits": fifos.get("bits"), "fifo_one_image_bits": fifos.get("one_image_bits"),
        "fifo_cost": fifos.get("cost"),
        "rtl_finn_fifo_fps": fifos.get("finn_default_fps"),
        "rtl_toggles_per_image": (res.get("activity") or {}).get("toggles_per_image"),
        **_clock_fields(ctx, ctx["rtl_measure"]["layers"], res),
    }


def _stitch_mismatch(ctx: RunContext, meta: dict[str, Any]) -> str | None:
    res = meta.get("stitched")
    if res is None:
        return None
    for run, label in ((res, ""), (res["stalled"], " under backpressure")):
        if not run["sim_ok"]:
            why = ("timed out" if run.get("sim_timed_out")
                   else f"{run['sim_mismatches']} of {run['sim_words']} output words differ")
            return f"the stitched network is not bit-exact with FINN's execution{label}: {why}"
    return None


RTL_STITCH = Stage(
    "rtl_stitch", produce=_rtl_stitch, open=lambda ctx, entry, meta: meta,
    determines=lambda ctx: {**_rtl_determines(ctx), "samples": STITCH_SAMPLES,
                            "fifo_depth": "sized", "stalls": STITCH_STALL_PERCENT,
                            "whole_synth_max_lut": STITCH_SYNTH_MAX_LUT},
    upstream=("rtl_graph", "rtl_measure"),
    active=lambda spec: spec.target in RTL_TARGETS,
    sources=(*RTL_SOURCES, "bench.finn_flow.stitch_graph"),
    record=_stitch_fields,
    check=_stitch_mismatch,
    describe=lambda ctx: "stitching the RTL layers into one design: FIFO depths sized by "
    f"Verilator on {STITCH_SAMPLES} test samples, the sized design checked (also with "
    f"{STITCH_STALL_PERCENT} % output stalls, and for switching activity) and synthesized "
    f"by Yosys (up to {STITCH_SYNTH_MAX_LUT:,} LUTs in its layers)",
)
