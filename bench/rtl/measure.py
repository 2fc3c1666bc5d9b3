"""Measured hardware per RTL layer: FINN's HDL, synthesized by Yosys, simulated by Verilator.

For one RTL layer, described by a plain `LayerHdl` (FINN's side,
`bench.finn_flow.rtl_layers`, generates the HDL and stream words and walks the graph):

1. the layer's HDL and memory files are given, as FINN generated them;
2. FINN's RTL library is copied next to it and patched (`rtllib`, `patches`);
3. a small top module adapts FINN's wrapper to one AXI-stream in and out (and, for an
   MVU with weights in memory, instantiates FINN's weight streamer);
4. Yosys synthesizes it (`yosys.synthesize`) and Verilator runs it on the layer's real
   input stream from FINN's Python execution (`verilator.simulate`);
5. the output words are compared bit for bit with FINN's Python execution.

Results are plain dicts so callers (records, reports) need no types from here.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from bench.rtl import rtllib, synth_cache, verilator, yosys
from bench.rtl.layer import LayerHdl

TOP = "tb_top"


def measure_layer(
    layer: LayerHdl, streams: tuple[list[int], list[int]] | None, fpga_part: str,
    synth: bool = True, samples: int = 1, cache_dir: Path | None = None,
    synth_cache_dir: Path | None = None, dsp: bool = True, stall_percent: int = 0,
) -> dict[str, Any]:
    """Synthesize and/or simulate one layer whose HDL FINN has generated (`dsp=False`:
    inferred multipliers in LUTs).

    `cache_dir` keeps compiled Verilator models, `synth_cache_dir` synthesis results,
    both keyed by the HDL (see `synth_cache`); `synth_seconds` is what synthesizing took
    when it ran, and `synth_cached` says whether this row reused it.
    """
    sources = prepare_sources(layer)
    row: dict[str, Any] = {
        "node": layer.node, "op_type": layer.op_type, "impl": "rtl", "reason": "",
        **estimate_fields(layer.exp_cycles, layer.estimates),
    }
    if synth:
        res = synth_cache.synthesize_cached(
            sources, TOP, layer.hdl_dir, yosys.family_for_part(fpga_part),
            memory_files(layer), synth_cache_dir, dsp=dsp)
        row.update(lut=res.lut, lutram=res.lutram, ff=res.ff, carry=res.carry,
                   bram18=res.bram18, dsp=res.dsp, logic_delay=res.logic_delay,
                   synth_seconds=round(res.seconds, 2), synth_cached=res.cached)
    if streams is not None:
        row.update(check_simulation(layer, sources, streams, samples, cache_dir,
                                    stall_percent))
    return row


def check_simulation(
    layer: LayerHdl, sources: list[Path], streams: tuple[list[int], list[int]],
    samples: int, cache_dir: Path | None = None, stall_percent: int = 0,
) -> dict[str, Any]:
    """Run the layer on its input stream; compare with FINN's output words bit for bit
    (with `stall_percent`, under seeded random backpressure on the output)."""
    words_in, expected = streams
    started = time.monotonic()
    sim = verilator.simulate(
        sources, TOP, words_in, layer.in_width, layer.out_width, len(expected),
        layer.hdl_dir, cache_dir,
        max_cycles=cycle_limit(len(words_in), len(expected), layer.exp_cycles, samples),
        stall_percent=stall_percent)
    mask = (1 << layer.out_bits) - 1
    got = [w & mask for w in sim.outputs]
    common = min(len(got), len(expected))
    mismatches = sum(g != e for g, e in zip(got[:common], expected[:common], strict=True))
    mismatches += abs(len(got) - len(expected))
    per_sample = len(expected) // samples if samples else len(expected)
    lasts = [sim.output_cycles[i * per_sample + per_sample - 1]
             for i in range(samples) if (i + 1) * per_sample <= len(sim.output_cycles)]
    first_in = sim.input_cycles[0] if sim.input_cycles else 0
    ok = mismatches == 0 and not sim.timed_out
    return {
        "sim_ok": ok,
        "sim_error": "" if ok else _sim_error(sim, len(got), len(expected), mismatches),
        "sim_timed_out": sim.timed_out,
        "sim_mismatches": mismatches,
        "sim_words": len(expected),
        "sim_cycles": sim.cycles,
        "sim_cycles_per_input": (
            (lasts[-1] - lasts[0]) / (len(lasts) - 1) if len(lasts) > 1 else None),
        "sim_latency_cycles": lasts[0] - first_in + 1 if lasts else None,
        "sim_build_seconds": round(sim.build_seconds, 2),
        "sim_seconds": round(time.monotonic() - started, 2),
    }


def cycle_limit(words_in: int, words_out: int, exp_cycles: int, samples: int) -> int:
    """Cycles the simulation may run before it counts as stalled.

    A layer may need far more cycles than it moves words: an MVU with a deep weight
    memory computes MH/PE x MW/SIMD cycles per input vector but streams only MW/SIMD
    words in and MH/PE out. The limit is generous in both: four times FINN's expected
    cycles per sample, and 20 cycles per stream word, plus a fixed margin for filling
    pipelines and buffers.
    """
    return 20 * (words_in + words_out) + 4 * max(exp_cycles, 0) * max(samples, 1) + 10_000


def _sim_error(sim: verilator.SimResult, got: int, expected: int, mismatches: int) -> str:
    """Why a layer is not bit-exact, in one line for its row."""
    if sim.timed_out:
        return (f"timed out after {sim.cycles} cycles with {got} of {expected} output "
                "words (the layer stalled or needs longer)")
    if got != expected:
        return f"{got} output words where FINN's execution gives {expected}"
    return f"{mismatches} of {expected} output words differ from FINN's execution"


def estimate_fields(cycles: int, estimates: dict[str, float]) -> dict[str, Any]:
    """FINN's estimate as row fields: est_cycles, est_lut, est_bram18, est_uram, est_dsp."""
    keys = {"LUT": "lut", "BRAM_18K": "bram18", "URAM": "uram", "DSP": "dsp"}
    return {"est_cycles": cycles,
            **{f"est_{keys[k]}": v for k, v in estimates.items() if k in keys}}


# FINN writes .dat and .mem files; our unit (mvu_op) writes .hex files.
MEMORY_SUFFIXES = (".dat", ".mem", ".hex")


def memory_files(layer: LayerHdl) -> list[Path]:
    """The memory-initialisation files written beside the layer's HDL (weights,
    thresholds, start values): `$readmemh` reads them, so they change the synthesized
    memories and belong in the synthesis cache key."""
    return sorted(p for p in layer.hdl_dir.iterdir()
                  if p.is_file() and p.suffix in MEMORY_SUFFIXES)


# -- sources -----------------------------------------------------------------------------


def prepare_sources(layer: LayerHdl) -> list[Path]:
    """Patched library copy in the layer's directory, rebased sources, and the top."""
    copy = rtllib.prepare_rtllib(layer.hdl_dir / rtllib.RTLLIB_DIRNAME)
    sources = [rtllib.rebase(s, copy) for s in layer.sources]
    top = layer.hdl_dir / f"{TOP}.sv"
    top.write_text(layer_top(layer))
    # packages first: slang and Verilator want them before their users
    sources.sort(key=lambda p: not p.name.endswith("_pkg.sv"))
    return [*sources, top]


_PORT = re.compile(r"^\s*(input|output)\b[^;]*?(\w+)\s*,?\s*(?://.*)?$", re.MULTILINE)


def module_ports(verilog: str, module: str) -> dict[str, str]:
    """Port names and directions of an ANSI-style module declaration."""
    start = re.search(rf"\bmodule\s+{re.escape(module)}\b", verilog)
    if start is None:
        raise ValueError(f"module {module} not found")
    body = verilog[start.end():]
    header = body[body.index(")(") + 2 if ")(" in body else 0:body.index(");")]
    return {m.group(2): m.group(1) for m in _PORT.finditer(header)}


def layer_top(layer: LayerHdl) -> str:
    """A top with one AXI stream in and out around FINN's layer module.

    FINN's wrappers name their streams in0_V/out0_V; a second input in1_V is either the
    weight stream (fed here by FINN's memstream wrapper, as FINN's block design does) or
    an unused threshold-set selector (held idle). Other inputs (AXI-lite, a second clock)
    are tied off.
    """
    conn = {"in0_V_TDATA": "s_axis_tdata", "in0_V_TVALID": "s_axis_tvalid",
            "in0_V_TREADY": "s_axis_tready", "out0_V_TDATA": "m_axis_tdata",
            "out0_V_TVALID": "m_axis_tvalid", "out0_V_TREADY": "m_axis_tready"}
    lines = [
        f"module {TOP} (",
        "  input  ap_clk, input ap_rst_n,",
        f"  input  [{layer.in_width - 1}:0] s_axis_tdata, input s_axis_tvalid,",
        "  output s_axis_tready,",
        f"  output [{layer.out_width - 1}:0] m_axis_tdata, output m_axis_tvalid,",
        "  input  m_axis_tready",
        *(f"  , input [{w - 1}:0] {name}" for name, w in layer_write_ports(layer).items()),
        ");",
        *layer_instance(layer, "dut", conn),
        "endmodule", "",
    ]
    return "\n".join(lines)


def layer_write_ports(layer: LayerHdl) -> dict[str, int]:
    """The memory write ports of the layer's top module (see `memory_write_ports`)."""
    return memory_write_ports(module_text(layer, layer.top))


def layer_instance(
    layer: LayerHdl, name: str, conn: dict[str, str], prefix: str = "",
    params: dict[str, str] | None = None,
) -> list[str]:
    """Lines instantiating the layer's top as `name`, its streams bound as in `conn`.

    Clock and reset go to ap_clk/ap_rst_n; memory write ports to top ports named
    `prefix` + port; an MVU's weight stream to FINN's memstream wrapper (wires named
    `prefix` + w_*); other inputs are tied low, other outputs left open. `params` are
    parameter overrides (SystemVerilog expressions).
    """
    text = module_text(layer, layer.top)
    ports = module_ports(text, layer.top)
    for needed in ("in0_V_TDATA", "out0_V_TDATA", "ap_clk", "ap_rst_n"):
        if needed not in ports:
            raise ValueError(f"{layer.top} has no port {needed}")
    conn = {"ap_clk": "ap_clk", "ap_clk2x": "ap_clk", "ap_rst_n": "ap_rst_n", **conn}
    lines = []
    if layer.weight_streamer:
        width = (layer.weight_width + 7) // 8 * 8
        w = f"{prefix}w_"
        lines += [
            f"  wire [{width - 1}:0] {w}tdata; wire {w}tvalid, {w}tready;",
            f"  {layer.weight_streamer} {prefix}weights (",
            "    .ap_clk(ap_clk), .ap_clk2x(ap_clk), .ap_rst_n(ap_rst_n),",
            "    .s_axilite_AWVALID(1'b0), .s_axilite_AWPROT('0), .s_axilite_AWADDR('0),",
            "    .s_axilite_WVALID(1'b0), .s_axilite_WDATA('0), .s_axilite_WSTRB('0),",
            "    .s_axilite_BREADY(1'b1), .s_axilite_ARVALID(1'b0), .s_axilite_ARPROT('0),",
            "    .s_axilite_ARADDR('0), .s_axilite_RREADY(1'b1),",
            "    .s_axis_0_tvalid(1'b0), .s_axis_0_tdata('0),",
            f"    .m_axis_0_tready({w}tready), .m_axis_0_tvalid({w}tvalid),",
            f"    .m_axis_0_tdata({w}tdata)",
            "  );",
        ]
        conn.update(in1_V_TDATA=f"{w}tdata", in1_V_TVALID=f"{w}tvalid",
                    in1_V_TREADY=f"{w}tready")
    conn.update({port: prefix + port for port in memory_write_ports(text)})
    bindings = []
    for port, direction in ports.items():
        if port in conn:
            bindings.append(f".{port}({conn[port]})")
        elif direction == "input":
            bindings.append(f".{port}('0)")
        else:
            bindings.append(f".{port}()")
    overrides = ""
    if params:
        overrides = " #(" + ", ".join(f".{k}({v})" for k, v in params.items()) + ")"
    return [*lines, f"  {layer.top}{overrides} {name} (",
            "    " + ",\n    ".join(bindings), "  );"]


_WRITE_PORT = re.compile(r"^\s*input\s*\[(\d+):0\]\s*(wr_\w+)", re.MULTILINE)


def memory_write_ports(verilog: str) -> dict[str, int]:
    """Memory write ports (`wr_*`, our unit's layer tops) and their widths.

    They become inputs of the top, driven low in simulation: tied to constants inside
    the design, synthesis would fold the memories' contents into the datapath.
    """
    return {m.group(2): int(m.group(1)) + 1 for m in _WRITE_PORT.finditer(verilog)}


def module_text(layer: LayerHdl, module: str) -> str:
    for src in layer.sources:
        if src.suffix in (".v", ".sv") and src.is_file():
            text = src.read_text()
            if re.search(rf"\bmodule\s+{re.escape(module)}\b", text):
                return text
    raise ValueError(f"no source of {layer.node} declares module {module}")
