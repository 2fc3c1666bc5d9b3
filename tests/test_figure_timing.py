"""The routed-timing figure: drawn from routed records only, skipped with a reason
otherwise."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.report.figure_timing import fig_routed_fmax
from bench.report.style import FigureSkipped


def _row(quant: str, bits: int, lut4: int | None, fmax: float | None) -> dict:
    return {"status": "ok", "weight_quant": quant, "weight_bits": bits, "clk_ns": 10.0,
            "route_lut4": lut4, "route_fmax_mhz": fmax, "fmax_est_mhz": 61.0}


def test_routed_designs_are_drawn_in_both_panels():
    df = pd.DataFrame([_row("int", 4, 12_197, 56.5), _row("pot", 4, 9_000, 60.1),
                       _row("int", 2, None, None)])  # not routed: left out
    fig = fig_routed_fmax(df)
    size_ax, est_ax = fig.axes
    assert sum(len(c.get_offsets()) for c in size_ax.collections) == 2
    assert sum(len(c.get_offsets()) for c in est_ax.collections) == 2
    assert {t.get_text() for t in fig.legends[0].get_texts()} == {"int W4", "pot W4"}


def test_without_routed_records_the_figure_says_why():
    with pytest.raises(FigureSkipped, match="--target route"):
        fig_routed_fmax(pd.DataFrame([{"status": "ok", "est_fps": 1.0}]))
    with pytest.raises(FigureSkipped, match="--target route"):
        fig_routed_fmax(pd.DataFrame([_row("int", 4, None, None)]))
