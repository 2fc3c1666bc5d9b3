"""Hardware that computes something else fails the point: `run` and `sweep` exit non-zero,
the record names the stage that found it and keeps what was measured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.finn_flow import rtl_layers

pytestmark = pytest.mark.slow

MODEL = "tests.byo.tiny_models:tiny_mlp"
POINT = ["--model", MODEL, "--bits", "2", "--epochs", "1", "--pe", "2",
         "--target", "rtl", "--mvu", "rtl"]


@pytest.fixture
def inverted_weights(monkeypatch):
    """Every weight word of our unit inverted after FINN wrote it: a fault the simulation
    must catch (Verilator runs the real HDL on the real streams)."""
    generate = rtl_layers.generate_layer_hdl

    def corrupted(*args, **kwargs):
        layer = generate(*args, **kwargs)
        memory = layer.hdl_dir / "mvu_weights.hex"
        if memory.is_file():
            words = memory.read_text().split()
            width = len(words[0])
            memory.write_text("".join(
                f"{int(w, 16) ^ ((1 << 4 * width) - 1):0{width}x}\n" for w in words))
        return layer

    monkeypatch.setattr(rtl_layers, "generate_layer_hdl", corrupted)


def _only_record(results: Path) -> dict:
    records = list((results / "runs").glob("*.json"))
    assert len(records) == 1, records
    return json.loads(records[0].read_text())


def test_a_mismatch_fails_run_and_sweep(inverted_weights, tmp_path, capsys):
    results = tmp_path / "run"
    assert main(["run", *POINT, "--results-dir", str(results)]) == 1
    record = _only_record(results)
    assert record["status"] == "failed" and record["failed_stage"] == "rtl_measure"
    assert record["error"].startswith("HardwareMismatch:")
    assert "not bit-exact" in record["error"]
    # the evidence stays: the measured layers and which of them differ
    assert record["rtl_sim_ok"] is False
    assert any(row.get("sim_ok") is False for row in record["rtl_layers"])
    assert "run failed" in capsys.readouterr().out

    spec = tmp_path / "sweep.yaml"
    spec.write_text(f"models: ['{MODEL}']\nbits: [2]\nepochs: 1\n"
                    "folding: [{strategy: uniform, pe: 2}]\ntarget: rtl\nmvu: rtl\n")
    assert main(["sweep", str(spec), "--results-dir", str(tmp_path / "sweep")]) == 1
    assert _only_record(tmp_path / "sweep")["failed_stage"] == "rtl_measure"


def test_bit_exact_hardware_is_an_ok_record(tmp_path):
    results = tmp_path / "run"
    assert main(["run", *POINT, "--results-dir", str(results)]) == 0
    record = _only_record(results)
    assert record["status"] == "ok" and record["rtl_sim_ok"] is True
    assert record["rtl_stitched_ok"] is True
    # under backpressure: still bit-exact, and never faster than with a consumer always ready
    assert record["rtl_stalled_ok"] is True
    assert 0 < record["rtl_stalled_fps"] <= record["rtl_fps"]
