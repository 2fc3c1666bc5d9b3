"""FINN's sliding-window and padding RTL layers, synthesized with Yosys and simulated with
Verilator against FINN's Python execution.

Each layer is a one-node graph built the way FINN's own tests build them, so a test needs
no training or hardware-graph build: FINN generates the HDL, the real tools measure it.
Neither layer has memory contents (the window buffer is filled at run time), so the
negative checks change the window or padding geometry in FINN's generated HDL instead:
a single changed constant must make the bit-exact check fail.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.finn_flow import rtl_layers as finn_hdl
from bench.rtl import measure, synth_cache

PART = "xc7z020clg400-1"
CLK_NS = 10.0
SAMPLES = 2
DTYPE = "INT4"

pytestmark = pytest.mark.slow


def _one_node_graph(op_type: str, in_shape: list[int], out_shape: list[int],
                    **attrs: Any) -> Any:
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    node = helper.make_node(
        op_type, ["inp"], ["outp"], name=f"{op_type}_0",
        domain="finn.custom_op.fpgadataflow.rtl", backend="fpgadataflow", **attrs)
    graph = helper.make_graph(
        [node], "layer", [helper.make_tensor_value_info("inp", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("outp", TensorProto.FLOAT, out_shape)])
    model = ModelWrapper(qonnx_make_model(graph, producer_name="qnn-bench"))
    for tensor in ("inp", "outp"):
        model.set_tensor_datatype(tensor, DataType[DTYPE])
    return model


def sliding_window(ifm: int, channels: int, kernel: int, stride: int, simd: int,
                   depthwise: int = 0) -> Any:
    ofm = (ifm - kernel) // stride + 1
    return _one_node_graph(
        "ConvolutionInputGenerator_rtl", [1, ifm, ifm, channels],
        [1, ofm, ofm, kernel * kernel * channels],
        ConvKernelDim=[kernel, kernel], IFMChannels=channels, IFMDim=[ifm, ifm],
        OFMDim=[ofm, ofm], SIMD=simd, Stride=[stride, stride], Dilation=[1, 1],
        inputDataType=DTYPE, outputDataType=DTYPE, depthwise=depthwise)


def padding(ifm: int, channels: int, pads: list[int], simd: int) -> Any:
    top, left, bottom, right = pads
    return _one_node_graph(
        "FMPadding_rtl", [1, ifm, ifm, channels],
        [1, ifm + top + bottom, ifm + left + right, channels],
        ImgDim=[ifm, ifm], Padding=pads, NumChannels=channels, SIMD=simd,
        inputDataType=DTYPE, numInputVectors=1)


def _measure(graph: Any, tmp_path: Path, cache: Path, synth: bool = True,
             edit: tuple[str, Any] | None = None) -> dict[str, Any]:
    """Measure the graph's one node; `edit` = (regex, replacement) on its generated HDL."""
    name = graph.graph.node[0].name
    layer = finn_hdl.generate_layer_hdl(graph, name, tmp_path / name, PART, CLK_NS)
    if edit is not None:
        pattern, replacement = edit
        changed = 0
        for path in [*layer.hdl_dir.glob("*.v"), *layer.hdl_dir.glob("*.sv")]:
            text, n = re.subn(pattern, replacement, path.read_text())
            path.write_text(text)
            changed += n
        assert changed == 1, f"{pattern!r} matched {changed} times in FINN's HDL"
    shape = graph.get_tensor_shape("inp")
    inputs = np.random.default_rng(0).integers(-8, 8, size=(SAMPLES, *shape))
    streams = finn_hdl.layer_streams(graph, inputs, [name])[name]
    assert len(set(streams[1])) > 1, "a constant output stream would prove nothing"
    return measure.measure_layer(layer, streams, PART, synth=synth, samples=SAMPLES,
                                 cache_dir=cache / "verilator", synth_cache_dir=cache / "yosys")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("rtl-cache")


@pytest.mark.parametrize(("ifm", "channels", "kernel", "stride", "simd", "depthwise"), [
    (6, 4, 3, 1, 2, 0),  # a convolution's window: 4x4 outputs of 3x3x4
    (6, 4, 2, 2, 4, 0),  # a 2x2 window, stride 2, all channels in one beat
    # a max pool's window as FINN builds it for CNV (depthwise, as pooling needs):
    # channel folds outermost, odd input size, a skipped last row and column
    (5, 64, 2, 2, 8, 1),
])
def test_sliding_window_synthesizes_and_matches_finn(tmp_path, cache, ifm, channels,
                                                      kernel, stride, simd, depthwise):
    graph = sliding_window(ifm, channels, kernel, stride, simd, depthwise)
    row = _measure(graph, tmp_path, cache)
    assert row["sim_ok"], row
    ofm = (ifm - kernel) // stride + 1
    assert row["sim_words"] == SAMPLES * ofm * ofm * kernel * kernel * channels // simd
    # one output word per cycle once the buffer has filled: no slower than FINN expects
    assert 0 < row["sim_cycles_per_input"] <= row["est_cycles"], row
    assert row["lut"] > 0 and row["ff"] > 0 and row["dsp"] == 0, row
    assert row["synth_cached"] is False


def test_depthwise_window_streams_channel_folds_outermost():
    """The expected stream of a depthwise window is reordered from FINN's im2col
    execution (kernel position, channel) to the generator's (channel fold, kernel
    position, SIMD); with SIMD = channels the two orders agree."""
    x = np.arange(2 * 2 * 8, dtype=np.float32).reshape(1, 1, 1, 32)  # 2x2 kernel, 8 ch.
    folded = finn_hdl.stream_order(sliding_window(2, 8, 2, 2, 2, depthwise=1), "outp", x)
    # kernel position k, channel c is x[8k + c]; SIMD 2: fold f holds channels 2f, 2f+1
    assert folded.ravel()[:8].tolist() == [0, 1, 8, 9, 16, 17, 24, 25]
    assert sorted(folded.ravel().tolist()) == x.ravel().tolist()
    for graph in (sliding_window(2, 8, 2, 2, 8, depthwise=1), sliding_window(2, 8, 2, 2, 2)):
        assert np.array_equal(finn_hdl.stream_order(graph, "outp", x), x)
    assert np.array_equal(finn_hdl.stream_order(graph, "inp", x), x)


def test_changed_window_geometry_is_caught(tmp_path, cache):
    graph = sliding_window(6, 4, 3, 1, 2)
    # the address step from one kernel row to the next, off by one element
    row = _measure(graph, tmp_path, cache, synth=False, edit=(
        r"\.HEAD_INCR_KH\((-?\d+)\)", lambda m: f".HEAD_INCR_KH({int(m.group(1)) + 1})"))
    assert not row["sim_ok"]
    assert row["sim_mismatches"] > 0


def test_padding_synthesizes_and_matches_finn(tmp_path, cache):
    row = _measure(padding(5, 4, [1, 2, 1, 2], simd=2), tmp_path, cache)
    assert row["sim_ok"], row
    # 5x5 padded to 7 rows (1 above, 1 below) of 9 pixels (2 left, 2 right), 2 beats each
    assert row["sim_words"] == SAMPLES * 7 * 9 * 2
    assert row["sim_cycles_per_input"] == row["est_cycles"] == 7 * 9 * 2
    assert row["lut"] > 0 and row["ff"] > 0 and row["dsp"] == 0 and row["bram18"] == 0


def test_changed_padding_is_caught(tmp_path, cache):
    row = _measure(padding(5, 4, [1, 2, 1, 2], simd=2), tmp_path, cache, synth=False,
                   edit=(r"\.INIT_XON\((\d+)\)", lambda m: f".INIT_XON({int(m.group(1)) + 1})"))
    assert not row["sim_ok"]


def test_second_synthesis_of_the_same_hdl_is_cached(tmp_path, cache):
    """A sweep point that reuses a layer configuration takes the stored synthesis."""
    graph = padding(5, 4, [1, 2, 1, 2], simd=2)
    first = _measure(graph, tmp_path / "a", cache)
    again = _measure(graph, tmp_path / "b", cache)
    assert again["synth_cached"] is True
    for key in ("lut", "lutram", "ff", "carry", "bram18", "dsp", "logic_delay"):
        assert again[key] == first[key], key
    assert again["sim_build_seconds"] == 0.0, "the Verilator model must come from its cache"


def test_synthesis_key_follows_memory_contents(tmp_path):
    src, mem = tmp_path / "top.sv", tmp_path / "weights.dat"
    src.write_text("module top(); endmodule\n")
    mem.write_text("0f\n")
    key = synth_cache.synthesis_key([src], [mem], "top", "xc7")
    assert key == synth_cache.synthesis_key([src], [mem], "top", "xc7")
    mem.write_text("0e\n")
    assert synth_cache.synthesis_key([src], [mem], "top", "xc7") != key
    assert synth_cache.synthesis_key([src], [mem], "top", "xcup") != key
