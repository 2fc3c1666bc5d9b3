"""FINN's side of the RTL measurements: which layers are RTL, their HDL, their streams.

The tools that measure the HDL (`bench.rtl`) never import FINN; this module does, and
hands them plain `LayerHdl` descriptions and stream words. It uses FINN's own code for
everything FINN knows: the choice between RTL and HLS (`specialize_layers`), the HDL of
each RTL layer (`generate_hdl`), stream widths and folded shapes, the bit-exact Python
execution that gives each layer's input and expected output, and the packing of those
tensors into stream words (`finn.util.data_packing`).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.op_kinds import without_suffix
from bench.finn_flow.builder import HW_GRAPH_STEPS
from bench.finn_flow.env import prepare_finn, quiet
from bench.finn_flow.graph import HwGraph, build_hw_graph, load_graph
from bench.rtl import measure
from bench.rtl.layer import LayerHdl

# RTL op types whose synthesis and simulation are verified here (each has a test that
# synthesizes it, simulates it bit-exact, and fails on a changed memory word or geometry).
# FINN's other RTL layers are reported as RTL but not measured until they are checked the
# same way. Data-width converters and FIFOs are not in this graph: FINN inserts them later
# (InsertDWC, InsertFIFO in its stitching steps), and pooling has no RTL variant in FINN
# (our unit takes its place with `--mvu rtl`).
RTL_OP_TYPES = (
    "Thresholding_rtl", "MVAU_rtl", "ConvolutionInputGenerator_rtl", "FMPadding_rtl",
    "QnnbenchMVU_rtl",  # our unit (mvu_op)
    "QnnbenchPool_rtl",  # our max pooling unit (pool_op)
)


# -- RTL or HLS --------------------------------------------------------------------------


def rtl_blocker(model: Any, node: Any, fpga_part: str) -> str | None:
    """Why FINN would not make this (not yet specialized) HW node RTL; None if it would.

    Mirrors the conditions of FINN's `_mvu_rtl_possible` etc. (specialize_layers.py),
    naming the first one that fails; FINN itself is asked at the end so that a reason is
    never given for a node FINN would in fact make RTL.
    """
    from finn.custom_op.fpgadataflow.rtl import custom_op as rtl_ops
    from finn.transformation.fpgadataflow import specialize_layers as sl
    from finn.util.basic import get_dsp_block, get_dsp_datapath_limits
    from qonnx.custom_op.registry import getCustomOp

    if node.op_type + "_rtl" not in rtl_ops:
        return f"FINN has no RTL variant of {node.op_type}"
    inst = getCustomOp(node)
    if node.op_type == "MVAU":
        if sl._mvu_rtl_possible(node, fpga_part, model):
            return None
        if inst.get_nodeattr("noActivation") == 0:
            return "thresholds are fused into the MVAU (RTL MVU needs standalone thresholds)"
        if inst.get_nodeattr("binaryXnorMode") == 1:
            return "binary XNOR mode has no RTL MVU"
        wdt, idt = inst.get_input_datatype(1), inst.get_input_datatype(0)
        if not wdt.signed():
            return f"weights {wdt.name} are unsigned (RTL MVU needs signed weights)"
        dsp = get_dsp_block(fpga_part)
        weights = model.get_initializer(node.input[1])
        w_min = wdt.min() if weights is None else np.min(weights)
        if w_min == wdt.min() and dsp == "DSP48E1":
            return f"weights use the full {wdt.name} range; DSP48E1 needs narrow-range weights"
        if idt.bitwidth() < 2 or wdt.bitwidth() < 2:
            return "RTL MVU needs activations and weights of at least 2 bits"
        max_act, max_w, max_acc = get_dsp_datapath_limits(dsp)
        acc = inst.get_output_datatype().bitwidth()
        return (f"widths exceed the {dsp} datapath (act {idt.name} < {max_act} bits, "
                f"weight {wdt.name} <= {max_w}, accumulator {acc} <= {max_acc})")
    if node.op_type == "VVAU" and not sl._vvu_rtl_possible(node, fpga_part):
        return "RTL VVU needs a Versal part (DSP58), standalone thresholds, <= 8-bit inputs"
    checks = {
        "ElementwiseAdd": sl._elementwise_rtl_possible, "ElementwiseSub":
        sl._elementwise_rtl_possible, "ElementwiseMul": sl._elementwise_rtl_possible,
        "LayerNorm": sl._layernorm_rtl_possible, "HWSoftmax": sl._softmax_rtl_possible,
    }
    if node.op_type in checks and not checks[node.op_type](node, fpga_part):
        return f"FINN's RTL {node.op_type} needs a Versal part or float inputs"
    if node.op_type == "Requant" and not sl._requant_rtl_possible(node, fpga_part):
        return "RTL Requant needs integer inputs and full-range quantization"
    return None


def rtl_blockers(model: Any, fpga_part: str) -> dict[str, str]:
    """Per HW node (before specialization) that cannot be RTL: FINN's reason."""
    return {
        n.name: reason
        for n in model.graph.node
        if n.domain == "finn.custom_op.fpgadataflow"
        and (reason := rtl_blocker(model, n, fpga_part)) is not None
    }


def prefer_rtl(model: Any, fpga_part: str) -> Any:
    """Ask for the RTL variant of every HW node FINN can make RTL (before specialization).

    FINN's default only picks RTL MVUs for >= 4-bit operands; with the preference set it
    takes RTL wherever its own constraints allow, and HLS elsewhere.
    """
    from qonnx.custom_op.registry import getCustomOp

    for node in model.graph.node:
        if node.domain == "finn.custom_op.fpgadataflow" and rtl_blocker(
            model, node, fpga_part
        ) is None:
            getCustomOp(node).set_nodeattr("preferred_impl_style", "rtl")
    return model


def build_rtl_hw_graph(
    qonnx_path: Path, out_dir: Path, fpga_part: str, clk_ns: float
) -> tuple[HwGraph, dict[str, str]]:
    """The project's hardware-graph build, with thresholds standalone and RTL preferred.

    Returns the graph and, per node left HLS, FINN's reason (recorded just before
    specialization, when the nodes still have their abstract op types).
    """
    reasons: dict[str, str] = {}

    def prefer_rtl_where_possible(model: Any, cfg: Any) -> Any:
        reasons.update(rtl_blockers(model, cfg.fpga_part))
        return prefer_rtl(model, cfg.fpga_part)

    steps: list[Any] = list(HW_GRAPH_STEPS)
    steps.insert(steps.index("step_specialize_layers"), prefer_rtl_where_possible)
    hw = build_hw_graph(qonnx_path, out_dir, fpga_part, clk_ns, steps=steps,
                        standalone_thresholds=True)
    return hw, _renamed(reasons, hw.graph_path)


def _renamed(reasons: dict[str, str], graph_path: Path) -> dict[str, str]:
    """Reasons keyed by the specialized node names (FINN renames nodes after specializing:
    MVAU_0 -> MVAU_hls_0), matched by position among nodes of the same base type."""
    graph = load_graph(graph_path)
    by_base: dict[str, list[str]] = {}
    for node in graph.graph.node:
        base = without_suffix(node.op_type)
        by_base.setdefault(base, []).append(node.name)
    result = {}
    for old, reason in reasons.items():
        base, _, index = old.rpartition("_")
        names = by_base.get(base, [])
        if index.isdigit() and int(index) < len(names):
            result[names[int(index)]] = reason
    return result


# -- HDL and streams --------------------------------------------------------------------


def apply_folding(model: Any, folding: dict[str, dict[str, int]]) -> Any:
    """A copy of `model` with PE/SIMD (or any attributes) set per node name."""
    from qonnx.custom_op.registry import getCustomOp

    model = copy.deepcopy(model)
    names = {n.name: n for n in model.graph.node}
    for name, attrs in folding.items():
        if name not in names:
            raise KeyError(f"no node {name!r} in the hardware graph")
        inst = getCustomOp(names[name])
        for attr, value in attrs.items():
            inst.set_nodeattr(attr, int(value))
    return model


def rtl_nodes(model: Any) -> list[str]:
    """Names of the RTL nodes we measure, in graph order."""
    return [n.name for n in model.graph.node if n.op_type in RTL_OP_TYPES]


def generate_layer_hdl(
    model: Any, node_name: str, out_dir: Path, fpga_part: str, clk_ns: float
) -> LayerHdl:
    """Generate one RTL node's HDL with FINN's `generate_hdl` into `out_dir`."""
    from qonnx.custom_op.registry import getCustomOp

    prepare_finn()
    node = model.get_node_from_name(node_name)
    inst = getCustomOp(node)
    out_dir.mkdir(parents=True, exist_ok=True)
    inst.set_nodeattr("code_gen_dir_ipgen", str(out_dir.resolve()))
    with quiet():
        inst.generate_hdl(model, fpga_part, clk_ns)
    _relocatable(out_dir.resolve())
    sources = [Path(p) for p in inst.get_rtl_file_list(abspath=True)]
    streamer, weight_width = None, 0
    if _attr(inst, "mem_mode") == "internal_decoupled":
        wrappers = sorted(out_dir.glob("*_memstream_wrapper.v"))
        if len(wrappers) != 1:
            raise RuntimeError(f"{node_name}: expected one memstream wrapper, got {wrappers}")
        streamer = wrappers[0].stem
        rtllib = Path(sources[-1]).parents[1]  # .../finn-rtllib/mvu/x.sv -> finn-rtllib
        sources += [wrappers[0], rtllib / "axi/hdl/axilite.sv",
                    rtllib / "memstream/hdl/memstream_axi.sv",
                    rtllib / "memstream/hdl/memstream.sv"]
        weight_width = int(inst.get_instream_width(1))
    cycles, res = layer_estimates(model, node_name, fpga_part)
    return LayerHdl(
        node=node_name, op_type=node.op_type, top=inst.get_nodeattr("gen_top_module"),
        hdl_dir=out_dir.resolve(), sources=_unique(sources),
        in_width=int(inst.get_instream_width_padded(0)),
        out_width=int(inst.get_outstream_width_padded(0)),
        out_bits=int(inst.get_outstream_width(0)), weight_streamer=streamer,
        weight_width=weight_width, exp_cycles=cycles, estimates=res,
        memory_params=dict(inst.memory_parameters()) if hasattr(inst, "memory_parameters")
        else {},
    )


def layer_estimates(model: Any, node_name: str, fpga_part: str) -> tuple[int, dict[str, float]]:
    """FINN's expected cycles and resource estimate (LUT, BRAM_18K, URAM, DSP) of a node,
    RTL or HLS, so measured layers can be weighed against the whole graph's estimate."""
    from qonnx.custom_op.registry import getCustomOp

    inst = getCustomOp(model.get_node_from_name(node_name))
    res = inst.node_res_estimation(fpga_part)
    return int(inst.get_exp_cycles()), {k: float(v) for k, v in res.items()}


def _relocatable(hdl_dir: Path) -> None:
    """Refer to memory files in the generated HDL relative to its directory.

    FINN writes some initialisation paths (the MVU's `memblock.dat`) as absolute paths
    and others (thresholds) relative. Tools then run inside `hdl_dir`: the WebAssembly
    Yosys can only open files below its working directory, and a compiled Verilator
    model stays reusable for another directory with the same HDL.
    """
    prefix = f"{hdl_dir}/"
    for path in [*hdl_dir.glob("*.v"), *hdl_dir.glob("*.sv")]:
        text = path.read_text()
        if prefix in text:
            path.write_text(text.replace(prefix, "./"))


def _attr(inst: Any, name: str) -> Any:
    return inst.get_nodeattr(name) if name in inst.get_nodeattr_types() else None


def _unique(paths: list[Path]) -> list[Path]:
    seen: dict[Path, None] = {}
    for p in paths:
        seen.setdefault(p.resolve(), None)
    return list(seen)


def layer_streams(
    model: Any, inputs: np.ndarray, node_names: list[str]
) -> dict[str, tuple[list[int], list[int]]]:
    """Each named node's input and expected output, as packed stream words.

    `inputs` are samples of the graph input; all samples are streamed back to back. The
    graph runs in FINN's Python execution (specialized nodes mapped back to their
    abstract HW op, FINN's bit-exact reference for them); packing is FINN's, LSB-first
    elements per word, as the RTL consumes and produces them.
    """
    from finn.core.onnx_exec import execute_onnx
    from finn.util.verification import despecialize_model
    from qonnx.custom_op.registry import getCustomOp

    prepare_finn()
    with quiet():
        reference = despecialize_model(copy.deepcopy(model))
    iname = model.graph.input[0].name
    ishape = model.get_tensor_shape(iname)
    streams: dict[str, tuple[list[int], list[int]]] = {n: ([], []) for n in node_names}
    for sample in inputs:
        x = np.asarray(sample, dtype=np.float32).reshape(ishape)
        with quiet():
            ctx = execute_onnx(reference, {iname: x}, return_full_exec_context=True)
        for name in node_names:
            node = model.get_node_from_name(name)
            inst = getCustomOp(node)
            words_in, words_out = streams[name]
            words_in += pack_stream(
                stream_order(model, node.input[0], ctx[node.input[0]])
                .reshape(inst.get_folded_input_shape(0)),
                inst.get_input_datatype(0), inst.get_instream_width(0))
            words_out += pack_stream(
                stream_order(model, node.output[0], ctx[node.output[0]])
                .reshape(inst.get_folded_output_shape(0)),
                inst.get_output_datatype(0), inst.get_outstream_width(0))
    return streams


def stream_order(model: Any, tensor: str, value: np.ndarray) -> np.ndarray:
    """A tensor of FINN's Python execution in the element order its stream carries.

    FINN's Python execution of a sliding-window generator is im2col: per output pixel
    (kernel row, kernel column, channel). A depthwise generator (the one in front of a
    pooling or depthwise layer) streams the channel folds outermost instead: (channel /
    SIMD, kernel row, kernel column, SIMD), as its consumers expect and as FINN's own
    cppsim of the RTL generator reorders its output. Other tensors stream as they are.
    """
    from qonnx.custom_op.registry import getCustomOp

    producer = model.find_producer(tensor)
    if producer is None or without_suffix(producer.op_type) != "ConvolutionInputGenerator":
        return value
    inst = getCustomOp(producer)
    simd, channels = inst.get_nodeattr("SIMD"), inst.get_nodeattr("IFMChannels")
    if not inst.get_nodeattr("depthwise") or simd == channels:
        return value
    kh, kw = inst.get_nodeattr("ConvKernelDim")
    pixels = value.shape[:-1]
    folded = value.reshape(*pixels, kh * kw, channels // simd, simd)
    axes = len(pixels)
    order = [*range(axes), axes + 1, axes, axes + 2]
    return folded.transpose(order).reshape(value.shape)


def pack_stream(tensor: np.ndarray, dtype: Any, width: int) -> list[int]:
    """FINN's packing of a folded tensor into stream words (as FINN's rtlsim feeds them)."""
    from finn.util.data_packing import npy_to_rtlsim_input
    from qonnx.core.datatype import DataType

    if dtype == DataType["BIPOLAR"]:
        tensor, dtype = (tensor + 1) / 2, DataType["BINARY"]
    return [int(w) for w in npy_to_rtlsim_input(tensor.astype(np.float32), dtype, width)]


# -- the point's folding on the RTL graph -------------------------------------------------


def translate_folding(
    folding: dict[str, dict[str, int]], graph: Any, rtl_graph: Any
) -> dict[str, dict[str, int]]:
    """A folding of the estimated hardware graph, carried over to the RTL graph.

    The two graphs differ in where thresholds live and in node names (MVAU_hls_0 vs
    MVAU_rtl_0). Layers are matched by position among nodes of the same base op type; a
    threshold layer right after an MVAU/VVAU runs at that layer's PE, as thresholds fused
    into it do. Raises ValueError if the graphs do not line up.
    """
    source_split, target_split = _thresholds_after_mvus(graph), _thresholds_after_mvus(rtl_graph)
    source = _by_position(graph, set(source_split))
    target = _by_position(rtl_graph, set(target_split))
    if sorted(source) != sorted(target):
        raise ValueError("the RTL hardware graph has other layers than the estimated one: "
                         f"{sorted(source)} vs {sorted(target)}")
    result = {target[k]: dict(folding[name]) for k, name in source.items() if name in folding}
    for threshold, mvu in target_split.items():
        if "PE" in result.get(mvu, {}):
            result[threshold] = {"PE": result[mvu]["PE"]}
    return result


def _thresholds_after_mvus(model: Any) -> dict[str, str]:
    """Threshold node -> the MVAU/VVAU whose output it thresholds."""
    result = {}
    for node in model.graph.node:
        producer = model.find_producer(node.input[0])
        if (without_suffix(node.op_type) == "Thresholding" and producer is not None
                and without_suffix(producer.op_type) in ("MVAU", "VVAU")):
            result[node.name] = producer.name
    return result


def _by_position(model: Any, skip: set[str]) -> dict[tuple[str, int], str]:
    """(base op type, index among nodes of that type) -> node name."""
    seen: dict[str, int] = {}
    result = {}
    for node in model.graph.node:
        if node.name in skip:
            continue
        base = without_suffix(node.op_type)
        result[(base, seen.get(base, 0))] = node.name
        seen[base] = seen.get(base, 0) + 1
    return result


# -- measuring every layer -----------------------------------------------------------


def measure_graph(
    model: Any, inputs: np.ndarray, work_dir: Path, fpga_part: str, clk_ns: float,
    hls_reasons: dict[str, str] | None = None, synth: bool = True, simulate: bool = True,
    cache_dir: Path | None = None, synth_cache_dir: Path | None = None, dsp: bool = True,
    stall_percent: int = 0,
) -> list[dict[str, Any]]:
    """One dict per HW node: measured numbers for RTL nodes, the reason for the others.

    Every row carries FINN's estimate (`est_*`), so the share of the graph's estimate
    that the measured layers cover can be computed from the rows alone.
    """
    names = rtl_nodes(model)
    streams = layer_streams(model, inputs, names) if simulate else {}
    rows = []
    for node in model.graph.node:
        if node.name in names:
            layer = generate_layer_hdl(
                model, node.name, work_dir / node.name, fpga_part, clk_ns)
            rows.append(measure.measure_layer(
                layer, streams.get(node.name), fpga_part, synth=synth,
                samples=len(inputs), cache_dir=cache_dir, synth_cache_dir=synth_cache_dir,
                dsp=dsp, stall_percent=stall_percent))
            continue
        if node.op_type.endswith("_rtl"):
            row = {"node": node.name, "op_type": node.op_type, "impl": "rtl",
                   "reason": "no verified open-source flow for this op type yet"}
        else:
            reason = (hls_reasons or {}).get(node.name) or "FINN chose HLS"
            row = {"node": node.name, "op_type": node.op_type, "impl": "hls", "reason": reason}
        cycles, estimates = layer_estimates(model, node.name, fpga_part)
        rows.append({**row, **measure.estimate_fields(cycles, estimates)})
    return rows
