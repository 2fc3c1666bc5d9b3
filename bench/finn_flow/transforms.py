"""Graph passes of our own, written as QONNX transformations like FINN's."""

from __future__ import annotations

from typing import Any

import numpy as np
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_shapes import InferShapes


class KeepOutputScaleInSoftware(Transformation):
    """Turn a trailing float elementwise HW layer back into a plain ONNX node.

    The per-channel output scale of the last layer is a float multiply; FINN would make it
    a floating-point HW layer. Like FINN's own examples, we leave it to the host: the
    accelerator ends at the integer accumulator, and verification still runs the scale in
    the parent graph.
    """

    def apply(self, model: Any) -> tuple[Any, bool]:
        from onnx import helper

        outputs = {o.name for o in model.graph.output}
        changed = False
        for index, node in enumerate(list(model.graph.node)):
            base = node.op_type.removesuffix("_hls").removesuffix("_rtl")
            if base.startswith("Elementwise") and set(node.output) & outputs:
                onnx_op = base.removeprefix("Elementwise")
                plain = helper.make_node(
                    onnx_op, list(node.input), list(node.output), name=node.name
                )
                model.graph.node.remove(node)
                model.graph.node.insert(index, plain)
                changed = True
        if changed:
            model = model.transform(InferShapes())
        return model, False


def step_keep_output_scale_in_software(model: Any, cfg: Any) -> Any:
    """The transformation as a FINN builder step (FINN calls steps with the build config)."""
    return model.transform(KeepOutputScaleInSoftware())


class ClipUnreachableThresholds(Transformation):
    """Raise the thresholds of a layer with an unsigned input that lie below 0 to 0.

    A float model whose input quantizer is signed, fed unsigned data (pixels scaled to
    0..1 into Brevitas' default signed 8-bit input quantizer), keeps thresholds for the
    negative levels no input reaches; FINN's thresholding layer asserts that an unsigned
    input has none. `x >= t` holds for every x >= 0 alike for all t <= 0, so the layer
    computes the same with those thresholds at 0.
    """

    def apply(self, model: Any) -> tuple[Any, bool]:
        for node in model.graph.node:
            if node.op_type.split("_")[0] != "Thresholding" or len(node.input) < 2:
                continue
            if model.get_tensor_datatype(node.input[0]).signed():
                continue
            thresholds = model.get_initializer(node.input[1])
            if thresholds is not None and (thresholds < 0).any():
                model.set_initializer(node.input[1], np.maximum(thresholds, 0).astype(
                    thresholds.dtype))
        return model, False


def step_clip_unreachable_thresholds(model: Any, cfg: Any) -> Any:
    """`ClipUnreachableThresholds` as a FINN builder step."""
    return model.transform(ClipUnreachableThresholds())
