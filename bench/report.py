"""Tables and figures of a benchmark, as functions of the collected DataFrame only.

Input is the DataFrame of `bench.collect.collect` (one row per run record); nothing here
reads run directories. Tables come out as `Table` objects rendered to Markdown, LaTeX
(booktabs) or HTML; figures are drawn with matplotlib's object API (no pyplot, so no GUI
backend is ever selected) and saved as PNG and PDF. Inputs without the data a table or
figure needs give an empty table or a skipped figure with a note, never an exception.

`write_report(df, out_dir)` writes everything: report.md, tables.tex, figures/*.png|pdf
and the self-contained report.html.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import Normalize, to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from bench.collect import ok_rows
from bench.devices import BOARDS, Board, get_board

# -- colours ------------------------------------------------------------------------------

MAX_BITS = 8
# One fixed colour per bit width 1..8, shared by every figure (Okabe-Ito based, colour-blind
# friendly; the common widths 1, 2, 4, 8 are black, orange, green, pink).
BIT_COLORS: dict[int, str] = {
    1: "#222222", 2: "#E69F00", 3: "#56B4E9", 4: "#009E73",
    5: "#8C564B", 6: "#0072B2", 7: "#D55E00", 8: "#CC79A7",
}
OTHER_BITS_COLOR = "#999999"
SERIES_COLORS = [to_hex(c) for c in colormaps["tab10"].colors]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p", "d", "8"]
# Marker per weight quantizer in the folding figures (colour is the bit width).
QUANT_MARKERS = {"int": "o", "pot": "s", "binary": "^", "ternary": "D"}


def bits_color(bits: Any) -> str:
    """The fixed colour of a bit width (1..8); grey for anything else."""
    try:
        return BIT_COLORS.get(int(bits), OTHER_BITS_COLOR)
    except (TypeError, ValueError):
        return OTHER_BITS_COLOR


# -- tables -------------------------------------------------------------------------------

@dataclass
class Table:
    """A rendered-ready table: formatted cells plus the numbers they came from."""

    key: str
    title: str
    header: list[str]
    rows: list[list[str]]
    data: pd.DataFrame = field(default_factory=pd.DataFrame)
    align: list[str] = field(default_factory=list)  # "l" or "r" per column
    group_starts: list[int] = field(default_factory=list)  # rows that open a new group
    note: str = ""

    @property
    def empty(self) -> bool:
        return not self.rows

    def column(self, name: str) -> list[str]:
        """The cells of one column (repeated group labels are blank, as rendered)."""
        i = self.header.index(name)
        return [row[i] for row in self.rows]


def _num(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def fmt_int(value: Any) -> str:
    v = _num(value)
    return "" if v is None else ("∞" if math.isinf(v) else f"{v:,.0f}")


def fmt_float(value: Any, digits: int = 2) -> str:
    v = _num(value)
    return "" if v is None else f"{v:,.{digits}f}"


def fmt_amount(value: Any) -> str:
    """Resource counts: integers plainly, FINN's fractional BRAM estimates with one digit."""
    v = _num(value)
    if v is None:
        return ""
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def fmt_pct(fraction: Any, digits: int = 1) -> str:
    v = _num(fraction)
    if v is None:
        return ""
    return "∞" if math.isinf(v) else f"{100 * v:.{digits}f}"


def fmt_bool(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return "yes" if bool(value) else "no"


def bits_text(weight_bits: Any, act_bits: Any, quant: Any = "int") -> str:
    text = f"W{weight_bits}A{act_bits}"
    return text if quant in (None, "", "int") or pd.isna(quant) else f"{text} {quant}"


def clock_text(clk_ns: Any) -> str:
    v = _num(clk_ns)
    return "" if not v else f"{1000 / v:.0f} MHz"


def _has(df: pd.DataFrame, *cols: str) -> pd.DataFrame:
    """Rows with every column present and not missing."""
    if any(c not in df.columns for c in cols):
        return df.iloc[0:0]
    mask = pd.Series(True, index=df.index)
    for c in cols:
        mask &= df[c].notna()
    return df[mask]


def _folding_order(df: pd.DataFrame) -> list[str]:
    """Folding labels from least to most parallel (median PE×SIMD sum of their rows)."""
    if df.empty:
        return []
    par = pd.to_numeric(df["parallelism"], errors="coerce").astype(float)
    med = par.groupby(df["folding_label"]).median()
    return sorted(med.index, key=lambda lab: (np.nan_to_num(med[lab], nan=np.inf), str(lab)))


def _split_constant(
    df: pd.DataFrame, cols: Sequence[str]
) -> tuple[list[str], dict[str, Any]]:
    """Which of `cols` vary in `df` (kept as columns) and the values of the constant ones."""
    varying, constant = [], {}
    for c in cols:
        values = df[c].dropna().unique()
        if len(values) > 1:
            varying.append(c)
        elif len(values) == 1:
            constant[c] = values[0]
    return varying, constant


def _context_text(constant: dict[str, Any]) -> str:
    text = " · ".join(str(constant[k]) for k in ("model", "dataset", "device") if k in constant)
    if "clk_ns" in constant:
        text += f" @ {clock_text(constant['clk_ns'])}"
    return text.strip()


_LABELS = {"model": "model", "dataset": "data set", "device": "device", "clk_ns": "clock",
           "weight_quant": "quantizer", "epochs": "epochs"}


def _cell(col: str, value: Any) -> str:
    if col == "clk_ns":
        return clock_text(value)
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _empty_table(key: str, title: str, note: str) -> Table:
    return Table(key=key, title=title, header=[], rows=[], note=note)


def accuracy_table(df: pd.DataFrame) -> Table:
    """(a) Top-1 accuracy (%) by bit width: rows model + quantizer, columns W/A bits (+FP32).

    Every folding of one trained network has the same accuracy, so each training run
    (model, data, bits, quantizer, seed, epochs) counts once; several seeds give mean ± std.
    """
    title = "Top-1 test accuracy (%) by bit width"
    ok = _has(ok_rows(df), "accuracy", "weight_bits", "act_bits")
    if ok.empty:
        return _empty_table("accuracy", title, "no successful run with an accuracy")
    row_keys = ["model", "dataset", "weight_quant"]
    if ok["epochs"].nunique(dropna=True) > 1:
        row_keys.append("epochs")
    train_keys = [*dict.fromkeys([*row_keys, "weight_bits", "act_bits", "seed", "epochs"])]
    per_train = (
        ok.groupby(train_keys, dropna=False)
        .agg(accuracy=("accuracy", "mean"), fp32=("fp32_accuracy", "mean"))
        .reset_index()
    )
    stats = (
        per_train.groupby([*row_keys, "weight_bits", "act_bits"], dropna=False)["accuracy"]
        .agg(["mean", "std", "count"])
        .reset_index()
    )
    bit_cols = sorted({(int(w), int(a)) for w, a in zip(stats.weight_bits, stats.act_bits,
                                                          strict=True)})
    labels = [f"W{w}A{a}" for w, a in bit_cols]
    keys_frame = stats[row_keys].drop_duplicates()
    keys_frame = keys_frame.assign(_int_first=keys_frame["weight_quant"] != "int")
    rows_idx = (keys_frame.sort_values(["model", "dataset", "_int_first", *row_keys[2:]])
                [row_keys].itertuples(index=False))
    fp32 = per_train.groupby(row_keys, dropna=False)["fp32"].mean()
    has_fp32 = bool(fp32.notna().any())
    header = [_LABELS[k] for k in row_keys] + labels + (["FP32"] if has_fp32 else [])
    rows, data_rows, multi_seed = [], [], False
    for key in rows_idx:
        sel = stats
        for k, v in zip(row_keys, key, strict=True):
            sel = sel[sel[k].isna()] if pd.isna(v) else sel[sel[k] == v]
        cells = [_cell(k, v) for k, v in zip(row_keys, key, strict=True)]
        numbers: dict[str, float] = {}
        for (w, a), label in zip(bit_cols, labels, strict=True):
            hit = sel[(sel.weight_bits == w) & (sel.act_bits == a)]
            if hit.empty:
                cells.append("")
                continue
            mean, std, count = hit.iloc[0][["mean", "std", "count"]]
            numbers[label] = 100 * mean
            text = fmt_float(100 * mean)
            if count > 1:
                multi_seed = True
                text += f" ± {fmt_float(100 * std)}"
            cells.append(text)
        if has_fp32:
            value = fp32.get(key if len(key) > 1 else key[0], np.nan)
            numbers["FP32"] = 100 * value
            cells.append(fmt_float(100 * value))
        rows.append(cells)
        data_rows.append({**dict(zip(row_keys, key, strict=True)), **numbers})
    note = "mean ± standard deviation over seeds" if multi_seed else ""
    return Table(
        key="accuracy", title=title, header=header, rows=rows,
        data=pd.DataFrame(data_rows), align=["l"] * len(row_keys) + ["r"] * (len(header) -
                                                                               len(row_keys)),
        note=note,
    )


_HW_METRICS = ["est_fps", "est_latency_ns", "est_max_cycles", "lut", "bram18", "uram", "dsp"]


def _hardware_rows(ok: pd.DataFrame, sections: list[str]) -> pd.DataFrame:
    """One row per (section, quantizer, bits, folding): mean estimates, all-fit flag."""
    keys = [*sections, "weight_quant", "weight_bits", "act_bits", "folding_label"]
    agg: dict[str, Any] = {m: (m, "mean") for m in _HW_METRICS if m in ok.columns}
    agg["parallelism"] = ("parallelism", "median")
    for u in ("util_lut", "util_bram18", "util_uram", "util_dsp"):
        agg[u] = (u, "mean")
    work = ok.copy()
    work["parallelism"] = pd.to_numeric(work["parallelism"], errors="coerce").astype(float)
    work["fits"] = work["fits"].astype("boolean")
    grouped = work.groupby(keys, dropna=False)
    out = grouped.agg(**agg)
    out["fits"] = grouped["fits"].agg(lambda s: bool(s.dropna().all()) if s.notna().any()
                                      else pd.NA)
    out = out.reset_index()
    out["_int_first"] = out["weight_quant"] != "int"
    out = out.sort_values(
        [*sections, "weight_bits", "act_bits", "_int_first", "weight_quant", "parallelism",
         "folding_label"],
        na_position="last", kind="stable",
    )
    return out.drop(columns="_int_first").reset_index(drop=True)


def _group_heads(table: pd.DataFrame, varying: list[str]) -> tuple[list[list[str]], list[int]]:
    """Leading cells of each row (the grouping columns and W/A, blank where the row
    continues the group above) and the indices of the rows that start a group."""
    heads, starts, previous = [], [], None
    for i, r in table.iterrows():
        group = (*[r[c] for c in varying], r.weight_quant, r.weight_bits, r.act_bits)
        first = group != previous
        if first:
            starts.append(i)
        previous = group
        cells = [_cell(c, r[c]) if first else "" for c in varying]
        cells.append(bits_text(r.weight_bits, r.act_bits, r.weight_quant) if first else "")
        heads.append(cells)
    return heads, starts


def hardware_table(df: pd.DataFrame) -> Table:
    """(b) FPS, latency, cycles, LUT/BRAM18/(URAM)/DSP by folding, grouped by bit width."""
    title = "Estimated throughput and resources by folding and bit width"
    ok = _has(ok_rows(df), "est_fps", "weight_bits", "act_bits")
    if ok.empty:
        return _empty_table("hardware", title, "no successful run with estimates")
    varying, constant = _split_constant(ok, ["model", "dataset", "device", "clk_ns"])
    if constant:
        title += f" ({_context_text(constant)})"
    table = _hardware_rows(ok, varying)
    show_uram = bool((table["uram"].fillna(0) > 0).any())
    header = [_LABELS[c] for c in varying] + ["W/A", "folding", "FPS", "latency (µs)",
                                              "cycles", "LUT", "BRAM18"]
    header += ["URAM"] if show_uram else []
    header += ["DSP", "fits"]
    rows = []
    heads, starts = _group_heads(table, varying)
    for (_, r), cells in zip(table.iterrows(), heads, strict=True):
        cells += [str(r.folding_label), fmt_int(r.est_fps),
                  fmt_float(_num(r.est_latency_ns) / 1000 if _num(r.est_latency_ns) is not None
                            else None),
                  fmt_int(r.est_max_cycles), fmt_amount(r.lut), fmt_amount(r.bram18)]
        cells += [fmt_amount(r.uram)] if show_uram else []
        cells += [fmt_amount(r.dsp), fmt_bool(r.fits)]
        rows.append(cells)
    n_left = len(varying) + 2
    return Table(
        key="hardware", title=title, header=header, rows=rows, data=table,
        align=["l"] * n_left + ["r"] * (len(header) - n_left - 1) + ["l"],
        group_starts=starts,
        note="FINN analytical estimates; FIFOs, width converters and FFs are not included",
    )


def board_capacity(device: Any, part: Any = None) -> tuple[Board | None, dict[str, int]]:
    """The board a device name (or part) refers to, and its capacities; (None, {}) if unknown."""
    if isinstance(device, str):
        try:
            board = get_board(device)
            return board, board.capacity()
        except ValueError:
            pass
    for candidate in (device, part):
        for board in BOARDS.values():
            if isinstance(candidate, str) and candidate.lower() == board.part.lower():
                return board, board.capacity()
    return None, {}


def chosen_board(df: pd.DataFrame, board: str | None = None) -> str | None:
    """`board` if given, else the device of most successful runs."""
    if board:
        return board
    ok = _has(ok_rows(df), "device")
    if ok.empty:
        return None
    return str(ok["device"].value_counts().index[0])


def utilization_table(df: pd.DataFrame, board: str | None = None) -> Table:
    """(c) Utilization (% of the chosen board's capacity) per bit width and folding."""
    name = chosen_board(df, board)
    title = f"Utilization of {name}" if name else "Utilization"
    ok = _has(ok_rows(df), "est_fps", "weight_bits", "act_bits", "device")
    if name:
        ok = ok[ok["device"].str.lower() == name.lower()]
    if ok.empty:
        return _empty_table("utilization", title, f"no successful run on {name or 'any board'}")
    board_obj, capacity = board_capacity(name, ok["part"].dropna().iloc[0]
                                         if ok["part"].notna().any() else None)
    varying, constant = _split_constant(ok, ["model", "dataset", "clk_ns"])
    table = _hardware_rows(ok, varying)
    resources = [r for r in ("lut", "bram18", "uram", "dsp")
                 if capacity.get(r, 0) > 0 or (table[r].fillna(0) > 0).any()]
    for r in resources:
        computed = table[r] / capacity[r] if capacity.get(r) else np.nan
        table[f"util_{r}"] = table[f"util_{r}"].fillna(computed)
    if board_obj is not None:
        caps = ", ".join(f"{fmt_int(capacity[r])} {r.upper()}" for r in resources
                         if capacity.get(r))
        title += f" ({board_obj.part}: {caps})"
    if constant:
        title += f" · {_context_text(constant)}"
    header = [_LABELS[c] for c in varying] + ["W/A", "folding"]
    header += [f"{r.upper()} (%)" for r in resources] + ["fits"]
    rows = []
    heads, starts = _group_heads(table, varying)
    for (_, r), cells in zip(table.iterrows(), heads, strict=True):
        cells += [str(r.folding_label)]
        cells += [fmt_pct(r[f"util_{res}"]) for res in resources]
        cells.append(fmt_bool(r.fits))
        rows.append(cells)
    n_left = len(varying) + 2
    return Table(
        key="utilization", title=title, header=header, rows=rows, data=table,
        align=["l"] * n_left + ["r"] * len(resources) + ["l"], group_starts=starts,
        note="percent of the part's data-sheet totals; FINN estimates, before synthesis",
    )


# -- Pareto front -------------------------------------------------------------------------

PARETO_MAXIMIZE = ("accuracy", "est_fps")
PARETO_MINIMIZE = ("lut",)


def pareto_mask(
    df: pd.DataFrame,
    maximize: Sequence[str] = PARETO_MAXIMIZE,
    minimize: Sequence[str] = PARETO_MINIMIZE,
) -> pd.Series:
    """True for rows no other row dominates (at least as good everywhere, better somewhere).

    Rows missing one of the metrics are never on the front.
    """
    result = pd.Series(False, index=df.index)
    cols = [*maximize, *minimize]
    usable = _has(df, *cols)
    if usable.empty:
        return result
    # Orient every metric so that larger is better.
    values = np.column_stack(
        [usable[c].astype(float).to_numpy() for c in maximize]
        + [-usable[c].astype(float).to_numpy() for c in minimize]
    )
    n = len(values)
    dominated = np.zeros(n, dtype=bool)
    chunk = max(1, 4_000_000 // (n * values.shape[1]))  # bounds memory for large sweeps
    for start in range(0, n, chunk):
        block = values[start:start + chunk]  # candidates i; every row j may dominate them
        ge = (values[None, :, :] >= block[:, None, :]).all(axis=2)  # [i, j]: j >= i everywhere
        gt = (values[None, :, :] > block[:, None, :]).any(axis=2)  # j > i somewhere
        dominated[start:start + chunk] = (ge & gt).any(axis=1)
    result.loc[usable.index] = ~dominated
    return result


def pareto_front(df: pd.DataFrame) -> pd.Series:
    """The Pareto flag of each successful row: accuracy↑ × FPS↑ × LUT↓, per data set.

    Always computed here: a record's own `pareto_front` field answers another question
    (the FPS-vs-LUT front of a Pareto folding search within a resource budget).
    """
    ok = ok_rows(df)
    flags = pd.Series(False, index=df.index)
    if ok.empty:
        return flags
    for _, group in ok.groupby(ok["dataset"].fillna(""), dropna=False):
        flags.loc[group.index] = pareto_mask(group)
    return flags


def pareto_table(df: pd.DataFrame) -> Table:
    """The Pareto-optimal design points (accuracy↑, FPS↑, LUT↓), fewest LUTs first."""
    title = "Pareto-optimal design points (accuracy ↑, FPS ↑, LUT ↓)"
    ok = ok_rows(df)
    front = ok[pareto_front(df).loc[ok.index]] if not ok.empty else ok
    if front.empty:
        return _empty_table("pareto", title, "no run has accuracy, FPS and LUT estimates")
    front = front.sort_values(["dataset", "lut", "est_fps"], kind="stable")
    varying, constant = _split_constant(front, ["model", "dataset", "device"])
    if constant:
        title += f" ({_context_text(constant)})"
    header = [_LABELS[c] for c in varying] + ["W/A", "folding", "accuracy (%)", "FPS", "LUT",
                                              "BRAM18", "DSP"]
    rows = []
    for _, r in front.iterrows():
        rows.append([_cell(c, r[c]) for c in varying] + [
            bits_text(r.weight_bits, r.act_bits, r.weight_quant), str(r.folding_label),
            fmt_float(100 * r.accuracy), fmt_int(r.est_fps), fmt_amount(r.lut),
            fmt_amount(r.bram18), fmt_amount(r.dsp),
        ])
    n_left = len(varying) + 2
    return Table(key="pareto", title=title, header=header, rows=rows,
                 data=front.reset_index(drop=True),
                 align=["l"] * n_left + ["r"] * (len(header) - n_left))


def failures_table(df: pd.DataFrame) -> Table:
    """Runs that failed, with the stage and the first line of the error."""
    title = "Failed runs"
    if df.empty or "status" not in df.columns:
        return _empty_table("failures", title, "no records")
    failed = df[df["status"].notna() & (df["status"] != "ok")]
    if failed.empty:
        return _empty_table("failures", title, "no failed runs")
    header = ["run", "W/A", "folding", "stage", "error"]
    rows = []
    for _, r in failed.iterrows():
        error = str(r.get("error") or "")
        rows.append([str(r.run_id), bits_text(r.weight_bits, r.act_bits, r.weight_quant),
                     str(r.folding_label or ""), str(r.get("failed_stage") or ""),
                     error if len(error) <= 160 else error[:157] + "..."])
    return Table(key="failures", title=title, header=header, rows=rows,
                 data=failed.reset_index(drop=True), align=["l"] * 5)


def build_tables(df: pd.DataFrame, board: str | None = None) -> list[Table]:
    """All report tables, in report order (empty ones included, with their note)."""
    return [accuracy_table(df), hardware_table(df), utilization_table(df, board),
            pareto_table(df), failures_table(df)]


# -- table rendering ----------------------------------------------------------------------

def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def table_to_markdown(table: Table) -> str:
    """A GitHub-flavoured Markdown table with the title as a heading."""
    lines = [f"### {table.title}", ""]
    if table.empty:
        return "\n".join([*lines, f"_{table.note or 'no data'}_", ""])
    align = table.align or ["l"] * len(table.header)
    lines.append("| " + " | ".join(_md_escape(h) for h in table.header) + " |")
    lines.append("|" + "|".join("---:" if a == "r" else ":---" for a in align) + "|")
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in table.rows]
    if table.note:
        lines += ["", f"_{table.note}_"]
    return "\n".join([*lines, ""])


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "µ": r"$\mu$", "±": r"$\pm$", "×": r"$\times$", "↑": r"$\uparrow$",
    "↓": r"$\downarrow$", "∞": r"$\infty$", "·": r"$\cdot$",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def table_to_latex(table: Table, label_prefix: str = "tab:") -> str:
    """A booktabs `table` environment (needs `\\usepackage{booktabs}`)."""
    caption = latex_escape(table.title)
    if table.empty:
        return f"% {caption}: {table.note or 'no data'}\n"
    align = "".join(table.align or ["l"] * len(table.header))
    lines = [
        r"\begin{table}[htbp]", r"\centering", r"\small",
        rf"\caption{{{caption}}}", rf"\label{{{label_prefix}{table.key}}}",
        rf"\begin{{tabular}}{{{align}}}", r"\toprule",
        " & ".join(latex_escape(h) for h in table.header) + r" \\", r"\midrule",
    ]
    for i, row in enumerate(table.rows):
        if i in table.group_starts and i > 0:
            lines.append(r"\midrule")
        lines.append(" & ".join(latex_escape(c) for c in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if table.note:
        lines.append(rf"\par\smallskip{{\footnotesize {latex_escape(table.note)}}}")
    lines += [r"\end{table}", ""]
    return "\n".join(lines)


# -- figures ------------------------------------------------------------------------------

class FigureSkipped(Exception):
    """The data cannot make this figure; the message says why."""


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


def _series_label(w: Any, a: Any, quant: Any) -> str:
    return bits_text(w, a, quant)


def _line_style(w: Any, a: Any) -> str:
    return "-" if w == a else "--"


def fig_accuracy_vs_bits(df: pd.DataFrame) -> Figure:
    """Accuracy against bit width, one line per model + quantizer; FP32 dashed if known."""
    ok = _has(ok_rows(df), "accuracy", "weight_bits", "act_bits")
    if ok.empty:
        raise FigureSkipped("no successful run with an accuracy")
    series_keys = ["model", "dataset", "weight_quant"]
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
        model, dataset, quant = key
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        label = f"{model} ({quant})" + (f" on {dataset}" if several_datasets else "")
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
            markersize=6, label=_series_label(w, a, quant))
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
    search = ok["folding_strategy"].astype(str) == "pareto"
    return ok[~search] if (~search).any() else ok


def fig_fps_vs_folding(df: pd.DataFrame) -> Figure:
    """Estimated FPS (log) against folding, one line per bit width, one panel per design."""
    ok = _has(ok_rows(df), "est_fps", "weight_bits", "act_bits", "folding_label")
    ok = _without_search_points(ok[ok["est_fps"] > 0])
    if ok.empty:
        raise FigureSkipped("no successful run with a positive FPS estimate")
    facets = _facets(ok)
    fig = Figure(figsize=(8.5, 1.0 + 3.6 * len(facets)), layout="constrained")
    axes = fig.subplots(len(facets), 1, squeeze=False)[:, 0]
    for ax, (title, group) in zip(axes, facets, strict=True):
        order = _folding_order(group)
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


RESOURCES = [("lut", "LUT", "LUTs"), ("bram18", "BRAM18", "BRAM18 blocks"),
             ("dsp", "DSP", "DSP slices")]


def fig_resources_vs_folding(df: pd.DataFrame) -> Figure:
    """LUT, BRAM18 and DSP against folding per bit width, with the board's capacity."""
    ok = _has(ok_rows(df), "weight_bits", "act_bits", "folding_label", "lut")
    if ok.empty:
        raise FigureSkipped("no successful run with resource estimates")
    ok = _without_search_points(ok)
    facets = _facets(ok)
    fig = Figure(figsize=(13.0, 1.4 + 3.8 * len(facets)), layout="constrained")
    axes = fig.subplots(len(facets), len(RESOURCES), squeeze=False)
    for row, (title, group) in zip(axes, facets, strict=True):
        order = _folding_order(group)
        index = {lab: i for i, lab in enumerate(order)}
        device = group["device"].dropna().iloc[0] if group["device"].notna().any() else None
        part = group["part"].dropna().iloc[0] if group["part"].notna().any() else None
        board, capacity = board_capacity(device, part)
        for ax, (col, short, unit) in zip(row, RESOURCES, strict=True):
            series_list = _bit_series(group)
            for k, ((w, a, quant), series) in enumerate(series_list):
                _plot_series(ax, series, col, index, (w, a, quant),
                             _dodge(k, len(series_list)))
            cap = capacity.get(col, 0)
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
            ax.set_ylabel(f"estimated {unit} (count{scale})")
            ax.set_title(f"{short} — {title}", fontsize="medium")
            ax.grid(True, alpha=0.3)
    _outside_legend(fig, list(axes.flatten()), _any_unfit(ok))
    return fig


MAX_PARETO_LABELS = 8


def fig_pareto(df: pd.DataFrame) -> Figure:
    """FPS vs LUT (log-log), colour = accuracy, marker = bit width, Pareto front ringed."""
    ok = _has(ok_rows(df), "accuracy", "est_fps", "lut")
    if ok.empty:
        raise FigureSkipped("no successful run with accuracy, FPS and LUT")
    front = pareto_front(df).loc[ok.index].astype(bool)
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
        mappable = ax.scatter(group["lut"], group["est_fps"], c=100 * group["accuracy"],
                              cmap="viridis", norm=norm, s=42, marker=marker,
                              edgecolors="black", linewidths=0.4, zorder=3)
        handles.append(Line2D([], [], linestyle="none", marker=marker, markersize=7,
                              markerfacecolor="#bbbbbb", markeredgecolor="black",
                              label=bits_text(w, a, quant)))
    fig.colorbar(mappable, ax=ax, label="top-1 test accuracy (%)")
    on = ok[front]
    if not on.empty:
        ax.scatter(on["lut"], on["est_fps"], s=170, facecolors="none", edgecolors="#d62728",
                   linewidths=1.8, zorder=4)
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=12,
                              markerfacecolor="none", markeredgecolor="#d62728",
                              markeredgewidth=1.8, label="Pareto-optimal"))
        if len(on) <= MAX_PARETO_LABELS:
            for k, (_, r) in enumerate(on.sort_values(["lut", "est_fps"]).iterrows()):
                # Alternate below/above so neighbours with similar LUTs do not overprint.
                ax.annotate(f"{bits_text(r.weight_bits, r.act_bits, r.weight_quant)} "
                            f"{r.folding_label}", (r.lut, r.est_fps),
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
    if (ok["lut"] > 0).all():
        ax.set_xscale("log")
    if (ok["est_fps"] > 0).all():
        ax.set_yscale("log")
    ax.margins(x=0.12, y=0.15)
    ax.set_xlabel("estimated LUTs (count, log)")
    ax.set_ylabel("estimated throughput (FPS, log)")
    ax.set_title(f"Design space: throughput vs LUTs ({int(front.sum())} of {len(ok)} "
                 "points Pareto-optimal)")
    ax.grid(True, which="major", alpha=0.3)
    fig.legend(handles=handles, loc="outside right upper", fontsize="small", title="bits")
    return fig


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


# -- the whole report ---------------------------------------------------------------------

def report_markdown(tables: list[Table], figures: list[FigureResult], title: str,
                    figure_dir: str = "figures") -> str:
    parts = [f"# {title}", ""]
    for table in tables:
        parts.append(table_to_markdown(table))
    parts += ["## Figures", ""]
    for fig in figures:
        parts.append(f"### {fig.title}")
        parts.append("")
        if fig.made:
            parts += [f"![{fig.title}]({figure_dir}/{fig.png.name})", "", fig.caption]
            if fig.pdf is not None:
                parts.append(f"([PDF]({figure_dir}/{fig.pdf.name}))")
            parts.append("")
        else:
            parts += [f"_skipped: {fig.note}_", ""]
    return "\n".join(parts)


def write_report(
    df: pd.DataFrame,
    out_dir: Path | str,
    title: str = "qnn-bench report",
    board: str | None = None,
    dpi: int = 150,
    pdf: bool = True,
    extra_tables: list[Table] | None = None,
) -> dict[str, Path]:
    """Write report.md, tables.tex, figures/*.png|pdf and report.html into `out_dir`.

    `extra_tables` (e.g. the paper reproduction's) come first, before the standard ones.
    `board` picks the board of the utilization table (default: the one most runs used);
    `dpi` is the PNGs' resolution; `pdf=False` skips the PDF copies of the figures.
    Returns the written paths: keys "markdown", "latex", "html" and "<figure>_png" /
    "<figure>_pdf" for every figure drawn.
    """
    from bench.html_report import write_html

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = [*(extra_tables or []), *build_tables(df, board)]
    figures = make_figures(df, out / "figures", dpi=dpi, pdf=pdf)
    paths: dict[str, Path] = {}
    md = out / "report.md"
    md.write_text(report_markdown(tables, figures, title))
    paths["markdown"] = md
    tex = out / "tables.tex"
    tex.write_text(
        "% Generated by qnn-bench; needs \\usepackage{booktabs}\n\n"
        + "\n".join(table_to_latex(t) for t in tables)
    )
    paths["latex"] = tex
    for fig in figures:
        if fig.png is not None:
            paths[f"{fig.key}_png"] = fig.png
        if fig.pdf is not None:
            paths[f"{fig.key}_pdf"] = fig.pdf
    paths["html"] = write_html(df, tables, figures, out / "report.html", title=title)
    return paths
