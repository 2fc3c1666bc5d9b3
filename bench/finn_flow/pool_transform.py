"""Replace FINN's max pools (`Pool` nodes, Function "MaxPool") by our unit
(`QnnbenchPool_rtl`), and the one entry point that puts all our units in (`use_our_units`).

Our units go in together: `--mvu rtl` asks for our RTL wherever it computes what FINN's
layer computes, and a convolutional network can only be stitched when its pools are ours
too (FINN's Pool is HLS only). The pool unit computes exactly FINN's max pool for any
integer, binary or bipolar elements and any folding, so every MaxPool is converted; other
pooling functions (average, accumulate) are not the unit's and stay FINN's, with the
reason.
"""

from __future__ import annotations

from typing import Any

from qonnx.transformation.base import Transformation

from bench.core.op_kinds import without_suffix

# attributes of FINN's Pool the unit's node keeps (shapes, types, folding)
POOL_ATTRS = ("Channels", "PE", "KernelSize", "Function", "OutImgDims", "InputDataType",
              "OutputDataType", "BatchSize")


def _blocker(inst: Any) -> str | None:
    """Why the unit cannot take this Pool node's place; None if it can."""
    function = inst.get_nodeattr("Function")
    if function != "MaxPool":
        return f"{function} is not max pooling (the unit's only function)"
    kh, kw = inst.get_nodeattr("KernelSize")
    oh, ow = inst.get_nodeattr("OutImgDims")
    if kh != kw or oh != ow:
        return f"non-square kernel or image ({kh}x{kw} over {oh}x{ow})"
    if not inst.get_input_datatype().is_integer():
        return f"inputs {inst.get_input_datatype().name} are not integers"
    return None


class UseQnnbenchPool(Transformation):
    """Pool (MaxPool) -> QnnbenchPool_rtl, in place, same tensors; `kept` says why a
    pool stayed FINN's and `units` which node each new one replaces."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: dict[str, str] = {}
        self.units: dict[str, dict[str, Any]] = {}

    def apply(self, model: Any) -> tuple[Any, bool]:
        from onnx import helper
        from qonnx.custom_op.registry import getCustomOp

        from bench.finn_flow import pool_op

        count = sum(n.op_type == pool_op.RTL_OP_TYPE for n in model.graph.node)
        for node in list(model.graph.node):
            if without_suffix(node.op_type) != "Pool":
                continue
            inst = getCustomOp(node)
            reason = _blocker(inst)
            if reason:
                self.kept[node.name] = reason
                continue
            name = f"{pool_op.RTL_OP_TYPE}_{count}"
            count += 1
            attrs = {a: inst.get_nodeattr(a) for a in POOL_ATTRS}
            new = helper.make_node(
                pool_op.RTL_OP_TYPE, list(node.input), list(node.output), name=name,
                domain=pool_op.RTL_DOMAIN, backend="fpgadataflow", **attrs)
            index = list(model.graph.node).index(node)
            model.graph.node.insert(index, new)
            model.graph.node.remove(node)
            self.units[name] = {"replaces": node.name, "unit": "maxpool"}
        return model, False


def use_qnnbench_pool(model: Any) -> tuple[Any, dict[str, dict[str, Any]], dict[str, str]]:
    """The converted graph, per new node the pool it replaces, per kept pool why."""
    pass_ = UseQnnbenchPool()
    model = model.transform(pass_)
    return model, pass_.units, pass_.kept


def use_our_units(model: Any, use_dsp: bool = True
                  ) -> tuple[Any, dict[str, dict[str, Any]], dict[str, str]]:
    """FINN's MVAUs and max pools replaced by our units wherever they compute the same
    (`--mvu rtl`): the graph, per new node what it is (an MVU's datapath, a pool's
    `unit`), per kept node why. `use_dsp`: the MVUs are estimated with DSPs allowed."""
    from bench.finn_flow.mvu_transform import use_qnnbench_mvu

    model, mvus, kept_mvus = use_qnnbench_mvu(model, use_dsp)
    model, pools, kept_pools = use_qnnbench_pool(model)
    return model, {**mvus, **pools}, {**kept_mvus, **kept_pools}


__all__ = ["UseQnnbenchPool", "use_our_units", "use_qnnbench_pool"]
