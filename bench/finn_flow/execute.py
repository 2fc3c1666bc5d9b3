"""FINN's Python simulation of a hardware graph: the bit-exact software reference."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.finn_flow.env import quiet

if TYPE_CHECKING:
    from bench.finn_flow.graph import HwGraph


def execute_hw_graph(hw: HwGraph, inputs: np.ndarray, work_dir: Path) -> np.ndarray:
    """Run the hardware graph in FINN's Python simulation, one sample at a time.

    Specialized (HLS/RTL) nodes only simulate through cppsim/rtlsim, which need Xilinx
    headers or tools, so the graph is first mapped back to FINN's abstract HW layers,
    whose Python execution is the bit-exact reference for the specialized ones.
    """
    from finn.util.execution import execute_parent
    from finn.util.verification import despecialize_model

    graph = hw.model()
    child = work_dir / "hw_graph_python.onnx"
    with quiet():
        despecialize_model(graph).save(str(child))
    outputs = []
    with quiet():
        for sample in inputs:
            out = execute_parent(str(hw.parent_path), str(child), sample[None].astype(np.float32))
            outputs.append(np.asarray(out).reshape(-1))
    return np.stack(outputs)


# -- many samples: the whole test set ---------------------------------------------------------

PARALLEL_FROM = 500  # samples from which execution is spread over processes


def flatten_hw_graph(hw: HwGraph, dest: Path) -> Path:
    """One graph of the parent with the (despecialized) partition inlined.

    `execute_parent` re-reads both files for every sample; executing one in-memory graph
    instead gives identical outputs about four times faster.
    """
    import copy

    from finn.util.verification import despecialize_model
    from qonnx.core.modelwrapper import ModelWrapper

    with quiet():
        child = despecialize_model(hw.model())
    parent = ModelWrapper(str(hw.parent_path))
    graph = parent.graph
    partitions = [i for i, n in enumerate(graph.node)
                  if n.op_type == "StreamingDataflowPartition"]
    if len(partitions) != 1:
        raise RuntimeError(f"expected one dataflow partition, found {len(partitions)}")
    index = partitions[0]
    sdp = graph.node[index]
    rename = {child.graph.input[0].name: sdp.input[0], child.graph.output[0].name: sdp.output[0]}
    graph.node.remove(sdp)
    for offset, node in enumerate(child.graph.node):
        node = copy.deepcopy(node)
        for field in (node.input, node.output):
            for k, name in enumerate(field):
                field[k] = rename.get(name, name)
        graph.node.insert(index + offset, node)
    graph.initializer.extend(child.graph.initializer)
    graph.value_info.extend(v for v in child.graph.value_info if v.name not in rename)
    annotated = {a.tensor_name for a in graph.quantization_annotation}
    graph.quantization_annotation.extend(
        a for a in child.graph.quantization_annotation if a.tensor_name not in annotated
    )
    dest.parent.mkdir(parents=True, exist_ok=True)
    parent.save(str(dest))
    return dest


def _execute_flat(path: str, inputs: np.ndarray) -> np.ndarray:
    from bench.finn_flow.env import prepare_finn

    prepare_finn()
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    model = ModelWrapper(path)
    name, out = model.graph.input[0].name, model.graph.output[0].name
    with quiet():
        return np.stack([
            np.asarray(execute_onnx(model, {name: x[None].astype(np.float32)})[out]).reshape(-1)
            for x in inputs
        ])


def execute_many(hw: HwGraph, inputs: np.ndarray, work_dir: Path,
                 workers: int | None = None) -> np.ndarray:
    """FINN's Python execution of the hardware graph on many samples, over processes.

    Each sample runs alone (FINN's HW layers execute with the batch size they were built
    for); a large set is split into one chunk per worker process.
    """
    import os
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    flat = str(flatten_hw_graph(hw, work_dir / "hw_graph_flat.onnx"))
    if workers is None:
        workers = (os.cpu_count() or 1) if len(inputs) >= PARALLEL_FROM else 1
    workers = max(1, min(workers, len(inputs)))
    if workers == 1:
        return _execute_flat(flat, inputs)
    chunks = np.array_split(inputs, workers)
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        results = list(pool.map(_execute_flat, [flat] * workers, chunks))
    return np.concatenate(results)
