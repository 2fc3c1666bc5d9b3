"""Switching activity from Verilator's toggle coverage (`bench.rtl.activity`): the
coverage file is read as documented, ports are not counted twice, and a real unit's
counts repeat exactly and grow with the work done."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.rtl import activity, mvu_unit, verilator

SEP, VAL = "\x01", "\x02"


def _point(module: str, hier: str, name: str, count: int, kind: str = "toggle") -> str:
    keys = {"f": "x.sv", "l": "3", "n": "0", "t": kind, "page": f"v_{kind}/{module}",
            "o": name, "h": hier}
    return "C '" + "".join(f"{SEP}{k}{VAL}{v}" for k, v in keys.items()) + f"' {count}\n"


SAMPLE = "# SystemC::Coverage-3\n" + "".join([
    _point("top", "TOP.top", "a[0]:0->1", 3),
    _point("top", "TOP.top", "a[0]:1->0", 2),
    _point("top", "TOP.top", "a[1]:0->1", 1),
    _point("top", "TOP.top", "clk:0->1", 100),  # a port: not counted
    _point("leaf__W4", "TOP.top.g[*].u", "g_s[1].q[2][0]:1->0", 7),
    _point("leaf__W4", "TOP.top.g[*].u", "d[0]:0->1", 50),  # the leaf's input port
    _point("top", "TOP.top", "if_branch", 9, kind="line"),  # not a toggle point
])


def test_parser_reads_signal_bit_edge_and_module(tmp_path):
    path = tmp_path / "coverage.dat"
    path.write_text(SAMPLE)
    points = activity.parse_coverage(path)
    assert len(points) == 6
    leaf = points[4]
    assert (leaf.module, leaf.signal, leaf.index, leaf.rising, leaf.count) == (
        "leaf", "g_s[1].q", "[2][0]", False, 7)
    ports = {"top": {"clk"}, "leaf": {"d"}}
    act = activity.count_toggles(points, ports, images=2)
    assert act.per_signal == {"top.a": 6, "leaf.g_s[1].q": 7}
    assert act.raw_total == 163 and act.total == 13 and act.per_image == 6.5
    copies = activity.count_toggles(points, ports, images=2, exclude=(r"leaf\.g_s\[\d\]\.q",))
    assert copies.per_signal == {"top.a": 6}


def test_port_names_come_from_the_hdl_headers():
    ports = activity.port_names(mvu_unit.sources())
    assert ports["qnnbench_dot"] == {"clk", "en", "act", "wgt", "dot"}
    assert ports["qnnbench_adder"] == {"clk", "en", "terms", "sum"}
    assert {"ap_clk", "s_axis_tdata", "m_axis_tdata", "w_wr_data"} <= ports["qnnbench_mvu"]
    assert "acc" not in ports["qnnbench_mvu"]


def test_coverage_models_are_a_separate_cache_entry():
    src = mvu_unit.sources()
    plain = verilator._model_key(src, mvu_unit.TOP, {}, {})
    assert plain == verilator._model_key(src, mvu_unit.TOP, {}, {}, coverage=False)
    assert plain != verilator._model_key(src, mvu_unit.TOP, {}, {}, coverage=True)
    assert "coveragep()->write" in verilator.COVERAGE_TESTBENCH
    assert "coveragep" not in verilator.TESTBENCH


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("verilator")


def _energy(n: int, work: Path, cache: Path, datapaths=("int",)) -> dict:
    x = np.random.default_rng(3).integers(0, 16, size=(8, 16))[:n]
    return activity.unit_energy(datapaths, 3, x, work, mw=16, mh=4, pe=2, simd=4,
                                cache_dir=cache)


@pytest.mark.slow  # compiles a coverage model (about 20 s each on a busy machine)
def test_a_real_unit_toggles_repeatably_and_more_with_more_vectors(tmp_path, cache):
    first = _energy(4, tmp_path / "a", cache)["int"]
    again = _energy(4, tmp_path / "b", cache)["int"]
    more = _energy(8, tmp_path / "c", cache)["int"]
    assert first.total > 0 and first.per_signal["qnnbench_mvu.acc"] > 0
    assert again.per_signal == first.per_signal  # same inputs, same counts, bit for bit
    assert more.total > first.total
    # reset is not counted: the counts come from the vectors, not from a constant offset
    assert more.total < 2.5 * first.total


@pytest.mark.slow
def test_relative_energy_is_a_ratio_of_per_image_toggles(tmp_path, cache):
    acts = _energy(4, tmp_path, cache, ("int", "pot"))
    ratio = activity.relative_energy(acts["pot"], acts["int"])
    assert ratio == acts["pot"].total / acts["int"].total
    assert ratio > 0 and activity.relative_energy(acts["int"], acts["int"]) == 1.0
