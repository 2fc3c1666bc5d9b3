"""`qnnbench calibrate`: the check table, its refusals, and the models against fresh
measurements (the drift test)."""

from __future__ import annotations

import json

import pytest

from bench.cli import main
from bench.cost import model as cm
from bench.cost.corpus import PLAN


def test_check_prints_one_graded_line_per_model(capsys):
    assert main(["calibrate", "--check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["layer", "type"]
    types = {(line.split()[0], line.split()[1]) for line in out[1:]}
    assert types == {(t, f) for t, f, *_ in PLAN}
    assert all(("met" in line) or ("MISSED" in line) for line in out[1:])


@pytest.mark.parametrize("argv,message", [
    (["calibrate", "--check", "--refit"], "give one of --check, --refit, --fronts"),
    (["calibrate", "--fronts", "--board", "Nexys"], "--board: unknown board 'Nexys'"),
    (["calibrate", "--jobs", "0"], "--jobs"),
])
def test_bad_calibrate_arguments_are_one_line_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def _held_out_row(op_type: str) -> dict:
    rows = json.loads(cm.CORPUS_FILE.read_text())["rows"]
    return next(r for r in rows if r["role"] == "held_out" and "error" not in r
                and r["config"]["op_type"] == op_type and r["config"]["family"] == "xc7")


@pytest.mark.slow
@pytest.mark.parametrize("op_type", ["MVAU_rtl", "Thresholding_rtl",
                                     "ConvolutionInputGenerator_rtl", "FMPadding_rtl"])
def test_the_model_holds_against_a_fresh_synthesis(op_type, tmp_path):
    """A held-out configuration synthesized again: the tools still build what the corpus
    holds (else the corpus is stale: `qnnbench calibrate` after deleting it), and the
    model is still within the worst error it states for that type."""
    from bench.finn_flow.calibration import measure_config

    row = _held_out_row(op_type)
    fresh = measure_config(row["config"], tmp_path / "layer", None)
    assert {k: fresh[k] for k in ("lut", "lutram", "ff", "bram18", "dsp")} == \
        {k: row[k] for k in ("lut", "lutram", "ff", "bram18", "dsp")}
    model = cm.load()
    stated = next(t for t in json.loads(cm.CALIBRATION_FILE.read_text())["check"]
                  if t["type"] == op_type and t["family"] == "xc7")
    predicted = model.predict(row["config"], "xc7", fresh["finn"])
    assert predicted is not None
    assert cm.smape([predicted.lut], [cm.measured_lut(fresh)]) <= stated["lut_worst"] + 1e-9
