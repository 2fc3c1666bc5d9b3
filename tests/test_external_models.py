"""Bring your own network, end to end: external QONNX files and Brevitas modules.

Zoo models exported to QONNX and benchmarked as external files must give the zoo run's
estimates and, on the whole test set, a hardware-graph accuracy equal to the model's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.core.spec import make_spec
from bench.engine.store import Store
from bench.run.point import run_point
from tests.byo.tiny_models import (
    FloatInputMlp,
    SigmoidMlp,
    export_float_model,
    train_briefly,
)

pytestmark = pytest.mark.slow

ESTIMATE_FIELDS = ("est_fps", "est_max_cycles", "lut", "bram18", "dsp", "per_layer")


def _exported_file(store: Store, outcome) -> Path:
    """The QONNX file the zoo run exported (its export cache entry)."""
    paths = list((store.cache_dir / "export").glob("*/model.qonnx.onnx"))
    assert paths, "the zoo run exported nothing"
    return max(paths, key=lambda p: p.stat().st_mtime)


@pytest.mark.parametrize("model,bits,pe", [("tfc", 2, 4), ("lenet5", 2, 4), ("cnv", 1, 16)])
def test_exported_zoo_model_benchmarks_like_the_zoo_run(tmp_path, model, bits, pe):
    store = Store(tmp_path / "results")
    zoo = run_point(make_spec(model=model, weight_bits=bits, act_bits=bits, epochs=1, pe=pe),
                    store, show_progress=False).record
    assert zoo.status == "ok", zoo.error
    assert zoo.hw_accuracy == zoo.accuracy and zoo.hw_accuracy_samples == 359
    copy = tmp_path / f"{model.upper()}_{bits}W{bits}A.onnx"
    copy.write_bytes(_exported_file(store, zoo).read_bytes())

    ext = run_point(make_spec(qonnx=str(copy), pe=pe), Store(tmp_path / "ext"),
                    show_progress=False).record
    assert ext.status == "ok", ext.error
    assert ext.model.startswith(f"qonnx:{model.upper()}_{bits}W{bits}A@")
    assert ext.model_source == f"qonnx:{copy.name}" and len(ext.model_sha256) == 64
    assert (ext.weight_bits, ext.act_bits) == (bits, bits)
    assert ext.input_datatype == "UINT8" and ext.preprocess_inserted is False
    for field in ESTIMATE_FIELDS:
        assert getattr(ext, field) == getattr(zoo, field), field
    assert ext.verify_ok is True
    assert ext.hw_accuracy_samples == 359
    assert ext.hw_accuracy == ext.accuracy == zoo.accuracy


def test_float_input_model_gets_preprocessing_that_reproduces_it(tmp_path, digits):
    model = train_briefly(FloatInputMlp(64, 10), digits.x_train, digits.y_train)
    path = export_float_model(model, (1, 8, 8), str(tmp_path / "float_in.onnx"))
    record = run_point(make_spec(qonnx=path), Store(tmp_path / "r"), show_progress=False).record
    assert record.status == "ok", record.error
    assert record.input_datatype == "FLOAT32" and record.preprocess_inserted is True
    assert record.input_scale == pytest.approx(1 / 255) and record.input_offset == 0.0
    assert record.preprocess_max_abs_err < 1e-4
    assert record.weight_bits == 3 and record.act_bits == 3  # the 8-bit input quant is not
    first = next(t for name, t in record.layer_datatypes.items() if name.startswith("MVAU"))
    assert first["input"] in ("UINT8", "INT8")
    assert record.verify_ok is True
    assert record.accuracy > 0.5
    # The logits agree to float rounding (verification above); at 3 bits two classes can
    # tie exactly in the integer datapath, which float execution breaks either way, so
    # the accuracies may differ by a sample or two.
    assert abs(record.hw_accuracy - record.accuracy) <= 2 / 359
    assert record.hw_accuracy_samples == 359


def test_unsupported_op_and_non_qonnx_files_become_failed_records(tmp_path, digits):
    model = train_briefly(SigmoidMlp(64, 10), digits.x_train, digits.y_train, steps=5)
    sigmoid = export_float_model(model, (1, 8, 8), str(tmp_path / "sigmoid.onnx"))
    record = run_point(make_spec(qonnx=sigmoid), Store(tmp_path / "r"),
                       show_progress=False).record
    assert record.status == "failed"
    assert record.failed_stage == "hw_graph" and record.failed_step.startswith("step_")
    assert "first node FINN could not map" in record.error

    import onnx
    from onnx import TensorProto, helper

    plain = tmp_path / "plain.onnx"
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 8, 8])
    onnx.save(helper.make_model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])), str(plain))
    record = run_point(make_spec(qonnx=str(plain)), Store(tmp_path / "r"),
                       show_progress=False).record
    assert record.status == "failed" and record.failed_stage == "external"
    assert "not a QONNX graph" in record.error and "Relu" in record.error
    assert record.weight_bits is None and record.model.startswith("qonnx:plain@")


def test_dataset_none_benchmarks_hardware_only(tmp_path, exported):
    record = run_point(make_spec(qonnx=str(exported), dataset="none"), Store(tmp_path / "r"),
                       show_progress=False).record
    assert record.status == "ok", record.error
    assert record.accuracy is None and record.hw_accuracy is None
    assert record.verify_ok is True and record.verify_samples == 64
    assert record.est_fps > 0 and record.lut > 0


def test_dataset_none_run_prints_its_summary_and_exits_0(tmp_path, exported, capsys):
    """The command line, not only the record: first run and re-run both end with exit 0."""
    from bench.cli import main

    args = ["run", "--qonnx", str(exported), "--dataset", "none", "--results-dir",
            str(tmp_path / "r"), "--quiet"]
    assert main(args) == 0, capsys.readouterr().err
    first = capsys.readouterr().out
    assert "no data (dataset none)" in first and "bit-exact" in first
    assert main(args) == 0, capsys.readouterr().err
    assert "nothing to do" in capsys.readouterr().out


def test_external_brevitas_module_is_trained_and_cached_by_its_source(tmp_path):
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "bench.cli", "run", "--model",
           "tests.byo.tiny_models:tiny_mlp", "--epochs", "1", "--bits", "2",
           "--hw-accuracy-samples", "40", "--results-dir", str(results), "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          cwd=Path(__file__).parents[1])
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads(next((results / "runs").glob("*.json")).read_text())
    assert record["status"] == "ok" and record["verify_ok"] is True
    assert record["model_source"] == "brevitas:tests.byo.tiny_models:tiny_mlp"
    assert (record["weight_bits"], record["act_bits"]) == (2, 2)
    assert record["train_device"] == "cpu" and record["augment"] is False
    assert record["hw_accuracy_samples"] == 40
    train_keys = [p for p in (results / "cache" / "train").iterdir() if p.is_dir()]
    assert len(train_keys) == 1


def _mnist_like(digits):
    """Digits scaled to MNIST's 28x28 (3x upsampling, 2-pixel border) as IDX arrays."""
    def grow(x):
        big = np.kron(x[:, 0], np.ones((3, 3), np.uint8))
        return np.pad(big, ((0, 0), (2, 2), (2, 2)))
    return {
        "train-images-idx3-ubyte": grow(digits.x_train),
        "train-labels-idx1-ubyte": digits.y_train.astype(np.uint8),
        "t10k-images-idx3-ubyte": grow(digits.x_test),
        "t10k-labels-idx1-ubyte": digits.y_test.astype(np.uint8),
    }


def test_qonnx_file_on_mnist_test_files_only_and_in_a_sweep(tmp_path, digits):
    """`make bench QONNX=<file> DATASET=mnist DATA_DIR=<test files only>`, then a sweep."""
    from test_data import write_mnist

    arrays = _mnist_like(digits)
    write_mnist(tmp_path / "full", arrays)
    store = Store(tmp_path / "zoo")
    zoo = run_point(make_spec(model="tfc", dataset="mnist", data_dir=str(tmp_path / "full"),
                              weight_bits=2, act_bits=2, epochs=1), store,
                    show_progress=False).record
    assert zoo.status == "ok", zoo.error
    model = tmp_path / "TFC_2W2A.onnx"
    model.write_bytes(_exported_file(store, zoo).read_bytes())
    write_mnist(tmp_path / "test_only", {k: v for k, v in arrays.items() if "t10k" in k})

    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "bench.cli", "run", "--qonnx", str(model), "--dataset",
           "mnist", "--data-dir", str(tmp_path / "test_only"), "--results-dir",
           str(results), "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads(next((results / "runs").glob("*.json")).read_text())
    assert record["hw_accuracy_samples"] == len(digits.y_test)
    assert record["hw_accuracy"] == record["accuracy"] == zoo.accuracy

    spec = tmp_path / "sweep.yaml"
    spec.write_text(f"models: [{model.name}]\ndatasets: [mnist]\ndata_dir: "
                    f"{tmp_path / 'test_only'}\nfolding:\n  - {{strategy: uniform, pe: 1}}\n"
                    f"  - {{strategy: uniform, pe: 4}}\n")
    proc = subprocess.run([sys.executable, "-m", "bench.cli", "sweep", str(spec),
                           "--results-dir", str(results), "--quiet"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(p.read_text()) for p in (results / "runs").glob("*.json")]
    assert len(records) == 2  # pe 4 is the run above, found finished
    assert all(r["status"] == "ok" and r["hw_accuracy"] == record["hw_accuracy"]
               for r in records)
