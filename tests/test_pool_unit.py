"""The max pooling unit in bench/rtl/hdl: the reference and the stream order by hand and
against FINN's own execution of the layers it replaces, then the HDL in Verilator against
the reference (with and without output backpressure) and its synthesis with Yosys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.rtl import pool_unit as pu
from bench.rtl.pool_unit import PoolConfig

# -- reference and streams, without tools ---------------------------------------------------


def test_reference_takes_block_maxima_and_drops_partial_windows():
    x = np.arange(5 * 5).reshape(1, 5, 5, 1)  # the last row and column fall outside
    assert pu.reference(x, 2)[0, :, :, 0].tolist() == [[6, 8], [16, 18]]
    signed = np.array([-3, -1, -4, -2]).reshape(1, 2, 2, 1)
    assert pu.reference(signed, 2).ravel().tolist() == [-1]


def test_stream_is_the_depthwise_generators_order_by_hand():
    # C=4, PE=2, 2x2 windows, one output pixel: fold 0 (channels 0, 1) at the four window
    # positions, then fold 1 (channels 2, 3); element = 10 * position + channel
    cfg = PoolConfig(channels=4, pe=2, kernel=2, out_dim=1, bits=6)
    x = np.array([[[[10 * (r * 2 + c) + ch for ch in range(4)] for c in range(2)]
                   for r in range(2)]])
    words = pu.pack_inputs(x, cfg)
    fields = [(w & 63, w >> 6) for w in words]
    assert fields == [(0, 1), (10, 11), (20, 21), (30, 31),
                      (2, 3), (12, 13), (22, 23), (32, 33)]
    assert len(words) == cfg.in_beats
    assert pu.pack_outputs(pu.reference(x, 2), cfg) == [30 | 31 << 6, 32 | 33 << 6]


def test_signed_outputs_unpack_with_their_sign():
    cfg = PoolConfig(channels=2, pe=2, kernel=2, out_dim=1, bits=3, signed=True)
    assert pu.unpack_outputs([(-4 & 7) | 3 << 3], cfg).ravel().tolist() == [-4, 3]


def test_inputs_outside_the_datatype_are_refused():
    cfg = PoolConfig(channels=2, pe=1, kernel=2, out_dim=1, bits=2)
    with pytest.raises(ValueError, match=r"\[0, 3\] for 2-bit unsigned"):
        pu.pack_inputs(np.full((1, 2, 2, 2), 4), cfg)


def test_pe_must_divide_the_channels():
    with pytest.raises(ValueError, match="PE=4 must divide Channels=6"):
        PoolConfig(channels=6, pe=4, kernel=2, out_dim=2, bits=2)


def test_random_images_hold_the_extremes_at_every_window_position():
    cfg = PoolConfig(channels=3, pe=1, kernel=2, out_dim=3, bits=4, signed=True)
    x = pu.random_images(cfg, 2, np.random.default_rng(0))
    assert x.min() == -8 and x.max() == 7
    assert (pu.reference(x[:1], 2) == 7).all()
    positions = {int(np.argmax(w.reshape(4, 3)[:, 0]))
                 for w in pu.windows(x[:1], cfg).reshape(-1, 2, 2, 3)}
    assert positions == {0, 1, 2, 3}


# -- against FINN's Python execution ---------------------------------------------------------

# (Channels, PE, kernel, OutImgDims, datatype) as FINN builds them: CNV's first pool
# (64 binary channels, 28 -> 14) and LeNet-5's second (16 UINT2 channels, 10 -> 5), each
# with a folded PE, and a signed variant the unit supports beyond the networks' own.
FINN_CASES = [
    (64, 16, 2, 14, "BINARY"),
    (16, 4, 2, 5, "UINT2"),
    (6, 3, 3, 3, "INT4"),
]


def _config(channels: int, pe: int, k: int, out: int, dtype: str) -> PoolConfig:
    bits = 1 if dtype == "BINARY" else int(dtype.removeprefix("U").removeprefix("INT"))
    return PoolConfig(channels, pe, k, out, bits, signed=dtype.startswith("INT"))


def _finn_pool_graph(cfg: PoolConfig, dtype: str) -> Any:
    """A depthwise sliding-window generator and a max Pool, as FINN's InferPool makes
    them, with the generator's SIMD equal to the pool's PE."""
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper

    k, c, o, i = cfg.kernel, cfg.channels, cfg.out_dim, cfg.in_dim
    domain = "finn.custom_op.fpgadataflow"
    swg = helper.make_node(
        "ConvolutionInputGenerator", ["image"], ["windows"], name="swg", domain=domain,
        backend="fpgadataflow", ConvKernelDim=[k, k], IFMChannels=c, IFMDim=[i, i],
        OFMDim=[o, o], SIMD=cfg.pe, Stride=[k, k], Dilation=[1, 1], inputDataType=dtype,
        outputDataType=dtype, depthwise=1)
    pool = helper.make_node(
        "Pool", ["windows"], ["pooled"], name="pool", domain=domain, backend="fpgadataflow",
        Channels=c, PE=cfg.pe, KernelSize=[k, k], Function="MaxPool", OutImgDims=[o, o],
        InputDataType=dtype, OutputDataType=dtype)
    shapes = {"image": [1, i, i, c], "windows": [1, o, o, k * k * c], "pooled": [1, o, o, c]}

    def info(name: str) -> Any:
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shapes[name])

    graph = helper.make_graph([swg, pool], "pool", [info("image")], [info("pooled")],
                              value_info=[info("windows")])
    model = ModelWrapper(helper.make_model(graph, producer_name="qnnbench"))
    for name in shapes:
        model.set_tensor_datatype(name, DataType[dtype])
    return model


@pytest.mark.parametrize("case", FINN_CASES, ids=lambda c: "-".join(map(str, c)))
def test_reference_and_streams_agree_with_finns_execution(case):
    from finn.core.onnx_exec import execute_onnx
    from qonnx.custom_op.registry import getCustomOp

    from bench.finn_flow.env import prepare_finn, quiet
    from bench.finn_flow.rtl_layers import pack_stream, stream_order

    dtype = case[-1]
    cfg = _config(*case)
    prepare_finn()
    model = _finn_pool_graph(cfg, dtype)
    pool = getCustomOp(model.get_node_from_name("pool"))
    for x in pu.random_images(cfg, 2, np.random.default_rng(1)):
        with quiet():
            ctx = execute_onnx(model, {"image": x[None].astype(np.float32)},
                               return_full_exec_context=True)
        # the Pool node's result and its input layout
        assert np.array_equal(ctx["pooled"], pu.reference(x[None], cfg.kernel))
        assert np.array_equal(ctx["windows"], pu.im2col(x[None], cfg))
        # the words the project's FINN side streams into and out of the Pool node
        order = stream_order(model, "windows", ctx["windows"])
        words_in = pack_stream(order.reshape(pool.get_folded_input_shape(0)),
                               pool.get_input_datatype(0), pool.get_instream_width(0))
        words_out = pack_stream(ctx["pooled"].reshape(pool.get_folded_output_shape(0)),
                                pool.get_output_datatype(0), pool.get_outstream_width(0))
        assert words_in == pu.pack_inputs(x[None], cfg)
        assert words_out == pu.pack_outputs(pu.reference(x[None], cfg.kernel), cfg)
    assert pool.get_instream_width(0) == pool.get_outstream_width(0) == cfg.width
    assert pool.get_exp_cycles() == cfg.in_beats


# -- the HDL in Verilator --------------------------------------------------------------------

# (Channels, PE, kernel, OutImgDims, bits, signed)
SIM_CASES = [
    (64, 16, 2, 14, 1, False),  # CNV pool 1, binary, folded
    (128, 128, 2, 5, 2, False),  # CNV pool 2, PE = Channels
    (6, 6, 2, 14, 2, False),  # LeNet-5 pool 1
    (16, 4, 2, 5, 4, False),  # LeNet-5 pool 2 at A4, folded
    (6, 1, 3, 4, 3, True),  # 3x3 windows, one channel a beat, signed
    (4, 2, 1, 3, 4, True),  # 1x1 windows: a pipeline register
]


@pytest.fixture(scope="session")
def sim_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pool-verilator")


@pytest.mark.slow
@pytest.mark.parametrize("case", SIM_CASES, ids=lambda c: "-".join(map(str, c)))
def test_unit_is_bit_exact_at_one_input_beat_per_cycle(case, tmp_path, sim_cache):
    cfg = PoolConfig(*case)
    x = pu.random_images(cfg, 3, np.random.default_rng(2))
    res = pu.simulate_unit(cfg, x, tmp_path, sim_cache)
    assert res.ok and res.mismatches == 0, (res.outputs, res.expected)
    assert res.cycles_per_image == cfg.in_beats
    assert res.latency == pu.LATENCY


@pytest.mark.slow
@pytest.mark.parametrize("case", [SIM_CASES[0], SIM_CASES[4], SIM_CASES[5]],
                         ids=lambda c: "-".join(map(str, c)))
@pytest.mark.parametrize("stall", [30, 80])
def test_unit_keeps_every_output_under_backpressure(case, stall, tmp_path, sim_cache):
    cfg = PoolConfig(*case)
    x = pu.random_images(cfg, 3, np.random.default_rng(3))
    free = pu.simulate_unit(cfg, x, tmp_path / "free", sim_cache)
    stalled = pu.simulate_unit(cfg, x, tmp_path / "stalled", sim_cache, stall_percent=stall,
                               seed=11)
    assert free.ok and stalled.ok and stalled.mismatches == 0
    assert stalled.sim.outputs == free.sim.outputs
    # a consumer ready in a fifth of the cycles is slower than one output per 4 inputs:
    # the stalls reach the input, which then waits for the output register
    assert stalled.sim.cycles >= free.sim.cycles
    if stall == 80 and cfg.window <= 4:
        assert stalled.sim.cycles > 1.1 * free.sim.cycles


# -- synthesis -------------------------------------------------------------------------------


@pytest.mark.slow
def test_synthesis_of_a_small_unit_is_clean(tmp_path):
    cfg = PoolConfig(channels=16, pe=4, kernel=2, out_dim=5, bits=4)
    res = pu.synthesize_unit(cfg, tmp_path)
    assert res.lut > 0 and res.ff > 0
    assert res.dsp == 0 and res.bram18 == 0
    assert not {"LDCE", "LDPE"} & set(res.cells), "no latches"
    log = res.log.read_text() if res.log else ""
    assert "ERROR" not in log
