"""A failure in any stage is recorded as a failure of that stage, and nothing else."""

from __future__ import annotations

import importlib
import sys

import pytest

from bench.core.spec import make_spec
from bench.engine.store import Store
from bench.run.point import run_point
from bench.stages.plan import PER_FOLDING, PER_POINT, PREPARE

# (stage, module whose function the stage calls, function name)
INJECTION_POINTS = [
    ("data", "bench.data.load", "load_dataset"),
    ("train", "bench.learn.train", "train"),
    ("fp32", "bench.learn.train", "train"),
    ("export", "bench.learn.export", "export_and_check"),
    ("hw_graph", "bench.finn_flow.rtl_layers", "build_rtl_hw_graph"),
    ("verify", "bench.learn.verify", "verify_hw_graph"),
    ("hw_accuracy", "bench.finn_flow.graph", "HwGraph.execute_many"),
    ("choose", "bench.core.folding", "uniform_folding"),
    ("estimate", "bench.finn_flow.graph", "FoldableGraph.estimate"),
    ("rtl_graph", "bench.finn_flow.rtl_layers", "build_rtl_hw_graph"),
    ("rtl_measure", "bench.finn_flow.rtl_layers", "measure_graph"),
    ("unit_verify", "bench.finn_flow.graph", "HwGraph.with_model"),
    # measures every layer for real first (minutes): with the end-to-end tests
    pytest.param("rtl_stitch", "bench.stages.rtl_stitch", "folded_rtl_graph",
                 marks=pytest.mark.slow, id="rtl_stitch"),
    pytest.param("route", "bench.rtl.routing", "route_layers",
                 marks=pytest.mark.slow, id="route"),
]
# Stages active only for their target, or with our matrix-vector unit.
TARGET_OF = {"rtl_graph": "rtl", "rtl_measure": "rtl", "rtl_stitch": "rtl", "route": "route"}
MVU_OF = {"unit_verify": "rtl"}


def test_every_stage_of_the_plan_is_covered():
    names = {s.name for s in PREPARE + PER_POINT + PER_FOLDING}
    untestable = {"foldable", "synth"}  # in-memory view; Vivado only (tested in its file)
    injected = [getattr(p, "values", p) for p in INJECTION_POINTS + EXTERNAL_INJECTION_POINTS]
    assert names - untestable == {stage for stage, _, _ in injected}


@pytest.mark.parametrize("stage,module,function", INJECTION_POINTS,
                         ids=[getattr(p, "values", p)[0] for p in INJECTION_POINTS])
def test_failure_is_recorded_as_the_stage_it_happened_in(stage, module, function, tmp_path,
                                                         monkeypatch):
    target = importlib.import_module(module)
    owner_name, _, attr = function.rpartition(".")
    owner = getattr(target, owner_name) if owner_name else target
    real = getattr(owner, attr)

    def broken(*args, **kwargs):
        # The FP32 baseline and the quantized model share `train`: break only the one asked.
        if stage in ("train", "fp32") and kwargs.get("float_baseline", False) != (
            stage == "fp32"
        ):
            return real(*args, **kwargs)
        # Verification executes the graph the same way (and the per-layer measurement
        # folds it the same way; the default hardware graph and the measured one are built
        # the same way): break only the call of the stage under test.
        caller = sys._getframe(1).f_code.co_name
        if stage in ("hw_accuracy", "rtl_stitch", "hw_graph", "rtl_graph") \
                and caller != f"_{stage}":
            return real(*args, **kwargs)
        raise RuntimeError(f"injected failure in {stage}")

    monkeypatch.setattr(owner, attr, broken)
    spec = make_spec(weight_bits=2, act_bits=2, epochs=1, pe=2, fp32_baseline=True,
                     target=TARGET_OF.get(stage, "estimate"), mvu=MVU_OF.get(stage, "finn"))
    outcome = run_point(spec, Store(tmp_path / "results"), show_progress=False)
    record = outcome.record
    assert record.status == "failed"
    assert record.failed_stage == stage
    assert record.error == f"RuntimeError: injected failure in {stage}"
    assert record.est_fps is None and record.lut is None
    assert outcome.path.exists()


# Stages of external QONNX models: injected on a run of an exported (untrained) TFC file.
EXTERNAL_INJECTION_POINTS = [
    ("external", "bench.finn_flow.external", "prepare_external"),
    ("qonnx_accuracy", "bench.finn_flow.external", "run_qonnx_batched"),
]


@pytest.fixture(scope="module")
def exported_tfc(tmp_path_factory):
    import numpy as np
    import torch

    from bench.learn.export import export_qonnx
    from models import build_model

    torch.manual_seed(0)
    model = build_model("tfc", (1, 8, 8), 10, weight_bits=2, act_bits=2).eval()
    path = tmp_path_factory.mktemp("external") / "tfc.onnx"
    export_qonnx(model, np.zeros((1, 1, 8, 8), dtype=np.uint8), path)
    return path


@pytest.mark.parametrize("stage,module,function", EXTERNAL_INJECTION_POINTS,
                         ids=[p[0] for p in EXTERNAL_INJECTION_POINTS])
def test_failure_of_an_external_model_stage(stage, module, function, exported_tfc, tmp_path,
                                            monkeypatch):
    real = getattr(importlib.import_module(module), function)

    def broken(*args, **kwargs):
        # The external stage also runs QONNX (its input-mapping check): break only the
        # call made by the stage under test.
        if stage == "qonnx_accuracy" and sys._getframe(1).f_code.co_name != "_qonnx_accuracy":
            return real(*args, **kwargs)
        raise RuntimeError(f"injected failure in {stage}")

    monkeypatch.setattr(importlib.import_module(module), function, broken)
    spec = make_spec(qonnx=str(exported_tfc), pe=2)
    record = run_point(spec, Store(tmp_path / "results"), show_progress=False).record
    assert record.status == "failed" and record.failed_stage == stage
    assert record.error == f"RuntimeError: injected failure in {stage}"
