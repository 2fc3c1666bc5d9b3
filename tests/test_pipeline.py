"""The whole slice: run points through the pipeline and the CLI, with caching."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.core.spec import make_spec
from bench.run.point import run_point

DESIGN_FIELDS = [
    "run_id", "model", "dataset", "weight_bits", "act_bits", "input_bits", "weight_quant",
    "seed", "epochs", "accuracy", "fp32_accuracy", "folding", "folding_strategy", "est_fps",
    "est_latency_ns", "est_max_cycles", "est_bottleneck", "lut", "bram18", "uram", "dsp",
    "per_layer", "device", "clk_ns", "utilization", "fits", "verify_ok", "verify_max_abs_err",
    "verify_samples", "status", "timings_s", "versions", "created_at",
]

pytestmark = pytest.mark.slow


def test_run_point_record_and_cache_reuse(store):
    spec = make_spec(weight_bits=3, act_bits=3, epochs=2, pe=8)
    first = run_point(spec, store, show_progress=False)
    record = first.record.model_dump()
    assert record["status"] == "ok", record.get("error")
    # every field of the design's record is filled in (fp32_accuracy only when asked for)
    empty = [f for f in DESIGN_FIELDS if record.get(f) is None and f != "fp32_accuracy"]
    assert empty == []
    assert record["verify_ok"] is True and record["verify_samples"] == 64
    assert all(f["pe"] <= 8 and (f["simd"] or 0) <= 8 for f in record["folding"])
    assert record["est_fps"] == pytest.approx(1e8 / record["est_max_cycles"])
    assert set(record["timings_s"]) >= {"train", "export", "hw_graph", "verify", "estimate"}
    assert json.loads(first.path.read_text()) == record

    # Same spec: the record is found, nothing runs.
    again = run_point(spec, store, show_progress=False)
    assert again.cached and again.record.model_dump() == record

    # Another folding: training, export, FINN graph, verification and the hardware
    # accuracy come from the cache.
    other = run_point(make_spec(weight_bits=3, act_bits=3, epochs=2, pe=1), store,
                      show_progress=False)
    assert not other.cached
    assert other.cached_stages == ["train", "export", "hw_graph", "verify", "hw_accuracy"]
    assert other.record.model_dump()["accuracy"] == record["accuracy"]
    assert other.record.model_dump()["est_max_cycles"] == 64 * 64
    assert other.record.model_dump()["run_id"] != record["run_id"]
    assert first.path.exists() and json.loads(first.path.read_text()) == record
    lines = (store.results_dir / "results.csv").read_text().splitlines()
    assert len(lines) == 3


def _model_with_a_float_layer(name, input_shape, num_classes, weight_bits, act_bits,
                              weight_quant):
    """A network FINN cannot map: an unquantized float layer between quantized ones."""
    from brevitas.nn import QuantLinear
    from torch import nn

    from models.blocks import ScaleInput
    from models.quantizers import weight_quant_kwargs

    q = weight_quant_kwargs(weight_quant, weight_bits)
    return nn.Sequential(
        ScaleInput(), nn.Flatten(), QuantLinear(64, 16, bias=False, **q), nn.ReLU(),
        nn.Linear(16, 16), nn.ReLU(), QuantLinear(16, num_classes, bias=False, **q),
    )


def test_finn_failure_is_recorded_not_reported_as_numbers(store, monkeypatch):
    import bench.learn.train

    monkeypatch.setattr(bench.learn.train, "build_model", _model_with_a_float_layer)
    outcome = run_point(make_spec(epochs=1, weight_bits=2, act_bits=2), store,
                        show_progress=False)
    record = outcome.record.model_dump()
    assert record["status"] == "failed"
    assert record["failed_stage"] == "hw_graph"
    assert record["failed_step"].startswith("step_")
    assert "FINN step" in record["error"]
    assert record["est_fps"] is None and record["lut"] is None
    assert json.loads(outcome.path.read_text())["status"] == "failed"


def test_cli_end_to_end_then_cached(tmp_path):
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "bench.cli", "run", "--epochs", "2", "--bits", "2",
           "--pe", "8", "--results-dir", str(results)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "bit-exact" in first.stdout and "FPS" in first.stdout
    records = list((results / "runs").glob("*.json"))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert record["verify_ok"] and record["accuracy"] > 0.5
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0
    assert "cached" in second.stdout
    assert json.loads(records[0].read_text()) == record


def test_fp32_baseline_is_shared_across_bit_widths_and_enriches_the_run(store):
    plain = run_point(make_spec(weight_bits=2, act_bits=2, epochs=2), store, show_progress=False)
    assert plain.record.model_dump()["fp32_accuracy"] is None
    first = run_point(make_spec(weight_bits=2, act_bits=2, epochs=2, fp32_baseline=True), store,
                      show_progress=False)
    # The same run, with one more number.
    assert first.record.run_id == plain.record.run_id
    assert 0.5 < first.record.model_dump()["fp32_accuracy"] <= 1.0
    assert "train" in first.cached_stages and "fp32" not in first.cached_stages
    other = run_point(make_spec(weight_bits=3, act_bits=3, epochs=2, fp32_baseline=True), store,
                      show_progress=False)
    assert "fp32" in other.cached_stages
    assert other.record.model_dump()["fp32_accuracy"] == first.record.model_dump()["fp32_accuracy"]


def test_cnv_on_cifar10_files_from_data_dir(tmp_path):
    """`make bench MODEL=cnv DATASET=cifar10 DATA_DIR=...` on files in the real format."""
    from test_data import cifar_batches, write_cifar

    write_cifar(tmp_path / "data" / "cifar-10-batches-py", cifar_batches(per_batch=40))
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "bench.cli", "run", "--model", "cnv", "--dataset", "cifar10",
           "--data-dir", str(tmp_path / "data"), "--bits", "2", "--quant", "pot",
           "--epochs", "1", "--pe", "16", "--results-dir", str(results), "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads(next((results / "runs").glob("*.json")).read_text())
    assert record["status"] == "ok" and record["verify_ok"] is True
    assert record["model"] == "cnv" and record["dataset"] == "cifar10"
    assert record["weight_quant"] == "pot"
    first = next(t for name, t in record["layer_datatypes"].items() if name.startswith("MVAU"))
    assert first["input"] == "UINT8"
    assert max(record["weight_distinct_values"].values()) <= 3  # {0, +-s} at 2 bits
