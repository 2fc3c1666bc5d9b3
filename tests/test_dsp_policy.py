"""The DSP policy (`--dsp auto|off`): multipliers Yosys infers go to DSP slices or to LUTs,
in every synthesis of measured hardware, with its own cache entries and in the record."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bench.cli import main
from bench.core.errors import SpecError
from bench.core.spec import make_spec
from bench.core.sweep_spec import load_sweep

ROOT = Path(__file__).resolve().parents[1]

MULTIPLY = """module mul (input ap_clk, input [8:0] a, input [8:0] b, output reg [17:0] p);
  always @(posedge ap_clk) p <= a * b;
endmodule
"""


def test_the_default_policy_keeps_run_ids_and_off_is_a_new_run():
    assert make_spec(target="rtl").run_id() == make_spec(target="rtl", dsp="auto").run_id()
    assert make_spec(target="rtl", dsp="off").run_id() != make_spec(target="rtl").run_id()
    assert make_spec(target="rtl", dsp="OFF").dsp == "off"


def test_the_policy_is_refused_where_it_would_be_ignored():
    with pytest.raises(SpecError, match="target rtl"):
        make_spec(dsp="off")  # estimates synthesize nothing
    with pytest.raises(SpecError, match="allowed: auto, off"):
        make_spec(target="rtl", dsp="none")


def test_sweeps_compare_policies_and_make_passes_it_on(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("models: [tfc]\ntarget: rtl\ndsp: [auto, off]\n")
    assert sorted(p.dsp for p in load_sweep(spec)) == ["auto", "off"]
    spec.write_text("models: [tfc]\ntarget: rtl\ndsp: off\n")  # YAML reads a bare off as false
    assert [p.dsp for p in load_sweep(spec)] == ["off"]
    dry = subprocess.run(["make", "-n", "bench", "DSP=off", "TARGET=rtl"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    line = next(x for x in dry.replace("\\\n", " ").splitlines() if "qnnbench run" in x)
    assert "--dsp 'off'" in line


def test_off_maps_inferred_multipliers_to_luts_in_its_own_cache_entry(tmp_path):
    from bench.rtl import synth_cache

    source = tmp_path / "mul.sv"
    source.write_text(MULTIPLY)
    cache = tmp_path / "cache"
    with_dsp = synth_cache.synthesize_cached([source], "mul", tmp_path, "xc7", [], cache)
    without = synth_cache.synthesize_cached([source], "mul", tmp_path, "xc7", [], cache,
                                            dsp=False)
    assert with_dsp.dsp >= 1 and without.dsp == 0
    assert without.lut > with_dsp.lut + 20  # a 9x9 multiplier in LUTs
    assert not without.cached  # not the DSP result under another name
    assert synth_cache.synthesize_cached([source], "mul", tmp_path, "xc7", [], cache,
                                         dsp=False).cached


@pytest.mark.slow
def test_a_point_measured_without_dsps_records_its_policy(tmp_path):
    # 8-bit weights: products of 9+ bits, which Yosys puts in DSPs; 2-bit activations keep
    # the thresholds small
    point = ["run", "--model", "tests.byo.tiny_models:tiny_mlp", "--wbits", "8", "--abits", "2",
             "--epochs", "1", "--pe", "2", "--target", "rtl", "--mvu", "rtl"]
    records = {}
    for policy in ("auto", "off"):
        results = tmp_path / policy
        assert main([*point, "--dsp", policy, "--results-dir", str(results)]) == 0
        (path,) = (results / "runs").glob("*.json")
        records[policy] = json.loads(path.read_text())
    auto, off = records["auto"], records["off"]
    assert (auto["dsp_policy"], off["dsp_policy"]) == ("auto", "off")
    assert auto["rtl_dsp"] > 0 and off["rtl_dsp"] == 0
    assert off["rtl_lut"] > auto["rtl_lut"]
    assert off["rtl_sim_ok"] and off["rtl_stitched_ok"]  # same function, other mapping
    assert off["rtl_stitched_dsp"] == 0
