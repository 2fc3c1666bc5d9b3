"""An external QONNX file as part of a run's identity: its content hash and bit widths.

A run of an external model is named by the file's name and a hash of its bytes (moving
the file keeps the run, editing it makes a new one), and its bit widths come from the
graph, not from the user. This is read with the `onnx` protobuf only, so validating a
spec stays fast and a file that is not ONNX at all, or that no run could take (no data
input, impossible bit widths, missing external data), is a one-line error before any
work; everything FINN-specific about the file is read later, in `bench.finn_flow.external`.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

# Quantizer ops of the QONNX dialect (Brevitas, and the QKeras/HAWQ converters, emit these).
QUANT_OPS = ("Quant", "BipolarQuant", "Trunc")
# A quantizer's bit width must be a whole number in this range: zero, negative, infinite
# or fractional widths have no integer datatype, and nothing wider than 64 bits executes.
MIN_QUANT_BITS, MAX_QUANT_BITS = 1, 64


@dataclass(frozen=True)
class QonnxFile:
    """What a spec needs to know about an external model file."""

    path: str
    sha256: str
    label: str  # "qonnx:<file stem>@<first 8 hex digits of the hash>"
    weight_bits: int | None  # widest weight quantizer; None: the graph has none
    act_bits: int | None  # widest activation quantizer (not counting one on the input)
    weight_quant: str | None  # int or binary; None without weight quantizers
    input_shape: tuple[int, ...]  # the graph input's shape, batch dimension included


def describe(path_text: str) -> QonnxFile:
    """Read an external model file; ValueError (one line) if it is missing, not ONNX, or
    not a graph a run can take."""
    path = Path(path_text).expanduser()
    if not path.exists():
        raise ValueError(f"{path_text!r} does not exist")
    if not path.is_file():
        raise ValueError(f"{path_text!r} is not a regular file")
    stat = path.stat()
    return _describe_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def self_contained(path_text: str) -> tuple[bytes, str]:
    """The model as the bytes of one file, external data read in, and the hash naming it.

    A run works on a copy of the file in its cache entry, where weights kept in separate
    files would be missing; the copy holds them itself. Hash and bytes come from one read,
    so a file edited meanwhile cannot pass for the one the spec was made from.
    """
    _, data, sha = _read(Path(path_text).expanduser().resolve())
    return data, sha


@lru_cache(maxsize=64)
def _describe_cached(path: str, size: int, mtime_ns: int) -> QonnxFile:
    model, _, sha = _read(Path(path))
    graph = model.graph
    if not graph.node or not graph.input:
        raise ValueError(f"{path!r} is an ONNX file without a graph (no nodes or no input)")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).name.removesuffix(".onnx"))
    weight_bits, act_bits, quant = _bit_widths(path, graph)
    return QonnxFile(
        path=path, sha256=sha, label=f"qonnx:{stem.removesuffix('.qonnx')}@{sha[:8]}",
        weight_bits=weight_bits, act_bits=act_bits, weight_quant=quant,
        input_shape=_shape(_data_input(path, graph)),
    )


def _read(path: Path) -> tuple[Any, bytes, str]:
    """The model with its external data read in, its bytes as one file, and their hash.

    A self-contained file hashes as its own bytes (so run ids of such files never change);
    a model with external data as its self-contained serialization, so editing a data file
    makes a new run too. onnx resolves data files in the model's folder and refuses
    locations outside it.
    """
    import onnx
    from onnx.external_data_helper import load_external_data_for_model

    data = path.read_bytes()
    try:
        model = onnx.load_from_string(data)
    except Exception:  # protobuf raises several kinds; all mean the same to the user
        raise ValueError(f"{str(path)!r} is not an ONNX file (it does not parse as one)") from None
    if not _uses_external_data(model):
        return model, data, hashlib.sha256(data).hexdigest()
    try:
        load_external_data_for_model(model, str(path.parent))
    except Exception as err:  # onnx's location checks, OSError, ValueError on bounds
        raise ValueError(f"{str(path)!r}: cannot read its external data "
                         f"({_one_line(err)})") from None
    try:
        whole = model.SerializeToString()
    except Exception:  # protobuf refuses messages over 2 GB
        raise ValueError(f"{str(path)!r} with its external data is larger than one ONNX file "
                         "can hold (2 GB)") from None
    return model, whole, hashlib.sha256(whole).hexdigest()


def _uses_external_data(model: Any) -> bool:
    from onnx.external_data_helper import uses_external_data

    return any(uses_external_data(t) for t in _tensors(model.graph))


def _tensors(graph: Any) -> Iterator[Any]:
    """Every tensor a graph stores: initializers and node attributes, subgraphs included."""
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _tensors(attr.g)
            for sub in attr.graphs:
                yield from _tensors(sub)


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:300] or type(err).__name__


def _data_input(path: str, graph: Any) -> Any:
    """The one graph input that takes data (inputs that are also initializers are constants)."""
    inits = {i.name for i in graph.initializer}
    data = [i for i in graph.input if i.name not in inits]
    if len(data) == 1:
        return data[0]
    names = ", ".join(i.name for i in graph.input)
    if not data:
        raise ValueError(f"{path!r}: every graph input ({names}) is also an initializer, a "
                         "constant: no input takes data")
    raise ValueError(f"{path!r} has {len(data)} data inputs ({names}); FINN builds graphs "
                     "with one input")


def _shape(value_info: Any) -> tuple[int, ...]:
    dims = value_info.type.tensor_type.shape.dim
    return tuple(int(d.dim_value) if d.dim_value > 0 else 1 for d in dims)


# Ops by which a graph maps its input before quantizing it (e.g. 2x - 1): a quantizer
# reached from the input only through these is the input quantizer.
_INPUT_MAPPING_OPS = ("Mul", "Add", "Sub", "Div", "Flatten", "Reshape", "Transpose")


def _traced_source(name: str, producers: dict[str, Any]) -> str:
    """Follow a tensor back through input-mapping ops to where it comes from."""
    while name in producers and producers[name].op_type in _INPUT_MAPPING_OPS:
        name = producers[name].input[0]
    return name


def _checked_bits(path: str, node: Any, width: np.ndarray) -> int:
    """A quantizer's bit width as an int; ValueError if no integer datatype has it."""
    where = f"{path!r}: {node.op_type} node {node.name or '(unnamed)'}"
    values = np.asarray(width, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError(f"{where} has an empty bit width tensor")
    for value in values:
        if not (math.isfinite(value) and value == int(value)
                and MIN_QUANT_BITS <= value <= MAX_QUANT_BITS):
            raise ValueError(f"{where} has bit width {value:g}; a bit width must be a whole "
                             f"number from {MIN_QUANT_BITS} to {MAX_QUANT_BITS}")
    return int(values.max())


def _bit_widths(path: str, graph: Any) -> tuple[int | None, int | None, str | None]:
    """Widest weight and activation quantizers, and the weight quantizer kind.

    A quantizer whose input is an initializer quantizes weights (or a bias); one on the
    graph input quantizes the input, which is the input datatype, not an activation. Every
    constant bit width is checked, also those the maxima hide.
    """
    from onnx import numpy_helper

    inits = {i.name: i for i in graph.initializer}
    const_outputs = {o: n for n in graph.node if n.op_type == "Constant" for o in n.output}
    graph_inputs = {i.name for i in graph.input}

    def value(name: str) -> Any:
        if name in inits:
            return numpy_helper.to_array(inits[name])
        node = const_outputs.get(name)
        if node is not None:
            return numpy_helper.to_array(node.attribute[0].t)
        return None

    producers = {o: n for n in graph.node for o in n.output}
    weights: list[int] = []
    acts: list[int] = []
    kinds: set[str] = set()
    for node in graph.node:
        if node.op_type == "Trunc":  # input and output bit widths
            for name in node.input[3:5]:
                if (width := value(name)) is not None:
                    _checked_bits(path, node, width)
        if node.op_type not in ("Quant", "BipolarQuant"):
            continue
        if node.op_type == "BipolarQuant":
            bits = 1
        else:
            width = value(node.input[3]) if len(node.input) > 3 else None
            if width is None:
                continue
            bits = _checked_bits(path, node, width)
        source = node.input[0]
        if source in inits or source in const_outputs:
            weights.append(bits)
            kinds.add("binary" if bits == 1 else "int")
        elif _traced_source(source, producers) not in graph_inputs:
            acts.append(bits)
    quant = None
    if kinds:
        quant = kinds.pop() if len(kinds) == 1 else "int"
    return (max(weights) if weights else None, max(acts) if acts else None, quant)
