"""External QONNX files a run cannot take are one line when the file is read, never a
traceback: impossible bit widths, no (or several) data inputs, external data that cannot be
read; a model whose weights live in external data files is read from its own folder."""

from __future__ import annotations

import math
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from bench.core.errors import SpecError
from bench.core.spec import make_spec
from tests.byo.cli_check import refused
from tests.byo.qonnx_graphs import quant_graph, with_external_data


@pytest.mark.parametrize("where", ["input_bits", "bias_bits"])  # hidden from the maxima
@pytest.mark.parametrize("width", [0.0, -3.0, 2.5, math.inf, math.nan])
def test_quantizer_bit_widths_without_an_integer_datatype_are_refused(tmp_path, where, width):
    path = quant_graph(tmp_path / "m.onnx", **{where: width})
    with pytest.raises(SpecError) as raised:
        make_spec(qonnx=str(path))
    message = str(raised.value)
    assert "bit width" in message and "whole number from 1 to 64" in message
    assert "\n" not in message


def test_an_infinite_bit_width_is_one_line_from_the_command_line(tmp_path, capsys):
    path = quant_graph(tmp_path / "m.onnx", act_bits=math.inf)
    err = refused(capsys, "--qonnx", str(path), "--dataset", "none", "--results-dir",
                   str(tmp_path / "r"))
    assert "bit width inf" in err


def test_valid_bit_widths_still_read_as_before(tmp_path):
    spec = make_spec(qonnx=str(quant_graph(tmp_path / "m.onnx", weight_bits=4, bias_bits=2,
                                           act_bits=3)))
    assert (spec.weight_bits, spec.act_bits, spec.weight_quant) == (4, 3, "int")


def _graph_inputs(path, inputs, initializer_names):
    """A Relu-after-Quant graph whose inputs and initializers the test chooses."""
    inits = [numpy_helper.from_array(np.float32(v), n) for n, v in
             [("s", 1.0), ("z", 0.0), ("b", 4.0)]]
    inits += [numpy_helper.from_array(np.zeros((1, 4), np.float32), n)
              for n in initializer_names]
    nodes = [helper.make_node("Quant", ["x", "s", "z", "b"], ["y"],
                              domain="qonnx.custom_op.general", signed=1, narrow=0,
                              rounding_mode="ROUND")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4]) for n in inputs],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], inits)
    onnx.save(helper.make_model(graph), str(path))
    return path


def test_a_graph_input_that_is_also_an_initializer_is_one_line(tmp_path, capsys):
    path = _graph_inputs(tmp_path / "m.onnx", ["x"], ["x"])
    err = refused(capsys, "--qonnx", str(path), "--dataset", "none", "--results-dir",
                   str(tmp_path / "r"))
    assert "also an initializer" in err and "no input takes data" in err
    two = _graph_inputs(tmp_path / "two.onnx", ["x", "other"], [])
    with pytest.raises(SpecError, match="2 data inputs"):
        make_spec(qonnx=str(two))


def test_a_constant_input_before_the_data_input_is_not_taken_for_it(tmp_path):
    from bench import finn_flow

    path = _graph_inputs(tmp_path / "m.onnx", ["c", "x"], ["c"])
    model = onnx.load(str(path))
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 1
    onnx.save(model, str(path))
    assert make_spec(qonnx=str(path), dataset="none").model.startswith("qonnx:m@")
    assert finn_flow.external.input_shape(path) == (1, 4)


def test_external_data_is_read_from_the_models_folder_and_named_by_content(tmp_path,
                                                                           monkeypatch):
    folder = tmp_path / "model"
    folder.mkdir()
    path = with_external_data(quant_graph(folder / "m.onnx", weight_bits=4), "m.data")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    spec = make_spec(qonnx=str(path))
    assert (spec.weight_bits, spec.act_bits) == (4, 2)
    data = folder / "m.data"
    payload = bytearray(data.read_bytes())
    payload[-1] ^= 1  # another value in the last tensor: another model, another run
    data.write_bytes(bytes(payload))
    os.utime(path)  # the spec reader caches by the model file's size and time
    assert make_spec(qonnx=str(path)).run_id() != spec.run_id()


def test_external_data_outside_the_models_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "model"
    folder.mkdir()
    path = with_external_data(quant_graph(folder / "m.onnx"), "m.data")
    model = onnx.load(str(path), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../m.data"
    (folder / "m.data").rename(tmp_path / "m.data")
    onnx.save(model, str(path))
    err = refused(capsys, "--qonnx", str(path), "--dataset", "none", "--results-dir",
                   str(tmp_path / "r"))
    assert "cannot read its external data" in err
