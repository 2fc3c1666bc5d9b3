"""The stitched top (`bench.rtl.stitch`) on hand-written layers, without FINN: stream
widths must match, write ports and memory files are per instance, and a chain through
FINN's own width converter and FIFO (their templates filled as FINN's `generate_hdl`
fills them) streams every word through in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.rtl import rtllib, stitch
from bench.rtl.layer import LayerHdl

PART = "xc7z020clg400-1"

# adds a byte read from a memory file (named by a parameter, as our unit's top does)
ADD = """module add_byte #(parameter string ADD_FILE = "add.hex") (
  input ap_clk,
  input ap_rst_n,
  input [7:0] in0_V_TDATA,
  input in0_V_TVALID,
  output in0_V_TREADY,
  output [7:0] out0_V_TDATA,
  output out0_V_TVALID,
  input out0_V_TREADY,
  input [0:0] wr_en
);
  logic [7:0] mem [1];
  initial $readmemh(ADD_FILE, mem);
  assign out0_V_TDATA = in0_V_TDATA + mem[0];
  assign out0_V_TVALID = in0_V_TVALID;
  assign in0_V_TREADY = out0_V_TREADY;
endmodule
"""

PASS16 = """module pass16 (
  input ap_clk,
  input ap_rst_n,
  input [15:0] in0_V_TDATA,
  input in0_V_TVALID,
  output in0_V_TREADY,
  output [15:0] out0_V_TDATA,
  output out0_V_TVALID,
  input out0_V_TREADY
);
  assign out0_V_TDATA = in0_V_TDATA;
  assign out0_V_TVALID = in0_V_TVALID;
  assign in0_V_TREADY = out0_V_TREADY;
endmodule
"""


def _layer(work: Path, node: str, module: str, text: str, in_w: int, out_w: int,
           memory: dict[str, str] | None = None) -> LayerHdl:
    hdl = work / "layers" / node
    hdl.mkdir(parents=True, exist_ok=True)
    src = hdl / f"{module}.sv"
    src.write_text(text)
    return LayerHdl(node=node, op_type="Test", top=module, hdl_dir=hdl, sources=[src],
                    in_width=in_w, out_width=out_w, out_bits=out_w, exp_cycles=1,
                    memory_params=memory or {})


def _finn_template(work: Path, node: str, kind: str, values: dict[str, str]) -> LayerHdl:
    """FINN's DWC or FIFO wrapper, its template filled the way generate_hdl fills it."""
    lib = rtllib.finn_rtllib_dir() / kind / "hdl"
    text = (lib / f"{kind}_template.v").read_text()
    for key, value in {"TOP_MODULE_NAME": node, **values}.items():
        text = text.replace(f"${key}$", value)
    hdl = work / "layers" / node
    hdl.mkdir(parents=True, exist_ok=True)
    (hdl / f"{node}.v").write_text(text)
    lib_files = {"dwc": ["dwc_axi.sv", "vpc.sv"], "fifo": ["fifo.sv"]}[kind]
    width = int(values.get("IBITS", values.get("WIDTH", "0")))
    out = int(values.get("OBITS", width))
    return LayerHdl(node=node, op_type=kind, top=node, hdl_dir=hdl,
                    sources=[*(lib / f for f in lib_files), hdl / f"{node}.v"],
                    in_width=width, out_width=out, out_bits=out)


def _chain(work: Path) -> list[LayerHdl]:
    add = _layer(work, "add", "add_byte", ADD, 8, 8, {"ADD_FILE": "add.hex"})
    (add.hdl_dir / "add.hex").write_text("03\n")
    dwc = _finn_template(work, "dwc_0", "dwc", {"IBITS": "8", "OBITS": "16"})
    fifo = _finn_template(work, "fifo_0", "fifo", {
        "IN_RANGE": "[15:0]", "OUT_RANGE": "[15:0]", "WIDTH": "16", "DEPTH": "4",
        "RAM_STYLE": "auto", "DATA_LOGFILE": ""})
    return [add, dwc, fifo, _layer(work, "pass", "pass16", PASS16, 16, 16)]


def test_mismatched_stream_widths_need_a_converter(tmp_path):
    add = _layer(tmp_path, "add", "add_byte", ADD, 8, 8, {"ADD_FILE": "add.hex"})
    wide = _layer(tmp_path, "pass", "pass16", PASS16, 16, 16)
    with pytest.raises(ValueError, match="add streams 8 bits into pass, which takes 16"):
        stitch.stitched_top([add, wide], tmp_path)


def test_top_chains_streams_and_keeps_write_ports_and_memories_per_instance(tmp_path):
    layers = _chain(tmp_path)
    top = stitch.stitched_top(layers, tmp_path)
    assert "input  [7:0] s_axis_tdata" in top and "output [15:0] m_axis_tdata" in top
    assert "input [0:0] n0_add_wr_en" in top  # a write port, prefixed by its instance
    assert 'add_byte #(.ADD_FILE("layers/add/add.hex")) n0_add (' in top
    # out0 of node k drives in0 of node k+1
    assert ".out0_V_TDATA(s1_tdata)" in top and ".in0_V_TDATA(s1_tdata)" in top
    assert ".out0_V_TREADY(m_axis_tready)" in top
    assert top.count("wire [15:0] s") == 2 and "wire [7:0] s1_tdata" in top


def test_memory_files_by_fixed_paths_are_refused(tmp_path):
    layer = _layer(tmp_path, "add", "add_byte", ADD, 8, 8)  # no memory parameter known
    (layer.hdl_dir / "memblock.dat").write_text("00\n")
    with pytest.raises(ValueError, match="fixed relative paths"):
        stitch.stitched_top([layer], tmp_path)


def test_chain_through_finns_converter_and_fifo_is_bit_exact(tmp_path):
    layers = _chain(tmp_path)
    words = list(range(40))
    expected = [((b + 3) << 8) | (a + 3) for a, b in zip(words[::2], words[1::2], strict=True)]
    result = stitch.measure_stitched(layers, words, expected, samples=4,
                                     work_dir=tmp_path, fpga_part=PART, clk_ns=10.0,
                                     synth=True, cache_dir=tmp_path / "verilator",
                                     synth_cache_dir=tmp_path / "yosys")
    assert result["sim_ok"] and result["sim_mismatches"] == 0, result
    # FINN's converter and FIFO synthesize too (both need their nettype directives gone)
    assert result["lut"] > 0 and result["ff"] > 0, result
    # 10 input words per image through an 8->16 converter: one output word per 2 cycles
    assert result["cycles_per_image"] == 10
    assert result["fps"] == pytest.approx(1e9 / (10.0 * 10))
    # a changed memory word is seen
    (layers[0].hdl_dir / "add.hex").write_text("04\n")
    again = stitch.measure_stitched(layers, words, expected, samples=4, work_dir=tmp_path,
                                    fpga_part=PART, clk_ns=10.0, synth=False,
                                    cache_dir=tmp_path / "verilator")
    assert not again["sim_ok"] and again["sim_build_seconds"] == 0  # the model is reused


def test_throughput_takes_the_steady_state_and_the_first_image():
    outs = [10, 11, 30, 31, 45, 46, 60, 61]  # 2 words per image; intervals 20, 15, 15
    got = stitch.throughput(outs, [2, 3, 4], samples=4, words_per_image=2)
    assert got["image_intervals"] == [20, 15, 15]
    assert got["cycles_per_image"] == 15
    assert got["latency_cycles"] == 8 and got["latency_last_cycles"] == 9


def test_every_memory_file_a_layer_reads_is_in_its_synthesis_key(tmp_path):
    """Our unit's .hex memories as much as FINN's .dat/.mem files: new weights must never
    reuse the synthesis of the old ones."""
    from bench.rtl.layer import LayerHdl
    from bench.rtl.measure import memory_files

    for name in ("weights.hex", "memblock.dat", "thresh.mem", "notes.txt", "top.sv"):
        (tmp_path / name).write_text("0\n")
    layer = LayerHdl(node="n", op_type="QnnbenchMVU_rtl", top="t", hdl_dir=tmp_path,
                     sources=[], in_width=8, out_width=8, out_bits=8)
    assert [p.name for p in memory_files(layer)] == ["memblock.dat", "thresh.mem",
                                                     "weights.hex"]


def test_finns_shallow_fifo_synthesizes_to_shift_registers(tmp_path):
    """32 words of 16 bits: one SRLC32E per bit (16 LUTs as memory) and a few flip-flops
    for the output register and pointer, as Vivado builds it, not 512 flip-flops."""
    from bench.rtl.measure import measure_layer

    fifo = _finn_template(tmp_path, "fifo_32", "fifo", {
        "IN_RANGE": "[15:0]", "OUT_RANGE": "[15:0]", "WIDTH": "16", "DEPTH": "32",
        "RAM_STYLE": "auto", "DATA_LOGFILE": ""})
    row = measure_layer(fifo, None, PART)
    assert row["lutram"] == 16 and row["ff"] < 64 and row["lut"] < 64, row
