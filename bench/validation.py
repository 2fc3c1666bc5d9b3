"""FINN's estimates for published designs, beside what was measured on the boards.

Cycle and resource estimates depend on the architecture, the bit widths and the folding,
not on the weight values, so each design is exported untrained (seeded) with its published
folding; no data set is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.spec import stable_hash
from bench.store import Store

CONFIGS = Path(__file__).resolve().parents[1] / "finn_builds" / "configs"


@dataclass(frozen=True)
class PublishedDesign:
    name: str
    model: str
    input_shape: tuple[int, int, int]
    bits: int
    folding_file: str
    board: str
    clk_ns: float
    measured_fps: float
    measured_note: str
    published_est_cycles: int


PUBLISHED = (
    PublishedDesign(
        "TFC-w1a1", "tfc", (1, 28, 28), 1, "tfc_finn_w1a1.json", "Pynq-Z1", 10.0,
        measured_fps=900_000, measured_note="0.84-0.96 M (I/O-bound board)",
        published_est_cycles=64,
    ),
    PublishedDesign(
        "CNV-w1a1", "cnv", (3, 32, 32), 1, "cnv_finn_w1a1.json", "Pynq-Z1", 10.0,
        measured_fps=3_020, measured_note="3,020", published_est_cycles=32_768,
    ),
)


def estimate_published(design: PublishedDesign, store: Store) -> dict[str, Any]:
    """Export the design untrained, build its hardware graph (cached), fold and estimate."""
    import numpy as np
    import torch

    from bench import finn_flow
    from bench.devices import get_board
    from bench.export import export_qonnx
    from bench.folding import layers_folding, to_finn_config
    from bench.pipeline import versions
    from bench.spec import load_folding_file
    from models import build_model

    board = get_board(design.board)
    key = stable_hash({"design": design.name, "versions": versions(), "part": board.part})
    entry = store.cache_entry("published", key)
    if not store.is_cached("published", key):
        with store.new_entry("published", key) as (entry, meta):
            torch.manual_seed(0)
            model = build_model(design.model, design.input_shape, 10, design.bits, design.bits)
            sample = np.zeros((1, *design.input_shape), dtype=np.uint8)
            export_qonnx(model.eval(), sample, entry / "model.qonnx.onnx")
            finn_flow.build_hw_graph(entry / "model.qonnx.onnx", entry, board.part,
                                     design.clk_ns)
            meta["design"] = design.name
    graph = finn_flow.FoldableGraph(
        finn_flow.load_graph(entry / finn_flow.HW_GRAPH_FILE), board.part, design.clk_ns
    )
    folding = layers_folding(graph.layers, load_folding_file(CONFIGS / design.folding_file))
    est = graph.estimate(to_finn_config(folding))
    return {
        "design": design.name,
        "board": design.board,
        "clock_mhz": 1000 / design.clk_ns,
        "est_max_cycles": est.max_cycles,
        "published_est_cycles": design.published_est_cycles,
        "est_fps": est.fps,
        "measured_fps": design.measured_fps,
        "measured": design.measured_note,
        "est_over_measured": est.fps / design.measured_fps,
        "est_bottleneck": est.bottleneck,
        "lut": est.totals.get("lut", 0.0),
        "bram18": est.totals.get("bram18", 0.0),
    }


def validation_rows(store: Store) -> list[dict[str, Any]]:
    return [estimate_published(d, store) for d in PUBLISHED]


def validation_markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| design | board @ clock | est. cycles (published) | est. FPS | measured FPS "
        "| est. / measured | est. LUT | bottleneck |",
        "|:---|:---|---:|---:|---:|---:|---:|:---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['design']} | {r['board']} @ {r['clock_mhz']:.0f} MHz "
            f"| {r['est_max_cycles']:,} ({r['published_est_cycles']:,}) | {r['est_fps']:,.0f} "
            f"| {r['measured']} | {r['est_over_measured']:.2f} | {r['lut']:,.0f} "
            f"| {r['est_bottleneck']} |"
        )
    return "\n".join(lines) + "\n"
