"""`--target route`: the measured RTL placed and routed on ECP5, per layer and stitched,
with the FPS at the routed clock and a bitstream."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.core.spec import SpecError, make_spec
from bench.report.console import _routed
from bench.stages.route import _route_fields


def test_route_is_a_measuring_target():
    spec = make_spec(target="route", mvu="rtl", dsp="off")
    assert spec.target == "route" and spec.run_id() != make_spec(target="rtl").run_id()
    assert make_spec(target="route", dsp="off").dsp == "off"  # measured, like rtl
    with pytest.raises(SpecError, match="allowed: estimate, rtl, route"):
        make_spec(target="routed")


def test_the_summary_says_what_was_routed_and_what_was_not():
    record = {"route_device": "LFE5U-85F", "clk_ns": 10.0, "route_fmax_mhz": 56.5,
              "route_fmax_source": "stitched", "route_clock_met": False,
              "route_fps": 220_703.0, "route_lut4": 12_000, "route_dsp": 0, "route_bram": 7,
              "route_bitstream": "/r/design.bit",
              "route_layers": [{"node": "a", "fmax_mhz": 55.9}, {"node": "b", "fmax_mhz": 59.2}]}
    text = _routed(record)
    assert "56.5 MHz" in text and "not met" in text and "220,703 FPS" in text
    assert "55.9-59.2 MHz" in text and "/r/design.bit" in text
    failed = {**record, "route_fmax_mhz": None, "route_fmax_source": "not every layer routed",
              "route_layers": [{"node": "MVAU_rtl_0", "route_error": "design uses Xilinx "
                                "primitives (DSP48E1): not routable on ECP5"}]}
    assert "not routed" in _routed(failed) and "DSP48E1" in _routed(failed)


class _Context(dict):
    """What `_route_fields` reads of a run: earlier stages' results and the spec."""

    spec = make_spec(target="route", mvu="rtl")


def test_a_stitched_design_that_failed_to_route_keeps_its_error_in_the_record():
    ctx = _Context(estimate=type("Estimate", (), {"max_cycles": 256})(),
                   rtl_stitch={"stitched": {"cycles_per_image": 256.0}})
    layers = [{"node": "a", "fmax_mhz": 40.0}, {"node": "b", "fmax_mhz": 65.0}]
    error = ("nextpnr-ecp5 failed: ERROR: Unable to place cell 'x', no BELs remaining to "
             "implement cell type 'TRELLIS_COMB'")
    fields = _route_fields(ctx, {"layers": layers, "stitched": {"route_error": error},
                                 "device": "85k"})
    assert fields["route_fmax_source"] == "slowest layer" and fields["route_fmax_mhz"] == 40.0
    assert fields["route_stitched"] == {"route_error": error}
    assert fields["route_fps"] == pytest.approx(40e6 / 256)
    text = _routed({**fields, "clk_ns": 10.0})
    assert "slowest layer" in text and "stitched design not routed" in text and error in text
    routed = _route_fields(ctx, {"layers": layers, "stitched": None, "device": "85k"})
    assert "route_stitched" not in routed and "stitched design" not in _routed(
        {**routed, "clk_ns": 10.0})


@pytest.mark.slow
def test_route_gives_routed_fmax_fps_and_a_bitstream(tmp_path):
    """A small TFC of our units through `qnnbench run --target route`."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.cli", "run", "--model", "tfc", "--bits", "2",
         "--pe", "2", "--epochs", "1", "--mvu", "rtl", "--target", "route",
         "--results-dir", str(tmp_path), "--quiet"],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = (tmp_path / "runs").glob("*.json")
    r = json.loads(path.read_text())
    assert r["rtl_stitched_ok"] is True and r["route_device"] == "LFE5U-85F"
    assert all(10 < row["fmax_mhz"] < 500 for row in r["route_layers"])
    assert r["route_fmax_source"] == "stitched" and 10 < r["route_fmax_mhz"] < 500
    assert r["route_fps"] == pytest.approx(r["route_fmax_mhz"] * 1e6
                                           / r["rtl_cycles_per_image"])
    assert r["route_clock_met"] == (r["route_fmax_mhz"] >= 100.0)
    assert r["route_lut4"] > 0 and r["route_dsp"] == 0
    assert Path(r["route_bitstream"]).stat().st_size > 100_000
