"""The report's figures, drawn with matplotlib's object API (no pyplot, so no GUI backend
is ever selected) and saved as PNG and PDF. Inputs without the data a figure needs give a
skipped figure with a note, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FormatStrFormatter, NullFormatter

from bench.report.collect import ok_rows
from bench.report.figure_timing import fig_routed_fmax
from bench.report.measured import SOURCE as RTL_SOURCE
from bench.report.measured import rtl_comparison
from bench.report.style import (
    MARKERS,
    QUANT_MARKERS,
    SERIES_COLORS,
    FigureSkipped,
    bits_color,
)
from bench.report.table_model import bits_text, clock_text, folding_order, has_values
from bench.report.tables import board_capacity, pareto_optimal

# -- figures ------------------------------------------------------------------------------

@dataclass
class FigureResult:
    key: str
    title: str
    caption: str
    png: Path | None = None
    pdf: Path | None = None
    note: str = ""  # why the figure was skipped
    dpi: int = 150  # of the PNG, so that viewers can show it at its physical size

    @property
    def made(self) -> bool:
        return self.png is not None


def _facets(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Split hardware rows by (model, data set, device, clock); title for each."""
    keys = ["model", "dataset", "device", "clk_ns"]
    out = []
    for key, group in df.groupby(keys, dropna=False, sort=True):
        model, dataset, device, clk = key
        title = " · ".join(str(v) for v in (model, dataset, device) if not pd.isna(v))
        if clock_text(clk):
            title += f" @ {clock_text(clk)}"
        out.append((title, group))
    return out


def _line_style(w: Any, a: Any) -> str:
    return "-" if w == a else "--"


def _frame_labels(df: pd.DataFrame) -> list[str]:
    """', 32×32 input' for runs on zero-padded images, '' for images as stored."""
    if "input_size" not in df.columns:
        return [""] * len(df)
    return [f", {int(v)}×{int(v)} input" if pd.notna(v) else "" for v in df["input_size"]]


def fig_accuracy_vs_bits(df: pd.DataFrame) -> Figure:
    """Accuracy against bit width, one line per model + quantizer; FP32 dashed if known."""
    ok = has_values(ok_rows(df), "accuracy", "weight_bits", "act_bits")
    if ok.empty:
        raise FigureSkipped("no successful run with an accuracy")
    ok = ok.assign(frame=_frame_labels(ok))  # padded and native inputs are other models
    series_keys = ["model", "dataset", "weight_quant", "frame"]
    per_train = (
        ok.groupby([*series_keys, "weight_bits", "act_bits", "seed", "epochs"], dropna=False)
        .agg(accuracy=("accuracy", "mean"), fp32=("fp32_accuracy", "mean")).reset_index()
    )
    symmetric = bool((per_train.weight_bits == per_train.act_bits).all())
    pairs = sorted({(int(w), int(a)) for w, a in zip(per_train.weight_bits,
                                                     per_train.act_bits, strict=True)})
    position = {p: (p[0] if symmetric else i) for i, p in enumerate(pairs)}
    several_datasets = per_train["dataset"].nunique() > 1
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for i, (key, group) in enumerate(per_train.groupby(series_keys, dropna=False, sort=True)):
        model, dataset, quant, frame = key
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        label = f"{model} ({quant}{frame})" + (f" on {dataset}" if several_datasets else "")
        stats = group.groupby(["weight_bits", "act_bits"])["accuracy"].agg(["mean", "std"])
        xs = [position[(int(w), int(a))] for w, a in stats.index]
        order = np.argsort(xs)
        x = np.asarray(xs)[order]
        y = 100 * stats["mean"].to_numpy()[order]
        err = 100 * np.nan_to_num(stats["std"].to_numpy()[order])
        ax.errorbar(x, y, yerr=err if err.any() else None, color=color, marker=MARKERS[i % 10],
                    capsize=3, label=label)
        fp32 = group["fp32"].dropna()
        if not fp32.empty:
            ax.axhline(100 * fp32.mean(), color=color, linestyle="--", linewidth=1.2,
                       label=f"{label} FP32")
    xticks = sorted(set(position.values()))
    ax.set_xticks(xticks)
    if symmetric:
        ax.set_xticklabels([str(x) for x in xticks])
        ax.set_xlabel("bit width, weights = activations (bits)")
    else:
        ax.set_xticklabels([f"W{w}A{a}" for w, a in pairs])
        ax.set_xlabel("weight / activation bit width")
    ax.margins(y=0.12)
    ax.set_ylabel("top-1 test accuracy (%)")
    datasets = per_train["dataset"].dropna().unique()
    ax.set_title("Accuracy vs bit width" + (f" ({datasets[0]})" if len(datasets) == 1 else ""))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def _any_unfit(df: pd.DataFrame) -> bool:
    return bool((df["fits"].astype("boolean") == False).any())  # noqa: E712


def _bit_series(group: pd.DataFrame) -> list[tuple[tuple[Any, Any, Any], pd.DataFrame]]:
    keys = ["weight_bits", "act_bits", "weight_quant"]
    return sorted(group.groupby(keys, dropna=False),
                  key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] != "int", str(kv[0][2])))


def _categorical_axis(ax: Any, labels: list[str], xlabel: str) -> None:
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize="small")
    ax.set_xlabel(xlabel)
    if len(labels) == 1:
        ax.set_xlim(-0.5, 0.5)


FOLDING_AXIS = "folding (least → most parallel)"


def _dodge(k: int, n: int, width: float = 0.15) -> float:
    """Horizontal offset of series k of n, so lines with equal values stay visible."""
    return 0.0 if n <= 1 else width * (k / (n - 1) - 0.5)


def _plot_series(ax: Any, series: pd.DataFrame, col: str, index: dict[str, int],
                 key: tuple[Any, Any, Any], offset: float) -> None:
    """One bit width's line over the foldings; points that do not fit the board are hollow."""
    w, a, quant = key
    color = bits_color(w)
    grouped = series.groupby("folding_label")
    values = grouped[col].mean()
    fits = grouped["fits"].agg(lambda s: bool(s.fillna(True).all()))
    x = np.array([index[lab] for lab in values.index], dtype=float) + offset
    srt = np.argsort(x)
    y = values.to_numpy(dtype=float)[srt]
    ok = fits.reindex(values.index).to_numpy(dtype=bool)[srt]
    marker = QUANT_MARKERS.get(str(quant), "P")
    ax.plot(x[srt], y, linestyle=_line_style(w, a), color=color, marker=marker,
            markersize=6, label=bits_text(w, a, quant))
    if (~ok).any():
        ax.plot(x[srt][~ok], y[~ok], linestyle="none", marker=marker, markersize=6,
                markerfacecolor="white", markeredgecolor=color, markeredgewidth=1.6)


def _outside_legend(fig: Figure, ax: Any, any_unfit: bool, title: str = "bits",
                    where: str = "lower center") -> None:
    """One legend for the whole figure, below (or right of) the panels.

    `ax` may be one axes or several: every series of every panel gets one entry.
    """
    handles, labels = [], []
    for axes in (list(ax) if isinstance(ax, list | tuple) else [ax]):
        for handle, label in zip(*axes.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if isinstance(ax, list | tuple) and len(ax) > 1 and labels:  # panels add series: sort
        labels, handles = map(list, zip(*sorted(zip(labels, handles, strict=True),
                                                 key=lambda pair: pair[0]), strict=True))
    if any_unfit:
        handles.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="white",
                              markeredgecolor="#333333", markeredgewidth=1.6))
        labels.append("does not fit the board")
    ncol = 1 if where.endswith("upper") else min(len(labels), 6)
    fig.legend(handles, labels, loc=f"outside {where}", ncol=ncol, title=title,
               fontsize="small")


def _without_search_points(ok: pd.DataFrame) -> pd.DataFrame:
    """Rows for the folding axes: the points of a Pareto folding search are left out.

    Their labels ("pareto0.8 #3") name a different folding for every bit width, so they
    cannot share an x axis; the design-space figure shows them. Kept if nothing else is left.
    """
    search = ok["folding_strategy"].astype(str).isin(("pareto", "fastest"))
    return ok[~search] if (~search).any() else ok


def fig_fps_vs_folding(df: pd.DataFrame) -> Figure:
    """Estimated FPS (log) against folding, one line per bit width, one panel per design."""
    ok = has_values(ok_rows(df), "est_fps", "weight_bits", "act_bits", "folding_label")
    ok = _without_search_points(ok[ok["est_fps"] > 0])
    if ok.empty:
        raise FigureSkipped("no successful run with a positive FPS estimate")
    facets = _facets(ok)
    fig = Figure(figsize=(8.5, 1.0 + 3.6 * len(facets)), layout="constrained")
    axes = fig.subplots(len(facets), 1, squeeze=False)[:, 0]
    for ax, (title, group) in zip(axes, facets, strict=True):
        order = folding_order(group)
        index = {lab: i for i, lab in enumerate(order)}
        series_list = _bit_series(group)
        for k, ((w, a, quant), series) in enumerate(series_list):
            _plot_series(ax, series, "est_fps", index, (w, a, quant),
                         _dodge(k, len(series_list)))
        ax.set_yscale("log")
        _categorical_axis(ax, order, FOLDING_AXIS)
        ax.set_ylabel("estimated throughput (FPS, log)")
        ax.set_title(f"Throughput vs folding — {title}")
        ax.grid(True, which="major", alpha=0.3)
    _outside_legend(fig, list(axes), _any_unfit(ok), where="right upper")
    return fig


# (column, capacity key, label, unit): costs as reports show them (`collect.cost_columns`)
RESOURCES = [("cost_lut", "lut", "LUT", "LUTs"), ("cost_bram18", "bram18", "BRAM18",
                                                 "BRAM18 blocks"),
             ("cost_dsp", "dsp", "DSP", "DSP slices")]


def fig_resources_vs_folding(df: pd.DataFrame) -> Figure:
    """LUT, BRAM18 and DSP against folding per bit width, with the board's capacity."""
    ok = has_values(ok_rows(df), "weight_bits", "act_bits", "folding_label", "cost_lut")
    if ok.empty:
        raise FigureSkipped("no successful run with resource estimates")
    ok = _without_search_points(ok)
    facets = _facets(ok)
    fig = Figure(figsize=(13.0, 1.4 + 3.8 * len(facets)), layout="constrained")
    axes = fig.subplots(len(facets), len(RESOURCES), squeeze=False)
    for row, (title, group) in zip(axes, facets, strict=True):
        order = folding_order(group)
        index = {lab: i for i, lab in enumerate(order)}
        device = group["device"].dropna().iloc[0] if group["device"].notna().any() else None
        part = group["part"].dropna().iloc[0] if group["part"].notna().any() else None
        board, capacity = board_capacity(device, part)
        for ax, (col, key, short, unit) in zip(row, RESOURCES, strict=True):
            series_list = _bit_series(group)
            for k, ((w, a, quant), series) in enumerate(series_list):
                _plot_series(ax, series, col, index, (w, a, quant),
                             _dodge(k, len(series_list)))
            cap = capacity.get(key, 0)
            peak = float(np.nanmax(group[col].to_numpy(dtype=float), initial=0.0))
            if cap:
                ax.axhline(cap, color="#c00000", linestyle="--", linewidth=1.2,
                           label=f"{board.name} capacity")
            if cap and peak > 1.5 * cap:
                # Far beyond the board: a log scale keeps the small designs readable
                # (symlog when some value is zero, e.g. no DSP, so it stays on the axis).
                if (group[col].dropna() > 0).all():
                    ax.set_yscale("log")
                else:
                    ax.set_yscale("symlog", linthresh=1.0)
                    ax.set_ylim(bottom=0)
                ax.annotate("100 %", (1.0, cap), xycoords=("axes fraction", "data"),
                            xytext=(3, 0), textcoords="offset points", va="center",
                            fontsize="x-small", color="#c00000")
            else:
                top = max(peak, cap) * 1.08 or 1.0
                ax.set_ylim(bottom=-0.02 * top, top=top)  # zero-valued points stay visible
                if cap:
                    ax.secondary_yaxis("right", functions=(lambda v, c=cap: 100 * v / c,
                                                           lambda p, c=cap: p * c / 100)
                                       ).set_ylabel("utilization (%)")
            _categorical_axis(ax, order, FOLDING_AXIS)
            scale = ", log" if ax.get_yscale() != "linear" else ""
            ax.set_ylabel(f"{unit} (count{scale})")
            ax.set_title(f"{short} — {title}", fontsize="medium")
            ax.grid(True, alpha=0.3)
    _outside_legend(fig, list(axes.flatten()), _any_unfit(ok))
    return fig


MAX_PARETO_LABELS = 8


def fig_pareto(df: pd.DataFrame) -> Figure:
    """FPS vs LUT (log-log), colour = accuracy, marker = bit width, Pareto front ringed."""
    ok = has_values(ok_rows(df), "accuracy", "est_fps", "cost_lut")
    if ok.empty:
        raise FigureSkipped("no successful run with accuracy, FPS and LUT")
    front = pareto_optimal(df).loc[ok.index].astype(bool)
    fig = Figure(figsize=(8.0, 5.2), layout="constrained")
    ax = fig.add_subplot()
    acc = 100 * ok["accuracy"].astype(float)
    lo, hi = float(acc.min()), float(acc.max())
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    norm = Normalize(vmin=lo, vmax=hi)
    handles: list[Any] = []
    mappable = None
    for k, ((w, a, quant), group) in enumerate(_bit_series(ok)):
        marker = MARKERS[k % len(MARKERS)]
        mappable = ax.scatter(group["cost_lut"], group["est_fps"], c=100 * group["accuracy"],
                              cmap="viridis", norm=norm, s=42, marker=marker,
                              edgecolors="black", linewidths=0.4, zorder=3)
        handles.append(Line2D([], [], linestyle="none", marker=marker, markersize=7,
                              markerfacecolor="#bbbbbb", markeredgecolor="black",
                              label=bits_text(w, a, quant)))
    fig.colorbar(mappable, ax=ax, label="top-1 test accuracy (%)")
    on = ok[front]
    if not on.empty:
        ax.scatter(on["cost_lut"], on["est_fps"], s=170, facecolors="none", edgecolors="#d62728",
                   linewidths=1.8, zorder=4)
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=12,
                              markerfacecolor="none", markeredgecolor="#d62728",
                              markeredgewidth=1.8, label="Pareto-optimal"))
        if len(on) <= MAX_PARETO_LABELS:
            for k, (_, r) in enumerate(on.sort_values(["cost_lut", "est_fps"]).iterrows()):
                # Alternate below/above so neighbours with similar LUTs do not overprint.
                ax.annotate(f"{bits_text(r.weight_bits, r.act_bits, r.weight_quant)} "
                            f"{r.folding_label}", (r.cost_lut, r.est_fps),
                            textcoords="offset points", xytext=(8, -14 if k % 2 == 0 else 9),
                            fontsize="x-small",
                            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                                  "alpha": 0.75})
    devices = ok["device"].dropna().unique()
    if len(devices) == 1:
        board, capacity = board_capacity(devices[0])
        if capacity.get("lut"):
            ax.axvline(capacity["lut"], color="#c00000", linestyle="--", linewidth=1.2)
            handles.append(Line2D([], [], color="#c00000", linestyle="--",
                                  label=f"{board.name} LUT capacity"))
    if (ok["cost_lut"] > 0).all():
        ax.set_xscale("log")
    if (ok["est_fps"] > 0).all():
        ax.set_yscale("log")
    ax.margins(x=0.12, y=0.15)
    ax.set_xlabel("LUTs (calibrated where covered; count, log)")
    ax.set_ylabel("estimated throughput (FPS, log)")
    ax.set_title(f"Design space: throughput vs LUTs ({int(front.sum())} of {len(ok)} "
                 "points Pareto-optimal)")
    ax.grid(True, which="major", alpha=0.3)
    fig.legend(handles=handles, loc="outside right upper", fontsize="small", title="bits")
    return fig


# (panel title, column of rtl_comparison, y label); FINN estimates no flip-flops
_RTL_PANELS = (("LUT", "ratio_lut", "measured / estimated"),
               ("FF", "ff", "measured flip-flops (no FINN estimate)"),
               ("DSP", "ratio_dsp", "measured / estimated"),
               ("cycles per input", "ratio_cycles", "measured / estimated"))


def fig_rtl_vs_estimate(df: pd.DataFrame) -> Figure:
    """Measured/estimated ratio per layer type (LUT, DSP, cycles) and measured FF; one
    point per record, colour = bit width, marker = model."""
    comp = rtl_comparison(df)
    if comp.empty:
        raise FigureSkipped("no record with measured RTL layers (--target rtl)")
    types = sorted(comp["op_type"].astype(str).unique())
    index = {t: i for i, t in enumerate(types)}
    models = sorted(comp["model"].astype(str).unique())
    series = list(comp.groupby(["model", "weight_bits", "act_bits", "weight_quant"],
                               dropna=False, sort=True))
    fig = Figure(figsize=(10.0, 6.4), layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    handles: dict[str, Any] = {}
    for ax, (title, col, ylabel) in zip(axes, _RTL_PANELS, strict=True):
        for k, ((model, w, a, quant), group) in enumerate(series):
            values = group[[col, "op_type"]].dropna()
            values = values[values[col] > 0]
            xs = [index[str(t)] + _dodge(k, len(series)) for t in values["op_type"]]
            marker = MARKERS[models.index(str(model)) % len(MARKERS)]
            label = f"{model} {bits_text(w, a, quant)}"
            ax.scatter(xs, values[col], color=bits_color(w), marker=marker, s=40,
                       edgecolors="black", linewidths=0.4, zorder=3)
            handles.setdefault(label, Line2D([], [], linestyle="none", marker=marker,
                                             markersize=7, markerfacecolor=bits_color(w),
                                             markeredgecolor="black", label=label))
        if col.startswith("ratio"):
            ax.axhline(1.0, color="#555555", linestyle="--", linewidth=1)
        if ax.collections:
            ax.set_yscale("log")
            low, high = ax.get_ylim()
            ax.yaxis.set_major_formatter(FormatStrFormatter("%.3g"))
            # within one decade a log axis has no major tick: label the minor ones instead
            ax.yaxis.set_minor_formatter(
                FormatStrFormatter("%.3g") if high < 10 * low else NullFormatter())
        ax.set_xticks(range(len(types)))
        ax.set_xticklabels([_wrap_op(t) for t in types], fontsize="small")
        ax.set_xlim(-0.6, len(types) - 0.4)
        ax.set_title(title)
        ax.set_ylabel(ylabel, fontsize="small")
        ax.grid(True, which="major", alpha=0.3)
    fig.suptitle(f"FINN's estimate vs measured RTL layers ({RTL_SOURCE})")
    fig.legend(handles=list(handles.values()), loc="outside right upper", fontsize="small",
               title="model, bits")
    return fig


def _wrap_op(op_type: str) -> str:
    """A layer type as a tick label: without `_rtl`, long names broken in two."""
    name = op_type.removesuffix("_rtl")
    return name.replace("Generator", "\nGenerator") if len(name) > 14 else name


@dataclass(frozen=True)
class FigureSpec:
    key: str
    title: str
    caption: str
    draw: Callable[[pd.DataFrame], Figure]


FIGURES = [
    FigureSpec("accuracy_vs_bits", "Accuracy vs bit width",
               "Top-1 test accuracy per weight/activation bit width, one line per model and "
               "weight quantizer (mean, error bars = std over seeds). Dashed horizontal "
               "lines: the FP32 baseline of the same recipe, when recorded.",
               fig_accuracy_vs_bits),
    FigureSpec("fps_vs_folding", "Throughput vs folding",
               "FINN-estimated frames per second (log scale) for each folding, ordered from "
               "least to most parallel (sum of PE×SIMD over layers); one line per bit width "
               "(fixed colour per bit width, dashed when W≠A, hollow when the design does "
               "not fit the board), one panel per model, data set, board and clock. Points "
               "of a Pareto folding search are in the design-space figure instead.",
               fig_fps_vs_folding),
    FigureSpec("resources_vs_folding", "Resources vs folding",
               "FINN-estimated LUTs, BRAM18 blocks and DSP slices per folding and bit width; "
               "the dashed red line is the board's capacity, the right axis the "
               "utilization in percent (log scale when designs far exceed the board).",
               fig_resources_vs_folding),
    FigureSpec("pareto", "Pareto front",
               "Every successful design point as estimated FPS against LUTs (log-log), "
               "coloured by accuracy. Ringed points are Pareto-optimal in accuracy (max), "
               "FPS (max) and LUTs (min) within their data set; the dashed line is the "
               "board's LUT capacity.", fig_pareto),
    FigureSpec("rtl_vs_estimate", "Estimated vs measured RTL layers",
               "For records run with --target rtl: per layer type, the measured resources "
               f"and cycles over FINN's estimate, summed over that type's layers ({RTL_SOURCE}; "
               "LUTs are logic plus memory LUTs; cycles are Verilator's measured cycles per "
               "input). FINN estimates no flip-flops, so the FF panel shows measured counts. "
               "The dashed line is agreement; a missing point means a zero estimate.",
               fig_rtl_vs_estimate),
    FigureSpec("routed_fmax", "Routed clock vs size",
               "For records run with --target route: the stitched design's clock after "
               "placement and routing on ECP5 (nextpnr) against its routed LUT4 count (left), "
               "and against the Fmax estimated from Yosys' logic delay for the Xilinx part "
               "(right; the dashed line is agreement). Marker = weight quantizer, colour = "
               "bit width; the dotted line is the requested clock.", fig_routed_fmax),
]


def make_figures(
    df: pd.DataFrame, out_dir: Path | str, dpi: int = 150, pdf: bool = True
) -> list[FigureResult]:
    """Draw every figure into `out_dir` as <key>.png (and <key>.pdf); skipped ones get a note."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for spec in FIGURES:
        result = FigureResult(spec.key, spec.title, spec.caption, dpi=dpi)
        try:
            fig = spec.draw(df)
        except FigureSkipped as why:
            result.note = str(why)
        else:
            result.png = out / f"{spec.key}.png"
            fig.savefig(result.png, dpi=dpi, metadata={"Software": None})
            if pdf:
                result.pdf = out / f"{spec.key}.pdf"
                fig.savefig(result.pdf, metadata={"CreationDate": None, "Creator": None,
                                                  "Producer": None})
        results.append(result)
    return results
