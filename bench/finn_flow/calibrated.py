"""The calibrated cost of each node of a hardware graph, beside FINN's estimate of it.

A node whose type has a model fitted to our Yosys measurements (`bench.cost`) gets that
model's cost; our own unit's estimate is already such a model (`bench.rtl.mvu_fit`);
every other node keeps FINN's estimate and says so (`cost_source`). Totals add the two
kinds, so a record always prices the whole graph and states how much of it was measured
truth (`cost_coverage`, the share of nodes with a calibrated model).
"""

from __future__ import annotations

from typing import Any

from bench.cost.model import CostModel, load
from bench.finn_flow.single_layer import layer_config

CALIBRATED, FINN = "calibrated", "finn"
RESOURCES = ("lut", "ff", "bram18", "uram", "dsp")
# Our units register in FINN with estimates fitted to (or stated from) Yosys measurements.
SELF_CALIBRATED = ("QnnbenchMVU_rtl", "QnnbenchPool_rtl")


def node_cost(inst: Any, family: str, finn: dict[str, float],
              model: CostModel | None = None) -> dict[str, Any]:
    """{lut, ff, bram18, uram, dsp, cost_source} of one node (a CustomOp); `finn` is FINN's
    estimate of it with our keys (lut, bram18, uram, dsp)."""
    op_type = inst.onnx_node.op_type
    if op_type in SELF_CALIBRATED:
        unit = inst.unit_estimate()
        return {**{r: float(finn.get(r, 0.0)) for r in RESOURCES}, "ff": unit["ff"],
                "cost_source": CALIBRATED}
    config = layer_config(inst)
    predicted = None
    if config is not None:
        predicted = (model or load()).predict(config, family, finn)
    if predicted is None:
        return {**{r: float(finn.get(r, 0.0)) for r in RESOURCES}, "ff": None,
                "cost_source": FINN}
    return {"lut": predicted.lut, "ff": predicted.ff, "bram18": predicted.bram18,
            "uram": 0.0, "dsp": predicted.dsp, "cost_source": CALIBRATED}


def finn_only(est: Any) -> Any:
    """An estimate as FINN's own build reports it: without the calibrated costs and
    cycles (for comparing the in-memory estimate with FINN's)."""
    import dataclasses

    per_layer = {name: {k: v for k, v in layer.items()
                        if not k.startswith("cal_") and k != "cost_source"}
                 for name, layer in est.per_layer.items()}
    return dataclasses.replace(est, per_layer=per_layer, calibrated={}, cal_max_cycles=None)


def totals(per_node: dict[str, dict[str, Any]], model: CostModel | None = None
           ) -> dict[str, Any]:
    """Summed costs (FF only over nodes that have one), the calibrated share, and the
    LUTs and DSPs on one axis (`lut_equiv`, DSPs at their measured LUT price)."""
    result: dict[str, Any] = {r: sum(float(c[r] or 0.0) for c in per_node.values())
                              for r in RESOURCES}
    calibrated = sum(c["cost_source"] == CALIBRATED for c in per_node.values())
    result["cost_coverage"] = calibrated / len(per_node) if per_node else 0.0
    price = (model or load()).lut_per_dsp
    result["lut_equiv"] = result["lut"] + price * result["dsp"] if price else None
    return result
