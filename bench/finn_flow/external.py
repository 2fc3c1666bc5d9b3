"""External QONNX models: checking the file, mapping data onto its input, executing it.

FINN's accelerator takes integers, so the graph's input gets an integer datatype. Unless
`--input-scale`/`--input-offset` say how (`x * scale + offset`, onto the data's datatype):

* a graph that declares an integer input takes the data as they are;
* a float input takes pixels (the image data sets, uint8 npz files) as `x / 255`, onto a
  UINT8 input, as a model trained on images in 0..1 expects and as FINN's own examples
  pre-process images;
* a float input that goes straight (through reshapes only) into a quantizer takes, from
  signed int8 features (npz) or without data, that quantizer's integers: INT<n> if it is
  signed, UINT<n> if not; a Mul (and Add) put in front turns each integer q into the
  float q * scale that the quantizer maps back onto q. Without such a quantizer, `x / 255`.

Streamlining absorbs the inserted step into the first layer's thresholds; whether the step
reproduces the float model is checked by executing both graphs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.finn_flow.env import prepare_finn, quiet

QUANT_OPS = ("Quant", "BipolarQuant", "Trunc", "MultiThreshold")
# Ops that move values without changing them: an input quantizer may sit behind these.
RESHAPE_OPS = ("Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze")
QONNX_BATCH = 1000  # samples per batched QONNX execution (memory stays small)


class NotQonnxError(RuntimeError):
    """An ONNX file without quantizers: there is nothing for FINN to map to integers."""


@dataclass(frozen=True)
class Prepared:
    """The external graph ready for FINN, and how data becomes its input."""

    path: Path
    input_datatype: str  # the model's: declared, its input quantizer's, or FLOAT32
    input_scale: float
    input_offset: float
    inserted: bool  # pre-processing put in front of the graph


def input_datatype(model: Any) -> str:
    return str(model.get_tensor_datatype(model.graph.input[0].name).name)


def input_datatype_range(path: Path) -> tuple[str, int, int]:
    """The graph input's integer datatype, with its smallest and largest value."""
    from qonnx.core.datatype import DataType

    model = _load(path)
    dtype = DataType[input_datatype(model)]
    return dtype.name, int(dtype.min()), int(dtype.max())


def output_count(path: Path) -> int:
    """Values per sample of the graph's output: the classes a label may name."""
    model = _load(path)
    return int(np.prod(model.get_tensor_shape(model.graph.output[0].name)[1:]))


@dataclass(frozen=True)
class InputQuantizer:
    """A quantizer the float input goes straight into: its integers are the input."""

    datatype: str  # INT<n> or UINT<n>
    scale: float
    zero_point: float


def input_quantizer(model: Any) -> InputQuantizer | None:
    """The Quant node the graph input reaches through reshapes only, if it has one with
    constant scalar parameters and nothing else reads the input on the way."""
    from qonnx.core.datatype import DataType

    name = model.graph.input[0].name
    while True:
        consumers = model.find_consumers(name)
        if len(consumers) != 1:
            return None
        node = consumers[0]
        if node.op_type in RESHAPE_OPS and node.input[0] == name:
            name = node.output[0]
            continue
        break
    if node.op_type != "Quant" or node.input[0] != name:
        return None
    scale, zero, bits = (model.get_initializer(n) for n in node.input[1:4])
    if any(v is None or np.unique(v).size != 1 for v in (scale, zero, bits)):
        return None
    attrs = {a.name: a.i for a in node.attribute}
    signed = bool(attrs.get("signed", 1))
    datatype = f"{'INT' if signed else 'UINT'}{int(np.asarray(bits).flat[0])}"
    try:
        if not DataType[datatype].is_integer():
            return None
    except KeyError:  # a width qonnx has no datatype for: mapped as a float input is
        return None
    return InputQuantizer(datatype, float(np.asarray(scale).flat[0]),
                          float(np.asarray(zero).flat[0]))


def input_shape(path: Path) -> tuple[int, ...]:
    model = _load(path)
    return tuple(int(d) for d in model.get_tensor_shape(model.graph.input[0].name))


def prepare_external(
    source: Path, dest: Path, scale: float | None, offset: float | None, default_scale: float,
    data_datatype: str | None = "UINT8",
) -> Prepared:
    """Clean the file up, check it is QONNX, and put the input mapping in front of it.

    `data_datatype` is the data's: UINT8 pixels, INT8 features, None without data; with
    `scale`/`offset` None the rules of the module's docstring apply.
    """
    from qonnx.core.datatype import DataType
    from qonnx.util.cleanup import cleanup_model

    with quiet():
        model = cleanup_model(_load(source))
    _require_quantizers(model)
    declared = input_datatype(model)
    integer_input = DataType[declared].is_integer()
    datatype = declared if integer_input else (data_datatype or "UINT8")
    quantizer = None
    if scale is None and offset is None and not integer_input and data_datatype != "UINT8":
        quantizer = input_quantizer(model)
    if quantizer is not None:  # integers q enter as q * s - z * s: the quantizer gives q
        datatype = declared = quantizer.datatype
        scale, offset = quantizer.scale, -quantizer.zero_point * quantizer.scale
    elif scale is None:
        scale = 1.0 if integer_input else default_scale
    scale, offset = float(scale), float(offset or 0.0)
    inserted = (scale, offset) != (1.0, 0.0)
    if inserted:
        model = insert_input_mapping(model, scale, offset, datatype)
    else:
        model.set_tensor_datatype(model.graph.input[0].name, DataType[datatype])
    dest.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(dest))
    return Prepared(dest, declared, scale, offset, inserted)


def _require_quantizers(model: Any) -> None:
    ops = [n.op_type for n in model.graph.node]
    if any(op in QUANT_OPS for op in ops):
        return
    seen = ", ".join(dict.fromkeys(ops))
    raise NotQonnxError(
        f"not a QONNX graph: it has no {', '.join(QUANT_OPS)} node, so nothing is quantized "
        f"for FINN to map (its ops: {seen[:200]})"
    )


def insert_input_mapping(model: Any, scale: float, offset: float,
                         datatype: str = "UINT8") -> Any:
    """Prepend `x * scale + offset`; the new input takes `datatype` (UINT8: pixels)."""
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    graph = model.graph
    old = graph.input[0]
    shape = model.get_tensor_shape(old.name)
    new_name = model.make_new_valueinfo_name()
    new_input = helper.make_tensor_value_info(new_name, TensorProto.FLOAT, shape)
    nodes = []
    current = new_name
    for op, value, wanted in (("Mul", scale, scale != 1.0), ("Add", offset, offset != 0.0)):
        if not wanted:
            continue
        const = model.make_new_valueinfo_name()
        model.set_initializer(const, np.asarray(value, dtype=np.float32))
        out = model.make_new_valueinfo_name()
        nodes.append(helper.make_node(op, [current, const], [out], name=f"input_{op.lower()}"))
        current = out
    nodes[-1].output[0] = old.name
    graph.input.remove(old)
    graph.input.insert(0, new_input)
    graph.value_info.append(old)
    for index, node in enumerate(nodes):
        graph.node.insert(index, node)
    model.set_tensor_datatype(new_name, DataType[datatype])
    model.set_tensor_datatype(old.name, DataType["FLOAT32"])
    return model.transform(InferShapes()).transform(InferDataTypes())


def run_qonnx_batched(path: Path, inputs: np.ndarray) -> np.ndarray:
    """Execute a QONNX graph on many samples at once (its batch dimension resized).

    Per-sample execution costs a runtime session per node and sample; a batch of a
    thousand costs about the same as one sample.
    """
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes

    base = _load(path)
    name, out = base.graph.input[0].name, base.graph.output[0].name
    sample_shape = tuple(base.get_tensor_shape(name)[1:])
    x = np.asarray(inputs, dtype=np.float32).reshape(len(inputs), *sample_shape)
    by_size: dict[int, Any] = {}
    outputs = []
    with quiet():
        for start in range(0, len(x), QONNX_BATCH):
            chunk = x[start:start + QONNX_BATCH]
            if len(chunk) not in by_size:
                by_size[len(chunk)] = _load(path).transform(
                    ChangeBatchSize(len(chunk))).transform(InferShapes())
            result = execute_onnx(by_size[len(chunk)], {name: chunk})[out]
            outputs.append(np.asarray(result).reshape(len(chunk), -1))
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), np.float32)


def random_inputs(path: Path, samples: int, seed: int = 0) -> np.ndarray:
    """Seeded random inputs covering the graph input's integer datatype (hardware only)."""
    from qonnx.core.datatype import DataType

    model = _load(path)
    name = model.graph.input[0].name
    dtype = DataType[input_datatype(model)]
    if not dtype.is_integer():
        raise ValueError(f"graph input {name} is {dtype.name}, not an integer datatype")
    rng = np.random.default_rng(seed)
    shape = (samples, *model.get_tensor_shape(name)[1:])
    values = rng.integers(int(dtype.min()), int(dtype.max()) + 1, size=shape)
    return values.astype(np.float32)


def _load(path: Path) -> Any:
    """The graph, with inputs that are also initializers dropped: they are constants, and
    the data input must be the first (`bench.core.qonnx_file` checks there is one)."""
    prepare_finn()
    from qonnx.core.modelwrapper import ModelWrapper

    model = ModelWrapper(str(path))
    constants = {i.name for i in model.graph.initializer}
    for value_info in [i for i in model.graph.input if i.name in constants]:
        model.graph.input.remove(value_info)
    return model
