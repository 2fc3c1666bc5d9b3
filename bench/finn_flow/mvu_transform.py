"""Replace FINN's MVAU layers by our unit (`QnnbenchMVU_rtl`), where it computes the same.

Runs on a hardware graph after FINN's conversion, specialization and bit-width
minimization, with thresholds fused into the MVAU or standalone right after it. A layer
is converted when the unit computes exactly what FINN's layer computes:

* unsigned integer inputs (the unit has no signed or bipolar activations);
* integer weights of at least two levels' width (no binary XNOR mode);
* thresholds, if any, counted into an unsigned output with no bias (`ActVal` 0): FINN's
  layers with an output bias or signed/bipolar outputs stay FINN's, with the reason;
* without thresholds, a signed accumulator (the unit outputs two's complement).

The datapath is `pot` when every weight is 0 or ±2^k (FINN holds our PoT weights as
those integers; ternary weights qualify too) and `int` otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qonnx.transformation.base import Transformation

from bench.core.op_kinds import without_suffix
from bench.rtl.mvu_unit import accumulator_bits


def pot_bits(weights: np.ndarray) -> int | None:
    """The smallest PoT quantizer bits n (>= 2) holding these integer weights, or None if
    some weight is not 0 or ±2^k."""
    mag = np.abs(np.asarray(weights, dtype=np.float64))
    nonzero = mag[mag > 0]
    if nonzero.size == 0:
        return 2
    k = np.log2(nonzero)
    if not np.all(k == np.round(k)) or k.min() < 0:
        return None
    n = 2
    while (1 << (n - 1)) - 1 <= int(k.max()):
        n += 1
    return n


def int_bits(weights: np.ndarray) -> int:
    """The fewest signed bits (at least 2, the unit's minimum) holding every weight."""
    w = np.asarray(weights, dtype=np.float64)
    lo, hi = int(w.min()), int(w.max())
    bits = 2
    while lo < -(1 << (bits - 1)) or hi > (1 << (bits - 1)) - 1:
        bits += 1
    return bits


def _unsigned_count(inst: Any, thresholds: np.ndarray) -> str | None:
    """Why thresholds with this node's output type are not the unit's count, or None."""
    odt = inst.get_output_datatype()
    if odt.name == "BIPOLAR" or odt.signed() or not odt.is_integer():
        return f"thresholds give a signed output ({odt.name}); the unit counts into " \
            "an unsigned one"
    if int(inst.get_nodeattr("ActVal")) != 0:
        return f"thresholds carry an output bias (ActVal={inst.get_nodeattr('ActVal')}); " \
            "the unit has none"
    if thresholds.shape[-1] > (1 << odt.bitwidth()) - 1:
        return f"{thresholds.shape[-1]} thresholds do not fit a {odt.name} count"
    return None


class UseQnnbenchMVU(Transformation):
    """MVAU (+ its thresholds) -> QnnbenchMVU_rtl; `kept` says why a layer stayed FINN's
    and `datapaths` which datapath each new node got."""

    def __init__(self, use_dsp: bool = True) -> None:
        super().__init__()
        self.use_dsp = use_dsp
        self.kept: dict[str, str] = {}
        self.datapaths: dict[str, dict[str, Any]] = {}

    def apply(self, model: Any) -> tuple[Any, bool]:
        from qonnx.custom_op.registry import getCustomOp

        from bench.finn_flow import mvu_op

        count = sum(n.op_type == mvu_op.RTL_OP_TYPE for n in model.graph.node)
        for node in list(model.graph.node):
            if without_suffix(node.op_type) != "MVAU":
                continue
            inst = getCustomOp(node)
            plan = self._plan(model, node, inst)
            if isinstance(plan, str):
                self.kept[node.name] = plan
                continue
            name = f"{mvu_op.RTL_OP_TYPE}_{count}"
            count += 1
            self._replace(model, node, inst, name, *plan)
        return model, False

    def _plan(self, model: Any, node: Any, inst: Any) -> str | tuple[Any, ...]:
        """Why not (a string), or (threshold node or None, thresholds or None, datapath,
        unit W bits, output datatype name, unit accumulator bits)."""
        if inst.get_nodeattr("binaryXnorMode"):
            return "binary XNOR layer"
        idt = inst.get_input_datatype(0)
        if idt.signed() or not idt.is_integer() or idt.name == "BIPOLAR":
            return f"inputs {idt.name} are not unsigned integers (the unit's activations)"
        weights = model.get_initializer(node.input[1])
        if weights is None or not np.all(weights == np.round(weights)):
            return "weights are not integer constants"
        thr_node, thresholds, odt = None, None, inst.get_output_datatype()
        if inst.get_nodeattr("noActivation") == 0:
            thresholds = model.get_initializer(node.input[2])
            reason = _unsigned_count(inst, thresholds)
            if reason:
                return reason
        else:
            consumers = model.find_consumers(node.output[0]) or []
            if len(consumers) == 1 and without_suffix(consumers[0].op_type) == "Thresholding":
                from qonnx.custom_op.registry import getCustomOp

                thr_node = consumers[0]
                thr_inst = getCustomOp(thr_node)
                thresholds = model.get_initializer(thr_node.input[1])
                if thresholds is None:
                    return "thresholds are not constants"
                reason = _unsigned_count(thr_inst, thresholds)
                if reason:
                    return reason
                odt = thr_inst.get_output_datatype()
            elif not odt.signed():
                return f"unsigned accumulator {odt.name}; the unit's is two's complement"
        n = pot_bits(weights)
        datapath, w_bits = ("pot", n) if n is not None else ("int", int_bits(weights))
        acc_bits = 0
        if thresholds is not None:
            acc = inst.get_accumulator_datatype()
            # the unit's accumulator: pot's goes below W·x by the count of negative
            # weights (their +1s are folded into the thresholds), which FINN's type
            # need not cover
            unit_weights = np.asarray(weights, dtype=np.float64).T.round().astype(np.int64)
            acc_bits = max(acc.bitwidth() + (0 if acc.signed() else 1),
                           int_bits(np.ceil(thresholds)),
                           accumulator_bits(unit_weights, idt.bitwidth(), datapath))
            if thresholds.shape[-1] < (1 << odt.bitwidth()) - 1:
                acc_bits += 1  # room for padding thresholds no accumulator reaches
        return thr_node, thresholds, datapath, w_bits, odt.name, acc_bits

    def _replace(self, model: Any, node: Any, inst: Any, name: str, thr_node: Any,
                 thresholds: np.ndarray | None, datapath: str, w_bits: int,
                 odt: str, acc_bits: int) -> None:
        from onnx import helper

        from bench.finn_flow import mvu_op

        inputs = [node.input[0], node.input[1]]
        output = node.output[0]
        if thresholds is not None:
            thr_name = node.input[2] if thr_node is None else thr_node.input[1]
            # integer accumulators meet t exactly when they meet ceil(t)
            model.set_initializer(thr_name, np.ceil(thresholds).astype(np.float32))
            inputs.append(thr_name)
        if thr_node is not None:
            output = thr_node.output[0]
        attrs = {a: inst.get_nodeattr(a) for a in (
            "MW", "MH", "PE", "SIMD", "inputDataType", "weightDataType", "accDataType",
            "numInputVectors")}
        new = helper.make_node(
            mvu_op.RTL_OP_TYPE, inputs, [output], name=name, domain=mvu_op.RTL_DOMAIN,
            backend="fpgadataflow", outputDataType=odt,
            noActivation=0 if thresholds is not None else 1, ActVal=0,
            datapath=datapath, unitWBits=int(w_bits), unitAccBits=int(acc_bits),
            unitDsp=int(self.use_dsp), mem_mode="internal_embedded",
            **attrs)
        index = list(model.graph.node).index(node)
        model.graph.node.insert(index, new)
        model.graph.node.remove(node)
        if thr_node is not None:
            model.graph.node.remove(thr_node)
        self.datapaths[name] = {"replaces": node.name, "datapath": datapath,
                                "w_bits": int(w_bits), "thresholds": thresholds is not None,
                                "acc_bits": int(acc_bits)}


def use_qnnbench_mvu(model: Any, use_dsp: bool = True
                     ) -> tuple[Any, dict[str, dict[str, Any]], dict[str, str]]:
    """The converted graph, per new node its datapath, per kept MVAU why; `use_dsp`: the
    units are estimated as synthesized with DSPs allowed."""
    pass_ = UseQnnbenchMVU(use_dsp)
    model = model.transform(pass_)
    return model, pass_.datapaths, pass_.kept


__all__ = ["UseQnnbenchMVU", "int_bits", "pot_bits", "use_qnnbench_mvu"]
