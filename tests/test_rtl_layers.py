"""FINN's RTL layers of a small TFC, synthesized with Yosys and simulated with Verilator.

The model is an untrained, seeded W4A4 TFC on the digits data: training changes no RTL,
and random weights still exercise every threshold and weight. The hardware graph keeps
thresholds standalone and prefers RTL, so FINN makes every layer RTL on a 7-series part.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import finn_flow
from bench.finn_flow import rtl_layers as finn_hdl
from bench.rtl import measure

PART = "xc7z020clg400-1"
CLK_NS = 10.0
SAMPLES = 3

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def rtl_graph(digits, tmp_path_factory):
    from bench.core.spec import make_spec
    from bench.learn.export import export_qonnx
    from bench.learn.train import make_model, seed_everything

    seed_everything(0)
    spec = make_spec(model="tfc", dataset="digits", weight_bits=4, act_bits=4)
    model = make_model(spec, digits).eval()
    root = tmp_path_factory.mktemp("rtl")
    path = export_qonnx(model, digits.x_test[:1], root / "tfc_w4a4.onnx")
    hw, reasons = finn_hdl.build_rtl_hw_graph(path, root / "hw", PART, CLK_NS)
    graph = finn_flow.load_graph(hw.graph_path)
    folding = {
        n.name: ({"PE": 2, "SIMD": 8} if n.op_type == "MVAU_rtl" else {"PE": 4})
        for n in graph.graph.node
    }
    return finn_hdl.apply_folding(graph, folding), reasons


@pytest.fixture(scope="session")
def sim_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("verilator-cache")


def _layer(rtl_graph, digits, name: str, tmp_path: Path):
    graph, _ = rtl_graph
    layer = finn_hdl.generate_layer_hdl(graph, name, tmp_path / name, PART, CLK_NS)
    streams = finn_hdl.layer_streams(graph, digits.x_test[:SAMPLES], [name])[name]
    return layer, streams


def test_every_layer_becomes_rtl(rtl_graph):
    graph, reasons = rtl_graph
    ops = [n.op_type for n in graph.graph.node]
    assert ops == ["MVAU_rtl", "Thresholding_rtl"] * 3 + ["MVAU_rtl"], ops
    assert reasons == {}
    assert finn_hdl.rtl_nodes(graph) == [n.name for n in graph.graph.node]


def test_thresholding_synthesizes_and_matches_finn(rtl_graph, digits, tmp_path, sim_cache):
    layer, streams = _layer(rtl_graph, digits, "Thresholding_rtl_0", tmp_path)
    assert len(set(streams[1])) > 1, "a constant output stream would prove nothing"
    row = measure.measure_layer(layer, streams, PART, samples=SAMPLES, cache_dir=sim_cache)
    assert row["sim_ok"], row
    assert row["sim_words"] == SAMPLES * 16
    # 64 channels at PE 4: 16 beats per sample, one per cycle, as FINN estimates
    assert row["est_cycles"] == 16
    assert row["sim_cycles_per_input"] == row["est_cycles"]
    assert row["sim_latency_cycles"] > row["est_cycles"]
    assert row["lut"] > 50 and row["ff"] > 50 and row["dsp"] == 0
    assert row["logic_delay"] is not None and row["logic_delay"] > 0


def test_flipped_threshold_is_caught(rtl_graph, digits, tmp_path, sim_cache):
    layer, streams = _layer(rtl_graph, digits, "Thresholding_rtl_0", tmp_path)
    # stage 0 of PE 0 holds the middle threshold of channels 0, 4, 8, ...: invert them
    dat = layer.hdl_dir / "Thresholding_rtl_0_threshs_0_0.dat"
    lines = dat.read_text().split()
    width = len(lines[0]) * 4
    dat.write_text("".join(f"{(~int(v, 16)) & ((1 << width) - 1):0{len(v)}x}\n" for v in lines))
    row = measure.measure_layer(layer, streams, PART, synth=False, samples=SAMPLES,
                                cache_dir=sim_cache)
    assert not row["sim_ok"]
    assert row["sim_mismatches"] > 0


def test_mvau_synthesizes_to_dsps_and_matches_finn(rtl_graph, digits, tmp_path, sim_cache):
    layer, streams = _layer(rtl_graph, digits, "MVAU_rtl_1", tmp_path)
    assert layer.weight_streamer is not None
    row = measure.measure_layer(layer, streams, PART, samples=SAMPLES, cache_dir=sim_cache)
    assert row["sim_ok"], row
    # 64x64 at PE 2, SIMD 8: 32 row groups x 8 column folds
    assert row["est_cycles"] == 256
    assert row["sim_cycles_per_input"] == row["est_cycles"]
    assert row["dsp"] > 0
    assert row["lutram"] + row["bram18"] > 0, "the weights must be in the design"


def test_flipped_weight_is_caught(rtl_graph, digits, tmp_path, sim_cache):
    layer, streams = _layer(rtl_graph, digits, "MVAU_rtl_1", tmp_path)
    mem = layer.hdl_dir / "memblock.dat"
    lines = mem.read_text().split()
    lines[0] = f"{(~int(lines[0], 16)) & ((1 << 4 * len(lines[0])) - 1):0{len(lines[0])}x}"
    mem.write_text("\n".join(lines) + "\n")
    row = measure.measure_layer(layer, streams, PART, synth=False, samples=SAMPLES,
                                cache_dir=sim_cache)
    assert not row["sim_ok"]


def test_whole_graph_simulates_bit_exact(rtl_graph, digits, tmp_path, sim_cache):
    graph, reasons = rtl_graph
    rows = finn_hdl.measure_graph(graph, digits.x_test[:2], tmp_path, PART, CLK_NS, reasons,
                                 synth=False, cache_dir=sim_cache)
    assert [r["node"] for r in rows] == [n.name for n in graph.graph.node]
    for row in rows:
        assert row["impl"] == "rtl" and row["sim_ok"], row
        assert row["sim_cycles_per_input"] == row["est_cycles"], row


def test_whole_graph_is_bit_exact_under_backpressure(rtl_graph, digits, tmp_path, sim_cache):
    """FINN's RTL layers with their output stalled in 40 % of the cycles: every word still
    arrives, in order and unchanged."""
    graph, reasons = rtl_graph
    rows = finn_hdl.measure_graph(graph, digits.x_test[:2], tmp_path, PART, CLK_NS, reasons,
                                  synth=False, cache_dir=sim_cache, stall_percent=40)
    assert rows and all(row["sim_ok"] for row in rows), rows


def test_a_deeply_folded_layer_is_given_its_expected_cycles():
    """An MVU folded to NF*SF = 16,384 cycles per vector reads 512 words per vector: a
    limit counted in words alone stopped it before its last output (a false mismatch)."""
    assert measure.cycle_limit(4 * 512, 4 * 32, 16_384, samples=4) > 4 * 16_384
    assert measure.cycle_limit(4 * 512, 4 * 32, 10, samples=4) > 4 * 512
