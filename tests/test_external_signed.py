"""External QONNX models end to end through FINN: signed inputs (INT8 features, and pixels
into a signed input quantizer), weights in external data files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.cli import EXIT_OK, main
from tests.byo.qonnx_graphs import signed_input_mlp, with_external_data

pytestmark = pytest.mark.slow


def _run(results, *argv: str) -> tuple[int, dict]:
    """`qnnbench run ARGV`: its exit code and the one record it wrote."""
    code = main(["run", *argv, "--results-dir", str(results)])
    records = list((results / "runs").glob("*.json"))
    assert len(records) == 1, records
    return code, json.loads(records[0].read_text())


def test_signed_input_model_builds_with_an_int8_input_and_verifies(tmp_path, capsys):
    model = signed_input_mlp(tmp_path / "kws_like.onnx", in_scale=0.125)
    code, record = _run(tmp_path / "r", "--qonnx", str(model), "--dataset", "none")
    assert code == EXIT_OK, record.get("error")
    assert record["input_datatype"] == "INT8"
    # Integers q enter as q * 0.125, which the input quantizer maps back onto q.
    assert (record["input_scale"], record["input_offset"]) == (0.125, 0.0)
    assert record["verify_ok"] is True and record["verify_samples"] == 64
    first = next(iter(record["layer_datatypes"].values()))
    assert first["input"] == "INT8"
    assert "no data (dataset none)" in capsys.readouterr().out  # the summary of a run without data


def test_signed_features_of_an_npz_data_set_are_scored_bit_exact(tmp_path):
    model = signed_input_mlp(tmp_path / "m.onnx", in_scale=0.125, features=16, classes=4)
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (120, 16)).astype(np.int8)
    y = rng.integers(0, 4, 120)
    (tmp_path / "data").mkdir()
    np.savez(tmp_path / "data" / "data.npz", x_test=x, y_test=y)
    code, record = _run(tmp_path / "r", "--qonnx", str(model), "--dataset", "npz",
                        "--data-dir", str(tmp_path / "data"))
    assert code == EXIT_OK, record.get("error")
    assert record["input_datatype"] == "INT8" and record["verify_ok"] is True
    assert record["hw_accuracy_samples"] == 120
    assert record["hw_accuracy"] == record["accuracy"]


def test_pixels_into_a_signed_input_quantizer(tmp_path):
    """Pixels stay pixels (x / 255 onto UINT8, as a model trained on images expects) also
    in front of a signed input quantizer (Brevitas' default); the thresholds below 0 no
    pixel reaches are raised to 0 instead of failing FINN's bit-width step."""
    model = signed_input_mlp(tmp_path / "m.onnx", in_scale=0.125, features=64, classes=10)
    code, record = _run(tmp_path / "r", "--qonnx", str(model), "--dataset", "digits")
    assert code == EXIT_OK, record.get("error")
    assert record["input_datatype"] == "FLOAT32" and record["input_scale"] == 1 / 255
    assert record["preprocess_inserted"] is True and record["verify_ok"] is True
    first = next(iter(record["layer_datatypes"].values()))
    assert first["input"] == "UINT8"


def test_a_model_with_external_data_runs_from_its_own_folder(tmp_path, monkeypatch):
    folder = tmp_path / "model"
    folder.mkdir()
    with_external_data(signed_input_mlp(folder / "m.onnx"), "m.data")
    monkeypatch.chdir(folder)
    code, record = _run(tmp_path / "r", "--qonnx", "m.onnx", "--dataset", "none")
    assert code == EXIT_OK, record.get("error")
    assert record["verify_ok"] is True and record["weight_bits"] == 3
