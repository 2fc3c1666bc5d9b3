"""The table model every report renders, and the cell formatting shared by all tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

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


def as_number(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def fmt_int(value: Any) -> str:
    v = as_number(value)
    return "" if v is None else ("∞" if math.isinf(v) else f"{v:,.0f}")


def fmt_float(value: Any, digits: int = 2) -> str:
    v = as_number(value)
    return "" if v is None else f"{v:,.{digits}f}"


def fmt_amount(value: Any) -> str:
    """Resource counts: integers plainly, FINN's fractional BRAM estimates with one digit."""
    v = as_number(value)
    if v is None:
        return ""
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def fmt_pct(fraction: Any, digits: int = 1) -> str:
    v = as_number(fraction)
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
    v = as_number(clk_ns)
    return "" if not v else f"{1000 / v:.0f} MHz"


def has_values(df: pd.DataFrame, *cols: str) -> pd.DataFrame:
    """Rows with every column present and not missing."""
    if any(c not in df.columns for c in cols):
        return df.iloc[0:0]
    mask = pd.Series(True, index=df.index)
    for c in cols:
        mask &= df[c].notna()
    return df[mask]


def folding_order(df: pd.DataFrame) -> list[str]:
    """Folding labels from least to most parallel (median PE×SIMD sum of their rows)."""
    if df.empty:
        return []
    par = pd.to_numeric(df["parallelism"], errors="coerce").astype(float)
    med = par.groupby(df["folding_label"]).median()
    return sorted(med.index, key=lambda lab: (np.nan_to_num(med[lab], nan=np.inf), str(lab)))


def split_constant(
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


def context_text(constant: dict[str, Any]) -> str:
    text = " · ".join(str(constant[k]) for k in ("model", "dataset", "device") if k in constant)
    if "clk_ns" in constant:
        text += f" @ {clock_text(constant['clk_ns'])}"
    return text.strip()


COLUMN_LABELS = {"model": "model", "dataset": "data set", "device": "device", "clk_ns": "clock",
           "weight_quant": "quantizer", "epochs": "epochs"}


def cell_text(col: str, value: Any) -> str:
    if col == "clk_ns":
        return clock_text(value)
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def empty_table(key: str, title: str, note: str) -> Table:
    return Table(key=key, title=title, header=[], rows=[], note=note)
