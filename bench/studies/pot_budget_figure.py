"""FPS against accuracy of the budget study's winners: one panel per board and network,
one marker per design, each point labelled with its weight bits. Up and to the right is
better; a format whose points sit left of another's pays accuracy for its speed."""

from __future__ import annotations

from typing import Any

import pandas as pd

MARKERS = {"pot": "o", "int": "s", "int-lut": "^", "int-finn": "D"}


def fps_vs_accuracy(df: pd.DataFrame) -> Any | None:
    """A matplotlib Figure, or None when no winner has both numbers."""
    from matplotlib.figure import Figure

    ok = df[(df["status"] == "ok") & df["fps"].notna() & df["accuracy_mean"].notna()]
    if ok.empty:
        return None
    panels = list(ok.groupby(["board", "network"], sort=True))
    fig = Figure(figsize=(5.0 * len(panels), 4.2), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, ((board, network), group) in zip(axes, panels, strict=True):
        for design, rows in group.groupby("design", sort=True):
            ax.scatter(100 * rows["accuracy_mean"], rows["fps"],
                       marker=MARKERS.get(str(design), "x"), label=str(design))
            over = rows[rows["fits_measured"] == False]  # noqa: E712  (built, over budget)
            ax.scatter(100 * over["accuracy_mean"], over["fps"], marker="x", c="red")
            for _, r in rows.iterrows():
                ax.annotate(f"{r['weight_bits']}", (100 * r["accuracy_mean"], r["fps"]),
                            textcoords="offset points", xytext=(4, 3), fontsize="x-small")
        ax.set_yscale("log")
        ax.set_title(f"{network} on {board}")
        ax.set_xlabel("test accuracy, mean over seeds (%)")
        ax.set_ylabel("FPS of the fastest design that fits (simulated where built)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    return fig
