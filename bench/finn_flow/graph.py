"""The hardware graph FINN builds once per exported model, and its per-folding estimates.

`build_hw_graph` runs FINN's folding-independent steps; `HwGraph` opens the result, so no
caller ever needs its file names. `FoldableGraph` applies one folding after another to the
graph held in memory and runs FINN's analytical cycle and resource models on it: no
re-streamlining, no build directory, no subprocess, so a sweep point costs milliseconds.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.core import stream_rate
from bench.finn_flow import calibrated
from bench.finn_flow.builder import (
    ESTIMATE_STEPS,
    HW_GRAPH_STEPS,
    FinnStepError,
    Step,
    make_config,
    run_builder,
    step_name,
    write_folding_file,
)
from bench.finn_flow.env import prepare_finn, quiet
from bench.finn_flow.node_memo import FoldingMemo, has_attr, with_static_schema

# Node attributes that bound PE and SIMD, by base op type (specialized nodes end in
# _hls/_rtl). Values are (attribute PE must divide, attribute SIMD must divide).
FOLDABLE_DIMS: dict[str, tuple[str | None, str | None]] = {
    "MVAU": ("MH", "MW"),
    "QnnbenchMVU": ("MH", "MW"),  # our unit (bench.finn_flow.mvu_op), an MVAU
    "VVAU": ("Channels", "Kernel"),
    "Thresholding": ("NumChannels", None),
    "ConvolutionInputGenerator": (None, "IFMChannels"),
    "FMPadding": (None, "NumChannels"),
    "Pool": ("Channels", None),
    "QnnbenchPool": ("Channels", None),  # our max pooling unit (pool_op), a Pool
    "LabelSelect": ("Labels", None),
    "StreamingMaxPool": ("NumChannels", None),
}

_GRAPH_FILE = "hw_graph.onnx"
_PARENT_FILE = "dataflow_parent.onnx"


@dataclass
class Estimate:
    """FINN's analytical estimates for one folding of a hardware graph."""

    fps: float
    latency_ns: float
    max_cycles: int
    critical_path_cycles: int
    bottleneck: str
    totals: dict[str, float]
    per_layer: dict[str, dict[str, Any]] = field(default_factory=dict)
    # calibrated where a model covers the node, FINN's elsewhere (`finn_flow.calibrated`)
    calibrated: dict[str, Any] = field(default_factory=dict)
    # the slowest layer's cycles with the width converters' input rate (`core.stream_rate`)
    cal_max_cycles: int | None = None


class HwGraph:
    """A built hardware graph (the dataflow partition and its parent) in a directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.graph_path = self.directory / _GRAPH_FILE
        self.parent_path = self.directory / _PARENT_FILE

    def files(self) -> list[Path]:
        return [self.graph_path, self.parent_path]

    def exists(self) -> bool:
        return all(p.is_file() for p in self.files())

    def model(self) -> Any:
        """A fresh QONNX ModelWrapper of the dataflow partition."""
        return load_graph(self.graph_path)

    def foldable(self, fpga_part: str, clk_ns: float, mvu: str = "finn",
                 dsp: str = "auto") -> FoldableGraph:
        """The graph to fold; with `mvu="rtl"` its MVAUs and max pools replaced by our
        units where they compute the same (`pool_transform.use_our_units`), which then
        also estimate them, the MVUs with or without DSPs as synthesis will build them
        (`dsp`)."""
        if mvu == "finn":
            return FoldableGraph(self.model(), fpga_part, clk_ns)
        from bench.finn_flow.pool_transform import use_our_units

        model, units, kept = use_our_units(self.model(), use_dsp=dsp == "auto")
        graph = FoldableGraph(model, fpga_part, clk_ns)
        graph.mvu_layers = {**units, **{name: {"kept": why} for name, why in kept.items()}}
        return graph

    def with_model(self, model: Any, directory: Path) -> HwGraph:
        """Another dataflow partition (e.g. with our unit in place of FINN's MVAUs) under
        the same parent graph, in `directory`."""
        import shutil

        other = HwGraph(directory)
        other.directory.mkdir(parents=True, exist_ok=True)
        model.save(str(other.graph_path))
        shutil.copy(self.parent_path, other.parent_path)
        return other

    def execute(self, inputs: np.ndarray, work_dir: Path) -> np.ndarray:
        from bench.finn_flow.execute import execute_hw_graph

        return execute_hw_graph(self, inputs, work_dir)

    def execute_many(self, inputs: np.ndarray, work_dir: Path) -> np.ndarray:
        """The same outputs as `execute`, faster, over processes for large sets."""
        from bench.finn_flow.execute import execute_many

        return execute_many(self, inputs, work_dir)


def build_hw_graph(
    qonnx_path: Path, out_dir: Path, fpga_part: str, clk_ns: float,
    steps: Sequence[Step] = HW_GRAPH_STEPS, standalone_thresholds: bool = False,
) -> HwGraph:
    """Run FINN's folding-independent steps with FINN's builder; raise FinnStepError on failure.

    `steps` and `standalone_thresholds` vary the build for the RTL measurements
    (`bench.finn_flow.rtl_layers`); the default is the graph every target estimates on.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = make_config(steps, str(out_dir / "finn"), fpga_part, clk_ns, ["estimate_reports"],
                      standalone_thresholds=standalone_thresholds)
    try:
        intermediate = run_builder(qonnx_path, cfg) / "intermediate_models"
    except FinnStepError as err:
        # FINN's own message rarely says which layer it could not handle: name it.
        found = first_unmapped_node(_last_model(out_dir / "finn", steps))
        if found is None:
            raise
        said = str(err).removeprefix(f"FINN step {err.step} failed: ")
        raise FinnStepError(err.step, f"{found}; FINN said: {said}") from err
    _require_one_partition(intermediate / "dataflow_parent.onnx")
    hw = HwGraph(out_dir)
    (intermediate / f"{step_name(steps[-1])}.onnx").replace(hw.graph_path)
    (intermediate / "dataflow_parent.onnx").replace(hw.parent_path)
    return hw


# Ops FINN leaves to the host around the accelerator: input reshaping, the output scale,
# the final top-k. Any other op outside the dataflow partition is a layer FINN did not map.
HOST_OPS = ("Mul", "Add", "Div", "Sub", "Flatten", "Reshape", "Transpose", "TopK", "ArgMax",
            "Identity", "Squeeze", "Unsqueeze")


def _is_hw(node: Any) -> bool:
    return "fpgadataflow" in node.domain or node.op_type == "StreamingDataflowPartition"


def first_unmapped_node(model: Any, float_layers: bool = True) -> str | None:
    """The first node FINN did not turn into an integer hardware layer, in one phrase.

    A non-HW node with HW layers both before and after it cuts the dataflow graph; failing
    that, the first non-HW node that is not a host-side op; failing that, the first HW
    layer with a float output inside the graph (unless `float_layers` is False: the
    parent graph, whose partition node carries the float output scale).
    """
    if model is None:
        return None
    nodes = list(model.graph.node)
    hw_at = [i for i, n in enumerate(nodes) if _is_hw(n)]
    candidates = []
    if hw_at:
        candidates = [n for n in nodes[hw_at[0]:hw_at[-1]] if not _is_hw(n)]
    candidates = candidates or [n for n in nodes if not _is_hw(n) and n.op_type not in HOST_OPS]
    if candidates:
        node = candidates[0]
        return (f"first node FINN could not map to hardware: {node.name or '(unnamed)'} "
                f"({node.op_type})")
    if not float_layers:
        return None
    # FINN maps some float ops to float HW layers, which integer layers after them cannot
    # take: the first such layer inside the graph is where the integer dataflow breaks.
    outputs = {o.name for o in model.graph.output}
    for node in nodes:
        if "fpgadataflow" in node.domain and not set(node.output) & outputs and any(
            not model.get_tensor_datatype(o).is_integer() for o in node.output
        ):
            return (f"first node FINN could not map to an integer hardware layer: "
                    f"{node.name or '(unnamed)'} ({node.op_type}, float output)")
    return None


def _last_model(finn_dir: Path, steps: Sequence[Step]) -> Any:
    """The model after the last step FINN finished, or None if it saved none."""
    saved = finn_dir / "intermediate_models"
    for step in reversed([step_name(s) for s in steps]):
        path = saved / f"{step}.onnx"
        if path.is_file():
            return load_graph(path)
    return None


def _require_one_partition(parent_path: Path) -> None:
    """A build that succeeded may still leave layers to the host (FINN then splits the
    graph or keeps the layer outside): estimates of such a graph would miss them."""
    parent = load_graph(parent_path)
    partitions = parent.get_nodes_by_op_type("StreamingDataflowPartition")
    found = first_unmapped_node(parent, float_layers=False)
    if len(partitions) != 1 or found is not None:
        detail = found or f"{len(partitions)} dataflow partitions instead of one"
        raise FinnStepError("step_create_dataflow_partition",
                            f"the graph is not one dataflow graph: {detail}")


def run_estimate_build(
    qonnx_path: Path, out_dir: Path, fpga_part: str, clk_ns: float,
    folding_config: dict[str, dict[str, int]] | None = None, target_fps: int | None = None,
) -> dict[str, Any]:
    """A complete FINN estimate-only build for one folding: the slow reference path.

    The incremental `FoldableGraph.estimate` must give the same numbers. Returns FINN's
    report JSONs, keyed by report name.
    """
    import json

    out_dir.mkdir(parents=True, exist_ok=True)
    folding_file = None
    if folding_config is not None:
        folding_file = str(write_folding_file(out_dir / "folding_config.json", folding_config))
    cfg = make_config(ESTIMATE_STEPS, str(out_dir / "finn"), fpga_part, clk_ns,
                      ["estimate_reports"], folding_config_file=folding_file,
                      target_fps=target_fps)
    report = run_builder(qonnx_path, cfg) / "report"
    return {p.stem: json.loads(p.read_text()) for p in report.glob("*.json")}


def load_graph(path: Path) -> Any:
    prepare_finn()
    from qonnx.core.modelwrapper import ModelWrapper

    # registers our layers before any lookup
    import bench.finn_flow.mvu_op
    import bench.finn_flow.pool_op  # noqa: F401

    return ModelWrapper(str(path))


def foldable_layers(graph: Any) -> list[Any]:
    """The graph's nodes that take PE/SIMD, with the dimensions those must divide."""
    from qonnx.custom_op.registry import getCustomOp

    from bench.core.folding import Layer

    layers = []
    for node in graph.graph.node:
        base = node.op_type.removesuffix("_hls").removesuffix("_rtl")
        if base not in FOLDABLE_DIMS:
            continue
        inst = getCustomOp(node)
        pe_attr, simd_attr = FOLDABLE_DIMS[base]
        weight_bits = None
        if base in ("MVAU", "VVAU", "QnnbenchMVU"):
            weight_bits = int(inst.get_input_datatype(1).bitwidth())
        layers.append(
            Layer(
                name=node.name,
                op_type=node.op_type,
                pe_dim=_dimension(inst, pe_attr),
                simd_dim=_dimension(inst, simd_attr),
                weight_bits=weight_bits,
            )
        )
    return layers


def _dimension(inst: Any, attr: str | None) -> int | None:
    """A size PE/SIMD must divide; list-valued ones (a VVAU's kernel) count all elements."""
    if attr is None:
        return None
    value = inst.get_nodeattr(attr)
    return int(np.prod(value)) if isinstance(value, list | tuple) else int(value)


def layer_datatypes(graph: Any) -> dict[str, dict[str, str]]:
    """Input/weight/output datatypes FINN settled on, per MVAU/VVAU/Thresholding node
    (a standalone Thresholding node's "weights" are its thresholds, and are named so)."""
    from qonnx.custom_op.registry import getCustomOp

    result: dict[str, dict[str, str]] = {}
    for node in graph.graph.node:
        inst = getCustomOp(node)
        types = {}
        second = "threshold" if node.op_type.startswith("Thresholding") else "weight"
        for attr, key in (
            ("inputDataType", "input"), ("weightDataType", second),
            ("outputDataType", "output"),
        ):
            value = inst.get_nodeattr(attr) if has_attr(inst, attr) else None
            if value:
                types[key] = str(value)
        if types:
            result[node.name] = types
    return result


class FoldableGraph:
    """A hardware graph held in memory, folded and estimated in place, point after point.

    Copying an ONNX graph per point would cost more than the estimate itself, so instead
    every foldable attribute is reset to the graph's original value before a folding is
    applied: each point starts from exactly the graph FINN's `step_apply_folding_config`
    would start from, and the analyses are FINN's own.
    """

    def __init__(self, graph: Any, fpga_part: str, clk_ns: float) -> None:
        from finn.util.fpgadataflow import is_hls_node, is_rtl_node
        from qonnx.custom_op.registry import getCustomOp

        from bench.rtl.yosys import family_for_part

        self.graph = graph
        self.fpga_part = fpga_part
        self.family = family_for_part(fpga_part)
        self.clk_ns = clk_ns
        # with --mvu rtl: per unit node its datapath, per MVAU left FINN's why
        self.mvu_layers: dict[str, dict[str, Any]] = {}
        self.layers = foldable_layers(graph)
        self._nodes = {n.name: with_static_schema(getCustomOp(n)) for n in graph.graph.node}
        self._hw_nodes = {
            n.name: self._nodes[n.name]
            for n in graph.graph.node
            if is_hls_node(n) or is_rtl_node(n)
        }
        self._pristine = {
            name: {a: inst.get_nodeattr(a) for a in ("PE", "SIMD") if has_attr(inst, a)}
            for name, inst in self._nodes.items()
        }
        self._memo = FoldingMemo(self._nodes, self._pristine)
        # consumer -> producer where a width converter may slow the consumer's first fold
        self.feeds = stream_rate.feeds([
            (n.name, n.op_type, getattr(graph.find_producer(n.input[0]), "name", None))
            for n in graph.graph.node])

    def apply(self, folding_config: dict[str, dict[str, int]]) -> None:
        for name, attrs in self._pristine.items():
            for attr, value in attrs.items():
                self._nodes[name].set_nodeattr(attr, value)
        for name, attrs in folding_config.items():
            if name not in self._nodes:
                raise KeyError(f"no node {name!r} in the hardware graph")
            for attr, value in attrs.items():
                self._nodes[name].set_nodeattr(attr, int(value))

    def current_folding(self) -> dict[str, dict[str, int]]:
        return {
            name: {a: int(self._nodes[name].get_nodeattr(a)) for a in attrs}
            for name, attrs in self._pristine.items()
            if attrs
        }

    def estimate(self, folding_config: dict[str, dict[str, int]]) -> Estimate:
        """FINN's estimates (same analyses as `step_generate_estimate_reports`) for a folding."""
        from finn.analysis.fpgadataflow.dataflow_performance import dataflow_performance
        from finn.analysis.fpgadataflow.op_and_param_counts import aggregate_dict_keys

        self.apply(folding_config)
        # The loops of FINN's exp_cycles_per_layer, res_estimation and AnnotateCycles.
        memo = self._memo
        cycles = {name: memo.get(name, "cycles", lambda i=inst: int(i.get_exp_cycles()))
                  for name, inst in self._hw_nodes.items()}
        resources = {
            name: memo.get(name, "finn", lambda i=inst: i.node_res_estimation(self.fpga_part))
            for name, inst in self._hw_nodes.items()
        }
        resources["total"] = aggregate_dict_keys(dict(resources))
        for name, inst in self._hw_nodes.items():
            inst.set_nodeattr("cycles_estimate", cycles[name])
        perf = self.graph.analysis(dataflow_performance)
        est = estimate_from_reports(cycles, resources, perf, self.clk_ns)
        costs = {name: self._cost(name, est.per_layer[name]) for name in self._hw_nodes}
        for name, cost in costs.items():
            est.per_layer[name].update(
                {f"cal_{k}" if k != "cost_source" else k: v for k, v in cost.items()})
        est.calibrated = calibrated.totals(costs)
        est.cal_max_cycles = max(self._stream_cycles(cycles).values(), default=None)
        return est

    def _stream_cycles(self, cycles: dict[str, int]) -> dict[str, int]:
        """Each node's cycles per image behind its producer's stream, as folded now."""
        result = dict(cycles)
        for name, producer in self.feeds.items():
            pe = self._nodes[producer].get_nodeattr("PE")
            result[name] = stream_rate.stream_cycles(self._rate(name, cycles[name]), pe)
        return result

    def _rate(self, name: str, cycles: int) -> stream_rate.LayerRate:
        inst = self._nodes[name]
        pe, simd = inst.get_nodeattr("PE"), inst.get_nodeattr("SIMD")
        return stream_rate.LayerRate(cycles, inst.get_nodeattr("MW") // simd,
                                     inst.get_nodeattr("MH") // pe, simd)

    def _cost(self, name: str, finn: dict[str, Any]) -> dict[str, Any]:
        return self._memo.get(name, "calibrated", lambda: calibrated.node_cost(
            self._nodes[name], self.family, finn))

    def layer_options(self, layer: Any, costs: str = "calibrated") -> list[dict[str, Any]]:
        """Cycles and resources of one layer for each valid (PE, SIMD): calibrated where a
        model covers the layer (`costs="finn"`: FINN's models throughout)."""
        from bench.core.folding import divisors

        inst = self._nodes[layer.name]
        saved = {a: inst.get_nodeattr(a) for a in self._pristine[layer.name]}
        options = []
        for pe in divisors(layer.pe_dim) if layer.pe_dim else [None]:
            for simd in divisors(layer.simd_dim) if layer.simd_dim else [None]:
                if pe is not None:
                    inst.set_nodeattr("PE", pe)
                if simd is not None:
                    inst.set_nodeattr("SIMD", simd)
                res = inst.node_res_estimation(self.fpga_part)
                finn = {_resource_key(k): float(v) for k, v in res.items() if _resource_key(k)}
                if costs == "calibrated":
                    cost = self._cost(layer.name, finn)
                    finn = {r: float(cost[r]) for r in finn}
                cycles = int(inst.get_exp_cycles())
                rate = self._rate(layer.name, cycles) if layer.name in self.feeds else None
                options.append({"pe": pe, "simd": simd, "cycles": cycles, "rate": rate,
                                **finn})
        for attr, value in saved.items():
            inst.set_nodeattr(attr, value)
        return options

    def finn_auto_folding(self, target_fps: float) -> dict[str, dict[str, int]]:
        """FINN's SetFolding for a target FPS, with the builder's defaults, on a copy."""
        from finn.transformation.fpgadataflow.set_folding import SetFolding

        target_cycles = int((1e9 / self.clk_ns) / target_fps)
        self.apply({})
        with quiet():
            folded = copy.deepcopy(self.graph).transform(
                SetFolding(target_cycles, mvau_wwidth_max=36, two_pass_relaxation=True)
            )
        return FoldableGraph(folded, self.fpga_part, self.clk_ns).current_folding()


def estimate(
    graph: Any, folding_config: dict[str, dict[str, int]], fpga_part: str, clk_ns: float
) -> Estimate:
    """One-off estimate on a copy of `graph` (sweeps keep a FoldableGraph instead)."""
    return FoldableGraph(copy.deepcopy(graph), fpga_part, clk_ns).estimate(folding_config)


def estimate_from_reports(
    cycles: dict[str, Any], resources: dict[str, Any], perf: dict[str, Any], clk_ns: float
) -> Estimate:
    """Build an Estimate from FINN's three report dicts (as written by a full build)."""
    max_cycles = int(perf["max_cycles"])
    totals = resources["total"]
    per_layer = {
        name: {
            "cycles": int(cycles.get(name, 0)),
            **{_resource_key(k): float(v) for k, v in res.items() if _resource_key(k)},
        }
        for name, res in resources.items()
        if name != "total"
    }
    return Estimate(
        fps=(1e9 / clk_ns) / max_cycles,
        latency_ns=int(perf["critical_path_cycles"]) * clk_ns,
        max_cycles=max_cycles,
        critical_path_cycles=int(perf["critical_path_cycles"]),
        bottleneck=str(perf["max_cycles_node_name"]),
        totals={_resource_key(k): float(v) for k, v in totals.items() if _resource_key(k)},
        per_layer=per_layer,
    )


def _resource_key(finn_key: str) -> str:
    return {"LUT": "lut", "BRAM_18K": "bram18", "URAM": "uram", "DSP": "dsp"}.get(finn_key, "")


def weight_initializers(graph: Any) -> dict[str, np.ndarray]:
    """Integer weight matrices of the MVAU/VVAU nodes, as FINN holds them."""
    result = {}
    for node in graph.graph.node:
        base = node.op_type.removesuffix("_hls").removesuffix("_rtl")
        if base in ("MVAU", "VVAU", "QnnbenchMVU") and len(node.input) > 1:
            value = graph.get_initializer(node.input[1])
            if value is not None:
                result[node.name] = value
    return result
