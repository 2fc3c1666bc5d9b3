"""FINN's side of the stitched (whole-network) RTL measurement.

FINN's own stitching (`CreateStitchedIP`) needs Vivado's block design. This module does
the graph half of it with FINN's own passes, as FINN's builder does before stitching:
`InsertDWC` puts a data-width converter between layers whose streams differ (another PE
than the next layer's SIMD), `InsertFIFO` a FIFO after each layer with the depth set
here, and `SpecializeLayers` makes both their RTL variants. Every node's HDL then comes
from its own `generate_hdl`; `bench.rtl.stitch` wires the nodes into one top module.

What can be stitched so far: graphs of our units (`--mvu rtl`: the MVU, whose memory
files can be named per instance, `QnnbenchMVU_rtl.memory_parameters`, and the max pool)
and of FINN's RTL layers that read no memory files (padding, sliding-window generators),
so MLPs and CNNs alike. FINN's MVAU_rtl and Thresholding_rtl read theirs by fixed
relative paths, and FINN's HLS layers have no HDL here (no finn-hlslib).
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import numpy as np

from bench.finn_flow.env import prepare_finn, quiet
from bench.finn_flow.rtl_layers import generate_layer_hdl, layer_streams
from bench.rtl.layer import LayerHdl

# layers whose HDL can share one working directory (no memory files read by fixed paths)
LAYER_OP_TYPES = ("QnnbenchMVU_rtl", "QnnbenchPool_rtl", "FMPadding_rtl",
                  "ConvolutionInputGenerator_rtl")
GLUE_OP_TYPES = ("StreamingDataWidthConverter_rtl", "StreamingFIFO_rtl")
LAYERS_DIR = "layers"


def stitch_blocker(model: Any) -> str | None:
    """Why this folded hardware graph cannot be stitched here; None if it can."""
    nodes = list(model.graph.node)
    if not nodes:
        return "the hardware graph has no nodes"
    others = [f"{n.name} ({n.op_type})" for n in nodes if n.op_type not in LAYER_OP_TYPES]
    if others:
        return ("stitching covers graphs of our units (--mvu rtl) and FINN's padding and "
                "sliding-window generators only; not stitched: "
                + ", ".join(others))
    if len(model.graph.input) != 1 or len(model.graph.output) != 1:
        return "the graph has more than one input or output"
    for a, b in itertools.pairwise(nodes):
        if b.input[0] != a.output[0] or len(model.find_consumers(a.output[0])) != 1:
            return f"{a.name} -> {b.name} is not a single stream (not a chain of layers)"
    return None


def words_per_image(inst: Any) -> int:
    """Stream words of one output image of a HW node (its folded shape without the
    last dimension, which is the word)."""
    return int(np.prod(inst.get_folded_output_shape()[:-1]))


FifoDepths = int | dict[str, int] | None


def insert_glue(model: Any, fpga_part: str, fifo_depth: FifoDepths = None) -> Any:
    """A copy with FINN's width converters and FIFOs between the layers, made RTL.

    `fifo_depth` None: after each layer (not the last) a FIFO that holds one image of
    its output, so a layer can finish an image while the next one works on the folds
    it computes after reading its input (our unit reads no input during them); 0: no
    FIFOs; an int: that depth after every layer; a dict: the depth after each layer by
    its name (sized from simulation, `bench.rtl.fifo_sizing`). FINN leaves out depths
    of 2 or less.
    """
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.custom_op.registry import getCustomOp
    from qonnx.transformation.general import GiveUniqueNodeNames

    prepare_finn()
    model = copy.deepcopy(model)
    with quiet():
        model = model.transform(InsertDWC())
        if fifo_depth != 0:
            layers = [n for n in model.graph.node if n.op_type in LAYER_OP_TYPES]
            for node in layers[:-1]:
                inst = getCustomOp(node)
                depth = (words_per_image(inst) if fifo_depth is None
                         else fifo_depth.get(node.name, 0) if isinstance(fifo_depth, dict)
                         else fifo_depth)
                inst.set_nodeattr("outFIFODepths", [int(depth)])
            model = model.transform(InsertFIFO(create_shallow_fifos=False))
        model = model.transform(SpecializeLayers(fpga_part))
        model = model.transform(GiveUniqueNodeNames())
    wrong = [n.op_type for n in model.graph.node
             if n.op_type not in LAYER_OP_TYPES + GLUE_OP_TYPES]
    if wrong:
        raise RuntimeError(f"FINN made glue nodes other than RTL converters/FIFOs: {wrong}")
    return model


def generate_stitched_hdl(
    model: Any, inputs: np.ndarray, work_dir: Path, fpga_part: str, clk_ns: float,
    fifo_depth: FifoDepths = None,
) -> tuple[list[LayerHdl], list[int], list[int], dict[str, Any]]:
    """HDL of every node of the glued graph, in stream order, and the whole graph's
    input and expected output words for `inputs` (FINN's Python execution and packing).

    Each node's HDL goes to `work_dir/layers/<node>`; the last item says what was
    inserted (converters, FIFOs with their depths and the layer each one follows).
    """
    from qonnx.custom_op.registry import getCustomOp

    blocker = stitch_blocker(model)
    if blocker:
        raise ValueError(blocker)
    first, last = model.graph.node[0].name, model.graph.node[-1].name
    streams = layer_streams(model, inputs, [first, last])
    glued = insert_glue(model, fpga_part, fifo_depth)
    layers = [generate_layer_hdl(glued, node.name, work_dir / LAYERS_DIR / node.name,
                                 fpga_part, clk_ns)
              for node in glued.graph.node]
    glue = {
        node.name: {"op_type": node.op_type,
                    **({"depth": int(getCustomOp(node).get_nodeattr("depth")),
                        "after": glued.find_producer(node.input[0]).name}
                       if node.op_type.startswith("StreamingFIFO") else {}),
                    "in_width": int(getCustomOp(node).get_instream_width()),
                    "out_width": int(getCustomOp(node).get_outstream_width())}
        for node in glued.graph.node if node.op_type in GLUE_OP_TYPES
    }
    return layers, streams[first][0], streams[last][1], glue
