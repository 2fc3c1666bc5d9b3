"""External QONNX models: checking the file, mapping data onto its input, executing it.

A model exported elsewhere often takes float input (pixels / 255, sometimes 2x - 1 inside
the graph). FINN's accelerator takes integers, so, as FINN's own examples do, a
pre-processing step (a Mul and an Add) is put in front of the graph and its input is
marked UINT8: streamlining then absorbs the step into the first layer's thresholds.
Whether the step reproduces the float model is checked by executing both graphs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.finn_flow.env import prepare_finn, quiet

QUANT_OPS = ("Quant", "BipolarQuant", "Trunc", "MultiThreshold")
QONNX_BATCH = 1000  # samples per batched QONNX execution (memory stays small)


class NotQonnxError(RuntimeError):
    """An ONNX file without quantizers: there is nothing for FINN to map to integers."""


@dataclass(frozen=True)
class Prepared:
    """The external graph ready for FINN, and how data becomes its input."""

    path: Path
    input_datatype: str  # the file's own input datatype
    input_scale: float
    input_offset: float
    inserted: bool  # pre-processing put in front of the graph


def input_datatype(model: Any) -> str:
    return str(model.get_tensor_datatype(model.graph.input[0].name).name)


def input_shape(path: Path) -> tuple[int, ...]:
    model = _load(path)
    return tuple(int(d) for d in model.get_tensor_shape(model.graph.input[0].name))


def prepare_external(
    source: Path, dest: Path, scale: float | None, offset: float | None, default_scale: float,
) -> Prepared:
    """Clean the file up, check it is QONNX, and put the input mapping in front of it.

    `scale`/`offset` None: a graph that declares an integer input takes the data as it
    is; a float one gets `default_scale` (the data set's, e.g. 1/255) and offset 0.
    """
    from qonnx.core.datatype import DataType
    from qonnx.util.cleanup import cleanup_model

    with quiet():
        model = cleanup_model(_load(source))
    _require_quantizers(model)
    declared = input_datatype(model)
    integer_input = DataType[declared].is_integer()
    scale = float(scale) if scale is not None else (1.0 if integer_input else default_scale)
    offset = float(offset) if offset is not None else 0.0
    inserted = (scale, offset) != (1.0, 0.0)
    if inserted:
        model = insert_input_mapping(model, scale, offset)
    elif not integer_input:
        model.set_tensor_datatype(model.graph.input[0].name, DataType["UINT8"])
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


def insert_input_mapping(model: Any, scale: float, offset: float) -> Any:
    """Prepend `x * scale + offset` and make the graph's input UINT8 pixels."""
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
    model.set_tensor_datatype(new_name, DataType["UINT8"])
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
