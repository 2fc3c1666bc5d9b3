"""Backpressure: the testbench can hold the output's `tready` low in a seeded random share
of the cycles. A correct stream design still delivers every word, unchanged and in order,
only later; one that ignores `tready` is caught."""

from __future__ import annotations

import pytest

from bench.rtl import verilator
from tests.test_rtl_tools import PLUS_ONE

# `plus_one` overwrites its output register whether or not the word was taken: fine while
# the consumer is always ready, wrong under backpressure
IGNORES_READY = PLUS_ONE
# the same stage as a pipeline register that moves only when its output is free
REGISTER = PLUS_ONE.replace(
    "assign s_axis_tready = m_axis_tready;",
    "assign s_axis_tready = !m_axis_tvalid || m_axis_tready;",
).replace("    else begin", "    else if (s_axis_tready) begin")
assert "!m_axis_tvalid ||" in REGISTER and "else if (s_axis_tready)" in REGISTER

WORDS = list(range(1, 60))


def _run(tmp_path, source_text: str, stall: int, name: str):
    source = tmp_path / f"{name}.sv"
    source.write_text(source_text)
    return verilator.simulate([source], "plus_one", WORDS, 8, 8, len(WORDS), tmp_path / name,
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
        verilator.simulate([], "plus_one", [], 8, 8, 0, verilator.default_cache_dir(),
                           stall_percent=100)
