"""An external QONNX file as part of a run's identity: its content hash and bit widths.

A run of an external model is named by the file's name and a hash of its bytes (moving
the file keeps the run, editing it makes a new one), and its bit widths come from the
graph, not from the user. This is read with the `onnx` protobuf only, so validating a
spec stays fast and a file that is not ONNX at all is a one-line error before any work;
everything FINN-specific about the file is read later, in `bench.finn_flow.external`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

# Quantizer ops of the QONNX dialect (Brevitas, and the QKeras/HAWQ converters, emit these).
QUANT_OPS = ("Quant", "BipolarQuant", "Trunc")


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
    """Read an external model file; ValueError (one line) if it is missing or not ONNX."""
    path = Path(path_text).expanduser()
    if not path.exists():
        raise ValueError(f"{path_text!r} does not exist")
    if not path.is_file():
        raise ValueError(f"{path_text!r} is not a regular file")
    stat = path.stat()
    return _describe_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _describe_cached(path: str, size: int, mtime_ns: int) -> QonnxFile:
    import onnx

    data = Path(path).read_bytes()
    try:
        model = onnx.load_from_string(data)
    except Exception:  # protobuf raises several kinds; all mean the same to the user
        raise ValueError(f"{path!r} is not an ONNX file (it does not parse as one)") from None
    graph = model.graph
    if not graph.node or not graph.input:
        raise ValueError(f"{path!r} is an ONNX file without a graph (no nodes or no input)")
    sha = hashlib.sha256(data).hexdigest()
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).name.removesuffix(".onnx"))
    weight_bits, act_bits, quant = _bit_widths(graph)
    return QonnxFile(
        path=path, sha256=sha, label=f"qonnx:{stem.removesuffix('.qonnx')}@{sha[:8]}",
        weight_bits=weight_bits, act_bits=act_bits, weight_quant=quant,
        input_shape=_input_shape(graph),
    )


def _input_shape(graph: Any) -> tuple[int, ...]:
    inits = {i.name for i in graph.initializer}
    first = next(i for i in graph.input if i.name not in inits)
    dims = first.type.tensor_type.shape.dim
    return tuple(int(d.dim_value) if d.dim_value > 0 else 1 for d in dims)


# Ops by which a graph maps its input before quantizing it (e.g. 2x - 1): a quantizer
# reached from the input only through these is the input quantizer.
_INPUT_MAPPING_OPS = ("Mul", "Add", "Sub", "Div", "Flatten", "Reshape", "Transpose")


def _traced_source(name: str, producers: dict[str, Any]) -> str:
    """Follow a tensor back through input-mapping ops to where it comes from."""
    while name in producers and producers[name].op_type in _INPUT_MAPPING_OPS:
        name = producers[name].input[0]
    return name


def _bit_widths(graph: Any) -> tuple[int | None, int | None, str | None]:
    """Widest weight and activation quantizers, and the weight quantizer kind.

    A quantizer whose input is an initializer quantizes weights (or a bias); one on the
    graph input quantizes the input, which is the input datatype, not an activation.
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
        if node.op_type not in ("Quant", "BipolarQuant"):
            continue
        if node.op_type == "BipolarQuant":
            bits = 1
        else:
            width = value(node.input[3]) if len(node.input) > 3 else None
            if width is None:
                continue
            bits = round(float(width.reshape(-1)[0]))
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
