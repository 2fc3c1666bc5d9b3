"""`qnnbench perf`: how much faster the incremental estimate is than a FINN build per point.

Both paths are timed in the same process, on the same folding points of the same
exported TFC W2A2 (784-64-64-64-10, FINN's MNIST-sized example), so the ratio is
meaningful on a shared, noisy machine; rates are medians over repetitions. The estimates
of both paths must be identical for every point that both evaluate, and the report says
whether they were. Estimates depend on the architecture, bit widths and folding, not on
the weight values, so the network is exported untrained (seeded) instead of waiting for
MNIST, which cannot be assumed to be on the machine.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.spec import stable_hash
from bench.store import Store

GRID = (1, 2, 4, 8, 16, 32, 64)


def run_perf(results_dir: Path, naive_points: int = 3, repeats: int = 5) -> dict[str, Any]:
    from bench import finn_flow
    from bench.folding import to_finn_config, uniform_folding
    qonnx_path, graph = _prepare_tfc(Store(results_dir))
    configs = [
        to_finn_config(uniform_folding(graph.layers, pe, simd)) for pe in GRID for simd in GRID
    ]

    incremental_rates = []
    incremental = []
    for _ in range(repeats):
        start = time.perf_counter()
        incremental = [graph.estimate(c) for c in configs]
        incremental_rates.append(len(configs) / (time.perf_counter() - start))

    # Spread the naive points over the grid (slowest, middle, fastest foldings).
    step = max(1, (len(configs) - 1) // max(1, naive_points - 1))
    naive_indices = list(range(0, len(configs), step))[:naive_points]
    naive_times = []
    identical = True
    with tempfile.TemporaryDirectory(prefix="qnnbench-perf-") as tmp:
        for i in naive_indices:
            start = time.perf_counter()
            reports = finn_flow.run_estimate_build(
                qonnx_path, Path(tmp) / f"p{i}", graph.fpga_part, graph.clk_ns, configs[i]
            )
            naive_times.append(time.perf_counter() - start)
            full = finn_flow.estimate_from_reports(
                reports["estimate_layer_cycles"], reports["estimate_layer_resources"],
                reports["estimate_network_performance"], graph.clk_ns,
            )
            identical = identical and full == incremental[i]

    incremental_rate = statistics.median(incremental_rates)
    naive_rate = 1.0 / statistics.median(naive_times)
    return {
        "incremental_points_per_s": round(incremental_rate, 1),
        "naive_points_per_s": round(naive_rate, 4),
        "speedup": round(incremental_rate / naive_rate, 1),
        "identical": identical,
        "points_incremental": len(configs),
        "repeats_incremental": repeats,
        "points_naive": len(naive_indices),
        "median_naive_s": round(statistics.median(naive_times), 3),
        "model": "tfc W2A2, 784 inputs",
        "part": graph.fpga_part,
    }


def _prepare_tfc(store: Store) -> tuple[Path, Any]:
    """Export and build (once, then cached) an MNIST-sized TFC W2A2 for Pynq-Z1."""
    import numpy as np
    import torch

    from bench import finn_flow
    from bench.export import export_qonnx
    from bench.pipeline import versions
    from models import build_model

    part, clk_ns = "xc7z020clg400-1", 10.0
    key = stable_hash({"perf": "tfc-w2a2-784", "versions": versions(), "part": part})
    entry = store.cache_entry("perf", key)
    if not store.is_cached("perf", key):
        with store.new_entry("perf", key) as (entry, meta):
            torch.manual_seed(0)
            model = build_model("tfc", (1, 28, 28), 10, weight_bits=2, act_bits=2).eval()
            sample = np.zeros((1, 1, 28, 28), dtype=np.uint8)
            export_qonnx(model, sample, entry / "model.qonnx.onnx")
            finn_flow.build_hw_graph(entry / "model.qonnx.onnx", entry, part, clk_ns)
            meta["model"] = "tfc w2a2 784"
    graph = finn_flow.FoldableGraph(
        finn_flow.load_graph(entry / finn_flow.HW_GRAPH_FILE), part, clk_ns
    )
    return entry / "model.qonnx.onnx", graph
