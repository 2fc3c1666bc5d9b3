"""The budget study: the `fastest` folding strategy, the study's points, its ratios, and a
real search where the DSP budget binds the integer design but not the PoT one."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from bench.core.folding import Layer, stream_capped_bits
from bench.core.spec import SpecError, make_spec
from bench.studies.pot_budget import BudgetStudy, budget_points, design_of
from bench.studies.pot_budget_table import ratios, ratios_table


def test_fastest_is_one_folding_within_a_stated_share_of_the_board():
    spec = make_spec(folding={"strategy": "fastest"})
    assert spec.folding.max_utilization == 0.85
    assert spec.folding.label() == "fastest0.85"
    assert make_spec(folding={"strategy": "fastest", "max_utilization": 0.5}).run_id() \
        != spec.run_id()
    with pytest.raises(SpecError, match="max_utilization"):
        make_spec(folding={"strategy": "fastest", "max_utilization": 1.5})
    # the Pareto strategy's fields (and so its run ids) are what they were
    assert make_spec(folding={"strategy": "pareto"}).folding.model_dump() == {
        "strategy": "pareto", "max_utilization": 0.8}


def test_the_hls_weight_stream_cap_binds_hls_layers_only():
    layers = [Layer("a", "MVAU_hls", 64, 64, 4), Layer("b", "MVAU_rtl", 64, 64, 4),
              Layer("c", "QnnbenchMVU_rtl", 64, 64, 4), Layer("d", "Thresholding_rtl", 64, None)]
    assert stream_capped_bits(layers) == {"a": 4}


def test_dsp_off_is_allowed_where_our_unit_estimates_it():
    assert make_spec(mvu="rtl", dsp="off").dsp == "off"
    with pytest.raises(SpecError, match="mvu rtl"):
        make_spec(dsp="off")  # FINN's MVAU instantiates its DSPs: the policy changes nothing


def test_points_build_the_first_seed_and_train_the_others():
    study = BudgetStudy.quick()
    points = budget_points(study)
    built = [p for p in points if p.target == "rtl"]
    assert len(built) == 6  # pot W2/W4 + int W2/W4 in two designs
    assert {p.seed for p in built} == {0}
    assert all(p.folding.strategy == "fastest" and p.board == "Pynq-Z1" for p in built)
    assert {(p.weight_quant, p.dsp) for p in built} == {("pot", "auto"), ("int", "auto"),
                                                         ("int", "off")}
    others = [p for p in points if p.target != "rtl"]
    assert {(p.weight_quant, p.weight_bits, p.seed) for p in others} == {
        (q, b, 1) for q in ("int", "pot") for b in (2, 4)}
    assert len({p.run_id() for p in points}) == len(points)
    search_only = budget_points(BudgetStudy.quick(verify=False))
    assert {p.target for p in search_only} == {"estimate"}
    assert {p.dsp for p in search_only if p.weight_quant == "int"} == {"auto", "off"}


def test_a_record_names_its_design():
    assert design_of({"weight_quant": "pot", "mvu": "rtl"}).key == "pot"
    assert design_of({"weight_quant": "int", "mvu": "rtl", "dsp_policy": "off"}).key \
        == "int-lut"
    assert design_of({"weight_quant": "int", "mvu": "finn"}).key == "int-finn"
    assert design_of({"weight_quant": "int", "mvu": "finn", "dsp_policy": "off"}) is None


def _row(design: str, quant: str, bits: int, fps: float, acc: float, std: float = 0.005,
         fits: bool | None = True, toggles: float | None = None,
         measured_fps: float | None = None) -> dict:
    return {"board": "Pynq-Z1", "network": "TFC", "design": design, "weight_quant": quant,
            "weight_bits": bits, "cal_fps": fps, "accuracy_mean": acc, "accuracy_std": std,
            "fits_measured": fits, "status": "ok", "toggles_per_image": toggles,
            "fps": measured_fps or fps, "fps_measured": measured_fps is not None,
            "datapath": design, "folding": "8/64 8/64", "cal_dsp": 0}


def test_ratios_compare_the_fastest_fitting_int_at_equal_bits_and_equal_accuracy():
    df = pd.DataFrame([
        _row("pot", "pot", 4, 8e6, 0.95, toggles=6e4),
        _row("int", "int", 4, 2e6, 0.97),
        _row("int-lut", "int", 4, 4e6, 0.97, toggles=8e4),
        _row("int-lut", "int", 2, 1.6e7, 0.90),  # faster, but far less accurate
        _row("int-finn", "int", 3, 9e6, 0.952, fits=False),  # over budget as built
        _row("int", "int", 3, 5e6, 0.946),  # within seed noise of the PoT accuracy
        _row("int", "int", 8, 1e6, 0.97),
    ])
    (row,) = ratios(df).to_dict("records")
    assert row["int_same_bits"] == "W4 int-lut" and row["ratio_same_bits"] == 2.0
    assert row["int_equal_acc"] == "W3 int" and row["ratio_equal_acc"] == 8e6 / 5e6
    # the paper's comparison: multipliers in DSPs, at the same bits and at 8 bits
    assert row["ratio_vs_dsp_int"] == 4.0 and row["ratio_vs_int8_dsp"] == 8.0
    # energy: the two built winners' toggles per image, PoT over the best int at its bits
    assert row["energy_vs_int_same_bits"] == 0.75
    assert row["ratio_same_bits_measured"] is False  # neither was built: estimates


def test_built_winners_are_compared_at_their_measured_speed():
    """Estimated, PoT W3 is 2x the best int W3; built, its stitched design needs more
    cycles per image and its logic delay caps the clock, and the verdict turns."""
    # (PoT measured 5 M FPS, int-lut 6.25 M: 0.8)
    df = pd.DataFrame([
        _row("pot", "pot", 3, 12.5e6, 0.97, measured_fps=5.0e6),
        _row("int-lut", "int", 3, 6.25e6, 0.97, measured_fps=6.25e6),
        _row("int", "int", 3, 3.125e6, 0.97),  # not built: its estimate
    ])
    (row,) = ratios(df).to_dict("records")
    assert row["int_same_bits"] == "W3 int-lut" and row["ratio_same_bits"] == 0.8
    assert row["ratio_same_bits_measured"] is True
    # against a design that was not built: both estimates, never a clock-capped PoT
    # against an uncapped estimate
    assert row["ratio_vs_dsp_int"] == 4.0 and row["ratio_vs_dsp_int_measured"] is False
    assert ratios_table(ratios(df)).rows[0][6] == "0.80"  # measured: no mark
    assert ratios_table(ratios(df)).rows[0][10] == "4.00*"


def test_the_best_int_is_a_built_one_and_faster_estimates_not_built_are_named():
    df = pd.DataFrame([
        _row("pot", "pot", 2, 12.5e6, 0.97, measured_fps=4.1e6),
        _row("int", "int", 2, 12.5e6, 0.97, measured_fps=4.0e6),
        _row("int-lut", "int", 2, 12.5e6, 0.97),  # the same estimate, not built
        _row("int-finn", "int", 2, 3.0e6, 0.97),  # not built, and slower even if it closes
    ])
    (row,) = ratios(df).to_dict("records")
    assert row["int_same_bits"] == "W2 int" and row["ratio_same_bits_measured"] is True
    assert row["ratio_same_bits"] == pytest.approx(4.1 / 4.0)
    # an estimate at the requested clock above the pick as built: it could still win
    assert row["int_same_open"] == "W2 int-lut (12,500,000)"
    assert ratios_table(ratios(df)).rows[0][4] == "W2 int†"
    # the same hardware as the built one (at 2 bits our int unit is shifts either way)
    same_hw = df.assign(datapath=df["datapath"].replace({"int-lut": "int"}))
    assert ratios(same_hw)["int_same_open"].tolist() == [""]
    df.loc[df["design"] == "int-lut", "cal_fps"] = 3.9e6  # slower than int as built
    (row,) = ratios(df).to_dict("records")
    assert row["int_same_open"] == "" and ratios_table(ratios(df)).rows[0][4] == "W2 int"


def test_of_built_designs_the_faster_as_built_is_the_best_int_whatever_the_search_says():
    # the search ranks our LUT unit 2x FINN's MVU at the requested clock; built, ours
    # closes 36 MHz and FINN's 100: FINN's is what a designer would take
    df = pd.DataFrame([
        _row("pot", "pot", 5, 3.125e6, 0.97, measured_fps=1.12e6),
        _row("int-lut", "int", 5, 3.125e6, 0.97, measured_fps=1.12e6),
        _row("int-finn", "int", 5, 1.5625e6, 0.97, measured_fps=1.5625e6),
        _row("int", "int", 5, 0.78e6, 0.97),  # not built, slower than both even so
    ])
    (row,) = ratios(df).to_dict("records")
    assert row["int_same_bits"] == "W5 int-finn" and row["int_same_open"] == ""
    assert row["ratio_same_bits"] == pytest.approx(1.12 / 1.5625)


def test_of_built_designs_the_search_ranks_equal_the_faster_as_built_is_the_best_int():
    # the same estimate at the requested clock; built, FINN's MVU closes it, ours not
    df = pd.DataFrame([
        _row("pot", "pot", 3, 6.25e6, 0.97, measured_fps=2.2e6),
        _row("int", "int", 3, 3.125e6, 0.97, measured_fps=1.04e6),
        _row("int-finn", "int", 3, 3.125e6, 0.97, measured_fps=3.125e6),
        _row("int-lut", "int", 3, 3.125e6, 0.97),  # not built
    ])
    for order in (df, df.iloc[::-1]):
        (row,) = ratios(order).to_dict("records")
        assert row["int_same_bits"] == "W3 int-finn"
        assert row["ratio_same_bits"] == pytest.approx(2.2 / 3.125)


def test_the_compared_fps_is_simulated_cycles_at_the_clock_the_logic_allows():
    from bench.studies.pot_budget_table import comparison_fps

    built = {"est_fps": 12.5e6, "rtl_fps": 9.0e6, "rtl_stitched_ok": True, "clk_ns": 10.0}
    assert comparison_fps({**built, "fmax_est_mhz": 42.0}) == (9.0e6 * 0.42, True)
    assert comparison_fps({**built, "fmax_est_mhz": 150.0}) == (9.0e6, True)  # clock met
    assert comparison_fps(built) == (9.0e6, True)  # no delay measured: requested clock
    assert comparison_fps({**built, "rtl_stitched_ok": False}) == (12.5e6, False)
    assert comparison_fps({"est_fps": 12.5e6}) == (12.5e6, False)
    # not built: the search's estimate, FINN's cycles with the width converters' rate
    assert comparison_fps({"est_fps": 12.5e6, "cal_fps": 9.09e6}) == (9.09e6, False)


def test_a_design_that_cannot_be_stitched_is_compared_on_its_slowest_simulated_layer():
    from bench.studies.pot_budget_table import comparison_fps

    def layer(cycles: float | None, ok: bool = True) -> dict:
        return {"sim_ok": ok, "sim_cycles_per_input": cycles}

    # FINN's RTL layers: built and simulated one by one, no stitched simulation
    built = {"cal_fps": 3.125e6, "clk_ns": 10.0, "rtl_coverage": 1.0,
             "rtl_layers": [layer(32.0), layer(40.0), layer(8.0)]}
    assert comparison_fps(built) == (2.5e6, True)  # 100 MHz / 40 cycles
    assert comparison_fps({**built, "fmax_est_mhz": 50.0}) == (1.25e6, True)
    # the search's cycles are slower (width converters): they count
    assert comparison_fps({**built, "cal_fps": 2.0e6}) == (2.0e6, True)
    # a layer not bit-exact, or not timed, or not built: the estimate
    for bad in ([layer(32.0), layer(40.0, ok=False)], [layer(None)]):
        assert comparison_fps({**built, "rtl_layers": bad}) == (3.125e6, False)
    assert comparison_fps({**built, "rtl_coverage": 0.5}) == (3.125e6, False)
    # a stitched simulation that failed is not replaced by the layers'
    assert comparison_fps({**built, "rtl_stitched_ok": False}) == (3.125e6, False)


def test_bad_budget_options_are_one_line_errors(tmp_path):
    for args, message in ((["--limit", "2"], "--limit must be a fraction"),
                          (["--boards", "Nope"], "--boards: unknown board")):
        proc = subprocess.run([sys.executable, "-m", "bench.cli", "budget", *args,
                               "--results-dir", str(tmp_path)],
                              capture_output=True, text=True)
        assert proc.returncode != 0
        assert message in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_the_dsp_budget_binds_the_integer_design_and_not_the_pot_one(tmp_path):
    """TFC at W5A4 on a Pynq-Z1-sized LUT budget with few DSPs: the integer unit puts its
    9-bit products into DSPs and the search stops where the DSPs run out; the PoT unit uses
    none and goes faster; our integer unit with DSPs off is not DSP-bound either."""
    from bench.core import folding as fold
    from bench.engine.stage import run_stages
    from bench.engine.store import Store
    from bench.stages.plan import UNTRAINED_HW, untrained_context

    budget = {"lut": 45_000, "dsp": 64, "bram18": 238, "uram": 0}
    found = {}
    for quant, dsp in (("int", "auto"), ("pot", "auto"), ("int", "off")):
        spec = make_spec(model="tfc", dataset="digits", weight_bits=5, act_bits=4,
                         weight_quant=quant, mvu="rtl", dsp=dsp)
        graph = run_stages(UNTRAINED_HW, untrained_context(spec, Store(tmp_path),
                                                           (1, 8, 8)))["foldable"]
        options = {la.name: graph.layer_options(la) for la in graph.layers}
        capped = fold.stream_capped_bits(graph.layers)
        best = fold.pareto_search(options, budget, capped, graph.feeds)[0]
        unbounded = fold.pareto_search(options, {**budget, "dsp": float("inf")}, capped,
                                       graph.feeds)[0]
        found[quant, dsp] = (best, unbounded)
    int_best, int_free = found["int", "auto"]
    assert 0 < int_best.totals["dsp"] <= budget["dsp"]
    # with DSPs to spare the same LUT budget would go faster: the DSPs are what binds
    assert int_free.max_cycles < int_best.max_cycles and int_free.totals["dsp"] > 64
    pot_best, pot_free = found["pot", "auto"]
    assert pot_best.totals["dsp"] == 0 and pot_free.max_cycles == pot_best.max_cycles
    assert pot_best.max_cycles < int_best.max_cycles  # the search picks the PoT design
    lut_best, _ = found["int", "off"]
    assert lut_best.totals["dsp"] == 0 and lut_best.max_cycles < int_best.max_cycles


@pytest.mark.slow
def test_the_quick_study_writes_its_table_ratios_and_figure(tmp_path):
    """`qnnbench budget --quick --no-verify` end to end: trained models, the fastest
    folding of every format, and the study's outputs from their records."""
    proc = subprocess.run([sys.executable, "-m", "bench.cli", "budget", "--quick",
                           "--no-verify", "--results-dir", str(tmp_path), "--quiet"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = tmp_path / "pot_budget"
    table = pd.read_csv(out / "pot_budget.csv")
    assert len(table) == 6 and set(table["status"]) == {"ok"}
    assert set(table["design"]) == {"pot", "int", "int-lut"}
    assert (table["accuracy_seeds"] == 2).all() and table["accuracy_std"].notna().all()
    # every winner is within the budget its search was given
    assert (table["cal_lut"] <= 0.85 * 53_200).all() and (table["cal_dsp"] <= 0.85 * 220).all()
    assert table["fits_measured"].isna().all()  # nothing was built
    assert (table[table["weight_quant"] == "pot"]["cal_dsp"] == 0).all()
    assert len(pd.read_csv(out / "pot_budget_ratios.csv")) == 2
    assert (out / "pot_budget_fps_accuracy.png").stat().st_size > 10_000
    assert "PoT/int" in (out / "pot_budget.md").read_text()


def test_a_winner_that_was_built_is_read_from_its_measurement():
    from bench.studies.pot_budget_table import winner_rows

    base = {"model": "tfc", "device": "Pynq-Z1", "weight_quant": "pot", "weight_bits": 4,
            "act_bits": 4, "mvu": "rtl", "seed": 0, "status": "ok", "est_fps": 6.25e6,
            "cal_lut": 40_000.0, "cal_dsp": 0.0, "cal_bram18": 0.0, "fits": True,
            "accuracy": 0.97, "folding": [{"pe": 4, "simd": 64}]}
    searched = {**base, "run_id": "a", "target": "estimate"}
    built = {**base, "run_id": "b", "target": "rtl", "rtl_stitched_lut": 44_000,
             "rtl_stitched_lutram": 2_000, "rtl_stitched_ff": 9_000,
             "rtl_stitched_bram18": 0, "rtl_stitched_dsp": 0, "rtl_fps": 4.3e6}
    study = BudgetStudy.quick(verify=False)
    (row,) = winner_rows([built, searched], study).to_dict("records")
    assert row["run_id"] == "b" and row["lut"] == 46_000 and row["sim_fps"] == 4.3e6
    assert row["fits_measured"] is False  # 46k LUTs > 85 % of the Pynq-Z1's 53,200
    assert row["folding"] == "4/64" and row["datapath"] == "finn"
    # a build that failed (e.g. ran out of time) leaves the search's result standing
    failed = {"model": "tfc", "device": "Pynq-Z1", "weight_quant": "pot", "weight_bits": 4,
              "act_bits": 4, "mvu": "rtl", "seed": 0, "status": "failed", "run_id": "c",
              "target": "rtl", "error": "RtlToolInterrupted: yosys did not finish"}
    for records in ([searched, failed], [failed, searched]):
        (row,) = winner_rows(records, study).to_dict("records")
        assert row["run_id"] == "a" and row["status"] == "ok" and row["fps"] == 6.25e6


def test_searching_again_keeps_the_winners_already_built():
    from bench.studies.pot_budget import study_run_ids

    searched = BudgetStudy.quick(verify=False)
    built = {p.run_id() for p in budget_points(BudgetStudy.quick()) if p.target == "rtl"}
    assert built and built <= study_run_ids(searched)
    assert study_run_ids(BudgetStudy.quick()) == {p.run_id()
                                                  for p in budget_points(BudgetStudy.quick())}


def test_a_design_too_large_to_synthesize_whole_is_read_from_its_layers():
    from bench.stages.rtl_stitch import STITCH_SYNTH_MAX_LUT, _whole_synth_skipped

    small = [{"lut": 40_000, "lutram": 9_000}, {"lut": 30_000}]
    assert _whole_synth_skipped(small) is None
    large = [*small, {"lut": STITCH_SYNTH_MAX_LUT, "lutram": 0}]
    assert "the layers total 179,000 LUTs" in _whole_synth_skipped(large)


@pytest.mark.slow
def test_a_stitched_design_above_the_whole_synthesis_limit_is_measured_by_its_layers(
        tmp_path, monkeypatch):
    """The stitched top is still simulated (bit-exact, cycles); its resources and clock
    come from the layers, and the budget table reads it on that basis."""
    from bench.engine.store import Store
    from bench.run.point import run_point
    from bench.stages import rtl_stitch
    from bench.studies.pot_budget_table import winner_rows

    monkeypatch.setattr(rtl_stitch, "STITCH_SYNTH_MAX_LUT", 500)
    spec = make_spec(model="tfc", dataset="digits", weight_bits=3, act_bits=4, epochs=1,
                     pe=8, weight_quant="pot", target="rtl", mvu="rtl")
    record = run_point(spec, Store(tmp_path / "results"), show_progress=False).record
    assert record.status == "ok", record.error
    assert record.rtl_stitched_ok is True and record.rtl_fps > 0
    assert record.rtl_stitched_lut is None and "above the 500" in \
        record.rtl_stitched_synth_skipped
    assert record.fmax_est_source == "slowest layer"
    (row,) = winner_rows([record.model_dump()], BudgetStudy.quick(verify=False)).to_dict(
        "records")
    assert row["measured_basis"] == "layers"
    assert row["lut"] == record.rtl_lut + record.rtl_lutram and row["fps_measured"]
