"""Fit the routing allowance of `timing` on ECP5: routed period against ABC9 logic delay.

Each design of `DESIGNS` (our matrix-vector unit at several PE, SIMD, bit widths, both
datapaths, with and without thresholds) is synthesized by `synth_ecp5` (which maps with
ABC9, as `synth_xilinx -abc9` does, and prints the same `Del` line) and placed and
routed by nextpnr out of context (`ecp5.route`). The routed period and the logic delay
come from the same netlist, so their relation is the overhead of placement, routing,
clock-to-output and setup on that fabric. The same design's `synth_xilinx` logic delay
is measured too, to show what the estimate then says on Xilinx.

Designs are shaped so that their memories stay in LUT RAM on ECP5: a path that starts
at a block RAM's output carries the RAM's clock-to-output (5.6 ns for an unregistered
DP16KD, nextpnr's model), which ABC9's delay leaves out on ECP5. `BRAM_DESIGNS` are
measured to show that; their rows are stored but not fitted.

Three forms are fitted and compared by leave-one-out error of the period:
`ratio` (d·k), `offset` (d + c) and `affine` (a + b·d); the smallest error is chosen.
`python -m bench.rtl.timing_fit WORK_DIR` measures (resumable: each design's result is
kept in WORK_DIR, routes are cached) and rewrites `timing_fit.json`; `--refit` refits
the stored measurements only.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.rtl import ecp5, yosys
from bench.rtl.mvu_unit import TOP, MvuConfig, prepare_unit
from bench.rtl.timing import MODEL_FILE, period_from

# (datapath, PE, SIMD, A, W, T, MW, MH, chain); every weight memory is at most 32 deep.
Row = tuple[str, int, int, int, int, int, int, int, bool]
DESIGNS: list[Row] = [
    ("int", 4, 8, 4, 4, 0, 64, 16, False),
    ("pot", 4, 8, 4, 3, 0, 64, 16, False),
    ("pot", 4, 8, 4, 4, 0, 64, 16, False),
    ("int", 4, 8, 4, 4, 0, 64, 16, True),
    ("int", 4, 4, 2, 2, 2, 32, 16, False),
    ("pot", 4, 4, 2, 3, 2, 32, 16, False),
    ("int", 2, 8, 8, 8, 0, 64, 8, False),
    ("int", 2, 2, 3, 3, 3, 16, 8, False),
    ("pot", 2, 16, 4, 4, 4, 64, 16, False),
    ("int", 8, 8, 3, 3, 3, 64, 32, False),
    ("pot", 8, 8, 2, 2, 0, 64, 32, False),
    ("int", 1, 2, 2, 2, 1, 8, 4, False),
]
# Weight memories 128 deep: block RAM on ECP5 (shown, not fitted).
BRAM_DESIGNS: list[Row] = [
    ("pot", 2, 4, 4, 4, 0, 64, 16, False),
    ("int", 2, 4, 4, 4, 0, 64, 16, False),
]
FORMS = ("ratio", "offset", "affine")
ROUTE_OPTIONS = {"device": "85k", "speed": 6, "clock_mhz": 100.0, "seed": 1}


def config(row: Row) -> MvuConfig:
    dp, pe, simd, a, w, t, mw, mh, chain = row
    return MvuConfig(mw, mh, pe, simd, a, w, dp, t, chain)  # type: ignore[arg-type]


def name(row: Row) -> str:
    return "_".join(str(int(v) if isinstance(v, bool) else v) for v in row)


def critical_path(report: dict[str, Any], netlist: dict[str, Any], top: str
                  ) -> dict[str, Any]:
    """Where nextpnr's critical path starts (the cell type) and how it splits into
    logic and routing: a path from a block RAM is not what ABC9's delay describes."""
    paths = report.get("critical_paths") or []
    if not paths:
        return {}
    steps = paths[0]["path"]
    cells = netlist["modules"][top]["cells"]
    first = steps[0]["from"]["cell"]
    total = {kind: round(sum(s["delay"] for s in steps if s["type"] == kind), 3)
             for kind in ("clk-to-q", "logic", "routing", "setup")}
    return {"path_from": cells.get(first, {}).get("type", "?"),
            **{f"path_{k.replace('-', '_')}_ns": v for k, v in total.items()}}


def measure_one(row: Row, work_dir: Path, cache_dir: Path) -> dict[str, Any]:
    """Route one design on ECP5 and synthesize it for xc7; a JSON-ready row."""
    cfg = config(row)
    started = time.monotonic()
    work = (work_dir / name(row)).resolve()
    sources, memories = prepare_unit(cfg, work)
    res = ecp5.route(sources, TOP, cfg.params(), work, data_files=memories,
                     cache_dir=cache_dir, **ROUTE_OPTIONS)  # type: ignore[arg-type]
    synth_log = work / f"ecp5_{TOP}" / "synth.log"
    ecp5_delay = yosys.parse_logic_delay(synth_log.read_text())
    path = critical_path(json.loads(Path(res.report).read_text()),
                         json.loads(Path(res.netlist).read_text()), TOP)
    xc7 = yosys.synthesize(sources, TOP, work, "xc7", params=cfg.params(), dsp=False)
    period = round(1000.0 / res.fmax_mhz, 3) if res.fmax_mhz else None
    return {
        "config": [*row[:-1], int(row[-1])], "lut4": res.lut4, "ff": res.ff,
        "fmax_mhz": res.fmax_mhz, "routed_period_ns": period,
        "ecp5_logic_delay": ecp5_delay,
        "ratio": round(period / ecp5_delay, 3) if period and ecp5_delay else None,
        **path, "xc7_logic_delay": xc7.logic_delay, "xc7_lut": xc7.lut,
        "pnr_seconds": res.pnr_seconds, "seconds": round(time.monotonic() - started, 1),
    }


def measure(rows: list[Row], work_dir: Path) -> list[dict[str, Any]]:
    """Each design's row, measured once: a rerun reads rows already done (and routes
    are cached by `ecp5.route`), so an interrupted run resumes."""
    out = []
    for row in rows:
        done = work_dir / name(row) / "timing.json"
        if done.is_file():
            out.append(json.loads(done.read_text()))
            continue
        out.append(measure_one(row, work_dir, work_dir / "route_cache"))
        done.write_text(json.dumps(out[-1]))
        print(json.dumps(out[-1]), flush=True)
    return out


def _fit_form(form: str, d: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Least squares of the period in one form (ratio: relative error, so that short
    and long paths weigh alike; the others absolute, in ns)."""
    if form == "ratio":
        r = p / d
        return {"k": float(np.sum(r) / len(r))}
    if form == "offset":
        return {"c": float(np.mean(p - d))}
    b, a = np.polyfit(d, p, 1)
    return {"a": float(a), "b": float(b)}


def fit(measured: list[dict[str, Any]]) -> dict[str, Any]:
    """Every form's parameters, its fit and leave-one-out errors, and the chosen form
    (smallest leave-one-out mean absolute relative error of the period: the error an
    unseen design would have, which a form with more parameters cannot buy by fitting
    the noise of a dozen points)."""
    # a block RAM's clock-to-output is outside ABC9's delay (see the module docstring)
    rows = [m for m in measured if m.get("fitted", True) and m.get("path_from") != "DP16KD"]
    d = np.array([m["ecp5_logic_delay"] for m in rows], float)
    p = np.array([m["routed_period_ns"] for m in rows], float)
    forms: dict[str, Any] = {}
    for form in FORMS:
        params = _fit_form(form, d, p)
        fitted = np.array([period_from(form, params, x) for x in d])
        loo = []
        for i in range(len(d)):
            keep = np.arange(len(d)) != i
            loo.append(period_from(form, _fit_form(form, d[keep], p[keep]), d[i]))
        rel = (fitted - p) / p
        loo_rel = (np.array(loo) - p) / p
        forms[form] = {"params": {k: round(v, 4) for k, v in params.items()},
                       "fit_mean_abs_error": round(float(np.mean(np.abs(rel))), 4),
                       "fit_max_abs_error": round(float(np.max(np.abs(rel))), 4),
                       "loo_mean_abs_error": round(float(np.mean(np.abs(loo_rel))), 4),
                       "loo_max_abs_error": round(float(np.max(np.abs(loo_rel))), 4)}
    best = min(FORMS, key=lambda f: forms[f]["loo_mean_abs_error"])
    ratios = p / d
    return {"forms": forms, "chosen": {"form": best, **forms[best]},
            "ratio_spread": {"min": round(float(ratios.min()), 3),
                             "median": round(float(np.median(ratios)), 3),
                             "max": round(float(ratios.max()), 3),
                             "designs": len(rows)}}


def build_model(measured: list[dict[str, Any]]) -> dict[str, Any]:
    from bench.rtl.tools import ecp5_tool_versions, tool_versions

    return {
        "description": "routed period on ECP5 (nextpnr-ecp5, out of context, LFE5U-85F "
        "speed 6, seed 1, synth_ecp5 -nodsp) against synth_ecp5's ABC9 logic delay of "
        "the same netlist; applied to synth_xilinx -abc9 logic delays by "
        "bench/rtl/timing.py (an assumption: see docs/hardware.md)",
        "tools": {**tool_versions(), **ecp5_tool_versions()},
        "route_options": ROUTE_OPTIONS,
        "measured": measured,
        **fit(measured),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--refit", action="store_true",
                        help="refit the stored measurements, route nothing")
    args = parser.parse_args()
    if args.refit:
        measured = json.loads(MODEL_FILE.read_text())["measured"]
    else:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        measured = measure(DESIGNS, args.work_dir) + [
            {**m, "fitted": False} for m in measure(BRAM_DESIGNS, args.work_dir)]
    model = build_model(measured)
    MODEL_FILE.write_text(json.dumps(model, indent=1) + "\n")
    print(json.dumps({"chosen": model["chosen"], "ratio_spread": model["ratio_spread"]}))


if __name__ == "__main__":
    main()
