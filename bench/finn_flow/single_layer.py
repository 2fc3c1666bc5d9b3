"""One FINN RTL layer alone in a graph, from a plain description, and back.

The calibration corpus (`bench.cost.corpus`) describes each configuration as a plain dict
(`op_type` plus the sizes and widths that set its cost); `layer_model` turns one into a
single-node FINN graph with random weights or thresholds of the right kind, so FINN
generates exactly the HDL it would generate inside a network. `layer_config` reads the
same description off any node of a real graph, so the cost model sees a network's layers
and the corpus's layers through one door.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# The op types a plain description exists for (the types `bench.cost` can model).
CONFIGURABLE = ("MVAU_rtl", "Thresholding_rtl", "ConvolutionInputGenerator_rtl",
                "FMPadding_rtl")


def _bits(datatype: Any) -> int:
    return int(datatype.bitwidth())


def _first(values: Any) -> int:
    """The first of a [height, width] (or [top, left, ...]) attribute: the corpus and the
    networks use square images, kernels and symmetric padding."""
    return int(next(iter(values)))


def layer_config(inst: Any) -> dict[str, Any] | None:
    """The plain description of a FINN node (a CustomOp), or None for other op types."""
    op = inst.onnx_node.op_type
    get = inst.get_nodeattr
    if op == "MVAU_rtl":
        return {"op_type": op, "mw": get("MW"), "mh": get("MH"), "pe": get("PE"),
                "simd": get("SIMD"), "w_bits": _bits(inst.get_input_datatype(1)),
                "a_bits": _bits(inst.get_input_datatype(0)),
                "a_signed": int(inst.get_input_datatype(0).signed()),
                "acc_bits": _bits(inst.get_output_datatype())}
    if op == "Thresholding_rtl":
        return {"op_type": op, "channels": get("NumChannels"), "pe": get("PE"),
                "in_bits": _bits(inst.get_input_datatype(0)),
                "out_bits": _bits(inst.get_output_datatype()),
                "steps": get("numSteps")}
    if op == "ConvolutionInputGenerator_rtl":
        return {"op_type": op, "channels": get("IFMChannels"), "simd": get("SIMD"),
                "ifm": _first(get("IFMDim")), "k": _first(get("ConvKernelDim")),
                "stride": _first(get("Stride")), "bits": _bits(inst.get_input_datatype(0)),
                "depthwise": get("depthwise"), "parallel_window": get("parallel_window")}
    if op == "FMPadding_rtl":
        return {"op_type": op, "channels": get("NumChannels"), "simd": get("SIMD"),
                "img": _first(get("ImgDim")), "pad": _first(get("Padding")),
                "bits": _bits(inst.get_input_datatype(0))}
    return None


# -- building a one-layer graph ----------------------------------------------------------


def layer_model(config: dict[str, Any], seed: int = 0) -> Any:
    """A ModelWrapper holding one node as described by `config` (see `layer_config`)."""
    builders = {"MVAU_rtl": _mvau, "Thresholding_rtl": _thresholding,
                "ConvolutionInputGenerator_rtl": _swg, "FMPadding_rtl": _padding}
    if config["op_type"] not in builders:
        raise ValueError(f"no one-layer builder for {config['op_type']!r}; "
                         f"known: {', '.join(builders)}")
    return builders[config["op_type"]](config, np.random.default_rng(seed))


def _graph(node: Any, shapes: dict[str, tuple[int, ...]], types: dict[str, str],
           inits: dict[str, np.ndarray]) -> Any:
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper

    def info(name: str) -> Any:
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shapes[name]))

    graph = helper.make_graph(
        [node], "one_layer", [info(node.input[0])], [info(node.output[0])],
        value_info=[info(n) for n in node.input[1:]])
    model = ModelWrapper(helper.make_model(graph, producer_name="qnnbench"))
    for name, value in inits.items():
        model.set_initializer(name, value.astype(np.float32))
    for name, dtype in types.items():
        model.set_tensor_datatype(name, DataType[dtype])
    return model


def _node(op_type: str, inputs: list[str], **attrs: Any) -> Any:
    from onnx import helper

    return helper.make_node(op_type, inputs, ["out"], name=f"{op_type}_0",
                            domain="finn.custom_op.fpgadataflow.rtl",
                            backend="fpgadataflow", **attrs)


def _uint_or_int(bits: int, signed: bool) -> str:
    return f"INT{bits}" if signed else f"UINT{bits}"


def _mvau(c: dict[str, Any], rng: np.random.Generator) -> Any:
    w_max = (1 << (c["w_bits"] - 1)) - 1  # narrow range: DSP48E1 packing needs it
    weights = rng.integers(-w_max, w_max + 1, size=(c["mw"], c["mh"]))
    idt = _uint_or_int(c["a_bits"], bool(c.get("a_signed", 0)))
    node = _node("MVAU_rtl", ["in", "weights"], MW=c["mw"], MH=c["mh"], PE=c["pe"],
                 SIMD=c["simd"], inputDataType=idt, weightDataType=f"INT{c['w_bits']}",
                 outputDataType=f"INT{c['acc_bits']}", accDataType=f"INT{c['acc_bits']}",
                 noActivation=1, binaryXnorMode=0, ActVal=0,
                 mem_mode="internal_decoupled", numInputVectors=[1])
    return _graph(node, {"in": (1, c["mw"]), "weights": (c["mw"], c["mh"]),
                         "out": (1, c["mh"])},
                  {"in": idt, "weights": f"INT{c['w_bits']}", "out": f"INT{c['acc_bits']}"},
                  {"weights": weights})


def _thresholding(c: dict[str, Any], rng: np.random.Generator) -> Any:
    lo, hi = -(1 << (c["in_bits"] - 1)), (1 << (c["in_bits"] - 1)) - 1
    thresholds = np.sort(rng.integers(lo, hi + 1, size=(c["channels"], c["steps"])), axis=1)
    idt, odt = f"INT{c['in_bits']}", f"UINT{c['out_bits']}"
    node = _node("Thresholding_rtl", ["in", "thresholds"], NumChannels=c["channels"],
                 PE=c["pe"], numSteps=c["steps"], inputDataType=idt,
                 weightDataType=f"INT{c['in_bits']}", outputDataType=odt, ActVal=0,
                 numInputVectors=[1])
    return _graph(node, {"in": (1, c["channels"]), "out": (1, c["channels"]),
                         "thresholds": (c["channels"], c["steps"])},
                  {"in": idt, "out": odt, "thresholds": idt}, {"thresholds": thresholds})


def _swg(c: dict[str, Any], rng: np.random.Generator) -> Any:
    ifm, k, stride, ch = c["ifm"], c["k"], c["stride"], c["channels"]
    ofm = (ifm - k) // stride + 1
    dt = f"UINT{c['bits']}"
    node = _node("ConvolutionInputGenerator_rtl", ["in"], ConvKernelDim=[k, k],
                 IFMChannels=ch, IFMDim=[ifm, ifm], OFMDim=[ofm, ofm], SIMD=c["simd"],
                 Stride=[stride, stride], Dilation=[1, 1], inputDataType=dt,
                 outputDataType=dt, depthwise=c.get("depthwise", 0),
                 parallel_window=c.get("parallel_window", 0))
    return _graph(node, {"in": (1, ifm, ifm, ch), "out": (1, ofm, ofm, k * k * ch)},
                  {"in": dt, "out": dt}, {})


def _padding(c: dict[str, Any], rng: np.random.Generator) -> Any:
    img, pad, ch = c["img"], c["pad"], c["channels"]
    dt = f"UINT{c['bits']}"
    node = _node("FMPadding_rtl", ["in"], ImgDim=[img, img], Padding=[pad] * 4,
                 NumChannels=ch, SIMD=c["simd"], inputDataType=dt, numInputVectors=1)
    return _graph(node, {"in": (1, img, img, ch), "out": (1, img + 2 * pad, img + 2 * pad, ch)},
                  {"in": dt, "out": dt}, {})
