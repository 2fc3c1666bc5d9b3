"""What stages hand each other: artifact types, the sample counts that enter cache keys,
and the accessors every topic needs (the model, the QONNX graph, test inputs).

Kept in one module so that no stage module reaches into another's private helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.engine.stage import RunContext

VERIFY_SAMPLES = 64
DEFAULT_INPUT_SCALE = 1.0 / 255.0  # image data: pixels 0..255 become 0..1
EXPORT_CHECK_SAMPLES = 16
RTL_SAMPLES = 4  # test samples each RTL layer is simulated on (back to back)
STITCH_SAMPLES = 8  # test samples the stitched network is simulated on (back to back)
STITCH_STALL_PERCENT = 50  # the stitched network is simulated again with its output
#                            not ready in this share of the cycles (seeded backpressure)


@dataclass
class Trained:
    model: Any  # torch.nn.Module
    accuracy: float | None


@dataclass
class Choice:
    """One folding a point's strategy picked, and the record fields that describe it."""

    folding: list[Any]  # bench.core.folding.LayerFolding
    extra: dict[str, Any]
    run_id: str


@dataclass
class Exported:
    """A QONNX graph FINN builds from, and what exporting (or checking) it found."""

    path: Path
    meta: dict[str, Any]


@dataclass
class BuiltGraph:
    hw: Any  # bench.finn_flow.HwGraph
    meta: dict[str, Any]


@dataclass
class RtlGraph:
    hw: Any  # bench.finn_flow.HwGraph, thresholds standalone, RTL preferred
    hls_reasons: dict[str, str]  # per node FINN left HLS: why


def model_of(ctx: RunContext) -> Trained:
    """The trained model, or the seeded untrained one of studies without data."""
    return ctx.artifacts.get("train") or ctx["untrained"]


def exported(ctx: RunContext) -> Exported:
    """The QONNX graph FINN builds from: exported from PyTorch, or an external file."""
    return ctx.artifacts.get("export") or ctx["external"]


def test_inputs(ctx: RunContext, samples: int | None = None) -> np.ndarray:
    """Test samples as the graph takes them; random ones of its input type without data."""
    if not ctx.spec.is_external:
        return ctx["data"].x_test[:samples]
    from bench import finn_flow

    path = ctx["external"].path
    if ctx["data"] is None:
        return finn_flow.external.random_inputs(path, samples or VERIFY_SAMPLES, ctx.spec.seed)
    x = ctx["data"].x_test[:samples]
    return x.reshape(len(x), *ctx["external"].meta["input_shape"][1:])


def data_key(ctx: RunContext) -> str | None:
    """The data set's content fingerprint (None for a run without data)."""
    from bench.data.dataset import fingerprint

    return fingerprint(ctx["data"]) if ctx["data"] is not None else None
