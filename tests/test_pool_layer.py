"""Our max pooling unit as a FINN layer (`bench.finn_flow.pool_op`, `pool_transform`): the
swap replaces exactly FINN's max pools and computes what FINN's graph computes, the
generator in front of a pool is folded with it, the layer's HDL is bit-exact, and a
LeNet-5 with `--mvu rtl --target rtl` is measured and stitched end to end."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from bench.core import folding as fold
from bench.core.folding import Layer

PART = "xc7z020clg400-1"
CLK_NS = 10.0
HW = "finn.custom_op.fpgadataflow"

# -- a small hand-built graph: generator, max pool, generator, average pool ----------------


def _pool_graph(function: str = "MaxPool", pe: int = 4) -> Any:
    """A depthwise generator and a Pool node as FINN's InferPool makes them (16 UINT2
    channels, 10x10 -> 5x5), then a second generator and pool of `function`."""
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper

    def swg(name: str, src: str, dst: str, dim: int) -> Any:
        return helper.make_node(
            "ConvolutionInputGenerator", [src], [dst], name=name, domain=HW,
            backend="fpgadataflow", ConvKernelDim=[2, 2], IFMChannels=16, IFMDim=[dim, dim],
            OFMDim=[dim // 2, dim // 2], SIMD=pe, Stride=[2, 2], Dilation=[1, 1],
            inputDataType="UINT2", outputDataType="UINT2", depthwise=1)

    def pool(name: str, src: str, dst: str, dim: int, fn: str) -> Any:
        return helper.make_node(
            "Pool", [src], [dst], name=name, domain=HW, backend="fpgadataflow",
            Channels=16, PE=pe, KernelSize=[2, 2], Function=fn, OutImgDims=[dim, dim],
            InputDataType="UINT2", OutputDataType="UINT2")

    nodes = [swg("swg0", "image", "win0", 20), pool("pool0", "win0", "pooled0", 10, "MaxPool"),
             swg("swg1", "pooled0", "win1", 10), pool("pool1", "win1", "pooled1", 5, function)]
    shapes = {"image": [1, 20, 20, 16], "win0": [1, 10, 10, 64], "pooled0": [1, 10, 10, 16],
              "win1": [1, 5, 5, 64], "pooled1": [1, 5, 5, 16]}

    def info(name: str) -> Any:
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shapes[name])

    graph = helper.make_graph(nodes, "pools", [info("image")], [info("pooled1")],
                              value_info=[info(n) for n in ("win0", "pooled0", "win1")])
    model = ModelWrapper(helper.make_model(graph, producer_name="qnnbench"))
    for name in shapes:
        model.set_tensor_datatype(name, DataType["UINT2"])
    return model


def _execute(model: Any, images: np.ndarray) -> list[dict[str, np.ndarray]]:
    from finn.core.onnx_exec import execute_onnx
    from finn.util.verification import despecialize_model

    from bench.finn_flow.env import quiet

    with quiet():
        reference = despecialize_model(copy.deepcopy(model))
        return [execute_onnx(reference, {"image": x[None].astype(np.float32)},
                             return_full_exec_context=True) for x in images]


def test_registry_finds_both_classes():
    from onnx import helper
    from qonnx.custom_op.registry import getCustomOp

    from bench.finn_flow import pool_op

    rtl = helper.make_node(pool_op.RTL_OP_TYPE, ["x"], ["y"], domain=pool_op.RTL_DOMAIN)
    hw = helper.make_node(pool_op.OP_TYPE, ["x"], ["y"], domain=pool_op.HW_DOMAIN)
    assert type(getCustomOp(rtl)) is pool_op.QnnbenchPool_rtl
    assert type(getCustomOp(hw)) is pool_op.QnnbenchPool


@pytest.mark.parametrize(("pe", "bits", "lut", "ff"), [
    # measured (bench/rtl/hdl/README.md, "qnnbench_maxpool")
    (6, 2, 12, 15), (16, 2, 23, 35), (64, 1, 69, 67), (128, 2, 135, 259), (16, 4, 70, 67),
    (4, 4, 25, 19)])
def test_estimate_is_within_an_eighth_of_the_measured_units(pe, bits, lut, ff):
    from bench.finn_flow.pool_op import estimate

    est = estimate(pe, bits)
    assert abs(est["lut"] - lut) <= 0.125 * lut
    assert est["ff"] == ff and est["bram18"] == est["dsp"] == 0


def test_the_swap_replaces_exactly_the_max_pools_and_computes_finns_result():
    from qonnx.custom_op.registry import getCustomOp

    from bench.finn_flow.pool_op import RTL_OP_TYPE
    from bench.finn_flow.pool_transform import use_qnnbench_pool

    finn = _pool_graph()
    ours, units, kept = use_qnnbench_pool(copy.deepcopy(finn))
    assert [u["replaces"] for u in units.values()] == ["pool0", "pool1"] and not kept
    assert [n.op_type for n in ours.graph.node] == ["ConvolutionInputGenerator",
                                                    RTL_OP_TYPE] * 2
    assert [list(n.output) for n in ours.graph.node] == [list(n.output)
                                                         for n in finn.graph.node]
    inst = getCustomOp(ours.graph.node[1])
    assert inst.get_exp_cycles() == getCustomOp(finn.graph.node[1]).get_exp_cycles() == 1600
    assert inst.unit_config().params() == {"PE": 4, "BITS": 2, "SIGNED": 0, "WINDOW": 4}
    images = np.random.default_rng(0).integers(0, 4, size=(3, 20, 20, 16))
    for want, got in zip(_execute(finn, images), _execute(ours, images), strict=True):
        for node in finn.graph.node:
            assert np.array_equal(got[node.output[0]], want[node.output[0]]), node.name


def test_mvu_rtl_swaps_pools_and_mvus_in_one_pass():
    from bench.finn_flow.pool_transform import use_our_units

    ours, units, kept = use_our_units(_pool_graph())  # no MVAU here: the pools alone
    assert {u["replaces"]: u["unit"] for u in units.values()} == {"pool0": "maxpool",
                                                                  "pool1": "maxpool"}
    assert not kept and ours.graph.node[1].op_type == "QnnbenchPool_rtl"


def test_other_pooling_functions_stay_finns_with_the_reason():
    from bench.finn_flow.pool_transform import use_qnnbench_pool

    ours, units, kept = use_qnnbench_pool(_pool_graph("AvgPool"))
    assert [u["replaces"] for u in units.values()] == ["pool0"]
    assert kept == {"pool1": "AvgPool is not max pooling (the unit's only function)"}
    assert ours.graph.node[-1].op_type == "Pool"


# -- folding: a pool's generator streams the pool's PE --------------------------------------

LAYERS = [Layer("ConvolutionInputGenerator_rtl_0", "ConvolutionInputGenerator_rtl", None, 1),
          Layer("QnnbenchMVU_rtl_0", "QnnbenchMVU_rtl", 16, 25),
          Layer("ConvolutionInputGenerator_rtl_1", "ConvolutionInputGenerator_rtl", None, 16),
          Layer("QnnbenchPool_rtl_0", "QnnbenchPool_rtl", 16, None)]


def _simd_pe(folding: list[fold.LayerFolding]) -> tuple[int | None, int | None]:
    return folding[2].simd, folding[3].pe


def test_every_strategy_gives_a_pool_and_its_generator_one_width():
    uniform = fold.tie_pool_inputs(LAYERS, fold.uniform_folding(LAYERS, 8, 2))
    assert _simd_pe(uniform) == (8, 8) and uniform[2].clamped
    # a file written for FINN's graph (names of FINN's pool) that disagrees with itself
    layers = fold.layers_folding(LAYERS, {"ConvolutionInputGenerator_rtl_1": {"SIMD": 2},
                                          "Pool_hls_0": {"PE": 4}})
    assert _simd_pe(fold.tie_pool_inputs(LAYERS, layers)) == (4, 4)
    auto = fold.folding_from_config(LAYERS, {"QnnbenchPool_rtl_0": {"PE": 16}})
    assert _simd_pe(fold.tie_pool_inputs(LAYERS, auto)) == (16, 16)
    # the convolution's generator is not a pool's and keeps what it got
    assert fold.tie_pool_inputs(LAYERS, uniform)[0].simd == 1


def test_a_generator_of_other_channels_is_not_tied():
    layers = [*LAYERS[:3], Layer("Pool_hls_0", "Pool_hls", 8, None)]
    folding = fold.uniform_folding(layers, 8, 2)
    assert _simd_pe(fold.tie_pool_inputs(layers, folding)) == (2, 8)


# -- the layer's HDL (slow: Verilator) ------------------------------------------------------


@pytest.mark.slow
def test_layer_hdl_is_bit_exact_at_finns_cycles(tmp_path):
    from bench.finn_flow import rtl_layers
    from bench.finn_flow.pool_transform import use_qnnbench_pool
    from bench.rtl import measure

    graph, _, _ = use_qnnbench_pool(_pool_graph(pe=4))
    name = graph.graph.node[1].name
    images = np.random.default_rng(1).integers(0, 4, size=(3, 20, 20, 16))
    streams = rtl_layers.layer_streams(graph, images, [name])[name]
    layer = rtl_layers.generate_layer_hdl(graph, name, tmp_path / "pool", PART, CLK_NS)
    assert layer.in_width == layer.out_width == 8
    row = measure.measure_layer(layer, streams, PART, synth=False, samples=3,
                                cache_dir=tmp_path / "verilator", stall_percent=30)
    assert row["sim_ok"] and row["sim_mismatches"] == 0, row
    assert row["sim_words"] == 3 * 100 * 4  # 10x10 pixels, 16 channels at PE 4
    assert row["est_lut"] == 10  # 4 lanes of 2 bits + the control


# -- end to end (slow: training, FINN, Yosys, Verilator) --------------------------------------


@pytest.mark.slow
def test_lenet5_is_measured_and_stitched_bit_exact(tmp_path, monkeypatch):
    """LeNet-5 W2A2 on digits (8x8, padded to 32x32 by the model), one epoch: every layer
    RTL and simulated bit-exact alone, and the whole network stitched, at FINN's rate."""
    from bench.core.spec import make_spec
    from bench.engine.store import Store
    from bench.run.point import run_point
    from bench.stages import rtl_measure, rtl_stitch

    # fewer images than a run's: the first generator alone takes ~20,000 cycles each
    monkeypatch.setattr(rtl_measure, "RTL_SAMPLES", 2)
    monkeypatch.setattr(rtl_stitch, "STITCH_SAMPLES", 3)
    spec = make_spec(model="lenet5", dataset="digits", weight_bits=2, act_bits=2, epochs=1,
                     pe=8, mvu="rtl", target="rtl", hw_accuracy_samples=0)
    record = run_point(spec, Store(tmp_path / "results"), show_progress=False).record
    assert record.status == "ok", record.error
    assert record.mvu_verify_ok is True
    pools = [r for r in record.rtl_layers if r["op_type"] == "QnnbenchPool_rtl"]
    assert len(pools) == 2 and all(r["sim_ok"] for r in pools)
    assert all(r["sim_cycles_per_input"] == r["est_cycles"] for r in pools)
    assert record.rtl_coverage == 1.0 and record.rtl_sim_ok is True
    assert record.rtl_stitched_ok is True and record.rtl_stalled_ok is True
    assert record.rtl_fps == pytest.approx(record.est_fps, rel=0.05)
    # FIFO depths sized by simulation: far below one image each, at the same rate
    assert record.fifo_depths and record.fifo_bits < record.fifo_one_image_bits / 10
    assert record.rtl_stitched["fifos"]["as_fast_as_unbounded"] is True
    assert record.rtl_toggles_per_image > 0
