"""`--target rtl`: refused up front without the tools, and measured end to end with them."""

from __future__ import annotations

import pytest

from bench.cli import main
from bench.core.record import JSON_FIELDS, Record, scalar_columns
from bench.core.spec import make_spec
from bench.engine.store import Store
from bench.rtl import tools
from bench.run.point import run_point


def test_cli_refuses_rtl_without_the_tools_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tools, "TOOLS", tools.ToolNames(verilator="verilator-not-installed-here"))
    results = tmp_path / "results"
    code = main(["run", "--target", "rtl", "--results-dir", str(results)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1, err
    assert "verilator-not-installed-here is not installed" in err and "make install" in err
    assert not results.exists()


def test_rtl_fields_are_typed_columns():
    columns = scalar_columns()
    assert {columns[k] for k in ("rtl_lut", "rtl_ff", "rtl_bram18", "rtl_dsp")} == {"int"}
    assert columns["rtl_coverage"] == "float" and columns["rtl_sim_ok"] == "bool"
    assert columns["rtl_lut_coverage"] == "float"
    assert {"rtl_layers", "rtl_tool_versions", "rtl_stitched"} <= set(JSON_FIELDS)
    assert {columns[k] for k in ("rtl_stitched_lut", "rtl_stitched_ff", "rtl_stitched_bram18",
                                 "rtl_stitched_dsp", "rtl_latency_cycles")} == {"int"}
    assert columns["rtl_fps"] == "float" and columns["rtl_stitched_ok"] == "bool"
    assert columns["rtl_stitched_skipped"] == "str"


def test_estimate_runs_do_not_prepare_rtl():
    from bench.stages.plan import PER_FOLDING, PREPARE

    estimate, rtl = make_spec(), make_spec(target="rtl")
    active = [s.name for s in PREPARE + PER_FOLDING if s.active(estimate)]
    assert not {"rtl_graph", "rtl_measure", "rtl_stitch"} & set(active)
    assert {"rtl_graph", "rtl_measure", "rtl_stitch"} <= {s.name for s in PREPARE + PER_FOLDING
                                                          if s.active(rtl)}
    assert estimate.preparation_fields() != rtl.preparation_fields()


@pytest.mark.slow
def test_tfc_w4a4_measured_end_to_end(tmp_path):
    spec = make_spec(model="tfc", dataset="digits", weight_bits=4, act_bits=4, epochs=1,
                     pe=4, target="rtl")
    store = Store(tmp_path / "results")
    outcome = run_point(spec, store, show_progress=False)
    record = outcome.record
    assert record.status == "ok", record.error
    assert record.rtl_sim_ok is True
    assert record.rtl_lut > 0 and record.rtl_ff > 0
    assert 0 < record.rtl_coverage <= 1
    estimated = sum(r["est_lut"] for r in record.rtl_layers)
    assert record.rtl_lut_coverage == pytest.approx(
        sum(r["est_lut"] for r in record.rtl_layers if "lut" in r) / estimated)
    measured = [r for r in record.rtl_layers if "lut" in r]
    assert measured and len(measured) == round(record.rtl_coverage * len(record.rtl_layers))
    assert {r["op_type"] for r in measured} <= {"MVAU_rtl", "Thresholding_rtl"}
    assert sum(r["lut"] for r in measured) == record.rtl_lut
    for row in measured:
        assert row["sim_ok"] and row["sim_cycles_per_input"] == row["est_cycles"], row
    assert record.rtl_tool_versions["verilator"].startswith("5.48.0")
    # FINN's MVAU_rtl and Thresholding_rtl are measured per layer, not stitched
    assert "covers graphs of our units (--mvu rtl)" in record.rtl_stitched_skipped
    assert record.rtl_fps is None and record.rtl_stitched_ok is None
    assert Record.read(outcome.path) == record
    # the estimate the point would have without the rtl target is unchanged by it
    plain = run_point(make_spec(model="tfc", dataset="digits", weight_bits=4, act_bits=4,
                                epochs=1, pe=4), store, show_progress=False).record
    assert plain.est_fps == record.est_fps and plain.lut == record.lut
    assert plain.rtl_layers is None and plain.rtl_lut is None
