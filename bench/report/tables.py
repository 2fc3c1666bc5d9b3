"""The standard tables of a report: accuracy (the model's, and the hardware graph's in
`hw_accuracy`), hardware, utilization, Pareto, measured RTL layers (`rtl`), failures.

Each is a function of the collected DataFrame only; inputs without the data a table needs
give an empty table with a note, never an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from bench.core.devices import BOARDS, Board, get_board
from bench.report.collect import ok_rows, outcomes
from bench.report.hw_accuracy import hw_accuracy_table
from bench.report.measured import rtl_stitched_table, rtl_table, rtl_unmeasured_table
from bench.report.table_model import (
    COLUMN_LABELS,
    Table,
    as_number,
    bits_text,
    cell_text,
    context_text,
    empty_table,
    fmt_amount,
    fmt_bool,
    fmt_float,
    fmt_int,
    fmt_pct,
    has_values,
    split_constant,
)


def accuracy_table(df: pd.DataFrame) -> Table:
    """(a) Top-1 accuracy (%) by bit width: rows model + quantizer, columns W/A bits (+FP32).

    Every folding of one trained network has the same accuracy, so each training run
    (model, data, bits, quantizer, seed, epochs) counts once; several seeds give mean ± std.
    """
    title = "Top-1 test accuracy (%) by bit width"
    ok = has_values(ok_rows(df), "accuracy", "weight_bits", "act_bits")
    if ok.empty:
        return empty_table("accuracy", title, "no successful run with an accuracy")
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
    header = [COLUMN_LABELS[k] for k in row_keys] + labels + (["FP32"] if has_fp32 else [])
    rows, data_rows, multi_seed = [], [], False
    for key in rows_idx:
        sel = stats
        for k, v in zip(row_keys, key, strict=True):
            sel = sel[sel[k].isna()] if pd.isna(v) else sel[sel[k] == v]
        cells = [cell_text(k, v) for k, v in zip(row_keys, key, strict=True)]
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


COST_NOTE = ("LUT/BRAM18/DSP: calibrated on Yosys measurements where a model covers the "
             "layer, FINN's analytical estimate elsewhere (collected column cost_basis); "
             "FIFOs and width converters are not included")


def _cost(resource: str) -> str:
    """The report column of a resource: URAM has no calibrated model, the others do."""
    return resource if resource == "uram" else f"cost_{resource}"


_HW_METRICS = ["est_fps", "est_latency_ns", "est_max_cycles", "cost_lut", "cost_bram18",
               "uram", "cost_dsp"]


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
        cells = [cell_text(c, r[c]) if first else "" for c in varying]
        cells.append(bits_text(r.weight_bits, r.act_bits, r.weight_quant) if first else "")
        heads.append(cells)
    return heads, starts


def hardware_table(df: pd.DataFrame) -> Table:
    """(b) FPS, latency, cycles, LUT/BRAM18/(URAM)/DSP by folding, grouped by bit width."""
    title = "Estimated throughput and resources by folding and bit width"
    ok = has_values(ok_rows(df), "est_fps", "weight_bits", "act_bits")
    if ok.empty:
        return empty_table("hardware", title, "no successful run with estimates")
    varying, constant = split_constant(ok, ["model", "dataset", "device", "clk_ns"])
    if constant:
        title += f" ({context_text(constant)})"
    table = _hardware_rows(ok, varying)
    show_uram = bool((table["uram"].fillna(0) > 0).any())
    header = [COLUMN_LABELS[c] for c in varying] + ["W/A", "folding", "FPS", "latency (µs)",
                                              "cycles", "LUT", "BRAM18"]
    header += ["URAM"] if show_uram else []
    header += ["DSP", "fits"]
    rows = []
    heads, starts = _group_heads(table, varying)
    for (_, r), cells in zip(table.iterrows(), heads, strict=True):
        cells += [str(r.folding_label), fmt_int(r.est_fps),
                  fmt_float(latency / 1000 if (latency := as_number(r.est_latency_ns)) is not None
                            else None),
                  fmt_int(r.est_max_cycles), fmt_amount(r.cost_lut), fmt_amount(r.cost_bram18)]
        cells += [fmt_amount(r.uram)] if show_uram else []
        cells += [fmt_amount(r.cost_dsp), fmt_bool(r.fits)]
        rows.append(cells)
    n_left = len(varying) + 2
    return Table(
        key="hardware", title=title, header=header, rows=rows, data=table,
        align=["l"] * n_left + ["r"] * (len(header) - n_left - 1) + ["l"],
        group_starts=starts,
        note=COST_NOTE,
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
    ok = has_values(ok_rows(df), "device")
    if ok.empty:
        return None
    return str(ok["device"].value_counts().index[0])


def utilization_table(df: pd.DataFrame, board: str | None = None) -> Table:
    """(c) Utilization (% of the chosen board's capacity) per bit width and folding."""
    name = chosen_board(df, board)
    title = f"Utilization of {name}" if name else "Utilization"
    ok = has_values(ok_rows(df), "est_fps", "weight_bits", "act_bits", "device")
    if name:
        ok = ok[ok["device"].str.lower() == name.lower()]
    if ok.empty:
        return empty_table("utilization", title, f"no successful run on {name or 'any board'}")
    board_obj, capacity = board_capacity(name, ok["part"].dropna().iloc[0]
                                         if ok["part"].notna().any() else None)
    varying, constant = split_constant(ok, ["model", "dataset", "clk_ns"])
    table = _hardware_rows(ok, varying)
    resources = [r for r in ("lut", "bram18", "uram", "dsp")
                 if capacity.get(r, 0) > 0 or (table[_cost(r)].fillna(0) > 0).any()]
    for r in resources:
        computed = table[_cost(r)] / capacity[r] if capacity.get(r) else np.nan
        table[f"util_{r}"] = table[f"util_{r}"].fillna(computed)
    if board_obj is not None:
        caps = ", ".join(f"{fmt_int(capacity[r])} {r.upper()}" for r in resources
                         if capacity.get(r))
        title += f" ({board_obj.part}: {caps})"
    if constant:
        title += f" · {context_text(constant)}"
    header = [COLUMN_LABELS[c] for c in varying] + ["W/A", "folding"]
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
        note="percent of the part's data-sheet totals, of the costs in the hardware "
        "table (calibrated where covered, FINN's estimate elsewhere), before synthesis",
    )


# -- Pareto front -------------------------------------------------------------------------

PARETO_MAXIMIZE = ("accuracy", "est_fps")
PARETO_MINIMIZE = ("cost_lut",)  # calibrated where covered (collect.cost_columns)


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
    usable = has_values(df, *cols)
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


def pareto_optimal(df: pd.DataFrame) -> pd.Series:
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
    front = ok[pareto_optimal(df).loc[ok.index]] if not ok.empty else ok
    if front.empty:
        return empty_table("pareto", title, "no run has accuracy, FPS and LUT estimates")
    front = front.sort_values(["dataset", "cost_lut", "est_fps"], kind="stable")
    varying, constant = split_constant(front, ["model", "dataset", "device"])
    if constant:
        title += f" ({context_text(constant)})"
    header = [COLUMN_LABELS[c] for c in varying] + ["W/A", "folding", "accuracy (%)", "FPS", "LUT",
                                              "BRAM18", "DSP"]
    rows = []
    for _, r in front.iterrows():
        rows.append([cell_text(c, r[c]) for c in varying] + [
            bits_text(r.weight_bits, r.act_bits, r.weight_quant), str(r.folding_label),
            fmt_float(100 * r.accuracy), fmt_int(r.est_fps), fmt_amount(r.cost_lut),
            fmt_amount(r.cost_bram18), fmt_amount(r.cost_dsp),
        ])
    n_left = len(varying) + 2
    return Table(key="pareto", title=title, header=header, rows=rows,
                 data=front.reset_index(drop=True),
                 align=["l"] * n_left + ["r"] * (len(header) - n_left))


def failures_table(df: pd.DataFrame) -> Table:
    """Runs that failed, with the stage and the first line of the error."""
    return _unfinished_table(df, "failed", "failures", "Failed runs", "no failed runs")


def not_applicable_table(df: pd.DataFrame) -> Table:
    """Foldings that cannot exist on the network at its input geometry (not failures)."""
    return _unfinished_table(
        df, "not_applicable", "not_applicable",
        "Not applicable: foldings invalid for the network's dimensions (by design)",
        "every folding fits its network",
    )


def _unfinished_table(df: pd.DataFrame, kind: str, key: str, title: str, none: str) -> Table:
    if df.empty or "status" not in df.columns:
        return empty_table(key, title, "no records")
    rows_of = df[outcomes(df) == kind]
    if rows_of.empty:
        return empty_table(key, title, none)
    header = ["run", "W/A", "folding", "stage", "error"]
    rows = []
    for _, r in rows_of.iterrows():
        error = str(r.get("error") or "")
        rows.append([str(r.run_id), bits_text(r.weight_bits, r.act_bits, r.weight_quant),
                     str(r.folding_label or ""), str(r.get("failed_stage") or ""),
                     error if len(error) <= 160 else error[:157] + "..."])
    return Table(key=key, title=title, header=header, rows=rows,
                 data=rows_of.reset_index(drop=True), align=["l"] * 5)


def rtl_tables(df: pd.DataFrame) -> list[Table]:
    """Estimated vs measured RTL layers, and the layers left to FINN's estimate.

    Both are empty (with a note) unless some record was run with `--target rtl`; a
    reproduction can append them to its own tables as they are.
    """
    return [rtl_table(df), rtl_unmeasured_table(df), rtl_stitched_table(df)]


def build_tables(df: pd.DataFrame, board: str | None = None) -> list[Table]:
    """All report tables, in report order (empty ones included, with their note)."""
    return [accuracy_table(df), hw_accuracy_table(df), hardware_table(df),
            utilization_table(df, board),
            pareto_table(df), not_applicable_table(df), *rtl_tables(df), failures_table(df)]
