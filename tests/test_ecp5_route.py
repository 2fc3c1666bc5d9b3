"""Routed Fmax on ECP5 (bench/rtl/ecp5.py): the report parsers and the pin wrapper on
samples written here, then a small configuration of our unit through synth_ecp5 and
nextpnr, its cache, and the refusal of Xilinx primitives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.core.warn import BenchWarning
from bench.rtl import ecp5, routing
from bench.rtl import mvu_unit as mu
from bench.rtl.tools import RtlToolError, RtlToolInterrupted

# -- parsers, without tools -----------------------------------------------------------------

REPORT = {  # the shape of nextpnr-ecp5 0.11's --report, numbers made up
    "fmax": {"ap_clk": {"achieved": 87.654321, "constraint": 100},
             "other_clk": {"achieved": 250.0, "constraint": 100}},
    "utilization": {
        "TRELLIS_COMB": {"available": 83640, "used": 812},
        "TRELLIS_FF": {"available": 83640, "used": 140},
        "MULT18X18D": {"available": 156, "used": 3},
        "DP16KD": {"available": 208, "used": 1},
    },
    "critical_paths": [],
}

LOG = """\
Info: Logic utilisation before packing:
Info:     Total LUT4s:       703/83640     0%
Info:         logic LUTs:    505/83640     0%
Info: Max frequency for clock 'ap_clk': 118.20 MHz (PASS at 100.00 MHz)
Info: Max frequency for clock '$glbnet$clk$TRELLIS_IO_IN': 60.00 MHz (FAIL at 100.00 MHz)
Info: Max frequency for clock 'ap_clk': 124.80 MHz (PASS at 100.00 MHz)
"""


def test_report_gives_the_named_clock_and_the_used_cells():
    got = ecp5.parse_report(REPORT, "ap_clk")
    assert got["fmax_mhz"] == 87.65
    assert (got["comb"], got["ff"], got["dsp"], got["bram"]) == (812, 140, 3, 1)


def test_report_without_the_named_clock_gives_the_slowest():
    assert ecp5.parse_report(REPORT, "clk")["fmax_mhz"] == 87.65
    placed = {"fmax": {"$glbnet$clk$TRELLIS_IO_IN": {"achieved": 120.0},
                       "slow": {"achieved": 50.0}}}
    assert ecp5.parse_report(placed, "clk")["fmax_mhz"] == 120.0  # buffered net names
    assert ecp5.parse_report({"fmax": {}, "utilization": {}}, "ap_clk")["fmax_mhz"] is None


def test_log_gives_the_routed_fmax_and_the_lut4_count():
    assert ecp5.parse_log_fmax(LOG, "ap_clk") == 124.80  # after routing, not placement
    assert ecp5.parse_log_fmax(LOG) == 60.00
    assert ecp5.parse_lut4(LOG) == 703
    assert ecp5.parse_lut4("no utilisation here") is None


RTLIL = """\
module \\leaf
  wire input 1 \\ap_clk
  wire width 3 input 2 \\a
  wire output 3 \\y
  wire width 2 input 4 \\b
  cell \\LUT6_2 \\g_lut
  end
  cell \\SRL16E \\srl
  end
  cell $add $add$x.sv:3$1
  end
end
"""


def test_xilinx_primitives_are_found_by_their_cells():
    assert ecp5.xilinx_primitives(RTLIL) == ["LUT6_2", "SRL16E"]
    assert ecp5.xilinx_primitives("module \\m\n  cell $mul $m\n  end\nend\n") == []


def test_pin_wrapper_reaches_every_port_bit(tmp_path):
    text = ecp5.pin_wrapper(RTLIL, "leaf", "ap_clk", tmp_path / "pins.v").read_text()
    assert "reg [4:0] in_sr;" in text  # a (3) + b (2); the clock is a pin of its own
    assert "leaf inner (.ap_clk(clk), .a(in_sr[2:0]), .b(in_sr[4:3]), .y(outs[0:0]));" in text
    with pytest.raises(RtlToolError, match="no clock port 'clk'"):
        ecp5.pin_wrapper(RTLIL, "leaf", "clk", tmp_path / "x.v")


def test_options_are_checked_before_any_tool_runs(tmp_path):
    with pytest.raises(ValueError, match="one of"):
        ecp5.route([], "x", None, tmp_path, device="100k")
    with pytest.raises(ValueError, match="no bitstream"):
        ecp5.route([], "x", None, tmp_path, bitstream=True)


def test_device_table_holds_the_data_sheet_sizes():
    assert {d.part: (d.lut4 // 1000, d.dp16kd, d.mult18) for d in ecp5.DEVICES.values()} == {
        "LFE5U-25F": (24, 56, 28), "LFE5U-45F": (43, 108, 72), "LFE5U-85F": (83, 208, 156)}


def _fake_result(directory: Path) -> ecp5.RouteResult:
    files = {}
    for name in ("netlist", "report", "log"):
        files[name] = directory / f"{name}.txt"
        files[name].write_text(name)
    return ecp5.RouteResult(
        top="t", device="LFE5U-85F", lut4=10, ff=2, dsp=0, bram=0, fmax_mhz=123.4,
        clock_mhz=100.0, met=True, seconds=1.0, pnr_seconds=0.5, versions={"v": "1"},
        **files)


def test_a_damaged_cache_entry_is_reported_and_routed_again(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    calls = []

    def build() -> ecp5.RouteResult:
        calls.append(1)
        return _fake_result(work)

    cache = tmp_path / "cache"
    first = ecp5._cached(cache, "k" * 64, build)
    again = ecp5._cached(cache, "k" * 64, build)
    assert (len(calls), again.cached, again.fmax_mhz) == (1, True, first.fmax_mhz)
    assert again.report.read_text() == "report" and again.report.parent.parent == cache
    stored = cache / ("k" * 32) / ecp5.RESULT_FILE
    stored.write_text(json.dumps({**json.loads(stored.read_text()), "fmax_mhz": 999.0}))
    with pytest.warns(BenchWarning, match="does not match its checksum"):
        third = ecp5._cached(cache, "k" * 64, build)
    assert (len(calls), third.fmax_mhz, third.cached) == (2, 123.4, False)


# -- synth_ecp5 and nextpnr ----------------------------------------------------------------


def _unit(datapath: mu.Datapath, work: Path) -> tuple[mu.MvuConfig, list[Path], list[Path]]:
    cfg = mu.MvuConfig(16, 8, 2, 4, 4, 4, datapath)
    sources, memories = mu.prepare_unit(cfg, work.resolve())
    return cfg, sources, memories


@pytest.mark.parametrize("datapath", mu.DATAPATHS)
def test_small_unit_routes_and_its_result_is_cached(datapath, tmp_path, monkeypatch):
    cfg, sources, memories = _unit(datapath, tmp_path / "work")
    cache = tmp_path / "cache"
    first = ecp5.route(sources, mu.TOP, cfg.params(), tmp_path / "work",
                       data_files=memories, cache_dir=cache)
    assert first.lut4 > 0 and first.ff > 0 and not first.cached
    assert 10 < first.fmax_mhz < 500
    assert first.met == (first.fmax_mhz >= 100.0)
    assert first.dsp == 0 and first.bram == 0  # -nodsp; 8 x 16 words fit in LUT RAM
    assert first.versions["nextpnr_ecp5"].startswith("nextpnr-")
    assert json.loads(first.report.read_text())["utilization"]["TRELLIS_COMB"][
        "available"] == ecp5.DEVICES["85k"].lut4

    def no_nextpnr(*args: object) -> None:
        raise AssertionError("nextpnr ran for a cached design")

    monkeypatch.setattr(ecp5, "run_nextpnr", no_nextpnr)
    again = ecp5.route(sources, mu.TOP, cfg.params(), tmp_path / "work",
                       data_files=memories, cache_dir=cache)
    assert again.cached and again.report.is_file()
    assert ecp5.as_dict(again) | {"cached": False, "netlist": "", "report": "", "log": ""} \
        == ecp5.as_dict(first) | {"netlist": "", "report": "", "log": ""}


def test_with_dsps_allowed_int_takes_mult18s_and_pot_none(tmp_path):
    found = {}
    for datapath in mu.DATAPATHS:
        cfg, sources, _ = _unit(datapath, tmp_path / datapath)
        result = ecp5.route(sources, mu.TOP, cfg.params(), tmp_path / datapath, dsp=True)
        found[datapath] = (result.dsp, result.cells.get("MULT18X18D", 0))
    assert found["pot"] == (0, 0)
    assert found["int"][0] > 0 and found["int"][0] == found["int"][1]


def test_a_wrapped_unit_gets_a_bitstream(tmp_path):
    cfg, sources, _ = _unit("pot", tmp_path)
    result = ecp5.route(sources, mu.TOP, cfg.params(), tmp_path, out_of_context=False,
                        bitstream=True)
    assert result.bitstream is not None and result.bitstream.stat().st_size > 100_000
    assert 10 < result.fmax_mhz < 500
    usage = json.loads(result.report.read_text())["utilization"]
    assert usage["TRELLIS_IO"]["used"] == 4  # clk, sin, load, sout


def test_xilinx_primitives_are_refused_in_one_line(tmp_path):
    (tmp_path / "uses_lut6.sv").write_text(
        "module uses_lut6 (input logic [5:0] a, output logic o5, o6);\n"
        "  LUT6_2 #(.INIT(64'h0123456789abcdef)) u (.I0(a[0]), .I1(a[1]), .I2(a[2]),\n"
        "    .I3(a[3]), .I4(a[4]), .I5(a[5]), .O5(o5), .O6(o6));\n"
        "endmodule\n")
    with pytest.raises(RtlToolError) as exc:
        ecp5.route([tmp_path / "uses_lut6.sv"], "uses_lut6", None, tmp_path)
    assert str(exc.value) == "design uses Xilinx primitives (LUT6_2): not routable on ECP5"


@pytest.mark.parametrize("body, kwargs, message", [
    ("assign y = a +;", {}, r"^slang elaboration failed: .*expected expression \(log: .*\)$"),
    ("assign y = a;", {"package": "NOPE"},
     r"^nextpnr-ecp5 failed: ERROR: Unsupported package 'NOPE' .*\(log: .*nextpnr.log\)$"),
])
def test_a_failing_tool_is_one_line_naming_its_log(body, kwargs, message, tmp_path):
    (tmp_path / "wire8.sv").write_text(
        f"module wire8 (input logic [7:0] a, output logic [7:0] y);\n  {body}\nendmodule\n")
    with pytest.raises(RtlToolError, match=message) as exc:
        ecp5.route([tmp_path / "wire8.sv"], "wire8", None, tmp_path, **kwargs)
    assert "\n" not in str(exc.value)


def test_a_route_that_ran_out_of_time_is_not_a_result(tmp_path, monkeypatch):
    """nextpnr stopped by its time limit: the error keeps its kind through the one-line
    wrapper, the routed row lets it through (the point fails, so a re-run retries) where a
    real routing error becomes the row's `route_error`, and nothing is cached."""
    (tmp_path / "wire8.sv").write_text(
        "module wire8 (input logic [7:0] a, output logic [7:0] y);\n"
        "  assign y = a;\nendmodule\n")
    cache = tmp_path / "cache"

    def route(**kwargs):
        return ecp5.route([tmp_path / "wire8.sv"], "wire8", None, tmp_path,
                          cache_dir=cache, **kwargs)

    monkeypatch.setattr(ecp5, "PNR_TIMEOUT_S", 0.01)
    with pytest.raises(RtlToolInterrupted, match=r"^nextpnr-ecp5 failed: .*did not finish"):
        routing._routed(route)
    monkeypatch.undo()
    assert "Unsupported package" in routing._routed(lambda: route(package="NOPE"))["route_error"]
    first, again = routing._routed(route), routing._routed(route)
    assert "route_error" not in first and first["route_cached"] is False  # routed this time
    assert again["route_cached"] is True  # and only a finished route was kept
