"""The paper reproduction: points, geometry, seeds, outcomes, tables, and an end-to-end run."""

from __future__ import annotations

import pytest

from bench.core.outcome import outcome, record_outcome
from bench.studies.paper import PAPER_FOLDINGS
from bench.studies.reproduce import (
    baseline_phases,
    reproduction_points,
    run_reproduction,
    split_applicable,
)
from bench.studies.reproduce_tables import accuracy_tfc_table, paper_folding_table, span_table


def test_full_study_has_every_paper_point():
    points = reproduction_points()
    tfc_int = [p for p in points if p.model == "tfc" and p.weight_quant == "int"]
    seed0 = [p for p in tfc_int if p.seed == 0]
    assert len(seed0) == 7 * len(PAPER_FOLDINGS)
    assert {p.weight_bits for p in tfc_int} == set(range(2, 9))
    assert all(p.weight_bits == p.act_bits for p in points)
    assert {p.weight_bits for p in points if p.model == "cnv"} == {2, 4, 8}
    assert {p.weight_bits for p in points if p.weight_quant == "pot"} == {2, 3, 4}
    assert all(p.board == "Pynq-Z1" and p.clk_ns == 10.0 for p in points)
    # three seeds of TFC; seeds 1 and 2 train each bit width once, at folding (a)
    assert {p.seed for p in tfc_int} == {0, 1, 2}
    assert all(p.folding.label() == "layers-tfc_paper_a" for p in tfc_int if p.seed)
    assert len([p for p in tfc_int if p.seed == 2]) == 7
    assert points[0].model == "cnv"  # the longest groups start first


def test_each_paper_folding_runs_at_its_geometry():
    points = [p for p in reproduction_points("mnist", "/data", seeds=(0,)) if p.model == "tfc"]
    for p in points:
        name = p.folding.label().removeprefix("layers-tfc_paper_")
        assert p.input_size == (None if name == "e" else 32), (name, p.input_size)
    run, skipped = split_applicable(points)
    # on 28x28 MNIST only (f) is not applicable; it shares a model with (a)-(d), so it runs
    assert skipped == [] and len(run) == len(points)


def test_inapplicable_groups_are_not_trained():
    points = [p for p in reproduction_points("digits", seeds=(0,)) if p.model == "tfc"]
    run, skipped = split_applicable(points)
    # (e) needs 784 inputs: digits has 64, so its models would never be folded
    assert {p.folding.label() for p, _ in skipped} == {"layers-tfc_paper_e"}
    assert len(skipped) == 7
    assert all("SIMD=49 does not divide its input size 64" in why for _, why in skipped)
    assert all(p.input_size == 32 for p in run)
    assert "layers-tfc_paper_f" in {p.folding.label() for p in run}
    cifar = [p for p in reproduction_points("cifar10", "/d", seeds=(0,)) if p.model == "tfc"]
    assert "input size 3072" in split_applicable(cifar)[1][0][1]


def test_baselines_are_trained_once_before_groups_that_share_them():
    points = reproduction_points("digits", tfc_bits=(2, 4), pot_bits=(3,), cnv_bits=(2, 4),
                                 seeds=(0, 1))
    first, rest = baseline_phases(split_applicable(points)[0])
    owners = {(p.model, p.seed) for p in first if p.fp32_baseline}
    assert owners == {("cnv", 0), ("tfc", 0), ("tfc", 1)}
    assert {p.weight_bits for p in first if p.fp32_baseline} == {2}  # one group per baseline
    # groups without a baseline (power-of-two) fill the first phase
    assert {(p.weight_quant, p.seed) for p in first if not p.fp32_baseline} == {
        ("pot", 0), ("pot", 1)}
    assert all(p.fp32_baseline for p in rest)
    assert len(first) + len(rest) == len(split_applicable(points)[0])


def test_outcomes_keep_not_applicable_apart_from_failures():
    assert outcome("ok") == "ok"
    assert outcome("failed", "choose", "FoldingError: layer X: PE=8 ...") == "not_applicable"
    # records written when the stage was called "fold" read the same
    assert outcome("failed", "fold", "FoldingError: layer X: PE=8 ...") == "not_applicable"
    assert outcome("failed", "choose", "RuntimeError: no folding fits") == "failed"
    assert outcome("failed", "train", "FoldingError: odd") == "failed"
    assert record_outcome({"status": "failed", "failed_stage": "hw_graph",
                           "error": "x"}) == "failed"


def _record(bits, name, fps, status="ok", seed=0, accuracy=0.9, input_size=32, error=None):
    record = {
        "run_id": f"{bits}-{name}-{seed}", "model": "tfc", "dataset": "mnist",
        "weight_quant": "int", "weight_bits": bits, "status": status, "seed": seed,
        "input_size": input_size, "folding_spec": {"file": f"/x/tfc_paper_{name}.json"},
    }
    if status == "ok":
        record.update(est_fps=fps, est_latency_ns=1e9 / fps, est_max_cycles=int(1e8 / fps),
                      lut=1000.0, bram18=4.0, dsp=0.0, fits=True, accuracy=accuracy,
                      fp32_accuracy=0.95)
    else:
        record.update(failed_stage="choose", error=error or (
            "FoldingError: layer MVAU_rtl_0: PE=8 does not divide its output size 10; "
            "valid PE values: 1, 2, 5, 10"))
    return record


def test_span_and_folding_tables_from_records():
    records = [_record(2, "a", 1_562_500), _record(2, "c", 24_414.0625),
               _record(2, "d", 6_103.515625), _record(2, "e", 0, status="failed",
                                                     input_size=None),
               _record(2, "f", 0, status="failed"),
               _record(2, "b", 0, status="failed", error="RuntimeError: FINN crashed"),
               _record(2, "a", 1_000, seed=1)]  # hardware tables use seed 0
    span = span_table(records)
    assert span.rows[0][0] == "W2A2" and span.rows[0][3] == "64×"
    assert span.rows[0][4] == "d: 6,104" and span.rows[0][5] == "256×"
    table = paper_folding_table(records)
    kinds = {row[1]: row[3] for row in table.rows}
    assert kinds == {"a": "1,562,500", "b": "failed", "c": "24,414", "d": "6,104",
                     "e": "n/a", "f": "n/a"}
    geometry = {row[1]: row[2] for row in table.rows}
    assert geometry["a"] == "32×32 (1,024)" and geometry["e"] == "28×28 (784)"
    f_row = next(row for row in table.rows if row[1] == "f")
    assert f_row[-1] == "layer MVAU_rtl_0: PE=8 does not divide its output size 10"


def test_accuracy_table_shows_mean_and_std_over_seeds():
    records = [_record(2, "a", 1e6, seed=s, accuracy=a)
               for s, a in ((0, 0.90), (1, 0.92), (2, 0.94))]
    records.append(_record(2, "b", 1e6, seed=0, accuracy=0.90))  # same model as (a), seed 0
    table = accuracy_tfc_table(records)
    row = table.rows[0]
    assert row[0] == "TFC (int), 32×32 (1,024)"
    assert row[1] == "92.00 ± 2.00" and row[-2] == "95.00 ± 0.00" and row[-1] == "3"
    assert "over seeds" in table.title and "0, 1, 2" in table.note


def test_seed_dependence_of_estimates_is_reported():
    same = [_record(3, "a", 1e6, seed=s) for s in (0, 1)]
    assert "identical" in paper_folding_table(same).note
    differ = [_record(3, "a", 1e6, seed=0), {**_record(3, "a", 1e6, seed=1), "lut": 1100.0}]
    assert "W3A3 LUT 1,000–1,100" in paper_folding_table(differ).note


@pytest.mark.slow
def test_narrow_reproduction_end_to_end(tmp_path):
    paths, tally, outcomes = run_reproduction(
        tmp_path, tfc_epochs=1, cnv_epochs=1, tfc_bits=(2,), pot_bits=(2,), cnv_bits=(),
        seeds=(0, 1),
    )
    # digits padded to 32x32: (a)-(d) run; (f) is not applicable by design and (e) (784
    # inputs) is recorded as not applicable without training; seed 1 trains (a) and pot.
    assert (outcomes.ok, outcomes.not_applicable, outcomes.failed) == (7, 2, 0)
    assert tally.ok == 7 and tally.failed == 1  # the sweep ran (f) and the fold rejected it
    tables = paths["tables"].read_text()
    assert "| W2A2 | 1,562,500 | 24,414 | 64× | d: 6,104 | 256× |" in tables
    assert "| e | 8×8 (64) | n/a |" in tables
    assert " ± " in tables  # two seeds: mean ± std
    assert "CNV-w1a1" in tables and "32,768 (32,768)" in tables and "3,052" in tables
    assert "TFC-w1a1" in tables and "64 (64)" in tables
    html = paths["html"].read_text()
    assert html.count("<img") >= 3 and "Throughput span" in html
    assert "<span>not applicable</span><b>2</b>" in html
    assert '<div class="card"><span>failed</span><b>0</b>' in html
    assert paths["paper_foldings_csv"].read_text().startswith("W/A,folding,input")
    assert len(list((tmp_path / "reproduce" / "figures").glob("*.png"))) >= 3


def test_pot_hardware_points_only_when_asked():
    from bench.studies.pot_hardware import POT_HW_BITS

    assert not [p for p in reproduction_points() if p.mvu == "rtl"]
    points = [p for p in reproduction_points(pot_hw_bits=POT_HW_BITS) if p.mvu == "rtl"]
    assert len(points) == 4 * 2 * 2  # bits x foldings b, d x int/pot
    assert {p.target for p in points} == {"rtl"} and {p.seed for p in points} == {0}
    routed = reproduction_points(pot_hw_bits=(4,), pot_hw_target="route")
    assert {p.target for p in routed if p.mvu == "rtl"} == {"route"}
    assert {(p.weight_quant, p.weight_bits) for p in points} == {
        (q, b) for q in ("int", "pot") for b in (2, 3, 4, 5)}
    assert {p.folding.label() for p in points} == {"layers-tfc_paper_b", "layers-tfc_paper_d"}
    assert all(p.input_size == 32 for p in points)


def _unit_record(bits, name, quant, lut, fps=None, sim_ok=True):
    return {**_record(bits, name, 1e6), "weight_quant": quant, "mvu": "rtl",
            "rtl_lut": lut, "rtl_ff": 2 * lut, "rtl_bram18": 3, "rtl_dsp": 0,
            "rtl_sim_ok": sim_ok, "rtl_fps": fps, "lut": 7.0, "fmax_est_mhz": 61.4,
            "route_fmax_mhz": 56.54 if quant == "int" else None,
            "rtl_toggles_per_image": lut * 10.0}


def test_pot_hardware_table_pairs_datapaths_and_keeps_finns_tables_apart():
    from bench.studies.pot_hardware import pot_hardware_table

    records = [_unit_record(3, "b", "int", 1000, fps=390_000.0),
               _unit_record(3, "b", "pot", 800, sim_ok=False),
               _record(3, "b", 1e6)]  # FINN's own integer design at the same point
    table = pot_hardware_table(records)
    int_row, pot_row = table.rows
    assert int_row[:3] == ["(b)", "W3A3", "int"] and pot_row[2] == "pot"
    header = table.header
    assert int_row[header.index("LUT")] == "1,000" and pot_row[header.index("LUT")] == "800"
    assert pot_row[header.index("LUT pot/int")] == "0.80"
    assert int_row[header.index("Fmax est. (MHz)")] == "61"
    assert int_row[header.index("routed Fmax (MHz)")] == "56.5"
    assert pot_row[header.index("routed Fmax (MHz)")] == "–"  # not routed
    assert pot_row[header.index("energy pot/int")] == "0.80"
    assert int_row[header.index("energy pot/int")] == ""
    assert pot_row[header.index("bit-exact")] == "no"
    assert int_row[header.index("FPS (simulated)")] == "390,000"
    assert pot_row[header.index("FPS (simulated)")] == "–"
    assert int_row[header.index("FINN est. LUT (int)")] == "1,000"
    # our unit's records stay out of the paper's tables (FINN's designs only)
    assert [r[1] for r in paper_folding_table(records).rows if r[0] == "W3A3"] == ["b"]
    assert pot_hardware_table([_record(3, "b", 1e6)]).rows == []


def test_reproduction_tables_include_measured_rtl_layers(tmp_path, monkeypatch):
    """Records of `--target rtl` in the reproduction's results put FINN's estimate against
    the measured layers into tables.md and the CSVs, beside the study's own tables."""
    from test_collect import rtl_record, write_records

    import bench.studies.published as published
    import bench.studies.reproduce as reproduce
    from bench.report.collect import collect
    from bench.studies.reproduce_tables import measured_rtl_tables

    monkeypatch.setattr(reproduce, "run_sweep", lambda *args, **kwargs: None)
    monkeypatch.setattr(published, "validation_rows", lambda store: [])
    empty = {"tfc_bits": (), "pot_bits": (), "cnv_bits": (), "seeds": (0,)}
    paths, _, _ = run_reproduction(tmp_path, **empty)
    assert "Estimated vs measured RTL layers" not in paths["tables"].read_text()
    assert "rtl_csv" not in paths

    write_records(tmp_path / "reproduce" / "runs", [rtl_record(4)])
    assert [t.key for t in measured_rtl_tables(collect(tmp_path / "reproduce"))] == [
        "rtl", "rtl_unmeasured"]
    paths, _, _ = run_reproduction(tmp_path, **empty)
    tables = paths["tables"].read_text()
    assert "Estimated vs measured RTL layers" in tables and "| Thresholding |" in tables
    assert "FINN has no RTL variant of Pool" in tables
    assert paths["rtl_csv"].read_text().startswith("model,W/A,folding,layer type")


def test_free_cores_count_whole_busy_cores(monkeypatch):
    import os

    from bench.studies.reproduce import free_cores

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    for load, free in ((0.0, 2), (0.8, 2), (1.0, 1), (1.9, 1), (6.0, 1)):
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, load, load))
        assert free_cores() == free, load
