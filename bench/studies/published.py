"""FINN's estimates for published designs, beside what was measured on the boards.

Cycle and resource estimates depend on the architecture, the bit widths and the folding,
not on the weight values, so each design is exported untrained (seeded) with its published
folding; no data set is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.core.folding_spec import FOLDINGS_DIR, load_folding_file
from bench.core.spec import make_spec
from bench.engine.store import Store

CONFIGS = FOLDINGS_DIR


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
    """The design untrained, through the run's own stages (cached), with its folding."""
    from bench.core.folding import layers_folding, to_finn_config
    from bench.engine.stage import run_stages
    from bench.stages.plan import UNTRAINED_HW, untrained_context

    spec = make_spec(model=design.model, weight_bits=design.bits, act_bits=design.bits,
                     board=design.board, clk_ns=design.clk_ns, impl="hls")
    ctx = untrained_context(spec, store, design.input_shape)
    graph = run_stages(UNTRAINED_HW, ctx)["foldable"]
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
