"""The routed-timing figure: what clock a design reached after place and route, against
its size and against the clock estimated without routing.

Each stitched design routed on ECP5 (`--target route`) is one point. Bigger designs
route slower when their critical path grows with them (a wider adder tree, longer wires
across a fuller device); the right panel shows whether the Xilinx estimate
(`fmax_est_mhz`, logic delay plus a fitted routing allowance) tracks the routed clock.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from bench.report.style import QUANT_MARKERS, FigureSkipped, bits_color


def _routed_rows(df: pd.DataFrame) -> pd.DataFrame:
    needed = {"route_fmax_mhz", "route_lut4", "status"}
    if not needed <= set(df.columns):
        raise FigureSkipped("no record placed and routed (--target route)")
    rows = df[(df["status"] == "ok") & df["route_fmax_mhz"].notna() & df["route_lut4"].notna()]
    if rows.empty:
        raise FigureSkipped("no stitched design placed and routed (--target route)")
    return rows


def fig_routed_fmax(df: pd.DataFrame) -> Figure:
    rows = _routed_rows(df)
    fig = Figure(figsize=(10.0, 4.2), layout="constrained")
    size_ax, est_ax = fig.subplots(1, 2)
    handles: dict[str, Any] = {}
    for _, r in rows.iterrows():
        quant = str(r.get("weight_quant") or "int")
        marker = QUANT_MARKERS.get(quant, "x")
        color = bits_color(r.get("weight_bits"))
        style = {"marker": marker, "color": color, "s": 45, "edgecolors": "black",
                 "linewidths": 0.4, "zorder": 3}
        size_ax.scatter(r["route_lut4"], r["route_fmax_mhz"], **style)
        if pd.notna(r.get("fmax_est_mhz")):
            est_ax.scatter(r["fmax_est_mhz"], r["route_fmax_mhz"], **style)
        label = f"{quant} W{r.get('weight_bits')}"
        handles.setdefault(label, Line2D([], [], linestyle="none", marker=marker,
                                         markersize=7, markerfacecolor=color,
                                         markeredgecolor="black", label=label))
    for ax in (size_ax, est_ax):
        for clk_ns in sorted(rows["clk_ns"].dropna().unique()) if "clk_ns" in rows else []:
            ax.axhline(1000.0 / clk_ns, color="#555555", linestyle=":", linewidth=1)
        ax.grid(True, alpha=0.3)
        ax.set_ylabel("routed Fmax on ECP5 (MHz)")
    size_ax.set_xscale("log")
    size_ax.set_xlabel("routed LUT4 (stitched design)")
    est_ax.set_xlabel("Fmax estimated from logic delay, Xilinx part (MHz)")
    low = min(rows["route_fmax_mhz"].min(), rows["fmax_est_mhz"].min(skipna=True)
              if "fmax_est_mhz" in rows else rows["route_fmax_mhz"].min())
    high = max(rows["route_fmax_mhz"].max(), rows["fmax_est_mhz"].max(skipna=True)
               if "fmax_est_mhz" in rows else rows["route_fmax_mhz"].max())
    est_ax.plot([low, high], [low, high], color="#555555", linestyle="--", linewidth=1)
    fig.legend(handles=sorted(handles.values(), key=lambda h: h.get_label()),
               loc="outside right upper", fontsize="small", title="weights")
    return fig
