"""Graph passes of our own, written as QONNX transformations like FINN's."""

from __future__ import annotations

from typing import Any

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
