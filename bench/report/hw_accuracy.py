"""The hardware graph's accuracy beside the model's: does the accelerator classify as the
network does?

`accuracy` comes from PyTorch (trained zoo models) or QONNX execution (external files);
`hw_accuracy` from FINN's Python execution of the dataflow graph that becomes hardware,
on `hw_accuracy_samples` test images. A difference means the streamlined, integer-only
graph does not compute what the network computes; it is the number to look at first when
bringing an external model.
"""

from __future__ import annotations

import pandas as pd

from bench.report.collect import ok_rows
from bench.report.table_model import (
    COLUMN_LABELS,
    Table,
    bits_text,
    cell_text,
    empty_table,
    fmt_float,
    fmt_int,
)

_TRAINING_KEYS = ["model", "dataset", "weight_quant", "weight_bits", "act_bits", "seed",
                  "epochs"]


def hw_accuracy_table(df: pd.DataFrame) -> Table:
    """One row per trained network (seeds averaged): accuracy, hw_accuracy, difference."""
    title = "Accuracy of the hardware graph (FINN execution) beside the model's"
    if df.empty or "hw_accuracy" not in df.columns:
        return empty_table("hw_accuracy", title, "no run measured the hardware graph's accuracy")
    ok = ok_rows(df)
    ok = ok[ok["hw_accuracy"].notna() & ok["accuracy"].notna()]
    if ok.empty:
        return empty_table("hw_accuracy", title, "no run measured the hardware graph's accuracy")
    keys = [k for k in _TRAINING_KEYS if k in ok.columns]
    # every folding of one trained network shares both numbers: count each network once
    per_net = ok.groupby(keys, dropna=False).agg(
        accuracy=("accuracy", "first"), hw_accuracy=("hw_accuracy", "first"),
        samples=("hw_accuracy_samples", "first"),
    ).reset_index()
    row_keys = ["model", "dataset", "weight_quant", "weight_bits", "act_bits"]
    grouped = per_net.groupby(row_keys, dropna=False).agg(
        accuracy=("accuracy", "mean"), hw_accuracy=("hw_accuracy", "mean"),
        samples=("samples", "min"), seeds=("seed", "nunique"),
    ).reset_index()
    grouped["difference_pp"] = 100 * (grouped["hw_accuracy"] - grouped["accuracy"])
    grouped = grouped.sort_values(row_keys)
    header = [COLUMN_LABELS["model"], COLUMN_LABELS["dataset"], "W/A", "accuracy (%)",
              "HW graph accuracy (%)", "difference (pp)", "HW test samples", "seeds"]
    rows = [
        [cell_text("model", r.model), cell_text("dataset", r.dataset),
         bits_text(r.weight_bits, r.act_bits, r.weight_quant), fmt_float(100 * r.accuracy),
         fmt_float(100 * r.hw_accuracy), f"{r.difference_pp:+.2f}", fmt_int(r.samples),
         str(int(r.seeds))]
        for r in grouped.itertuples(index=False)
    ]
    note = ("accuracy: PyTorch for trained models, QONNX execution for external files; "
            "HW graph: FINN's Python execution of the dataflow graph; seeds averaged")
    return Table(key="hw_accuracy", title=title, header=header, rows=rows,
                 data=grouped.reset_index(drop=True), align=["l"] * 3 + ["r"] * 5, note=note)
