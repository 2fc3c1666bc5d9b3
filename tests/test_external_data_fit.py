"""Data an external model cannot score or take is refused before it becomes wrong numbers:
labels past the model's outputs, values outside its input datatype. npz data sets may hold
int8 features for models with a signed input, and only for those."""

from __future__ import annotations

import numpy as np
import pytest

from bench.core.errors import DatasetError
from bench.data.files import load_npz
from tests.byo.cli_check import refused
from tests.byo.qonnx_graphs import quant_graph


def _npz(folder, x, y):
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "data.npz", x_test=x, y_test=y)
    return folder


def test_labels_past_the_models_outputs_are_refused(tmp_path, capsys):
    model = quant_graph(tmp_path / "m.onnx", features=16, outputs=10)
    rng = np.random.default_rng(0)
    data = _npz(tmp_path / "data", rng.integers(0, 256, (20, 4, 4), dtype=np.uint8),
                np.arange(20) % 13)
    err = refused(capsys, "--qonnx", str(model), "--dataset", "npz", "--data-dir", str(data),
                   "--results-dir", str(tmp_path / "r"))
    assert "0..12" in err and "10 outputs" in err
    assert not list((tmp_path / "r" / "runs").glob("*.json"))


def test_data_outside_the_models_input_datatype_is_refused(tmp_path, capsys):
    from bench import finn_flow

    finn_flow.prepare_finn()
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper

    path = quant_graph(tmp_path / "int8_in.onnx")
    model = ModelWrapper(str(path))
    model.set_tensor_datatype("x", DataType["INT8"])  # the file declares signed input
    model.save(str(path))
    err = refused(capsys, "--qonnx", str(path), "--dataset", "digits", "--results-dir",
                   str(tmp_path / "r"))
    assert "0..255" in err and "INT8 (-128..127)" in err and "--input-scale" in err


def test_npz_data_may_hold_int8_feature_vectors(tmp_path):
    x = np.arange(-60, 60, dtype=np.int8).reshape(8, 15)
    _npz(tmp_path, x, np.arange(8) % 4)
    ds = load_npz(tmp_path / "data.npz", test_only=True)
    assert ds.x_test.dtype == np.int8 and ds.x_test.shape == (8, 1, 1, 15)
    assert ds.x_train.dtype == np.int8 and ds.x_train.shape == (0, 1, 1, 15)
    assert np.array_equal(ds.x_test.reshape(8, 15), x)


def test_a_model_trained_here_refuses_int8_features(tmp_path, capsys):
    x = np.zeros((30, 8, 8), np.int8)
    y = np.arange(30) % 3
    tmp_path.mkdir(exist_ok=True)
    np.savez(tmp_path / "data.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    err = refused(capsys, "--dataset", "npz", "--data-dir", str(tmp_path), "--epochs", "1",
                   "--results-dir", str(tmp_path / "r"))
    assert "int8 features are for external QONNX models" in err
    with pytest.raises(DatasetError, match="uint8"):
        np.savez(tmp_path / "data.npz", x_test=x.astype(np.int16), y_test=y)
        load_npz(tmp_path / "data.npz", test_only=True)
