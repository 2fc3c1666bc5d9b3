"""Backpressure: the testbench can hold the output's `tready` low in a seeded random share
of the cycles. A correct stream design still delivers every word, unchanged and in order,
only later; one that ignores `tready` is caught."""

from __future__ import annotations

import pytest

from bench.rtl import verilator

REGISTER = """\
module stage (
  input  logic       ap_clk,
  input  logic       ap_rst_n,
  input  logic [7:0] s_axis_tdata,
  input  logic       s_axis_tvalid,
  output logic       s_axis_tready,
  output logic [7:0] m_axis_tdata,
  output logic       m_axis_tvalid,
  input  logic       m_axis_tready
);
  // a pipeline register that moves only when its output is free: AXI-stream correct
  assign s_axis_tready = !m_axis_tvalid || m_axis_tready;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) m_axis_tvalid <= 1'b0;
    else if (s_axis_tready) begin
      m_axis_tvalid <= s_axis_tvalid;
      m_axis_tdata <= s_axis_tdata + 8'd1;
    end
  end
endmodule
"""

# the same register, but it overwrites its output whether or not it was taken
IGNORES_READY = REGISTER.replace("assign s_axis_tready = !m_axis_tvalid || m_axis_tready;",
                                 "assign s_axis_tready = m_axis_tready;").replace(
                                     "else if (s_axis_tready) begin", "else begin")

WORDS = list(range(1, 60))


def _run(tmp_path, source_text: str, stall: int, name: str):
    source = tmp_path / f"{name}.sv"
    source.write_text(source_text)
    return verilator.simulate([source], "stage", WORDS, 8, 8, len(WORDS), tmp_path / name,
                              tmp_path / "models", stall_percent=stall, seed=7)


def test_a_correct_stream_keeps_every_word_under_stalls_only_later(tmp_path):
    free = _run(tmp_path, REGISTER, 0, "free")
    stalled = _run(tmp_path, REGISTER, 50, "stalled")
    assert free.outputs == stalled.outputs == [w + 1 for w in WORDS]
    assert stalled.cycles > free.cycles * 1.5  # half the cycles the consumer waits
    again = _run(tmp_path, REGISTER, 50, "again")
    assert again.output_cycles == stalled.output_cycles  # seeded: the same stalls


def test_a_design_that_ignores_ready_is_caught_only_under_stalls(tmp_path):
    assert _run(tmp_path, IGNORES_READY, 0, "free").outputs == [w + 1 for w in WORDS]
    assert _run(tmp_path, IGNORES_READY, 50, "stalled").outputs != [w + 1 for w in WORDS]


def test_the_share_of_stalls_is_checked():
    with pytest.raises(ValueError, match=r"0\.\.99"):
        verilator.simulate([], "stage", [], 8, 8, 0, verilator.default_cache_dir(),
                           stall_percent=100)
