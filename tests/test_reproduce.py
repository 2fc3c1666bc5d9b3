"""The paper reproduction: points, tables, and a narrowed end-to-end run."""

from __future__ import annotations

import pytest

from bench.studies.reproduce import (
    PAPER_FOLDINGS,
    paper_folding_table,
    reproduction_points,
    run_reproduction,
    span_table,
)


def test_full_study_has_every_paper_point():
    points = reproduction_points()
    tfc_int = [p for p in points if p.model == "tfc" and p.weight_quant == "int"]
    assert len(tfc_int) == 7 * len(PAPER_FOLDINGS)
    assert {p.weight_bits for p in tfc_int} == set(range(2, 9))
    assert all(p.weight_bits == p.act_bits for p in points)
    assert {p.weight_bits for p in points if p.model == "cnv"} == {2, 4, 8}
    assert {p.weight_bits for p in points if p.weight_quant == "pot"} == {2, 3, 4}
    assert all(p.board == "Pynq-Z1" and p.clk_ns == 10.0 for p in points)


def _record(bits, name, fps, status="ok"):
    record = {
        "model": "tfc", "weight_quant": "int", "weight_bits": bits, "status": status,
        "folding_spec": {"file": f"/x/tfc_paper_{name}.json"},
    }
    if status == "ok":
        record.update(est_fps=fps, est_latency_ns=1e9 / fps, est_max_cycles=int(1e8 / fps),
                      lut=1000.0, bram18=4.0, dsp=0.0, fits=True)
    else:
        record["error"] = "FoldingError: layer MVAU_rtl_0: PE=8 does not divide 10"
    return record


def test_span_and_folding_tables_from_records():
    records = [_record(2, "a", 1_562_500), _record(2, "c", 24_414.0625),
               _record(2, "f", 0, status="failed")]
    span = span_table(records)
    assert span.rows[0][0] == "W2A2" and span.rows[0][3] == "64×"
    table = paper_folding_table(records)
    invalid = [row for row in table.rows if row[2] == "invalid"]
    assert len(invalid) == 1 and "PE=8 does not divide 10" in invalid[0][-1]


@pytest.mark.slow
def test_narrow_reproduction_end_to_end(tmp_path):
    paths, tally = run_reproduction(
        tmp_path, tfc_epochs=1, cnv_epochs=1, tfc_bits=(2,), pot_bits=(2,), cnv_bits=(),
    )
    # (e) needs 784 inputs and (f) is invalid: two failures by design, on 64-pixel digits.
    assert (tally.ok, tally.failed) == (5, 2)
    tables = paths["tables"].read_text()
    assert "| W2A2 | c: 24,414 | a: 1,562,500 | 64× |" in tables
    assert "CNV-w1a1" in tables and "32,768 (32,768)" in tables and "3,052" in tables
    assert "TFC-w1a1" in tables and "64 (64)" in tables
    html = paths["html"].read_text()
    assert html.count("<img") >= 3 and "Throughput span" in html
    assert paths["paper_foldings_csv"].read_text().startswith("W/A,folding,FPS")
    assert len(list((tmp_path / "reproduce" / "figures").glob("*.png"))) >= 3
