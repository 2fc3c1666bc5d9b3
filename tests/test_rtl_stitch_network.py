"""A whole TFC of our units stitched into one design (`bench.finn_flow.stitch_graph` +
`bench.rtl.stitch`): bit-exact against FINN's Python execution for integer and PoT
weights, at FINN's estimated throughput, and a flipped weight bit is caught.

The networks are untrained, seeded W4A4 TFCs on digits (as in test_mvu_layer): training
changes no HDL, and the PoT quantizer gives PoT weights untrained too.
"""

from __future__ import annotations

import copy

import pytest

from bench import finn_flow
from bench.finn_flow import rtl_layers as finn_hdl
from bench.finn_flow import stitch_graph as finn_stitch
from bench.rtl import stitch

PART = "xc7z020clg400-1"
CLK_NS = 10.0
SAMPLES = 6

pytestmark = pytest.mark.slow


def _units(quant: str, digits, root):
    from bench.core.spec import make_spec
    from bench.finn_flow.mvu_transform import use_qnnbench_mvu
    from bench.learn.export import export_qonnx
    from bench.learn.train import make_model, seed_everything

    seed_everything(0)
    spec = make_spec(model="tfc", dataset="digits", weight_bits=4, act_bits=4,
                     weight_quant=quant)
    model = make_model(spec, digits).eval()
    path = export_qonnx(model, digits.x_test[:1], root / "tfc.onnx")
    hw, _ = finn_hdl.build_rtl_hw_graph(path, root / "hw", PART, CLK_NS)
    ours, units, _ = use_qnnbench_mvu(finn_flow.load_graph(hw.graph_path))
    assert {u["datapath"] for u in units.values()} == {quant}
    # uniform PE=SIMD=4; the 10-channel last layer at PE 2, as the uniform strategy does
    folding = {n.name: {"PE": 2 if n is ours.graph.node[-1] else 4, "SIMD": 4}
               for n in ours.graph.node}
    return finn_hdl.apply_folding(ours, folding)


@pytest.fixture(scope="module", params=["int", "pot"])
def tfc(request, digits, tmp_path_factory):
    return request.param, _units(request.param, digits, tmp_path_factory.mktemp(request.param))


def test_stitched_tfc_is_bit_exact_at_the_estimated_rate(tfc, digits, tmp_path):
    from qonnx.custom_op.registry import getCustomOp

    quant, graph = tfc
    layers, words_in, expected, glue = finn_stitch.generate_stitched_hdl(
        graph, digits.x_test[:SAMPLES], tmp_path, PART, CLK_NS)
    # a FIFO of one image after each layer but the last; equal widths need no converter
    assert [g["op_type"] for g in glue.values()] == ["StreamingFIFO_rtl"] * 3
    assert [g["depth"] for g in glue.values()] == [16, 16, 16]
    result = stitch.measure_stitched(layers, words_in, expected, SAMPLES, tmp_path, PART,
                                     CLK_NS, synth=False, cache_dir=tmp_path / "verilator")
    assert result["sim_ok"] and result["sim_mismatches"] == 0, (quant, result)
    assert result["sim_words"] == SAMPLES * 5  # 10 accumulators, PE 2
    slowest = max(getCustomOp(n).get_exp_cycles() for n in graph.graph.node)
    assert result["cycles_per_image"] == slowest == 256
    assert result["fps"] == pytest.approx(1e9 / (CLK_NS * slowest))
    # the first image passes every layer: at least the sum of their input folds
    assert result["latency_cycles"] >= sum(16 for _ in range(4))


def test_stitched_tfc_is_bit_exact_under_backpressure(tfc, digits, tmp_path):
    quant, graph = tfc
    layers, words_in, expected, _ = finn_stitch.generate_stitched_hdl(
        graph, digits.x_test[:SAMPLES], tmp_path, PART, CLK_NS)
    result = stitch.measure_stitched(layers, words_in, expected, SAMPLES, tmp_path, PART,
                                     CLK_NS, synth=False, cache_dir=tmp_path / "verilator",
                                     stall_percent=60)
    assert result["sim_ok"] and result["sim_mismatches"] == 0, (quant, result)


def test_mixed_folding_gets_finns_width_converters(tfc, digits, tmp_path):
    _, graph = tfc
    names = [n.name for n in graph.graph.node]
    folding = dict(zip(names, [{"PE": 8, "SIMD": 4}, {"PE": 4, "SIMD": 2},
                               {"PE": 2, "SIMD": 8}, {"PE": 2, "SIMD": 4}], strict=True))
    graph = finn_hdl.apply_folding(graph, folding)
    layers, words_in, expected, glue = finn_stitch.generate_stitched_hdl(
        graph, digits.x_test[:SAMPLES], tmp_path, PART, CLK_NS)
    dwcs = [(g["in_width"], g["out_width"]) for g in glue.values()
            if g["op_type"] == "StreamingDataWidthConverter_rtl"]
    assert dwcs == [(32, 8), (16, 32), (8, 16)]  # PE·4 bits into the next SIMD·4
    result = stitch.measure_stitched(layers, words_in, expected, SAMPLES, tmp_path, PART,
                                     CLK_NS, synth=False, cache_dir=tmp_path / "verilator")
    assert result["sim_ok"], result
    assert result["cycles_per_image"] == 512  # layer 1: SF 32 x NF 16, FINN's estimate


def test_a_simd_wider_than_the_producers_pe_runs_at_the_stream_model_not_finns(
        tfc, digits, tmp_path):
    """Every layer reads 16-wide words behind a 4-wide producer (a 4x width converter)
    in 4 input folds: FINN's model says 64 cycles for the slowest layer, the stream
    model (`bench.core.stream_rate`) 64 + 3 x 3, and the simulation decides."""
    from qonnx.custom_op.registry import getCustomOp

    from bench.core.stream_rate import LayerRate, stream_cycles

    _, graph = tfc
    names = [n.name for n in graph.graph.node]
    folding = {name: {"PE": 4, "SIMD": 16} for name in names}
    folding[names[-1]] = {"PE": 5, "SIMD": 16}  # 10 outputs
    graph = finn_hdl.apply_folding(graph, folding)
    finn_slowest = max(getCustomOp(n).get_exp_cycles() for n in graph.graph.node)
    model = stream_cycles(LayerRate(64, 4, 16, 16), 4)
    assert (finn_slowest, model) == (64, 73)
    layers, words_in, expected, _ = finn_stitch.generate_stitched_hdl(
        graph, digits.x_test[:SAMPLES], tmp_path, PART, CLK_NS)
    result = stitch.measure_stitched(layers, words_in, expected, SAMPLES, tmp_path, PART,
                                     CLK_NS, synth=False, cache_dir=tmp_path / "verilator")
    assert result["sim_ok"], result
    assert result["cycles_per_image"] == model


def test_without_fifos_the_chain_is_slower_than_the_estimate(tfc, digits, tmp_path):
    """Our unit reads no input while it computes folds 1..NF-1, so without a FIFO the
    layer before it stalls: the period becomes about SF·NF + (NF-1)·SF."""
    _, graph = tfc
    layers, words_in, expected, glue = finn_stitch.generate_stitched_hdl(
        graph, digits.x_test[:SAMPLES], tmp_path, PART, CLK_NS, fifo_depth=0)
    assert not glue
    result = stitch.measure_stitched(layers, words_in, expected, SAMPLES, tmp_path, PART,
                                     CLK_NS, synth=False, cache_dir=tmp_path / "verilator")
    assert result["sim_ok"], result
    assert 256 + 200 < result["cycles_per_image"] < 2 * 256


def test_a_flipped_weight_bit_fails_the_stitched_check(tfc, digits, tmp_path):
    from qonnx.custom_op.registry import getCustomOp

    quant, graph = tfc
    node = graph.graph.node[-1]  # accumulator output: a weight on a live input shows
    cfg = getCustomOp(node).unit_config()
    inputs = digits.x_test[:SAMPLES]
    layer_in = finn_hdl.layer_streams(graph, inputs, [node.name])[node.name][0]
    layers, words_in, expected, _ = finn_stitch.generate_stitched_hdl(
        graph, inputs, tmp_path, PART, CLK_NS)
    mask = (1 << cfg.a_bits) - 1
    sf, s = next((sf, s) for sf in range(cfg.sf) for s in range(cfg.simd)
                 if (layer_in[sf] >> (s * cfg.a_bits)) & mask)
    last = next(la for la in layers if la.node == node.name)
    mem = last.hdl_dir / "mvu_weights.hex"
    lines = mem.read_text().split()
    # weight (pe 0, s) at address sf: int's LSB, PoT's lowest exponent-code bit (every
    # code of an n-bit quantizer is used, so that always changes the weight)
    bit = s * cfg.code_bits + (1 if cfg.pot else 0)
    lines[sf] = f"{int(lines[sf], 16) ^ (1 << bit):0{len(lines[sf])}x}"
    mem.write_text("\n".join(lines) + "\n")
    result = stitch.measure_stitched(layers, words_in, expected, SAMPLES, tmp_path, PART,
                                     CLK_NS, synth=False, cache_dir=tmp_path / "verilator")
    assert not result["sim_ok"] and result["sim_mismatches"] > 0, (quant, result)


def test_other_graphs_are_not_stitched(tfc):
    _, graph = tfc
    assert finn_stitch.stitch_blocker(graph) is None
    mixed = copy.deepcopy(graph)
    mixed.graph.node[1].op_type = "MVAU_rtl"
    assert "not stitched: QnnbenchMVU_rtl_1 (MVAU_rtl)" in finn_stitch.stitch_blocker(mixed)


def test_fifo_depths_sized_by_simulation_are_shallower_at_the_same_rate(tfc, digits, tmp_path):
    """One image per FIFO (16 words here) against the depths the unbounded gauges peaked
    at: the sized design is shallower, still bit-exact, and exactly as fast."""
    from bench.rtl import fifo_sizing

    _, graph = tfc
    images = digits.x_test[:SAMPLES]
    layers, words_in, expected, glue = finn_stitch.generate_stitched_hdl(
        graph, images, tmp_path / "unbounded", PART, CLK_NS)
    unbounded = stitch.measure_stitched(layers, words_in, expected, SAMPLES,
                                        tmp_path / "unbounded", PART, CLK_NS, synth=False,
                                        cache_dir=tmp_path / "verilator", gauge=True)
    assert unbounded["sim_ok"], unbounded
    peaks = {glue[fifo]["after"]: peak for fifo, peak in unbounded["fifo_peaks"].items()}
    assert set(peaks) == {n.name for n in graph.graph.node[:-1]}
    depths = fifo_sizing.depths_from_peaks(peaks)
    assert sum(depths.values()) < sum(g["depth"] for g in glue.values())
    layers, words_in, expected, glue = finn_stitch.generate_stitched_hdl(
        graph, images, tmp_path / "sized", PART, CLK_NS, fifo_depth=depths)
    assert {g["after"]: g["depth"] for g in glue.values()} == depths
    sized = stitch.measure_stitched(layers, words_in, expected, SAMPLES, tmp_path / "sized",
                                    PART, CLK_NS, synth=False, cache_dir=tmp_path / "verilator")
    assert sized["sim_ok"], sized
    assert sized["cycles_per_image"] == unbounded["cycles_per_image"] == 256
