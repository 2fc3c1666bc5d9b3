"""The synthesis path, tested up to the Vivado boundary."""

from __future__ import annotations

import json

import pytest

from bench import finn_flow
from bench.cli import main

FOLDING = {"MVAU_hls_0": {"PE": 4, "SIMD": 4}}


@pytest.fixture
def no_vivado(monkeypatch):
    monkeypatch.delenv("XILINX_VIVADO", raising=False)


def test_synth_plan_is_a_valid_finn_build_config(tmp_path):
    """FINN itself accepts the configuration we would hand it."""
    from bench.finn_flow.builder import CLIP_THRESHOLDS_STEP, KEEP_SCALE_STEP, make_config

    finn_flow.prepare_finn()
    import finn.builder.build_dataflow_config as build_cfg

    plan = finn_flow.synthesis_plan("synth", FOLDING, "Pynq-Z1", "xc7z020clg400-1", 10.0,
                                    tmp_path)
    assert plan["steps"][-1] == "step_out_of_context_synthesis"
    assert "step_create_stitched_ip" in plan["steps"]
    assert KEEP_SCALE_STEP in plan["steps"]
    cfg = make_config(plan["steps"], **plan["config"])  # exactly what run_synthesis builds
    assert cfg._resolve_fpga_part() == "xc7z020clg400-1"
    assert build_cfg.DataflowOutputType.OOC_SYNTH in cfg.generate_outputs
    finn_steps = set(build_cfg.default_build_dataflow_steps)
    ours = {KEEP_SCALE_STEP, CLIP_THRESHOLDS_STEP}
    assert set(plan["steps"]) - finn_steps == ours
    # Our steps go to FINN as callables; every other step by FINN's own name.
    assert {s.__name__ for s in cfg.steps if callable(s)} == ours


def test_bitfile_plan_targets_the_board(tmp_path):
    plan = finn_flow.synthesis_plan("bitfile", FOLDING, "Pynq-Z1", "xc7z020clg400-1", 5.0,
                                    tmp_path)
    assert plan["config"]["board"] == "Pynq-Z1"
    assert plan["config"]["shell_flow_type"] == "vivado_zynq"
    assert plan["steps"].index("step_synthesize_bitfile") > plan["steps"].index(
        "step_out_of_context_synthesis")
    assert plan["config"]["synth_clk_period_ns"] == 5.0


def test_parse_finn_ooc_report(tmp_path):
    # The keys FINN's step_out_of_context_synthesis writes to ooc_synth_and_timing.json.
    report = {
        "vivado_proj_folder": "/tmp/x", "LUT": 7226.0, "LUTRAM": 120.0, "FF": 9512.0,
        "DSP": 4.0, "BRAM_36K": 10.0, "BRAM_18K": 3.0, "URAM": 0.0, "WNS": 1.25,
        "fmax_mhz": 114.28571428571429, "estimated_throughput_fps": 446428.57,
        "total_power_W": 0.31,
    }
    path = tmp_path / "ooc_synth_and_timing.json"
    path.write_text(json.dumps(report))
    fields = finn_flow.parse_synth_report(path)
    assert fields["synth_lut"] == 7226 and fields["synth_ff"] == 9512
    assert fields["synth_bram36"] == 11.5  # 10 x 36 kb + 3 x 18 kb
    assert fields["synth_dsp"] == 4 and fields["fmax_mhz"] == pytest.approx(114.2857, 1e-4)
    assert fields["synth_fps"] == pytest.approx(446428.57)
    report["BRAM"] = 12.0  # Vivado's own tile count wins when present
    path.write_text(json.dumps(report))
    assert finn_flow.parse_synth_report(path)["synth_bram36"] == 12.0


def test_run_synthesis_without_vivado_says_what_it_would_run(tmp_path, no_vivado):
    plan = finn_flow.synthesis_plan("synth", FOLDING, "Pynq-Z1", "xc7z020clg400-1", 10.0,
                                    tmp_path)
    with pytest.raises(finn_flow.VivadoMissing) as exc:
        finn_flow.run_synthesis(tmp_path / "model.onnx", plan)
    assert "XILINX_VIVADO" in str(exc.value)
    assert "step_out_of_context_synthesis" in str(exc.value)
    assert not (tmp_path / "finn").exists()


@pytest.mark.parametrize("target", ["synth", "bitfile"])
def test_cli_refuses_vivado_targets_before_any_work(target, tmp_path, capsys, no_vivado):
    code = main(["run", "--target", target, "--results-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "needs Vivado" in err and "step_out_of_context_synthesis" in err
    assert not (tmp_path / "r").exists()


def test_unknown_target_lists_allowed(capsys):
    assert main(["run", "--target", "asic"]) == 2
    assert "allowed: estimate, rtl, route, synth, bitfile" in capsys.readouterr().err
