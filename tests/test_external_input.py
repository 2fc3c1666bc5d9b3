"""External models, new data formats and training options: validation and the fast parts.

Everything here runs without FINN builds or training: one-line errors before any work,
identity of runs, the graph reader, npz and test-only data, device selection.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from bench.cli import EXIT_USAGE, main
from bench.core.errors import DatasetError, SpecError
from bench.core.qonnx_file import describe
from bench.core.spec import make_spec
from bench.core.sweep_spec import SweepSpec, expand
from bench.data.load import load_dataset


def qonnx_file(path, input_shape=(1, 1, 8, 8), weight_bits=3, act_bits=2, float_scale=False):
    """A small QONNX graph by hand: (input mapping) -> flatten -> quantized matmul -> quant."""
    features = int(np.prod(input_shape[1:]))
    inits = [
        numpy_helper.from_array(np.ones((features, 10), np.float32), "w"),
        numpy_helper.from_array(np.float32(0.5), "scale"),
        numpy_helper.from_array(np.float32(0.0), "zero"),
        numpy_helper.from_array(np.float32(weight_bits), "wbits"),
        numpy_helper.from_array(np.float32(act_bits), "abits"),
        numpy_helper.from_array(np.float32(2.0), "two"),
    ]
    quant = {"domain": "qonnx.custom_op.general", "signed": 1, "narrow": 0,
             "rounding_mode": "ROUND"}
    first = "x"
    nodes = []
    if float_scale:  # 2x, then an 8-bit input quantizer: not an activation
        nodes += [helper.make_node("Mul", ["x", "two"], ["x2"]),
                  helper.make_node("Quant", ["x2", "scale", "zero", "wbits"], ["xq"], **quant)]
        first = "xq"
    nodes += [
        helper.make_node("Flatten", [first], ["f"]),
        helper.make_node("Quant", ["w", "scale", "zero", "wbits"], ["wq"], **quant),
        helper.make_node("MatMul", ["f", "wq"], ["m"]),
        helper.make_node("Quant", ["m", "scale", "zero", "abits"], ["y"], **quant),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits,
    )
    onnx.save(helper.make_model(graph), str(path))
    return path


def _fails(capsys, *argv) -> str:
    code = main(["run", *argv])
    err = capsys.readouterr().err.strip()
    assert code == EXIT_USAGE, err
    assert len(err.splitlines()) == 1
    return err


def test_qonnx_option_errors_are_one_line_before_any_work(tmp_path, capsys):
    results = str(tmp_path / "results")
    err = _fails(capsys, "--qonnx", str(tmp_path / "nope.onnx"), "--results-dir", results)
    assert "nope.onnx" in err and "does not exist" in err
    text = tmp_path / "model.onnx"
    text.write_text("not a model\n")
    assert "not an ONNX file" in _fails(capsys, "--qonnx", str(text), "--results-dir", results)
    model = qonnx_file(tmp_path / "tfc.onnx")
    assert "read from the QONNX file" in _fails(
        capsys, "--qonnx", str(model), "--bits", "4", "--results-dir", results)
    err = _fails(capsys, "--qonnx", str(model), "--dataset", "mnist", "--results-dir", results)
    assert "(1, 1, 8, 8)" in err and "(1, 28, 28)" in err and "mnist" in err
    err = _fails(capsys, "--model", "no_such_pkg.mod:factory", "--results-dir", results)
    assert "cannot import no_such_pkg.mod" in err
    assert "package.module:factory" in _fails(capsys, "--model", "a-b:c", "--results-dir",
                                              results)
    assert "external QONNX" in _fails(capsys, "--dataset", "none", "--results-dir", results)
    assert "--input-scale" in _fails(capsys, "--qonnx", str(model), "--input-scale", "x",
                                     "--results-dir", results)
    assert not (tmp_path / "results" / "runs").exists()


def test_external_identity_is_the_content_not_the_path(tmp_path):
    a = qonnx_file(tmp_path / "TFC_2W2A.onnx")
    spec = make_spec(qonnx=str(a))
    info = describe(str(a))
    assert spec.model == f"qonnx:TFC_2W2A@{info.sha256[:8]}"
    assert (spec.weight_bits, spec.act_bits, spec.weight_quant) == (3, 2, "int")
    moved = tmp_path / "sub"
    moved.mkdir()
    b = moved / "TFC_2W2A.onnx"
    b.write_bytes(a.read_bytes())
    assert make_spec(qonnx=str(b)).run_id() == spec.run_id()
    qonnx_file(b, weight_bits=4)
    assert make_spec(qonnx=str(b)).run_id() != spec.run_id()
    assert make_spec(qonnx=str(a), input_scale=2.0).run_id() != spec.run_id()
    # A spec travels to worker processes as a dict: it validates again unchanged.
    assert make_spec(**spec.model_dump()).run_id() == spec.run_id()


def test_zoo_run_ids_are_unchanged_by_the_new_fields():
    # Run ids of specs made before external models existed (checked against that code).
    # Those specs built FINN's default graph, which is `impl hls` since the default
    # became RTL layers: the same build keeps its id, the new default gets its own.
    assert make_spec(impl="hls").run_id() == "tfc-digits-w4a4-int-pe4simd4-Pynq-Z1-9c4cda2660"
    assert make_spec(model="cnv", dataset="cifar10", weight_bits=2, act_bits=2, epochs=3,
                     pe=2, impl="hls").run_id() == \
        "cnv-cifar10-w2a2-int-pe2simd2-Pynq-Z1-0eb1e46b2e"
    assert make_spec().run_id() != "tfc-digits-w4a4-int-pe4simd4-Pynq-Z1-9c4cda2660"


def test_input_quantizer_behind_in_graph_mapping_is_not_an_activation(tmp_path):
    info = describe(str(qonnx_file(tmp_path / "m.onnx", float_scale=True, weight_bits=8,
                                   act_bits=2)))
    assert (info.weight_bits, info.act_bits) == (8, 2)


def test_sweep_models_may_be_qonnx_files(tmp_path):
    qonnx_file(tmp_path / "ext.onnx")
    sweep = SweepSpec(models=["tfc", "ext.onnx"], bits=[2, 4], epochs=1)
    points = expand(sweep, base_dir=tmp_path, label="spec")
    external = [p for p in points if p.is_external]
    assert len(points) == 3 and len(external) == 1  # the file is one model, not two
    assert external[0].weight_bits == 3 and external[0].model.startswith("qonnx:ext@")


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_npz_data_set_and_its_test_only_mode(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (12, 8, 8), dtype=np.uint8)
    y = np.arange(12) % 3
    _npz(tmp_path / "data.npz", x_train=x, y_train=y, x_test=x[:5], y_test=y[:5])
    ds = load_dataset("npz", data_dir=tmp_path)
    assert ds.x_train.shape == (12, 1, 8, 8) and ds.num_classes == 3
    assert ds.y_test.dtype == np.int64 and ds.x_test.shape == (5, 1, 8, 8)
    only = tmp_path / "only"
    only.mkdir()
    _npz(only / "eval.npz", x_test=rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8),
         y_test=np.array([0, 1, 2, 3]))
    with pytest.raises(DatasetError, match=r"missing array.*x_train"):
        load_dataset("npz", data_dir=only)
    ds = load_dataset("npz", data_dir=only, test_only=True)
    assert ds.x_train.shape == (0, 3, 8, 8) and ds.x_test.shape == (4, 3, 8, 8)
    _npz(only / "floats.npz", x_test=np.zeros((2, 8, 8)), y_test=np.zeros(2, int))
    with pytest.raises(DatasetError, match="not exactly one"):
        load_dataset("npz", data_dir=only, test_only=True)


def test_test_only_mnist_needs_only_the_test_files(tmp_path):
    from test_data import make_mnist_arrays, write_mnist

    arrays = make_mnist_arrays()
    write_mnist(tmp_path, {k: v for k, v in arrays.items() if k.startswith("t10k")})
    with pytest.raises(DatasetError, match="train-images"):
        load_dataset("mnist", data_dir=tmp_path)
    ds = load_dataset("mnist", data_dir=tmp_path, test_only=True)
    assert len(ds.x_train) == 0
    assert np.array_equal(ds.x_test[:, 0], arrays["t10k-images-idx3-ubyte"])


def test_device_selection_and_augmentation_defaults():
    from bench.learn.train import resolve_device, training_setup

    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(SpecError, match="no CUDA GPU"):
            resolve_device("cuda")
    assert training_setup(make_spec(dataset="cifar10", model="cnv"))["augment"] is True
    assert training_setup(make_spec(dataset="cifar10", model="cnv", augment=False)) == {
        "device": resolve_device("auto"), "augment": False}
    assert training_setup(make_spec())["augment"] is False
    with pytest.raises(SpecError, match="train device"):
        make_spec(train_device="tpu")


def test_random_crop_flip_moves_whole_images_by_at_most_four_pixels():
    from bench.learn.train import random_crop_flip

    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).reshape(2, 3, 32, 32) + 1
    a = random_crop_flip(x, torch.Generator().manual_seed(5))
    b = random_crop_flip(x, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.shape == x.shape
    for i in range(2):
        image = a[i]
        # Every nonzero pixel of the crop comes from the original image, in order along a
        # row (or reversed when flipped): a shifted, possibly mirrored window.
        row = image[0, 16][image[0, 16] > 0]
        diffs = row[1:] - row[:-1]
        assert torch.all(diffs == 1) or torch.all(diffs == -1)
        assert (image == 0).sum() <= 3 * (32 * 32 - 24 * 24)
