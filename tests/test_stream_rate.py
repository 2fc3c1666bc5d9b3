"""The width converter's input rate in the cycle model (`bench.core.stream_rate`) and in
the folding search: the measured stitched cycles, and the search no longer picking a
layer that is fast only on paper."""

from __future__ import annotations

import pytest

from bench.core import folding as fold
from bench.core.stream_rate import LayerRate, feeds, stream_cycles


@pytest.mark.parametrize("in_folds, out_folds, simd, producer_pe, measured", [
    (4, 2, 16, 8, 11),    # TFC 8/64 8/64 8/64 5/16 (budget winners at W2, PoT W3)
    (8, 2, 8, 4, 23),     # TFC PoT W4: 4/64 x3, 5/8
    (16, 2, 4, 2, 47),    # TFC PoT W5: 2/64 x3, 5/4
    (64, 2, 4, 2, 191),   # SFC 2/64 2/256 2/256 5/4 (Pynq-Z1 W3, W4)
])
def test_the_stall_gives_the_cycles_the_stitched_designs_ran_at(
        in_folds, out_folds, simd, producer_pe, measured):
    """Cycles per image of Verilator simulations of whole stitched MLPs (their last
    layer was the slowest); FINN's model says in_folds x out_folds for each."""
    rate = LayerRate(in_folds * out_folds, in_folds, out_folds, simd)
    assert stream_cycles(rate, producer_pe) == measured > rate.cycles


@pytest.mark.parametrize("simd, producer_pe", [(4, 4), (4, 8), (16, None)])
def test_no_stall_without_an_upsizing_converter(simd, producer_pe):
    rate = LayerRate(32, 16, 2, simd)
    assert stream_cycles(rate, producer_pe) == 32


def test_a_layer_that_reads_its_input_in_one_fold_has_no_stall_to_wait_out():
    assert stream_cycles(LayerRate(2, 1, 2, 64), 4) == 2


def test_only_matrix_vector_layers_fed_by_a_pe_stream_are_affected():
    ops = [("swg", "ConvolutionInputGenerator_rtl", None),
           ("conv", "MVAU_rtl", "swg"),
           ("thr", "Thresholding_rtl", "conv"),
           ("fc1", "MVAU_hls", "thr"),
           ("fc2", "QnnbenchMVU_rtl", "fc1"),
           ("top", "LabelSelect_hls", "fc2")]
    assert feeds(ops) == {"fc1": "thr", "fc2": "fc1"}


def _option(pe, simd, cycles, lut, in_folds=None, out_folds=None):
    rate = LayerRate(cycles, in_folds, out_folds, simd) if in_folds else None
    return {"pe": pe, "simd": simd, "cycles": cycles, "rate": rate, "lut": lut,
            "bram18": 0.0, "uram": 0.0, "dsp": 0.0}


def test_the_search_avoids_the_stall_when_an_equally_cheap_folding_has_none():
    """The last TFC layer (64 -> 10) behind a PE 8 layer: PE 5 / SIMD 16 and PE 10 /
    SIMD 8 both run 8 cycles on paper at about the same cost, but the first waits on a
    2x width converter (11 cycles). Blind to it the search takes the cheaper one."""
    options = {"fc3": [_option(8, 64, 8, 1000.0)],
               "fc4": [_option(5, 16, 8, 80.0, in_folds=4, out_folds=2),
                       _option(10, 8, 8, 81.0, in_folds=8, out_folds=1)]}
    budget = {"lut": 10_000.0}
    blind = fold.pareto_search(options, budget)[0]
    assert blind.choice["fc4"] == (5, 16) and blind.max_cycles == 8
    aware = fold.pareto_search(options, budget, feeds={"fc4": "fc3"})[0]
    assert aware.choice["fc4"] == (10, 8) and aware.max_cycles == 8
    only_stalled = {**options, "fc4": options["fc4"][:1]}
    slow = fold.pareto_search(only_stalled, budget, feeds={"fc4": "fc3"})
    assert [p.max_cycles for p in slow] == [11]


@pytest.mark.slow
def test_the_hardware_graph_reports_finns_cycles_and_the_stream_models(tmp_path):
    """TFC with our units: each layer after the first is fed by the one before, and
    the winners' folding of the Pynq-Z1 budget study at 2 bits (PE 5 / SIMD 16 last,
    behind PE 8) runs 11 cycles per image where FINN counts 8, as its stitched design
    did. The search on the same graph then never reports a folding faster than that."""
    from bench.core.spec import make_spec
    from bench.engine.stage import run_stages
    from bench.engine.store import Store
    from bench.stages.plan import UNTRAINED_HW, untrained_context

    spec = make_spec(model="tfc", dataset="digits", weight_bits=2, act_bits=4,
                     weight_quant="pot", mvu="rtl")
    graph = run_stages(UNTRAINED_HW, untrained_context(spec, Store(tmp_path),
                                                       (1, 8, 8)))["foldable"]
    names = [la.name for la in graph.layers]
    assert graph.feeds == dict(zip(names[1:], names[:-1], strict=True))
    folding = {name: {"PE": 8, "SIMD": 64} for name in names}
    folding[names[-1]] = {"PE": 5, "SIMD": 16}
    est = graph.estimate(folding)
    assert (est.max_cycles, est.cal_max_cycles) == (8, 11)
    options = {la.name: graph.layer_options(la) for la in graph.layers}
    budget = {"lut": 0.85 * 53_200, "dsp": 0.85 * 220, "bram18": 0.85 * 280, "uram": 0}
    for point in fold.pareto_search(options, budget, feeds=graph.feeds)[:5]:
        config = {name: {"PE": pe, "SIMD": simd}
                  for name, (pe, simd) in point.choice.items()}
        assert graph.estimate(config).cal_max_cycles == point.max_cycles, point.choice


def test_the_console_shows_the_stream_models_fps_with_finns_beside():
    from bench.report.console import _throughput

    assert _throughput({"est_fps": 12.5e6, "cal_fps": 12.5e6}) == "12,500,000 FPS"
    assert _throughput({"est_fps": 12.5e6}) == "12,500,000 FPS"  # older records
    text = _throughput({"est_fps": 12.5e6, "cal_fps": 1e8 / 11})
    assert text.startswith("9,090,909 FPS") and "FINN's cycle model: 12,500,000" in text
