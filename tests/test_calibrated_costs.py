"""Calibrated costs in records, the console, the fit check and the folding search."""

from __future__ import annotations

import pytest

from bench.core.devices import get_board, utilization
from bench.core.spec import make_spec
from bench.run.point import run_point

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tfc(tmp_path_factory):
    """TFC W4A4 at PE=SIMD=8 on the default graph (RTL layers) and on FINN's default."""
    from bench.engine.store import Store

    store = Store(tmp_path_factory.mktemp("calibrated"))
    rtl = run_point(make_spec(epochs=1, pe=8), store, show_progress=False)
    hls = run_point(make_spec(epochs=1, pe=8, impl="hls"), store, show_progress=False)
    return store, rtl.record.model_dump(), hls.record.model_dump()


def test_the_default_graph_is_priced_by_calibrated_models_throughout(tfc):
    _, record, _ = tfc
    assert record["status"] == "ok", record.get("error")
    assert record["impl"] == "rtl" and record["hls_layers"] == {}
    assert record["cost_coverage"] == 1.0
    layers = record["per_layer"]
    assert {v["cost_source"] for v in layers.values()} == {"calibrated"}
    # FINN prices its RTL MVU at 0 LUT; the calibrated model never does
    mvus = [v for k, v in layers.items() if k.startswith("MVAU_rtl")]
    assert mvus and all(v["lut"] == 0 and v["cal_lut"] > 100 for v in mvus)
    assert record["cal_lut"] == pytest.approx(sum(v["cal_lut"] for v in layers.values()))
    assert record["cal_lut"] > record["lut"]  # FINN's total misses the MVUs' logic


def test_fit_and_utilization_are_judged_on_the_calibrated_totals(tfc):
    _, record, _ = tfc
    board = get_board(record["device"])
    fractions, fits = utilization(board, {"lut": record["cal_lut"], "bram18":
                                          record["cal_bram18"], "dsp": record["cal_dsp"],
                                          "uram": record["uram"]})
    assert record["utilization"]["lut"] == pytest.approx(fractions["lut"])
    assert record["fits"] is fits
    assert record["fits_finn"] is not None


def test_finns_default_graph_keeps_its_run_id_and_says_what_is_not_calibrated(tfc):
    _, rtl, hls = tfc
    assert hls["status"] == "ok", hls.get("error")
    assert hls["impl"] == "hls" and rtl["run_id"] != hls["run_id"]
    # a spec that never mentions impl names the FINN-default build as before the choice
    plain = make_spec(epochs=1, pe=8, impl="hls").run_id()
    assert plain == hls["run_id"]
    assert 0 < hls["cost_coverage"] < 1
    sources = {v["cost_source"] for v in hls["per_layer"].values()}
    assert sources == {"calibrated", "finn"}


def test_the_console_shows_calibrated_costs_with_finns_beside(tfc):
    from io import StringIO

    from rich.console import Console

    from bench.report.console import print_run_summary

    store, record, _ = tfc
    outcome = run_point(make_spec(epochs=1, pe=8), store, show_progress=False)
    out = StringIO()
    print_run_summary(outcome, Console(file=out, width=200))
    text = out.getvalue()
    assert f"{record['cal_lut']:,.0f}" in text and f"(FINN: {record['lut']:,.0f})" in text
    assert "calibrated on Yosys for every layer" in text
    assert "SIMDNone" not in text


def test_the_search_ranks_foldings_on_calibrated_costs(tfc):
    """FINN's model prices every RTL MVU folding at 0 LUT; the calibrated one grows with
    the lanes, so the search sees a cost it can trade against cycles."""
    from bench.engine.stage import run_stages
    from bench.stages.plan import UNTRAINED_HW, untrained_context

    store, _, _ = tfc
    ctx = untrained_context(make_spec(epochs=1, pe=8), store, input_shape=(1, 8, 8))
    graph = run_stages(UNTRAINED_HW, ctx)["foldable"]
    layer = next(la for la in graph.layers if la.op_type == "MVAU_rtl")
    finn = graph.layer_options(layer, costs="finn")
    calibrated = graph.layer_options(layer, costs="calibrated")
    assert {o["lut"] for o in finn} == {0.0}
    by_lanes = sorted(calibrated, key=lambda o: o["pe"] * o["simd"])
    assert by_lanes[-1]["lut"] > 2 * by_lanes[0]["lut"] > 0
