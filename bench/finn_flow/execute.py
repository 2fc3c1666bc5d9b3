"""FINN's Python simulation of a hardware graph: the bit-exact software reference."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

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

PARALLEL_FROM = 500  # samples from which execution may be spread over processes
PROBE_SAMPLES = 16  # executed first, in this process, to time a sample
POOL_PAYS_FROM_S = 60.0  # serial seconds left from which worker processes are started

# Worker processes start by re-running the caller's main script ("spawn"); a script
# without an `if __name__ == "__main__":` guard would run again in every worker. The
# command line (whose entry points are guarded) allows them; a script that has the guard
# can call `allow_worker_processes()`, any other caller executes in its own process.
_worker_processes_allowed = False


def allow_worker_processes(allowed: bool = True) -> None:
    """Let large executions use one process per core (call from a guarded main only)."""
    global _worker_processes_allowed
    _worker_processes_allowed = allowed


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


SELF_CHECK_SAMPLES = 4  # samples the fast path is compared on against QONNX's executor


class GraphRunner:
    """QONNX's node-by-node execution with the per-sample set-up done once.

    `execute_onnx` rebuilds the whole tensor context (initializers decoded again), opens
    an onnxruntime session for every standard node and checks every tensor against its
    datatype, for every sample: about three quarters of its time on an MLP. This keeps
    one context, one custom-op instance and one session per node; the nodes run the
    same code (`execute_node` of FINN's layers, onnxruntime for the rest).
    """

    def __init__(self, model: Any) -> None:
        import onnxruntime as rt
        from onnx import helper
        from qonnx.custom_op.registry import getCustomOp, is_custom_op
        from qonnx.util.basic import qonnx_make_model

        self.model = model
        graph = model.graph
        self.input_name, self.output_name = graph.input[0].name, graph.output[0].name
        self.context = model.make_empty_exec_context()
        infos = [*graph.input, *graph.output, *graph.value_info]
        self.steps: list[tuple[Any, Any, list[str]]] = []
        for node in graph.node:
            if is_custom_op(node.domain, node.op_type):
                self.steps.append((node, getCustomOp(node), []))
                continue
            inputs = _unique_infos(infos, node.input)
            outputs = _unique_infos([*graph.output, *graph.value_info], node.output)
            single = qonnx_make_model(helper.make_graph([node], "node", inputs, outputs))
            opsets = model.get_opset_imports()
            if node.domain in opsets:
                single.opset_import[0].version = opsets[node.domain]
            session = rt.InferenceSession(single.SerializeToString())
            self.steps.append((node, session, [o.name for o in outputs]))

    def run(self, sample: np.ndarray) -> np.ndarray:
        context = dict(self.context)
        context[self.input_name] = sample
        graph = self.model.graph
        for node, runner, output_names in self.steps:
            if not output_names:
                runner.execute_node(context, graph)
                continue
            feeds = {name: context[name] for name in dict.fromkeys(node.input) if name}
            for name, value in zip(output_names, runner.run(output_names, feeds), strict=True):
                context[name] = value
        return np.asarray(context[self.output_name])


def _unique_infos(infos: list[Any], names: Any) -> list[Any]:
    wanted, seen, found = set(names), set(), []
    for info in infos:
        if info.name in wanted and info.name not in seen:
            seen.add(info.name)
            found.append(info)
    return found


def _execute_flat(path: str, inputs: np.ndarray) -> np.ndarray:
    """Outputs of the flattened graph, one sample at a time.

    The fast runner is checked against QONNX's own executor on the first samples and
    is used only where they agree bit for bit; otherwise every sample takes QONNX's path.
    """
    from bench.finn_flow.env import prepare_finn

    prepare_finn()
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    model = ModelWrapper(path)
    name, out = model.graph.input[0].name, model.graph.output[0].name
    samples = [x[None].astype(np.float32) for x in inputs]
    with quiet():
        reference = [np.asarray(execute_onnx(model, {name: x})[out]).reshape(-1)
                     for x in samples[:SELF_CHECK_SAMPLES]]
        runner = GraphRunner(model)
        fast = [runner.run(x).reshape(-1) for x in samples[:SELF_CHECK_SAMPLES]]
        if not all(np.array_equal(a, b) for a, b in zip(reference, fast, strict=True)):
            return np.stack([np.asarray(execute_onnx(model, {name: x})[out]).reshape(-1)
                             for x in samples])
        rest = [runner.run(x).reshape(-1) for x in samples[SELF_CHECK_SAMPLES:]]
    return np.stack([*fast, *rest])


def execute_many(hw: HwGraph, inputs: np.ndarray, work_dir: Path,
                 workers: int | None = None) -> np.ndarray:
    """FINN's Python execution of the hardware graph on many samples, over processes
    when that pays.

    Each sample runs alone (FINN's HW layers execute with the batch size they were built
    for). A worker process costs seconds to start (it imports FINN), so with `workers`
    left to None the first samples are timed here and the rest is split over one process
    per core only if running it here would take longer than `POOL_PAYS_FROM_S`.
    """
    import os
    import time
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    flat = str(flatten_hw_graph(hw, work_dir / "hw_graph_flat.onnx"))
    head: list[np.ndarray] = []
    if workers is None:
        workers = 1
        if _worker_processes_allowed and len(inputs) >= PARALLEL_FROM:
            started = time.perf_counter()
            head = [_execute_flat(flat, inputs[:PROBE_SAMPLES])]
            per_sample = (time.perf_counter() - started) / PROBE_SAMPLES
            if per_sample * (len(inputs) - PROBE_SAMPLES) > POOL_PAYS_FROM_S:
                workers = os.cpu_count() or 1
            inputs = inputs[PROBE_SAMPLES:]
    workers = max(1, min(workers, len(inputs)))
    if workers == 1:
        return np.concatenate([*head, _execute_flat(flat, inputs)])
    chunks = np.array_split(inputs, workers)
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        results = list(pool.map(_execute_flat, [flat] * workers, chunks))
    return np.concatenate([*head, *results])
