"""The calibrated cost models: counting rules, fitting, prediction, and the stored files."""

from __future__ import annotations

import json

import pytest

from bench.cost import model as cm
from bench.cost.corpus import PLAN, config_id, corpus
from bench.cost.memory import bram18, in_lutram, lutram_luts


def test_memory_shapes_pick_the_cheapest_block_ram_layout():
    assert bram18(512, 36) == 1
    assert bram18(1024, 18) == 1
    assert bram18(1024, 36) == 2
    assert bram18(64, 200) == 6  # 512x36 shape, six columns
    assert lutram_luts(64, 3) == 4
    assert in_lutram(64, 24) and not in_lutram(4096, 64)


def _rows(op_type: str, n: int, lut_per_lane: float) -> list[dict]:
    rows = []
    for i in range(n):
        pe, simd = 1 << (i % 4), 1 << (i // 4 % 3)
        config = {"op_type": op_type, "family": "xc7", "mw": 64, "mh": 64, "pe": pe,
                  "simd": simd, "w_bits": 2 + i % 5, "a_bits": 2 + i % 3, "a_signed": 0,
                  "acc_bits": 16}
        lanes = pe * simd
        rows.append({"config": config, "role": "fit", "lut": 50 + lut_per_lane * lanes,
                     "lutram": 0, "ff": 10 * lanes, "bram18": 0, "dsp": lanes,
                     "logic_delay": 2.0, "finn": {"dsp": float(lanes), "bram18": 3.0}})
    return rows


def test_a_fit_recovers_a_cost_that_is_linear_in_its_terms():
    rows = _rows("MVAU_rtl", 24, 30.0)
    model = cm.CostModel({"models": cm.fit_all(rows)})
    probe = {**rows[5]["config"], "pe": 8, "simd": 8}  # outside the fitted range
    cost = model.predict(probe, "xc7", {"dsp": 64.0, "bram18": 3.0})
    assert cost is not None
    assert cost.lut == pytest.approx(50 + 30 * 64, rel=0.02)
    # the DSP count follows FINN's rule here (it matched every row), BRAM the memory rule
    # (the weights sit in LUT RAM, no block RAM: FINN's 3 never matched)
    assert cost.dsp == 64
    assert cost.bram18 == 0


def test_coefficients_are_never_negative():
    models = cm.fit_all(_rows("MVAU_rtl", 24, 30.0))
    for fitted in models.values():
        for target in ("lut", "ff", "delay_ns"):
            assert min(fitted[target].values()) >= 0


def test_dsp_models_stay_with_their_family_and_logic_models_are_shared():
    model = cm.CostModel({"models": cm.fit_all(_rows("MVAU_rtl", 12, 5.0))})
    config = _rows("MVAU_rtl", 1, 5.0)[0]["config"]
    assert model.predict(config, "xc7") is not None
    assert model.predict(config, "xcup") is None  # DSP primitives differ between families
    swg = {"op_type": "ConvolutionInputGenerator_rtl", "channels": 8, "simd": 2, "ifm": 8,
           "k": 3, "stride": 1, "bits": 4, "depthwise": 0, "parallel_window": 0}
    assert model.predict(swg, "xc7") is None  # no model for the type at all


def test_smape_is_symmetric_and_zero_when_exact():
    assert cm.smape([100.0], [100.0]) == 0
    assert cm.smape([110.0], [100.0]) == pytest.approx(cm.smape([100.0], [110.0]))
    assert cm.smape([0.0], [0.0]) == 0


def test_the_corpus_is_stable_and_holds_out_configurations_the_fit_never_sees():
    entries = corpus()
    assert entries == corpus()
    fit = {config_id(c) for role, c in entries if role == "fit"}
    held = {config_id(c) for role, c in entries if role == "held_out"}
    assert fit and held and not fit & held
    assert {t for t, *_ in PLAN} == {c["op_type"] for _, c in entries}


def test_the_stored_calibration_is_the_fit_of_the_stored_corpus():
    """Editing corpus.json without refitting (or the reverse) is caught here."""
    rows = json.loads(cm.CORPUS_FILE.read_text())["rows"]
    stored = json.loads(cm.CALIBRATION_FILE.read_text())
    assert stored["models"] == json.loads(json.dumps(cm.fit_all(rows)))


def test_every_measured_type_has_a_graded_model():
    rows = json.loads(cm.CORPUS_FILE.read_text())["rows"]
    table = cm.check(cm.load(), rows)
    graded = {(t["type"], t["family"]) for t in table}
    assert graded == {(t, f) for t, f, *_ in PLAN}
    for t in table:
        assert t["held_out"] > 0 and t["fit_configs"] >= 10
        # at least far better than FINN's own LUT estimate of the same layers
        assert t["lut_smape"] < t["finn_lut_smape"] or t["lut_smape"] <= cm.GOAL_LUT_SMAPE
