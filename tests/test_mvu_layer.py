"""Our matrix-vector unit as a FINN layer: registry, replacement pass, FINN's own passes
and analyses on it, Python execution against the MVAU it replaced, HDL against both.

The network is an untrained, seeded W4A4 TFC on digits (as in test_rtl_layers): its
hardware graph keeps thresholds standalone, so the pass fuses them into the unit.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from bench import finn_flow
from bench.finn_flow import rtl_layers as finn_hdl
from bench.rtl import measure, mvu_fit

PART = "xc7z020clg400-1"
CLK_NS = 10.0
SAMPLES = 3


def test_pot_and_int_bits():
    from bench.finn_flow.mvu_transform import int_bits, pot_bits

    assert pot_bits(np.array([0, 1, -1])) == 2  # ternary: one exponent
    assert pot_bits(np.array([0, 4, -2, 1])) == 3  # k < 3
    assert pot_bits(np.array([8, -1])) == 4  # k = 3 needs r = 7
    assert pot_bits(np.array([3, 1])) is None
    assert pot_bits(np.array([0.5])) is None
    assert int_bits(np.array([-8, 7])) == 4 and int_bits(np.array([-9, 0])) == 5
    assert int_bits(np.array([0, 1])) == 2


@pytest.mark.slow  # imports FINN
def test_registry_finds_both_classes():
    from onnx import helper
    from qonnx.custom_op.registry import getCustomOp

    from bench.finn_flow import mvu_op

    rtl = helper.make_node(mvu_op.RTL_OP_TYPE, ["x", "w"], ["y"], domain=mvu_op.RTL_DOMAIN)
    hw = helper.make_node(mvu_op.OP_TYPE, ["x", "w"], ["y"], domain=mvu_op.HW_DOMAIN)
    assert type(getCustomOp(rtl)) is mvu_op.QnnbenchMVU_rtl
    assert type(getCustomOp(hw)) is mvu_op.QnnbenchMVU
    assert {"datapath", "unitWBits", "PE", "SIMD", "gen_top_module"} <= set(
        getCustomOp(rtl).get_nodeattr_types())


def test_write_ports_become_top_inputs():
    text = "module m (\n  input [5:0] wr_w_wr_addr,\n  input [0:0] wr_w_wr_en\n);"
    assert measure.memory_write_ports(text) == {"wr_w_wr_addr": 6, "wr_w_wr_en": 1}


def test_fitted_model_is_stored_with_its_grid():
    model = mvu_fit.load_model()
    assert len(model["fit_grid"]) >= 8 and len(model["held_out"]) >= 4
    assert {r["config"][0] for r in model["fit_grid"]} == {"int", "pot"}
    fitted = {tuple(r["config"]) for r in model["fit_grid"]}
    assert not fitted & {tuple(r["config"]) for r in model["held_out"]}
    for row in model["held_out_errors"]:
        assert abs(row["lut_error"]) < 0.35, row
        assert row["dsp_ok"], row


def test_the_model_prices_integer_units_synthesized_without_dsps():
    """`--dsp off` units are fitted and held out too: their wide products are logic."""
    model = mvu_fit.load_model()
    off = [r for r in model["held_out_errors"] if r.get("dsp_policy") == "off"]
    assert off and all(abs(r["lut_error"]) < 0.15 and r["dsp_ok"] for r in off)
    assert any(not mvu_fit.row_dsp(r) for r in model["fit_grid"])
    cfg = mvu_fit.config(("int", 4, 8, 8, 8, 0, 64, 32))
    with_dsp, without = mvu_fit.predict(cfg), mvu_fit.predict(cfg, dsp=False)
    assert with_dsp["dsp"] == 32 and without["dsp"] == 0
    assert without["lut"] > with_dsp["lut"] + 32 * 50  # an 8x8 product is ~120 LUTs


def test_stored_model_is_what_the_code_fits_from_the_stored_grid():
    """The coefficients and errors in mvu_fit.json follow from its measurements with
    today's features and memory model: a change to either needs a refit (`--refit`)."""
    model = mvu_fit.load_model()
    coefficients = mvu_fit.fit(model["fit_grid"])
    for datapath, fitted in coefficients.items():
        for key, values in fitted.items():
            assert values == pytest.approx(model["coefficients"][datapath][key]), (datapath,
                                                                                   key)
    refit = {"coefficients": coefficients}
    for stored, now in zip(model["held_out_errors"] + model["fit_errors"],
                           mvu_fit.errors(refit, model["held_out"] + model["fit_grid"]),
                           strict=True):
        assert now == pytest.approx(stored, abs=1e-3), stored["config"]


# -- on a network (slow: a FINN build) ---------------------------------------------------


@pytest.fixture(scope="module")
def rtl_hw(digits, tmp_path_factory):
    """FINN's RTL-preferring hardware graph of an untrained TFC W4A4."""
    from bench.core.spec import make_spec
    from bench.learn.export import export_qonnx
    from bench.learn.train import make_model, seed_everything

    seed_everything(0)
    spec = make_spec(model="tfc", dataset="digits", weight_bits=4, act_bits=4)
    model = make_model(spec, digits).eval()
    root = tmp_path_factory.mktemp("mvu")
    path = export_qonnx(model, digits.x_test[:1], root / "tfc_w4a4.onnx")
    hw, _ = finn_hdl.build_rtl_hw_graph(path, root / "hw", PART, CLK_NS)
    return hw


@pytest.fixture(scope="module")
def graphs(rtl_hw):
    """FINN's RTL-preferring graph of the TFC and the same with our unit."""
    from bench.finn_flow.mvu_transform import use_qnnbench_mvu

    finn = finn_flow.load_graph(rtl_hw.graph_path)
    ours, units, kept = use_qnnbench_mvu(copy.deepcopy(finn))
    return finn, ours, units, kept


def _fold(graph):
    """PE 2 divides every layer's MH (64, 10); SIMD 8 every MW (64)."""
    return {n.name: {"PE": 2, "SIMD": 8} for n in graph.graph.node}


@pytest.mark.slow
def test_every_mvau_and_its_thresholds_become_one_unit(graphs):
    finn, ours, units, kept = graphs
    mvaus = [n.name for n in finn.graph.node if n.op_type.startswith("MVAU")]
    assert not kept and len(units) == len(mvaus) == 4
    assert [u["replaces"] for u in units.values()] == mvaus
    assert not [n for n in ours.graph.node if n.op_type.startswith(("MVAU", "Thresholding"))]
    # random 4-bit weights are not all powers of two; the hidden layers are thresholded
    assert {u["datapath"] for u in units.values()} == {"int"}
    assert [u["thresholds"] for u in units.values()] == [True, True, True, False]


@pytest.mark.slow
def test_python_execution_equals_the_replaced_mvaus(graphs, digits):
    from finn.core.onnx_exec import execute_onnx
    from finn.util.verification import despecialize_model

    finn, ours, _, _ = graphs
    reference, converted = despecialize_model(finn), despecialize_model(ours)
    name = finn.graph.input[0].name
    for sample in digits.x_test[:8]:
        x = sample.astype(np.float32).reshape(finn.get_tensor_shape(name))
        want = execute_onnx(reference, {name: x}, return_full_exec_context=True)
        got = execute_onnx(converted, {name: x}, return_full_exec_context=True)
        for node in ours.graph.node:  # each unit's output is the replaced layers' output
            assert np.array_equal(got[node.output[0]], want[node.output[0]]), node.name


@pytest.mark.slow
def test_unit_graph_check_catches_a_changed_weight(rtl_hw, graphs, digits, tmp_path):
    """What the unit_verify stage compares: the graph with our unit, executed under FINN's
    parent graph, against FINN's; changed weights must show."""
    _, ours, _, _ = graphs
    inputs = digits.x_test[:16]
    expected = rtl_hw.execute_many(inputs, tmp_path / "finn")
    same = rtl_hw.with_model(copy.deepcopy(ours), tmp_path / "same")
    assert np.array_equal(same.execute_many(inputs, tmp_path / "same_run"), expected)
    broken = copy.deepcopy(ours)
    unit = broken.graph.node[-1]
    # the last unit's outputs are the logits (of an untrained network, so some of its
    # inputs are always 0: change every weight)
    broken.set_initializer(unit.input[1], -broken.get_initializer(unit.input[1]))
    changed = rtl_hw.with_model(broken, tmp_path / "broken")
    assert not np.array_equal(changed.execute_many(inputs, tmp_path / "broken_run"), expected)


@pytest.mark.slow
def test_finn_folds_and_estimates_the_unit(graphs):
    from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
    from finn.analysis.fpgadataflow.res_estimation import res_estimation
    from finn.transformation.general import ApplyConfig
    from qonnx.custom_op.registry import getCustomOp

    _, ours, _, _ = graphs
    folding = _fold(ours)
    folded = ours.transform(ApplyConfig({"Defaults": {}, **folding}))
    cycles = folded.analysis(exp_cycles_per_layer)
    resources = res_estimation(folded, PART)
    for node in folded.graph.node:
        inst = getCustomOp(node)
        mw, mh = inst.get_nodeattr("MW"), inst.get_nodeattr("MH")
        pe, simd = folding[node.name]["PE"], folding[node.name]["SIMD"]
        assert inst.get_nodeattr("PE") == pe
        assert cycles[node.name] == (mh // pe) * (mw // simd)
        predicted = mvu_fit.predict(inst.unit_config())
        assert resources[node.name]["LUT"] == round(predicted["lut"]) > 0
        assert resources[node.name]["DSP"] == predicted["dsp"]
    # and our own in-memory folding sees the unit as a foldable layer
    graph = finn_flow.FoldableGraph(copy.deepcopy(ours), PART, CLK_NS)
    assert {la.op_type for la in graph.layers} == {"QnnbenchMVU_rtl"}
    est = graph.estimate(folding)
    assert est.max_cycles == max(cycles.values())
    assert est.totals["lut"] == sum(r["LUT"] for r in resources.values())


@pytest.mark.slow
def test_unit_hdl_is_bit_exact_and_a_flipped_weight_bit_is_caught(graphs, digits, tmp_path):
    from qonnx.custom_op.registry import getCustomOp

    _, ours, _, _ = graphs
    graph = finn_hdl.apply_folding(ours, _fold(ours))
    node = graph.graph.node[-1]  # accumulator output: any weight change on a live input shows
    cfg = getCustomOp(node).unit_config()
    streams = finn_hdl.layer_streams(graph, digits.x_test[:SAMPLES], [node.name])[node.name]
    cache = tmp_path / "verilator"
    layer = finn_hdl.generate_layer_hdl(graph, node.name, tmp_path / "ok", PART, CLK_NS)
    row = measure.measure_layer(layer, streams, PART, synth=False, samples=SAMPLES,
                                cache_dir=cache)
    assert row["sim_ok"] and row["sim_mismatches"] == 0, row
    assert row["sim_cycles_per_input"] == row["est_cycles"]

    # the lowest bit of weight (pe 0, s) at address sf, where sample 0's input is nonzero
    mask = (1 << cfg.a_bits) - 1
    sf, s = next((sf, s) for sf in range(cfg.sf) for s in range(cfg.simd)
                 if (streams[0][sf] >> (s * cfg.a_bits)) & mask)
    bad = finn_hdl.generate_layer_hdl(graph, node.name, tmp_path / "bad", PART, CLK_NS)
    mem = bad.hdl_dir / "mvu_weights.hex"
    lines = mem.read_text().split()
    lines[sf] = f"{int(lines[sf], 16) ^ (1 << (s * cfg.code_bits)):0{len(lines[sf])}x}"
    mem.write_text("\n".join(lines) + "\n")
    row = measure.measure_layer(bad, streams, PART, synth=False, samples=SAMPLES,
                                cache_dir=cache)
    assert not row["sim_ok"] and row["sim_mismatches"] > 0


# -- end to end ----------------------------------------------------------------------------


def _tfc(quant: str, **extra):
    from bench.core.spec import make_spec

    return make_spec(model="tfc", dataset="digits", weight_bits=4, act_bits=4, epochs=1,
                     pe=4, weight_quant=quant, target="rtl", mvu="rtl", **extra)


def test_mvu_is_in_the_run_id_only_when_not_the_default():
    from bench.core.spec import make_spec

    plain, finn = make_spec(), make_spec(mvu="finn")
    assert plain.run_id() == finn.run_id() and "mvu" not in plain.identity_fields()
    assert make_spec(mvu="rtl").run_id() != plain.run_id()
    assert make_spec(mvu="rtl").preparation_fields() != plain.preparation_fields()
    with pytest.raises(Exception, match="mvu"):
        make_spec(mvu="hls")
    for target in ("synth", "bitfile"):
        with pytest.raises(Exception, match="mvu rtl works with target estimate or rtl"):
            make_spec(mvu="rtl", target=target)
    assert make_spec(mvu="rtl", target="estimate").mvu == "rtl"


@pytest.mark.slow
def test_tfc_pot_and_int_units_measured_end_to_end(tmp_path):
    """Both datapaths through the whole flow. At 4 bits PoT is *not* the cheaper one:
    n=4 PoT spans INT8 (shifts up to 2^6), so its products, accumulators and threshold
    comparators are wider than int W4's, and int's 8-bit-input layer moves its
    multipliers into DSPs (measured: 4798 LUTs PoT, 3444 int + 16 DSPs). The test pins
    what must hold regardless: bit-exact units, no DSPs for PoT, estimates near."""
    from bench.engine.store import Store
    from bench.rtl.timing import fmax_est_mhz
    from bench.run.point import run_point

    store = Store(tmp_path / "results")
    records = {q: run_point(_tfc(q), store, show_progress=False).record
               for q in ("pot", "int")}
    for quant, record in records.items():
        assert record.status == "ok", record.error
        assert record.mvu == "rtl" and record.estimate_model.startswith("fitted to Yosys")
        assert record.mvu_verify_ok is True and record.mvu_verify_samples == 64
        assert record.rtl_sim_ok is True, quant
        units = [r for r in record.rtl_layers if r["op_type"] == "QnnbenchMVU_rtl"]
        assert len(units) == 4 and all(r["sim_ok"] for r in units)
        for row in units:
            assert row["sim_cycles_per_input"] == row["est_cycles"], row
            measured = row["lut"] + row["lutram"]
            assert abs(row["est_lut"] - measured) <= 0.25 * measured, row
            assert row["est_dsp"] == row["dsp"] and row["est_bram18"] == row["bram18"], row
        # the whole network stitched: bit-exact, at FINN's estimated rate (FIFOs of one
        # image between the units), resources of the same order as the layers' sum
        assert record.rtl_stitched_ok is True and record.rtl_stitched_skipped is None, quant
        assert record.rtl_cycles_per_image == record.est_max_cycles, quant
        assert record.rtl_fps == pytest.approx(record.est_fps), quant
        assert record.rtl_latency_cycles > 0
        assert 0.9 * record.rtl_lut < record.rtl_stitched_lut < 1.3 * record.rtl_lut, quant
        assert record.rtl_stitched_dsp == record.rtl_dsp, quant
        # the clock check takes the stitched top's logic delay, not the slowest layer's
        assert record.fmax_est_source == "stitched", quant
        assert record.fmax_est_mhz == fmax_est_mhz(record.rtl_stitched["logic_delay"])
        assert record.clock_plausible is (record.fmax_est_mhz >= 1000 / record.clk_ns)
    pot, int_ = records["pot"], records["int"]
    assert {v.get("datapath") for v in pot.mvu_layers.values()} == {"pot"}
    assert {v.get("datapath") for v in int_.mvu_layers.values()} == {"int"}
    assert pot.rtl_dsp == 0 < int_.rtl_dsp  # int's 8-bit-input layer: A8 x W4 in DSPs
