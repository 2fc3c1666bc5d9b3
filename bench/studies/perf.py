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

from bench.core.spec import make_spec
from bench.engine.stage import run_stages
from bench.engine.store import Store

GRID = (1, 2, 4, 8, 16, 32, 64)


def run_perf(results_dir: Path, naive_points: int = 3, repeats: int = 5) -> dict[str, Any]:
    from bench import finn_flow
    from bench.core.folding import to_finn_config, uniform_folding
    from bench.finn_flow.calibrated import finn_only
    store = Store(results_dir)
    qonnx_path, graph = _prepare_tfc(store, "hls")
    configs = [
        to_finn_config(uniform_folding(graph.layers, pe, simd)) for pe in GRID for simd in GRID
    ]
    incremental_rates, incremental = _timed_estimates(graph, configs, repeats)
    # The default graph (RTL layers, calibrated costs) through the same incremental path.
    _, rtl_graph = _prepare_tfc(store, "rtl")
    rtl_configs = [to_finn_config(uniform_folding(rtl_graph.layers, pe, simd))
                   for pe in GRID for simd in GRID]
    rtl_rates, _ = _timed_estimates(rtl_graph, rtl_configs, repeats)

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
            identical = identical and full == finn_only(incremental[i])

    incremental_rate = statistics.median(incremental_rates)
    naive_rate = 1.0 / statistics.median(naive_times)
    return {
        "incremental_points_per_s": round(incremental_rate, 1),
        "naive_points_per_s": round(naive_rate, 4),
        "speedup": round(incremental_rate / naive_rate, 1),
        "incremental_rtl_points_per_s": round(statistics.median(rtl_rates), 1),
        "speedup_rtl": round(statistics.median(rtl_rates) / naive_rate, 1),
        # the first pass prices every layer folding for the first time (nothing remembered)
        "incremental_rtl_first_pass_points_per_s": round(rtl_rates[0], 1),
        "speedup_rtl_first_pass": round(rtl_rates[0] / naive_rate, 1),
        "identical": identical,
        "points_incremental": len(configs),
        "repeats_incremental": repeats,
        "points_naive": len(naive_indices),
        "median_naive_s": round(statistics.median(naive_times), 3),
        "model": "tfc W2A2, 784 inputs",
        "part": graph.fpga_part,
    }


def _timed_estimates(graph: Any, configs: list[Any], repeats: int
                     ) -> tuple[list[float], list[Any]]:
    """Points per second of each pass over `configs`, and the last pass's estimates."""
    rates, estimates = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        estimates = [graph.estimate(c) for c in configs]
        rates.append(len(configs) / (time.perf_counter() - start))
    return rates, estimates


def _prepare_tfc(store: Store, impl: str) -> tuple[Path, Any]:
    """An MNIST-sized TFC W2A2 for Pynq-Z1, through the run's own stages (cached).

    The identity check runs on FINN's default graph (`impl` hls), the one FINN's own
    estimate build makes; the default graph of a run (rtl) is timed beside it."""
    from bench.stages.plan import UNTRAINED_HW, untrained_context

    spec = make_spec(model="tfc", dataset="mnist", weight_bits=2, act_bits=2,
                     board="Pynq-Z1", clk_ns=10.0, impl=impl)
    ctx = untrained_context(spec, store, input_shape=(1, 28, 28))
    run_stages(UNTRAINED_HW, ctx)
    return ctx["export"].path, ctx["foldable"]
