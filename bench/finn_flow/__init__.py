"""The only place qnn-bench talks to FINN (finn-plus).

* `env`: making FINN runnable in-process, with or without Vivado;
* `builder`: FINN's flow as one step list, one config builder, one way to run it;
* `transforms`: our own graph passes, as QONNX transformations;
* `graph`: the hardware graph built once per model, folded and estimated in memory;
* `execute`: FINN's Python simulation of that graph (the bit-exact reference);
* `external`: external QONNX files (checks, input mapping, batched QONNX execution);
* `synth`: the Vivado targets past the estimates;
* `mvu_op`, `mvu_transform`: our matrix-vector unit as a FINN layer, and the pass that
  puts it in place of FINN's MVAUs (`--mvu rtl`);
* `pool_op`, `pool_transform`: our max pooling unit likewise in place of FINN's max
  pools, and the one pass that puts all our units in (`--mvu rtl`); `unit_op`: what
  both layers share (estimates from one `unit_estimate`, the generated HDL directory);
* `rtl_layers`, `stitch_graph`: FINN's side of the measured hardware (HDL, streams);
* `calibrated`: each node's cost by the models of `bench.cost`, beside FINN's estimate;
* `single_layer`, `calibration`: one-layer graphs from plain descriptions, and measuring
  the calibration corpus with them.
"""

from bench.finn_flow import external
from bench.finn_flow.builder import FinnStepError
from bench.finn_flow.env import prepare_finn, vivado_available
from bench.finn_flow.graph import (
    Estimate,
    FoldableGraph,
    HwGraph,
    build_hw_graph,
    estimate,
    estimate_from_reports,
    foldable_layers,
    layer_datatypes,
    load_graph,
    run_estimate_build,
    weight_initializers,
)
from bench.finn_flow.synth import (
    SYNTH_TARGETS,
    VivadoMissing,
    describe_plan,
    parse_synth_report,
    run_synthesis,
    steps_past_estimates,
    synthesis_plan,
)

__all__ = [
    "SYNTH_TARGETS", "Estimate", "FinnStepError", "FoldableGraph", "HwGraph",
    "VivadoMissing", "build_hw_graph", "describe_plan", "estimate", "estimate_from_reports",
    "external", "foldable_layers", "layer_datatypes", "load_graph", "parse_synth_report",
    "prepare_finn", "run_estimate_build", "run_synthesis", "steps_past_estimates",
    "synthesis_plan", "vivado_available", "weight_initializers",
]
