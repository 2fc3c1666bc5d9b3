"""An RTL MVAU whose weight memory is deep (more words than FINN's 4096-word BRAM
estimate unit), as CNV's last convolutions have at PE 8, SIMD 8.

Such a layer computes MH/PE x MW/SIMD cycles per input vector but streams only MW/SIMD
words in and MH/PE words out, so the simulation must be allowed to run by the layer's
expected cycles, not by its word count. The layer is a one-node graph with seeded random
weights, built as FINN's own tests build it: no training, no hardware-graph build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.finn_flow import rtl_layers as finn_hdl
from bench.rtl import measure

PART = "xc7z020clg400-1"
CLK_NS = 10.0
SAMPLES = 3  # 3 x 8192 cycles: more than 20 per stream word (+ 10,000) would allow
NAME = "MVAU_rtl_0"


def mvau(mw: int, mh: int, simd: int, pe: int) -> Any:
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    node = helper.make_node(
        "MVAU_rtl", ["inp", "weights"], ["outp"], name=NAME,
        domain="finn.custom_op.fpgadataflow.rtl", backend="fpgadataflow",
        MW=mw, MH=mh, SIMD=simd, PE=pe, inputDataType="INT4", weightDataType="INT4",
        outputDataType="INT32", noActivation=1, binaryXnorMode=0,
        mem_mode="internal_decoupled", numInputVectors=[1], resType="dsp")
    graph = helper.make_graph(
        [node], "layer", [helper.make_tensor_value_info("inp", TensorProto.FLOAT, [1, mw])],
        [helper.make_tensor_value_info("outp", TensorProto.FLOAT, [1, mh])])
    model = ModelWrapper(qonnx_make_model(graph, producer_name="qnn-bench"))
    for tensor, dtype in (("inp", "INT4"), ("weights", "INT4"), ("outp", "INT32")):
        model.set_tensor_datatype(tensor, DataType[dtype])
    # narrow range (no -8): FINN's RTL MVU on a DSP48E1 part needs it
    weights = np.random.default_rng(1).integers(-7, 8, size=(mw, mh))
    model.set_initializer("weights", weights.astype(np.float32))
    return model


def test_cycle_limit_follows_the_expected_cycles_not_the_word_count():
    # CNV's last convolution at PE 8, SIMD 8: 288 words in, 32 out, 9216 cycles
    limit = measure.cycle_limit(288, 32, 9216, samples=4)
    assert limit >= 4 * 9216 and limit >= 20 * (288 + 32)
    assert measure.cycle_limit(10, 10, 0, samples=1) > 0


@pytest.mark.slow
def test_deep_weight_memory_synthesizes_and_matches_finn(tmp_path: Path):
    # 1024 x 256 at SIMD 8, PE 4: 8192 weight words of 128 bits
    model = mvau(1024, 256, simd=8, pe=4)
    layer = finn_hdl.generate_layer_hdl(model, NAME, tmp_path / NAME, PART, CLK_NS)
    assert layer.weight_streamer is not None
    assert len((layer.hdl_dir / "memblock.dat").read_text().split()) == 8192
    inputs = np.random.default_rng(0).integers(-8, 8, size=(SAMPLES, 1, 1024))
    streams = finn_hdl.layer_streams(model, inputs, [NAME])[NAME]
    row = measure.measure_layer(layer, streams, PART, samples=SAMPLES,
                                cache_dir=tmp_path / "verilator",
                                synth_cache_dir=tmp_path / "yosys")
    assert row["sim_ok"], row
    assert row["sim_error"] == "" and row["sim_timed_out"] is False
    assert row["sim_words"] == SAMPLES * 256 // 4
    assert row["est_cycles"] == 8192
    assert row["sim_cycles_per_input"] == row["est_cycles"]
    assert row["bram18"] > 0 and row["dsp"] > 0, row


@pytest.mark.slow
def test_a_stalled_layer_says_it_timed_out(tmp_path: Path):
    """A layer that produces fewer words than expected is reported with the reason."""
    model = mvau(64, 64, simd=8, pe=8)
    layer = finn_hdl.generate_layer_hdl(model, NAME, tmp_path / NAME, PART, CLK_NS)
    inputs = np.random.default_rng(0).integers(-8, 8, size=(1, 1, 64))
    words_in, expected = finn_hdl.layer_streams(model, inputs, [NAME])[NAME]
    # the second input vector is missing: the layer waits for it forever
    row = measure.measure_layer(layer, (words_in, expected * 2), PART, synth=False,
                                samples=2, cache_dir=tmp_path / "verilator")
    assert not row["sim_ok"] and row["sim_timed_out"] is True
    assert row["sim_error"].startswith("timed out after")
    assert f"{len(expected)} of {2 * len(expected)} output words" in row["sim_error"]
