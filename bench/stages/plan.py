"""What a run does, in order: the stage lists.

    PREPARE      once per group of points that share a trained model
                 data → train → fp32 → export → hw_graph → verify → hw_accuracy
                 → foldable → unit_verify (--mvu rtl) → rtl_graph (target rtl);
                 an external QONNX model has external → qonnx_accuracy in place of
                 train → fp32 → export
    CHOOSE       once per point: which folding(s) the point's strategy picks
    PER_FOLDING  once per folding: estimate → rtl_measure → rtl_stitch (target rtl)
                 → route (target route)
                 → synth (with Vivado)

Each stage is declared as data (see `bench.engine.stage.Stage`) in this package's topic
modules (`model`, `hw_graph`, `choose`, `rtl_measure`, `route`, `vivado`); the loop in
`bench.engine.stage.run_stages` does the caching, timing, logging and failure attribution,
and `preflight` asks the active stages' requirements before any work.
Studies that need no training (published designs, the speed benchmark) run
`UNTRAINED_HW` instead of `PREPARE`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.core.spec import RunSpec
from bench.engine.stage import RunContext, Stage
from bench.stages.artifacts import EXPORT_CHECK_SAMPLES, RTL_SAMPLES, VERIFY_SAMPLES
from bench.stages.choose import CHOOSE, ESTIMATE
from bench.stages.hw_graph import (
    EXPORT,
    EXTERNAL,
    FOLDABLE,
    HW_ACCURACY,
    HW_GRAPH,
    QONNX_ACCURACY,
    UNIT_VERIFY,
    VERIFY,
)
from bench.stages.model import DATA, FP32, TRAIN, UNTRAINED
from bench.stages.route import ROUTE
from bench.stages.rtl_measure import RTL_GRAPH, RTL_MEASURE
from bench.stages.rtl_stitch import RTL_STITCH
from bench.stages.vivado import SYNTH

__all__ = ["EXPORT_CHECK_SAMPLES", "PER_FOLDING", "PER_POINT", "PREPARE", "RTL_SAMPLES",
           "UNTRAINED_HW", "VERIFY_SAMPLES", "preflight", "synthetic_data",
           "untrained_context"]


# -- the lists ------------------------------------------------------------------------------

PREPARE = [DATA, TRAIN, FP32, EXTERNAL, QONNX_ACCURACY, EXPORT, HW_GRAPH, VERIFY, HW_ACCURACY,
           FOLDABLE, UNIT_VERIFY, RTL_GRAPH]
PER_POINT = [CHOOSE]
PER_FOLDING = [ESTIMATE, RTL_MEASURE, RTL_STITCH, ROUTE, SYNTH]
# Published designs and the speed benchmark: the same stages on an untrained model, with
# a synthetic `data` artifact given by the caller (see `synthetic_data`).
UNTRAINED_HW = [UNTRAINED, EXPORT, HW_GRAPH, FOLDABLE]


def preflight(spec: RunSpec, stages: list[Stage] | None = None) -> None:
    """Ask every stage the spec will run whether this machine can run it, before any work:
    a missing tool or Vivado, or a module that does not import, is one `UserError` now
    rather than a failed record an hour later."""
    for stage in stages if stages is not None else [*PREPARE, *PER_POINT, *PER_FOLDING]:
        if stage.requires is not None and stage.active(spec):
            stage.requires(spec)


def synthetic_data(input_shape: tuple[int, int, int], num_classes: int = 10,
                   samples: int = EXPORT_CHECK_SAMPLES, seed: int = 0) -> Any:
    """Seeded random 8-bit images of a shape, standing in for a data set nobody needs."""
    from bench.data.dataset import Dataset

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(samples, *input_shape), dtype=np.uint8)
    y = (np.arange(samples) % num_classes).astype(np.int64)
    return Dataset("synthetic", x, y, x, y, num_classes)


def untrained_context(spec: Any, store: Any, input_shape: tuple[int, int, int]) -> RunContext:
    """A context for `UNTRAINED_HW`: the spec's model, untrained, on synthetic inputs."""
    from bench.engine.provenance import versions

    ctx = RunContext(spec, store, versions())
    ctx.artifacts["data"] = synthetic_data(input_shape)
    return ctx
