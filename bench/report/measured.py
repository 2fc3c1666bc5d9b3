"""Estimated vs measured hardware of the RTL layers (records of `--target rtl`).

A record's `rtl_layers` (a JSON string in the collected DataFrame) has one row per
hardware node: FINN's estimate (`est_lut`, `est_dsp`, `est_bram18`, `est_cycles`) and, for
the layers measured, Yosys' counts (`lut` logic, `lutram` LUTs used as memory, `ff`,
`bram18`, `dsp`) and Verilator's cycles per input (`sim_cycles_per_input`). Layers
without a measurement carry the reason (`impl`, `reason`).

Measured LUTs are logic plus memory LUTs, as FINN's LUT estimate counts both (its weight
and threshold memories in distributed RAM) and as Vivado reports total LUTs. FINN
estimates no flip-flops, so FF is measured only. All of it is Yosys' `synth_xilinx`
mapping before place and route.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from bench.report.collect import ok_rows
from bench.report.table_model import Table, bits_text, empty_table, fmt_amount, fmt_float

SOURCE = "Yosys synth_xilinx, before place and route"
# (label, estimate column, measured column) per compared quantity; FF has no estimate
METRICS = (("LUT", "est_lut", "lut_total"), ("FF", None, "ff"),
           ("DSP", "est_dsp", "dsp"), ("BRAM18", "est_bram18", "bram18"),
           ("cycles", "est_cycles", "sim_cycles_per_input"))
_KEYS = ["run_id", "model", "dataset", "weight_bits", "act_bits", "weight_quant",
         "folding_label"]


def _rows(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []


def rtl_layer_frame(df: pd.DataFrame) -> pd.DataFrame:
    """One row per layer of every successful record with RTL data (empty frame if none)."""
    ok = ok_rows(df)
    if ok.empty or "rtl_layers" not in ok.columns:
        return pd.DataFrame()
    rows = []
    for _, record in ok[ok["rtl_layers"].notna()].iterrows():
        context = {k: record.get(k) for k in _KEYS}
        for layer in _rows(record["rtl_layers"]):
            rows.append({**context, **layer})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    for col in ("lut", "lutram", "ff", "dsp", "bram18", "sim_cycles_per_input", "est_lut",
                "est_dsp", "est_bram18", "est_cycles", "fmax_est_mhz"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce") if col in frame else np.nan
    frame["measured"] = frame["lut"].notna()
    frame["lut_total"] = frame["lut"] + frame["lutram"].fillna(0)
    return frame


def rtl_comparison(df: pd.DataFrame) -> pd.DataFrame:
    """Per record and layer type (measured layers only): layer count, FINN's estimate and
    the measurement summed over the layers, and measured/estimated ratios."""
    layers = rtl_layer_frame(df)
    if layers.empty or not layers["measured"].any():
        return pd.DataFrame()
    measured = layers[layers["measured"]]
    sums = {col: (col, lambda s: s.sum(min_count=1)) for _, est, meas in METRICS
            for col in (est, meas) if col is not None}
    out = (measured.groupby([*_KEYS, "op_type"], dropna=False)
           .agg(layers=("node", "count"), **sums,
                fmax_est_mhz=("fmax_est_mhz", "min")).reset_index())
    for label, est, meas in METRICS:
        if est is not None:
            ratio = out[meas] / out[est].where(out[est] > 0)
            out[f"ratio_{label.lower()}"] = ratio
    return out


def rtl_table(df: pd.DataFrame) -> Table:
    """Estimated vs measured per record and layer type, summed over that type's layers."""
    title = f"Estimated vs measured RTL layers ({SOURCE})"
    comp = rtl_comparison(df)
    if comp.empty:
        return empty_table("rtl", title, "no record with measured RTL layers (--target rtl)")
    header = ["model", "W/A", "folding", "layer type", "layers", "LUT est.", "LUT meas.",
              "×", "FF meas.", "DSP est.", "DSP meas.", "BRAM18 est.", "BRAM18 meas.",
              "cycles est.", "cycles meas.", "×", "Fmax est. (MHz)"]
    rows, starts, previous = [], [], None
    comp = comp.sort_values(["model", "dataset", "weight_bits", "act_bits", "folding_label",
                             "op_type"])
    for i, r in enumerate(comp.itertuples(index=False)):
        head = (r.model, bits_text(r.weight_bits, r.act_bits, r.weight_quant),
                str(r.folding_label or ""))
        if head != previous:
            starts.append(i)
        rows.append([*(head if head != previous else ("", "", "")),
                     str(r.op_type).removesuffix("_rtl"), str(r.layers),
                     fmt_amount(r.est_lut), fmt_amount(r.lut_total), _ratio(r.ratio_lut),
                     fmt_amount(r.ff), fmt_amount(r.est_dsp), fmt_amount(r.dsp),
                     fmt_amount(r.est_bram18), fmt_amount(r.bram18),
                     fmt_amount(r.est_cycles), fmt_amount(r.sim_cycles_per_input),
                     _ratio(r.ratio_cycles), fmt_amount(r.fmax_est_mhz)])
        previous = head
    note = ("Sums over the layers of each type. LUT meas. = logic + memory LUTs; FINN "
            "estimates no flip-flops; cycles = FINN's expected cycles per input against "
            "Verilator's measured cycles between successive inputs' last outputs; × = "
            "measured / estimated (blank where the estimate is 0). Fmax est. = the "
            "slowest layer's ABC9 logic delay with a routing allowance fitted on ECP5 "
            "(an assumption for Xilinx, see docs/hardware.md).")
    return Table(key="rtl", title=title, header=header, rows=rows, data=comp,
                 align=["l"] * 4 + ["r"] * (len(header) - 4), group_starts=starts, note=note)


def rtl_unmeasured_table(df: pd.DataFrame) -> Table:
    """The layers left to FINN's estimate, by model, bit width and type, with the reason."""
    title = "Layers left to FINN's estimate (--target rtl)"
    layers = rtl_layer_frame(df)
    if layers.empty:
        return empty_table("rtl_unmeasured", title, "no record with RTL data (--target rtl)")
    left = layers[~layers["measured"]]
    if left.empty:
        return empty_table("rtl_unmeasured", title, "every layer was measured")
    grouped = (left.groupby(["model", "weight_bits", "act_bits", "weight_quant", "op_type",
                             "impl", "reason"], dropna=False)
               .agg(layers=("node", "nunique"), est_lut=("est_lut", "mean")).reset_index())
    header = ["model", "W/A", "layer type", "impl.", "layers", "LUT est. (mean)", "why"]
    rows = [[str(r.model), bits_text(r.weight_bits, r.act_bits, r.weight_quant),
             str(r.op_type), str(r.impl).upper(), str(r.layers), fmt_amount(r.est_lut),
             str(r.reason)] for r in grouped.itertuples(index=False)]
    return Table(key="rtl_unmeasured", title=title, header=header, rows=rows, data=grouped,
                 align=["l", "l", "l", "l", "r", "r", "l"])


def _clock_cells(r: Any) -> list[str]:
    """Fmax estimate and the verdict on the requested clock (blank in older records)."""
    fmax = getattr(r, "fmax_est_mhz", None)
    plausible = getattr(r, "clock_plausible", None)
    verdict = "" if plausible is None or pd.isna(plausible) else (
        "plausible" if plausible else "too fast")
    return [fmt_amount(fmax), verdict]


def _ratio(value: Any) -> str:
    return fmt_float(value) if value is not None and np.isfinite(value) else ""


def rtl_stitched_table(df: pd.DataFrame) -> Table:
    """Whole networks measured as one design (--mvu rtl --target rtl): simulated against
    estimated throughput, and what stitching adds to the sum of the separate layers."""
    title = f"Whole networks, stitched and simulated ({SOURCE})"
    ok = ok_rows(df)
    if ok.empty or "rtl_stitched_ok" not in ok.columns:
        return empty_table("rtl_stitched", title, "no stitched design (--mvu rtl --target rtl)")
    ok = ok[ok["rtl_stitched_ok"].notna()]
    if ok.empty:
        return empty_table("rtl_stitched", title, "no stitched design (--mvu rtl --target rtl)")
    ok = ok.sort_values(["model", "weight_quant", "weight_bits", "act_bits", "folding_label"])
    header = ["model", "W/A", "folding", "bit-exact", "FPS simulated", "FPS estimated",
              "×", "cycles / image", "latency (cycles)", "LUT", "LUT layers", "FF",
              "FF layers", "BRAM18", "DSP", "Fmax est. (MHz)", "clock"]
    rows = []
    for r in ok.itertuples(index=False):
        fps_ratio = (r.rtl_fps / r.est_fps if pd.notna(r.rtl_fps) and pd.notna(r.est_fps)
                     and r.est_fps else None)
        rows.append([
            str(r.model), bits_text(r.weight_bits, r.act_bits, r.weight_quant),
            str(r.folding_label or ""), "yes" if r.rtl_stitched_ok else "no",
            fmt_amount(r.rtl_fps), fmt_amount(r.est_fps), _ratio(fps_ratio),
            fmt_amount(r.rtl_cycles_per_image), fmt_amount(r.rtl_latency_cycles),
            fmt_amount(r.rtl_stitched_lut), fmt_amount(r.rtl_lut),
            fmt_amount(r.rtl_stitched_ff), fmt_amount(r.rtl_ff),
            fmt_amount(r.rtl_stitched_bram18), fmt_amount(r.rtl_stitched_dsp),
            *_clock_cells(r),
        ])
    note = ("The network's layers with FINN's width converters and FIFOs between them, "
            "simulated in Verilator on test images back to back (bit-exact against FINN's "
            "Python execution) and synthesized as one top. FPS simulated = clock / measured "
            "cycles between consecutive images; × = simulated / FINN's estimate. LUT, FF: "
            "the stitched top beside the sum of the layers synthesized alone (logic LUTs). "
            "Fmax est.: the top's ABC9 logic delay with a routing allowance fitted on ECP5; "
            "clock: whether the requested clock is at or below it.")
    return Table(key="rtl_stitched", title=title, header=header, rows=rows,
                 data=ok.reset_index(drop=True), align=["l"] * 4 + ["r"] * (len(header) - 4),
                 note=note)
