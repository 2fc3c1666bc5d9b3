"""A whole network as one design: its layers' HDL stitched in stream order, simulated and
synthesized as one top module.

FINN's own stitching (`CreateStitchedIP`) builds a Vivado block design. Here the layers
(and the width converters and FIFOs FINN inserted between them, see
`bench.finn_flow.stitch_graph`) are wired by a generated Verilog top: out0_V of node k drives
in0_V of node k+1 (TDATA, TVALID, TREADY), the first node's input and the last node's
output are the top's AXI streams, as in the per-layer top of `measure`. Memory write
ports of every node become top inputs (prefixed by the instance name), so the weights
stay data in synthesis; in simulation they are held low.

Verilator runs the design on the graph's input stream for several images back to back
and the output words are compared bit for bit with FINN's Python execution. Cycles per
image are taken once the pipeline is full; Yosys synthesizes the whole top. Both are
cached like the per-layer results (compiled models and synthesis results keyed by the
HDL, memory files and tool versions).

Every FIFO's peak occupancy (its `maxcount` port) is written to `fifo_occupancy.txt`
when a simulation ends (simulation only); `gauge=True` builds FINN's FIFOs as its
unbounded simulation gauges (`FINN_SIMULATION`), the run FIFO sizing starts from
(`bench.rtl.fifo_sizing`).
"""

from __future__ import annotations

import itertools
import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench.rtl import activity, rtllib, synth_cache, verilator, yosys
from bench.rtl.layer import LayerHdl
from bench.rtl.measure import (
    layer_instance,
    layer_write_ports,
    memory_files,
    module_ports,
    module_text,
)

TOP = "tb_top"
OCCUPANCY_FILE = "fifo_occupancy.txt"  # instance name and peak count per FIFO
GAUGE_DEFINES = {"FINN_SIMULATION": "1"}  # FINN's FIFO template: an unbounded gauge
GAUGE_SOURCE = Path("fifo/hdl/fifo_gauge.sv")  # in FINN's RTL library


def stitched_top(layers: list[LayerHdl], work_dir: Path) -> str:
    """The top module: the layers' tops chained stream to stream.

    Consecutive layers must agree on the stream width (a converter goes between them
    otherwise). Memory files are named relative to `work_dir`, where the tools run.
    """
    if not layers:
        raise ValueError("nothing to stitch")
    for a, b in itertools.pairwise(layers):
        if a.out_width != b.in_width:
            raise ValueError(
                f"{a.node} streams {a.out_width} bits into {b.node}, which takes "
                f"{b.in_width}: a width converter must go between them")
    names = instance_names(layers)
    write_ports = {f"{name}_{port}": width for name, layer in zip(names, layers, strict=True)
                   for port, width in layer_write_ports(layer).items()}
    lines = [
        f"// {TOP}: {len(layers)} nodes stitched in stream order (bench.rtl.stitch)",
        f"module {TOP} (",
        "  input  ap_clk, input ap_rst_n,",
        f"  input  [{layers[0].in_width - 1}:0] s_axis_tdata, input s_axis_tvalid,",
        "  output s_axis_tready,",
        f"  output [{layers[-1].out_width - 1}:0] m_axis_tdata, output m_axis_tvalid,",
        "  input  m_axis_tready",
        *(f"  , input [{w - 1}:0] {port}" for port, w in write_ports.items()),
        ");",
    ]
    for k, layer in enumerate(layers[:-1]):
        lines.append(f"  wire [{layer.out_width - 1}:0] s{k + 1}_tdata;"
                     f" wire s{k + 1}_tvalid, s{k + 1}_tready;")
    fifos = [name for name, layer in zip(names, layers, strict=True) if _has_maxcount(layer)]
    for name in fifos:
        lines.append(f"  wire [31:0] {name}_maxcount;")
    for k, (name, layer) in enumerate(zip(names, layers, strict=True)):
        src = "s_axis" if k == 0 else f"s{k}"
        dst = "m_axis" if k == len(layers) - 1 else f"s{k + 1}"
        conn = {"in0_V_TDATA": f"{src}_tdata", "in0_V_TVALID": f"{src}_tvalid",
                "in0_V_TREADY": f"{src}_tready", "out0_V_TDATA": f"{dst}_tdata",
                "out0_V_TVALID": f"{dst}_tvalid", "out0_V_TREADY": f"{dst}_tready"}
        if name in fifos:
            conn["maxcount"] = f"{name}_maxcount"
        lines += layer_instance(layer, name, conn, prefix=f"{name}_",
                                params=_memory_overrides(layer, work_dir))
    if fifos:
        lines += [
            "`ifndef SYNTHESIS",
            "  // every FIFO's peak occupancy, written when the simulation ends",
            "  integer occupancy_fd;",
            "  final begin",
            f'    occupancy_fd = $fopen("{OCCUPANCY_FILE}", "w");',
            *(f'    $fwrite(occupancy_fd, "{name} %0d\\n", {name}_maxcount);'
              for name in fifos),
            "    $fclose(occupancy_fd);",
            "  end",
            "`endif",
        ]
    return "\n".join([*lines, "endmodule", ""])


def instance_names(layers: list[LayerHdl]) -> list[str]:
    """The instance name of each node in the stitched top (its occupancy-file key)."""
    return [f"n{k}_{layer.node}" for k, layer in enumerate(layers)]


def _has_maxcount(layer: LayerHdl) -> bool:
    """Whether the node reports its peak occupancy (FINN's FIFO wrapper does)."""
    return module_ports(module_text(layer, layer.top), layer.top).get("maxcount") == "output"


def read_occupancy(run_dir: Path, layers: list[LayerHdl]) -> dict[str, int]:
    """Peak occupancy per FIFO node (by node name) from the last simulation in `run_dir`."""
    path = run_dir / OCCUPANCY_FILE
    if not path.is_file():
        return {}
    by_instance = dict(zip(instance_names(layers), (layer.node for layer in layers),
                           strict=True))
    peaks = {}
    for line in path.read_text().splitlines():
        instance, count = line.split()
        peaks[by_instance[instance]] = int(count)
    return peaks


def _memory_overrides(layer: LayerHdl, work_dir: Path) -> dict[str, str]:
    """The layer's memory-file parameters, pointing into its own directory."""
    files = memory_files(layer)
    if files and not layer.memory_params:
        raise ValueError(f"{layer.node} ({layer.op_type}) reads memory files by fixed "
                         "relative paths; it cannot share a working directory")
    base = Path(os.path.relpath(layer.hdl_dir.resolve(), work_dir.resolve()))
    if base.parts[:1] == ("..",):
        raise ValueError(f"{layer.hdl_dir} is outside the stitching directory {work_dir}")
    return {param: f'"{(base / name).as_posix()}"'
            for param, name in layer.memory_params.items()}


def prepare_sources(layers: list[LayerHdl], work_dir: Path, gauge: bool = False) -> list[Path]:
    """One patched FINN library copy, every node's sources once, and the top (with
    `gauge`, also the FIFO gauge FINN's FIFO wrapper instantiates in simulation).

    Nodes of the same kind bring their own copies of shared files (our unit's modules,
    a generated top named by its parameters): a file name is kept once when its copies
    are identical, and two different files of one name are an error (two modules of
    one name would be, too).
    """
    copy = rtllib.prepare_rtllib(work_dir / rtllib.RTLLIB_DIRNAME)
    chosen: dict[str, Path] = {}
    for layer in layers:
        for src in layer.sources:
            path = rtllib.rebase(src, copy)
            if path.suffix not in (".v", ".sv"):
                continue
            seen = chosen.setdefault(path.name, path)
            if seen != path and seen.read_bytes() != path.read_bytes():
                raise ValueError(f"two different sources named {path.name}: {seen}, {path}")
    if gauge and any(_has_maxcount(layer) for layer in layers):
        chosen.setdefault(GAUGE_SOURCE.name, copy / GAUGE_SOURCE)
    top = work_dir / f"{TOP}.sv"
    top.write_text(stitched_top(layers, work_dir))
    sources = sorted(chosen.values(), key=lambda p: not p.name.endswith("_pkg.sv"))
    return [*sources, top]


def throughput(
    output_cycles: list[int], input_cycles: list[int], samples: int, words_per_image: int
) -> dict[str, Any]:
    """Cycles per image once the pipeline is full, and the latency of image 0.

    An image's output starts at its first output word; the intervals between
    consecutive images' starts settle once every layer works on some image, so the
    steady state is the median over the second half of them. Latency: cycles from the
    first input word to the first (and to the last) output word of image 0.
    """
    starts = [output_cycles[i * words_per_image] for i in range(samples)
              if (i + 1) * words_per_image <= len(output_cycles)]
    intervals = [b - a for a, b in itertools.pairwise(starts)]
    steady = intervals[len(intervals) // 2:]
    first_in = input_cycles[0] if input_cycles else 0
    full = len(output_cycles) >= words_per_image > 0
    return {
        "cycles_per_image": statistics.median(steady) if steady else None,
        "image_intervals": intervals,
        "latency_cycles": starts[0] - first_in if starts else None,
        "latency_last_cycles": (output_cycles[words_per_image - 1] - first_in
                                if full else None),
    }


def cycle_limit(layers: list[LayerHdl], samples: int, words_per_image: int) -> int:
    """Cycles a run may take before it counts as stalled: four times the slowest layer's
    cycles per image for every image and every layer the first one must pass."""
    longest = max((layer.exp_cycles for layer in layers), default=0)
    return 4 * (samples + len(layers)) * max(longest, words_per_image, 1) + 20_000


def measure_stitched(
    layers: list[LayerHdl], words_in: list[int], expected: list[int], samples: int,
    work_dir: Path, fpga_part: str, clk_ns: float, synth: bool = True,
    cache_dir: Path | None = None, synth_cache_dir: Path | None = None, dsp: bool = True,
    stall_percent: int = 0, gauge: bool = False, input_period: int | None = None,
) -> dict[str, Any]:
    """Simulate the stitched design (bit-exact against `expected`, cycles per image,
    latency, each FIFO's peak occupancy) and, with `synth`, synthesize it (`dsp=False`:
    inferred multipliers in LUTs); a plain dict of the results. `stall_percent` applies
    seeded random backpressure to the network's output; `gauge` simulates every FIFO as
    an unbounded one (nothing is synthesized then: a gauge is not hardware);
    `input_period` offers a new image's input every that many cycles instead of as fast
    as the design takes it."""
    started = time.monotonic()
    sources = prepare_sources(layers, work_dir, gauge)
    (work_dir / OCCUPANCY_FILE).unlink(missing_ok=True)  # not an earlier run's peaks
    first, last = layers[0], layers[-1]
    per_image = len(expected) // samples
    sim = verilator.simulate(sources, TOP, words_in, first.in_width, last.out_width,
                             len(expected), work_dir, cache_dir,
                             max_cycles=cycle_limit(layers, samples, per_image),
                             stall_percent=stall_percent,
                             defines=GAUGE_DEFINES if gauge else None,
                             pacing=(len(words_in) // samples, int(input_period))
                             if input_period else None)
    mask = (1 << last.out_bits) - 1
    got = [w & mask for w in sim.outputs]
    mismatches = sum(g != e for g, e in zip(got, expected, strict=False))
    mismatches += abs(len(got) - len(expected))
    result: dict[str, Any] = {
        "nodes": [layer.node for layer in layers],
        "sim_ok": mismatches == 0 and not sim.timed_out,
        "sim_mismatches": mismatches, "sim_words": len(expected), "samples": samples,
        "sim_cycles": sim.cycles, "sim_timed_out": sim.timed_out,
        **throughput(sim.output_cycles, sim.input_cycles, samples, per_image),
        "fifo_peaks": read_occupancy(work_dir, layers),
        "sim_build_seconds": round(sim.build_seconds, 2),
        "sim_seconds": round(time.monotonic() - started, 2),
    }
    cycles = result["cycles_per_image"]
    result["fps"] = 1e9 / (clk_ns * cycles) if cycles else None
    if synth and not gauge:
        data = [f for layer in layers for f in memory_files(layer)]
        res = synth_cache.synthesize_cached(sources, TOP, work_dir,
                                            yosys.family_for_part(fpga_part), data,
                                            synth_cache_dir, dsp=dsp)
        result.update(lut=res.lut, lutram=res.lutram, ff=res.ff, carry=res.carry,
                      bram18=res.bram18, dsp=res.dsp, logic_delay=res.logic_delay,
                      synth_seconds=round(res.seconds, 2), synth_cached=res.cached)
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


def stitched_activity(
    layers: list[LayerHdl], words_in: list[int], expected: list[int], samples: int,
    work_dir: Path, cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Switching activity of the stitched design over the same images (`bench.rtl.activity`:
    toggles of named RTL signals, each net once, copies inside our unit left out), as
    toggles per image: the energy proxy, meaningful only as a ratio between designs."""
    started = time.monotonic()
    sources = prepare_sources(layers, work_dir)
    counted, sim = activity.simulate_activity(
        sources, TOP, words_in, layers[0].in_width, layers[-1].out_width, len(expected),
        samples, work_dir, cache_dir, exclude=activity.UNIT_COPIES,
        max_cycles=cycle_limit(layers, samples, len(expected) // samples))
    mask = (1 << layers[-1].out_bits) - 1
    if [w & mask for w in sim.outputs] != expected:
        raise RuntimeError(f"the coverage run of the stitched design in {work_dir} is not "
                           "bit-exact, so its toggle counts describe another computation")
    return {"toggles_per_image": counted.per_image, "toggles": counted.total,
            "nets": len(counted.per_signal), "images": samples,
            "build_seconds": round(sim.build_seconds, 2),
            "seconds": round(time.monotonic() - started, 2)}
