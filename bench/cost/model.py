"""Calibrated layer costs: models fitted to Yosys measurements of FINN's RTL layers.

One model per (layer type, Yosys family). LUTs (logic plus LUT RAM), flip-flops and the
logic delay are non-negative weights on the terms of `bench.cost.features`, fitted by
relative least squares, so a 100-LUT layer counts as much as a 10,000-LUT one. Block RAM
and DSPs are counts, not fitted: each model picks, from a few exact rules (our memory
rule, the DSP packing of FINN's RTL MVU, FINN's own formula, none), the one that matched
the most calibration rows, and the check reports how often it matches configurations the
fit never saw.

`calibration.json` beside this module holds the coefficients, the chosen rules, the
held-out errors and the tool versions; `qnnbench calibrate` rebuilds it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.cost import features
from bench.cost.memory import bram18

CALIBRATION_FILE = Path(__file__).parent / "calibration.json"
CORPUS_FILE = Path(__file__).parent / "corpus.json"
# Op types whose RTL instantiates DSP primitives: their model is family specific. The
# others are LUT and flip-flop logic, priced alike on every family with 6-input LUTs.
FAMILY_SPECIFIC = ("MVAU_rtl",)
GOAL_LUT_SMAPE = 0.10


@dataclass(frozen=True)
class LayerCost:
    lut: float
    ff: float
    bram18: float
    dsp: float
    delay_ns: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


# -- counting rules (BRAM, DSP) ----------------------------------------------------------


def memory_bram18(config: features.Config) -> int:
    op_type = config["op_type"]
    return sum(bram18(d, w) for d, w in features.MEMORIES[op_type](config)
               if features.in_block_ram(op_type, d, w))


# Width of the DSP's A port, into which FINN's RTL MVU packs several weights side by side
# (DSP48E1 on 7-series, DSP48E2 on UltraScale+).
DSP_A_WIDTH = {"xc7": 25, "xcup": 27}


def packed_dsps(config: features.Config, family: str) -> int:
    """DSPs of FINN's RTL MVU: each DSP multiplies one activation by the weights of several
    PEs packed into its A port, in lanes of W + A - 1 bits (narrow-range weights, as the
    DSP48E1 variant requires), so PE rows share a DSP per SIMD lane."""
    w, a = config["w_bits"], config["a_bits"]
    width = DSP_A_WIDTH[family]
    lanes = 1 if width == w else 1 + (width - w) // (w + a - 1)
    return math.ceil(config["pe"] / lanes) * config["simd"]


def count_rule(rule: str, resource: str, config: features.Config,
               finn: dict[str, float], family: str = "xc7") -> float:
    """A BRAM or DSP count by a named rule (see the module docstring)."""
    if rule == "memories":
        return float(memory_bram18(config))
    if rule == "packed":
        return float(packed_dsps(config, family)) if "w_bits" in config else 0.0
    if rule == "finn":
        return float(finn.get(resource, 0.0))
    if rule == "none":
        return 0.0
    raise ValueError(f"unknown counting rule {rule!r}")


COUNT_RULES = {"bram18": ("memories", "finn", "none"), "dsp": ("none", "packed", "finn")}


# -- fitting -------------------------------------------------------------------------------


def lut_terms(config: features.Config) -> dict[str, float]:
    return {**features.LOGIC[config["op_type"]](config),
            "LUTRAM LUTs": features.lutram_term(config)}


def _relative_nnls(terms: list[dict[str, float]], target: list[float]) -> dict[str, float]:
    from scipy.optimize import nnls

    names = list(terms[0])
    x = np.array([[t[n] for n in names] for t in terms], dtype=float)
    y = np.array(target, dtype=float)
    scale = 1.0 / np.maximum(y, 1.0)
    coef = nnls(x * scale[:, None], y * scale)[0]
    return {n: round(float(c), 6) for n, c in zip(names, coef, strict=True)}


def _dot(coef: dict[str, float], terms: dict[str, float]) -> float:
    return float(sum(coef[n] * terms.get(n, 0.0) for n in coef))


def measured_lut(row: dict[str, Any]) -> float:
    """Yosys reports logic LUTs and LUT RAM apart; a layer's LUTs are both."""
    return float(row["lut"] + row["lutram"])


def fit_type(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One type's model from its calibration rows."""
    configs = [r["config"] for r in rows]
    model: dict[str, Any] = {
        "lut": _relative_nnls([lut_terms(c) for c in configs], [measured_lut(r) for r in rows]),
        "ff": _relative_nnls([lut_terms(c) for c in configs], [r["ff"] for r in rows]),
        "delay_ns": _relative_nnls([features.delay_terms(c) for c in configs],
                                   [r["logic_delay"] for r in rows]),
    }
    for resource, rules in COUNT_RULES.items():
        hits = {rule: sum(count_rule(rule, resource, r["config"], r["finn"],
                                     r["config"]["family"]) == r[resource]
                          for r in rows) for rule in rules}
        model[f"{resource}_rule"] = max(rules, key=lambda rule: hits[rule])
    return model


def lut_per_dsp(pairs: list[dict[str, Any]]) -> float | None:
    """The median LUTs one DSP saves, over designs synthesized with DSPs and without."""
    ratios = sorted((p["off"]["lut"] - p["auto"]["lut"]) / p["auto"]["dsp"]
                    for p in pairs if p["auto"]["dsp"] > 0)
    if not ratios:
        return None
    mid = len(ratios) // 2
    return round(ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2, 1)


def model_key(op_type: str, family: str) -> str:
    return f"{op_type}/{family}"


def fit_all(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["role"] == "fit" and "error" not in row:
            c = row["config"]
            groups.setdefault(model_key(c["op_type"], c["family"]), []).append(row)
    return {key: fit_type(group) for key, group in sorted(groups.items())}


# -- predicting ----------------------------------------------------------------------------


class CostModel:
    """The fitted models, asked per layer."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.models: dict[str, dict[str, Any]] = data.get("models", {})
        # LUTs one DSP stands for (measured pairs), for costs on one axis (`lut_equiv`)
        self.lut_per_dsp: float | None = data.get("lut_per_dsp")

    def model_for(self, op_type: str, family: str) -> dict[str, Any] | None:
        model = self.models.get(model_key(op_type, family))
        if model is None and op_type not in FAMILY_SPECIFIC:
            model = self.models.get(model_key(op_type, "xc7"))
        return model

    def predict(self, config: features.Config, family: str,
                finn: dict[str, float] | None = None) -> LayerCost | None:
        """The calibrated cost of one layer, or None if no model covers it. `finn` is
        FINN's estimate of the same layer, for types whose count rule is FINN's."""
        model = self.model_for(config["op_type"], family)
        if model is None:
            return None
        finn = finn or {}
        terms = lut_terms(config)
        return LayerCost(
            lut=_dot(model["lut"], terms), ff=_dot(model["ff"], terms),
            bram18=count_rule(model["bram18_rule"], "bram18", config, finn, family),
            dsp=count_rule(model["dsp_rule"], "dsp", config, finn, family),
            delay_ns=_dot(model["delay_ns"], features.delay_terms(config)))


_LOADED: dict[str, CostModel] = {}


def load(path: Path = CALIBRATION_FILE) -> CostModel:
    """The stored calibration (an empty model, covering nothing, if there is none)."""
    key = str(path)
    if key not in _LOADED:
        data = json.loads(path.read_text()) if path.is_file() else {}
        _LOADED[key] = CostModel(data)
    return _LOADED[key]


def forget(path: Path = CALIBRATION_FILE) -> None:
    """Drop a loaded calibration, so the next `load` reads the file again."""
    _LOADED.pop(str(path), None)


# -- checking ------------------------------------------------------------------------------


def smape(predicted: list[float], measured: list[float]) -> float:
    """Symmetric mean absolute percentage error, as a fraction (0.1 = 10 %)."""
    terms = [abs(p - m) / ((abs(p) + abs(m)) / 2) if (p or m) else 0.0
             for p, m in zip(predicted, measured, strict=True)]
    return float(sum(terms) / len(terms)) if terms else math.nan


def check(model: CostModel, rows: list[dict[str, Any]], role: str = "held_out"
          ) -> list[dict[str, Any]]:
    """Per model, its errors on the rows of `role` (held-out by default)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    failed: dict[str, int] = {}
    for row in rows:
        key = model_key(row["config"]["op_type"], row["config"]["family"])
        if "error" in row:
            failed[key] = failed.get(key, 0) + 1
        elif row["role"] == role:
            c = row["config"]
            groups.setdefault(model_key(c["op_type"], c["family"]), []).append(row)
    fitted = {key: sum(1 for r in rows if r["role"] == "fit" and "error" not in r
                       and model_key(r["config"]["op_type"], r["config"]["family"]) == key)
              for key in groups}
    table = []
    for key, group in sorted(groups.items()):
        op_type, family = key.split("/")
        preds = [model.predict(r["config"], family, r["finn"]) for r in group]
        if any(p is None for p in preds):
            continue
        pairs = list(zip(preds, group, strict=True))
        lut_err = smape([p.lut for p in preds], [measured_lut(r) for r in group])
        finn_err = smape([r["finn"].get("lut", 0.0) for r in group],
                         [measured_lut(r) for r in group])
        table.append({
            "type": op_type, "family": family, "fit_configs": fitted[key],
            "held_out": len(group), "unbuildable": failed.get(key, 0),
            "lut_smape": lut_err, "finn_lut_smape": finn_err,
            "lut_worst": max(smape([p.lut], [measured_lut(r)]) for p, r in pairs),
            "ff_smape": smape([p.ff for p in preds], [r["ff"] for r in group]),
            "delay_smape": smape([p.delay_ns for p in preds], [r["logic_delay"] for r in group]),
            "bram18_exact": _share(p.bram18 == r["bram18"] for p, r in pairs),
            "dsp_exact": _share(p.dsp == r["dsp"] for p, r in pairs),
            "meets_goal": lut_err <= GOAL_LUT_SMAPE,
        })
    return table


def _share(flags: Any) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else math.nan
