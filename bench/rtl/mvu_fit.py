"""A resource model of `qnnbench_mvu`, fitted to Yosys measurements of the unit.

FINN estimates its own layers with analytical formulas; our unit gets a small linear
model instead, fitted to `mvu_unit.synthesize_config` over a grid of PE, SIMD, bit widths
and datapaths (`FIT_GRID`), and checked on configurations it never saw (`HELD_OUT`).
The measurements, the coefficients and the held-out errors are stored together in
`mvu_fit.json` next to this module, so the estimate in a record can always be traced
back to the grid it came from.

Logic LUTs are a sum of terms each of which counts a piece of the datapath:

* per lane (PE·SIMD of them) the product or shift (int: A·W bits of multiplier, unless
  the product goes to a DSP; pot: a POT_EXPS-way mux on A+POT_EXPS bits, selected by
  the exponent code's bits) and its share of the adder tree (product-width bits; the
  tree has exactly SIMD inputs for either datapath, PoT's negative-weight correction
  being in the memory contents);
* per PE the accumulator (ACC bits) and the threshold comparators ((2^T-1)·ACC bits);
* a constant for the stream control.

Memories are counted by Yosys as LUTRAM or BRAM; they are modelled by the bits they
hold (PoT without thresholds has a small start-value memory besides the weights).
`python -m bench.rtl.mvu_fit WORK_DIR` measures the grid and rewrites the file.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.cost.memory import bram18, in_lutram, lutram_luts
from bench.rtl.mvu_unit import MvuConfig, synthesize_config

MODEL_FILE = Path(__file__).parent / "mvu_fit.json"
FAMILY = "xc7"
# Yosys maps a multiplier to a DSP from a 9-bit product up (see hdl/README.md).
DSP_PRODUCT_BITS = 9

# (datapath, PE, SIMD, A, W, T, MW, MH): T=0 is a unit without thresholds (last layer).
Row = tuple[str, int, int, int, int, int, int, int]
_SHAPES: list[tuple[int, int, int, int, int, int, int]] = [
    (4, 4, 2, 2, 2, 64, 64), (2, 8, 3, 3, 3, 64, 64), (8, 2, 4, 4, 4, 64, 64),
    (4, 4, 5, 5, 5, 64, 64), (4, 4, 8, 4, 4, 64, 64), (2, 4, 2, 4, 0, 64, 16),
    (8, 4, 3, 2, 3, 64, 32), (4, 2, 5, 3, 0, 64, 16),
]
_HELD: list[tuple[int, int, int, int, int, int, int]] = [
    (4, 4, 3, 3, 3, 64, 64), (4, 4, 4, 4, 4, 64, 64),
]
FIT_GRID: list[Row] = [(dp, *s) for dp in ("int", "pot") for s in _SHAPES]
HELD_OUT: list[Row] = [(dp, *s) for dp in ("int", "pot") for s in _HELD]
# Integer units synthesized with DSPs off (`-nodsp`), so that the multiplier term is also
# fitted on products of 9+ bits, which with DSPs on never reach the LUTs.
NODSP_FIT: list[Row] = [("int", 4, 4, 5, 5, 5, 64, 64), ("int", 4, 4, 8, 4, 4, 64, 64),
                        ("int", 4, 8, 8, 8, 0, 64, 32), ("int", 8, 4, 6, 6, 3, 64, 32)]
NODSP_HELD: list[Row] = [("int", 4, 4, 8, 6, 4, 64, 64)]
# Wide units (256-512 lanes), the size a folding search reaches when it fills a board:
# fitted on small units alone, the model overestimated such PoT units by up to 29 %.
WIDE_FIT: list[Row] = [("pot", 4, 64, 4, 3, 4, 64, 64), ("pot", 8, 64, 4, 2, 4, 64, 64),
                       ("pot", 4, 64, 4, 4, 4, 64, 64), ("int", 2, 64, 4, 4, 4, 64, 64)]
WIDE_NODSP_FIT: list[Row] = [("int", 4, 64, 4, 4, 4, 64, 64)]
WIDE_HELD: list[Row] = [("pot", 8, 64, 4, 3, 4, 64, 64), ("int", 8, 64, 4, 3, 4, 64, 64)]


def row_dsp(measured: dict[str, Any]) -> bool:
    """Whether a measured row was synthesized with DSPs allowed (rows without the field
    predate the `-nodsp` rows and were)."""
    return measured.get("dsp_policy", "auto") == "auto"


def config(row: Row) -> MvuConfig:
    dp, pe, simd, a, w, t, mw, mh = row
    return MvuConfig(mw, mh, pe, simd, a, w, dp, t)  # type: ignore[arg-type]


def uses_dsp(cfg: MvuConfig, dsp: bool = True) -> bool:
    """Whether Yosys puts the lane's multiplier into a DSP (int only; pot has none);
    `dsp=False` is synthesis with DSPs off (`-nodsp`), where every product is logic."""
    return dsp and not cfg.pot and cfg.a_bits + cfg.w_bits >= DSP_PRODUCT_BITS


def features(cfg: MvuConfig, dsp: bool = True) -> list[float]:
    """The logic-LUT model's terms for one unit (see the module docstring)."""
    lanes = cfg.pe * cfg.simd
    if cfg.pot:
        product = cfg.a_bits + cfg.exps
        mul = product * cfg.exp_bits  # a mux selected by the exponent code
    else:
        product = cfg.a_bits + cfg.w_bits
        mul = 0 if uses_dsp(cfg, dsp) else cfg.a_bits * cfg.w_bits
    thresholds = (1 << cfg.t_bits) - 1 if cfg.t_bits else 0
    return [1.0, lanes * mul, lanes * product, cfg.pe * cfg.acc_bits,
            cfg.pe * thresholds * cfg.acc_bits]


def memories(cfg: MvuConfig) -> list[tuple[int, int]]:
    """(depth, width) of the unit's memories: weights, input buffer, thresholds or (pot
    without thresholds) the accumulator start values."""
    thresholds = (1 << cfg.t_bits) - 1 if cfg.t_bits else 0
    mems = [(cfg.nf * cfg.sf, cfg.pe * cfg.simd * cfg.code_bits), (cfg.sf, cfg.in_width)]
    if thresholds:
        mems.append((cfg.nf, cfg.pe * thresholds * cfg.acc_bits))
    if cfg.has_init:
        mems.append((cfg.nf, cfg.pe * cfg.init_bits))
    return mems


def memory_features(cfg: MvuConfig) -> list[float]:
    """LUTRAM term: the RAM64M LUTs of the memories Yosys keeps out of block RAM."""
    return [float(sum(lutram_luts(d, w) for d, w in memories(cfg) if in_lutram(d, w)))]


def bram_estimate(cfg: MvuConfig) -> int:
    return sum(bram18(d, w) for d, w in memories(cfg) if not in_lutram(d, w))


def measure(rows: list[Row], work_dir: Path, dsp: bool = True) -> list[dict[str, Any]]:
    """Synthesize each configuration (random weights of its kind); one dict per row."""
    out = []
    for row in rows:
        cfg = config(row)
        name = "_".join(str(v) for v in row) + ("" if dsp else "_nodsp")
        done = work_dir / name / "result.json"
        if done.is_file():  # a rerun resumes an interrupted grid
            out.append(json.loads(done.read_text()))
            continue
        started = time.monotonic()
        res = synthesize_config(cfg, work_dir / name, FAMILY, dsp)
        out.append({"config": list(row), **({} if dsp else {"dsp_policy": "off"}),
                    "lut": res.lut, "lutram": res.lutram, "ff": res.ff,
                    "carry": res.carry, "bram18": res.bram18, "dsp": res.dsp,
                    "logic_delay": res.logic_delay,
                    "seconds": round(time.monotonic() - started, 1)})
        done.write_text(json.dumps(out[-1]))
        print(json.dumps(out[-1]), flush=True)
    return out


def fit(measured: list[dict[str, Any]]) -> dict[str, Any]:
    """Non-negative least squares per datapath: logic LUTs, LUTRAM and FFs."""
    from scipy.optimize import nnls

    coefficients: dict[str, Any] = {}
    for dp in ("int", "pot"):
        rows = [m for m in measured if m["config"][0] == dp]
        cfgs = [config(tuple(m["config"])) for m in rows]  # type: ignore[arg-type]
        x = np.array([features(c, row_dsp(m)) for c, m in zip(cfgs, rows, strict=True)])
        xm = np.array([memory_features(c) for c in cfgs])
        coefficients[dp] = {
            "lut": nnls(x, np.array([m["lut"] for m in rows], float))[0].tolist(),
            "lutram": nnls(xm, np.array([m["lutram"] for m in rows], float))[0].tolist(),
            "ff": nnls(x, np.array([m["ff"] for m in rows], float))[0].tolist(),
        }
    return coefficients


def predict(cfg: MvuConfig, model: dict[str, Any] | None = None, dsp: bool = True
            ) -> dict[str, float]:
    """Estimated LUT (logic + LUTRAM), LUTRAM, FF and DSP of one unit (`dsp`: whether
    synthesis may use DSPs)."""
    coef = (model or load_model())["coefficients"][cfg.datapath]
    f, fm = features(cfg, dsp), memory_features(cfg)
    logic = float(np.dot(coef["lut"], f))
    lutram = float(np.dot(coef["lutram"], fm))
    return {"lut": logic + lutram, "logic_lut": logic, "lutram": lutram,
            "ff": float(np.dot(coef["ff"], f)),
            "dsp": float(cfg.pe * cfg.simd if uses_dsp(cfg, dsp) else 0),
            "bram18": float(bram_estimate(cfg))}


def errors(model: dict[str, Any], measured: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Relative error of each prediction against its measurement."""
    rows = []
    for m in measured:
        p = predict(config(tuple(m["config"])), model, row_dsp(m))  # type: ignore[arg-type]
        total = m["lut"] + m["lutram"]
        rows.append({"config": m["config"], **({} if row_dsp(m) else {"dsp_policy": "off"}),
                     "lut_measured": total, "lut_estimated":
                     round(p["lut"], 1), "lut_error": round((p["lut"] - total) / total, 4),
                     "ff_error": round((p["ff"] - m["ff"]) / m["ff"], 4),
                     "dsp_ok": p["dsp"] == m["dsp"], "bram18_ok": p["bram18"] == m["bram18"]})
    return rows


_CACHE: dict[str, Any] = {}


def load_model(path: Path = MODEL_FILE) -> dict[str, Any]:
    """The stored model (coefficients, the grid it was fitted on, held-out errors)."""
    key = str(path)
    if key not in _CACHE:
        if not path.is_file():
            raise FileNotFoundError(f"no fitted model at {path}: run python -m "
                                    "bench.rtl.mvu_fit WORK_DIR")
        _CACHE[key] = json.loads(path.read_text())
    return _CACHE[key]


def build_model(fit_rows: list[dict[str, Any]], held_rows: list[dict[str, Any]]
                ) -> dict[str, Any]:
    from bench.rtl.tools import tool_versions

    model: dict[str, Any] = {
        "description": "qnnbench_mvu resources fitted to Yosys synth_xilinx -family xc7 "
        "-abc9 (whole unit, random weights); see bench/rtl/mvu_fit.py",
        "features": ["1", "PE*SIMD*mul", "PE*SIMD*product_bits", "PE*ACC",
                     "PE*(2^T-1)*ACC"],
        "memory_features": ["sum over LUTRAM memories of 4*ceil(width/3)*ceil(depth/64)"],
        "bram18": "per memory whose RAM64M LUTs reach 64 per RAMB18 it needs: fewest "
                  "RAMB18 of 512x36, 1Kx18, ...",
        "tools": dict(tool_versions()),
        "fit_grid": fit_rows, "held_out": held_rows,
    }
    model["coefficients"] = fit(fit_rows)
    model["held_out_errors"] = errors(model, held_rows)
    model["fit_errors"] = errors(model, fit_rows)
    return model


def _reuse_stored(work_dir: Path) -> None:
    """Put the stored model's measurements where `measure` resumes from, so that a grid
    grown by new rows synthesizes only those."""
    if not MODEL_FILE.is_file():
        return
    old = json.loads(MODEL_FILE.read_text())
    for m in old["fit_grid"] + old["held_out"]:
        name = "_".join(str(v) for v in m["config"]) + ("" if row_dsp(m) else "_nodsp")
        done = work_dir / name / "result.json"
        if not done.is_file():
            done.parent.mkdir(parents=True, exist_ok=True)
            done.write_text(json.dumps(m))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--refit", action="store_true",
                        help="refit the stored measurements, synthesize nothing")
    args = parser.parse_args()
    if args.refit:
        old = json.loads(MODEL_FILE.read_text())
        fit_rows, held_rows = old["fit_grid"], old["held_out"]
    else:
        _reuse_stored(args.work_dir)
        fit_rows = (measure(FIT_GRID + WIDE_FIT, args.work_dir)
                    + measure(NODSP_FIT + WIDE_NODSP_FIT, args.work_dir, dsp=False))
        held_rows = (measure(HELD_OUT + WIDE_HELD, args.work_dir)
                     + measure(NODSP_HELD, args.work_dir, dsp=False))
    model = build_model(fit_rows, held_rows)
    MODEL_FILE.write_text(json.dumps(model, indent=1) + "\n")
    for e in model["held_out_errors"]:
        print(e)


if __name__ == "__main__":
    main()
