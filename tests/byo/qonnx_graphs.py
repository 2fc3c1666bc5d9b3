"""Small QONNX graphs written with onnx.helper, standing in for files exported elsewhere.

`signed_input_mlp` is the shape of models that take signed features (the QONNX zoo's KWS
MLP takes INT8): its input goes straight into a signed quantizer. `quant_graph` is a
minimal graph whose bit widths a test chooses, valid or not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QUANT = {"domain": "qonnx.custom_op.general", "narrow": 0, "rounding_mode": "ROUND"}
# The hidden layer's scale: pre-activations (multiples of the input scale) never land
# exactly on one of its rounding midpoints, where float execution (round half to even)
# and FINN's thresholds (x >= t) would legitimately differ.
HIDDEN_SCALE = 2.7182817


def signed_input_mlp(path: Path, in_scale: float = 0.125, features: int = 16,
                     classes: int = 4, in_bits: int = 8, in_signed: int = 1,
                     act_signed: int = 0, act_bits: int = 3, seed: int = 0) -> Path:
    """Float input -> n-bit input Quant -> 3-bit MatMul -> Quant -> 3-bit MatMul."""
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(np.float32(v), n) for n, v in [
        ("in_scale", in_scale), ("zero", 0.0), ("in_bits", in_bits), ("w_bits", 3.0),
        ("act_bits", act_bits), ("one", 1.0), ("act_scale", HIDDEN_SCALE),
    ]]
    inits += [
        numpy_helper.from_array(rng.integers(-3, 4, (features, 8)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.integers(-3, 4, (8, classes)).astype(np.float32), "w2"),
    ]
    nodes = [
        helper.make_node("Quant", ["x", "in_scale", "zero", "in_bits"], ["xq"],
                         name="input_quant", signed=in_signed, **QUANT),
        helper.make_node("Quant", ["w1", "one", "zero", "w_bits"], ["w1q"], signed=1, **QUANT),
        helper.make_node("MatMul", ["xq", "w1q"], ["h"]),
        helper.make_node("Quant", ["h", "act_scale", "zero", "act_bits"], ["hq"],
                         name="hidden_quant", signed=act_signed, **QUANT),
        helper.make_node("Quant", ["w2", "one", "zero", "w_bits"], ["w2q"], signed=1, **QUANT),
        helper.make_node("MatMul", ["hq", "w2q"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "signed_input_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, classes])], inits,
    )
    onnx.save(helper.make_model(graph), str(path))
    return Path(path)


def quant_graph(path: Path, input_bits: float = 8.0, weight_bits: float = 3.0,
                bias_bits: float = 3.0, act_bits: float = 2.0, features: int = 64,
                outputs: int = 10) -> Path:
    """x -> input Quant -> MatMul (quantized weights) -> Add (quantized bias) -> Quant."""
    inits = [numpy_helper.from_array(np.float32(v), n) for n, v in [
        ("scale", 0.5), ("zero", 0.0), ("in_bits", input_bits), ("w_bits", weight_bits),
        ("b_bits", bias_bits), ("a_bits", act_bits),
    ]]
    inits += [numpy_helper.from_array(np.ones((features, outputs), np.float32), "w"),
              numpy_helper.from_array(np.ones(outputs, np.float32), "b")]
    nodes = [
        helper.make_node("Quant", ["x", "scale", "zero", "in_bits"], ["xq"], signed=1, **QUANT),
        helper.make_node("Quant", ["w", "scale", "zero", "w_bits"], ["wq"], signed=1, **QUANT),
        helper.make_node("Quant", ["b", "scale", "zero", "b_bits"], ["bq"], signed=1, **QUANT),
        helper.make_node("MatMul", ["xq", "wq"], ["m"]),
        helper.make_node("Add", ["m", "bq"], ["mb"]),
        helper.make_node("Quant", ["mb", "scale", "zero", "a_bits"], ["y"], signed=1, **QUANT),
    ]
    graph = helper.make_graph(
        nodes, "quant_graph",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, outputs])], inits,
    )
    onnx.save(helper.make_model(graph), str(path))
    return Path(path)


def with_external_data(path: Path, location: str) -> Path:
    """Re-save a model with every tensor in one external data file at `location`
    (relative to the model's folder, as ONNX stores it)."""
    model = onnx.load(str(path))
    onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
              location=location, size_threshold=0)
    return path
