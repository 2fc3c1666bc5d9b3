"""The only module that talks to FINN (finn-plus).

Three jobs:

* `build_hw_graph` runs FINN's folding-independent steps once per exported model (QONNX to
  FINN, streamlining, HW layers, dataflow partition, specialization, bit-width
  minimization) through FINN's own builder and keeps the resulting graph.
* `estimate` applies one folding to an in-memory copy of that graph and runs FINN's
  analytical cycle and resource models on it: no re-streamlining, no build directory, no
  subprocess, so a sweep point costs milliseconds.
* `execute_hw_graph` runs the hardware graph in FINN's Python simulation for verification.

Without Vivado, finn-plus needs three workarounds to run in-process; they live in
`_prepare_finn` and are applied only when `XILINX_VIVADO` is not set.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# Node attributes that bound PE and SIMD, by base op type (specialized nodes end in
# _hls/_rtl). Values are (attribute PE must divide, attribute SIMD must divide).
FOLDABLE_DIMS: dict[str, tuple[str | None, str | None]] = {
    "MVAU": ("MH", "MW"),
    "VVAU": ("Channels", "Kernel"),
    "Thresholding": ("NumChannels", None),
    "ConvolutionInputGenerator": (None, "IFMChannels"),
    "FMPadding": (None, "NumChannels"),
    "Pool": ("Channels", None),
    "LabelSelect": ("Labels", None),
    "StreamingMaxPool": ("NumChannels", None),
}

# The folding-independent part of FINN's estimate flow, in FINN's own order; the
# per-point part (apply folding, estimate) is done in-process by `estimate`.
HW_GRAPH_STEP_NAMES = [
    "step_qonnx_to_finn",
    "step_tidy_up",
    "step_streamline",
    "step_convert_to_hw",
    "keep_output_scale_in_software",
    "step_minimize_bit_width_initial",
    "step_create_dataflow_partition",
    "step_specialize_layers",
    "step_minimize_bit_width",
]

HW_GRAPH_FILE = "hw_graph.onnx"
PARENT_FILE = "dataflow_parent.onnx"


class FinnStepError(RuntimeError):
    """A FINN build step failed; `step` names it."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"FINN step {step} failed: {message}")
        self.step = step


@dataclass
class HwGraph:
    """Paths of the cached hardware graph (the dataflow partition) and its parent."""

    graph: Path
    parent: Path


@dataclass
class Estimate:
    """FINN's analytical estimates for one folding of a hardware graph."""

    fps: float
    latency_ns: float
    max_cycles: int
    critical_path_cycles: int
    bottleneck: str
    totals: dict[str, float]
    per_layer: dict[str, dict[str, float]] = field(default_factory=dict)


# -- environment -------------------------------------------------------------------------

_prepared = False


def vivado_available() -> bool:
    return bool(os.environ.get("XILINX_VIVADO"))


def _prepare_finn(build_dir: Path | None = None) -> None:
    """Make finn-plus importable and runnable in this process, once.

    Workarounds needed without Vivado (finn-plus 1.6.1):
    * settings must be initialized before any transformation runs;
    * `finn.builder.build_dataflow_steps` imports `finn.xsi.SimEngine` at module level,
      which raises when XILINX_VIVADO is unset, so we stub it first;
    * `exit_buildflow` asks for the Vivado root to stamp the build metadata, so we give
      it a placeholder.
    """
    global _prepared
    if _prepared:
        return
    build_dir = Path(build_dir or os.environ.get("FINN_BUILD_DIR") or _default_build_dir())
    build_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("FINN_BUILD_DIR", str(build_dir.resolve()))
    import finn.util.settings as finn_settings

    with _quiet():
        finn_settings.initialize_dummy_settings()
    if not vivado_available():
        import finn.xsi

        finn.xsi.SimEngine = None
        import finn.builder.build_dataflow as build_dataflow

        build_dataflow.get_vivado_root = lambda: "no-vivado"
    _prepared = True


def _default_build_dir() -> Path:
    return Path(os.environ.get("TMPDIR", "/tmp")) / f"qnnbench-finn-{os.getuid()}"


@contextlib.contextmanager
def _quiet() -> Iterator[io.StringIO]:
    """Capture FINN's console chatter; FINN also swaps sys.stdout for a logger, undo that."""
    saved_out, saved_err = sys.stdout, sys.stderr
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            yield buffer
    finally:
        sys.stdout, sys.stderr = saved_out, saved_err


def finn_version() -> str:
    from importlib.metadata import version

    return version("finn-plus")


# -- folding-independent build --------------------------------------------------------------


def keep_output_scale_in_software(model: Any, cfg: Any) -> Any:
    """Turn a trailing float elementwise op back into a plain ONNX node.

    The per-channel output scale of the last layer is a float multiply; FINN would make it
    a floating-point HW layer. Like FINN's own examples, we leave it to the host: the
    accelerator ends at the integer accumulator, and verification still runs the scale in
    the parent graph.
    """
    from onnx import helper
    from qonnx.transformation.infer_shapes import InferShapes

    outputs = {o.name for o in model.graph.output}
    changed = False
    for index, node in enumerate(list(model.graph.node)):
        base = node.op_type.removesuffix("_hls").removesuffix("_rtl")
        if base.startswith("Elementwise") and set(node.output) & outputs:
            onnx_op = base.removeprefix("Elementwise")
            plain = helper.make_node(onnx_op, list(node.input), list(node.output), name=node.name)
            model.graph.node.remove(node)
            model.graph.node.insert(index, plain)
            changed = True
    return model.transform(InferShapes()) if changed else model


def build_hw_graph(qonnx_path: Path, out_dir: Path, fpga_part: str, clk_ns: float) -> HwGraph:
    """Run FINN's folding-independent steps with FINN's builder; raise FinnStepError on failure.

    The builder's return code and `metadata_builder.json` are the only trusted success
    signals: on failure FINN leaves partial reports with meaningless numbers behind.
    """
    _prepare_finn()
    import finn.builder.build_dataflow as build_dataflow
    import finn.builder.build_dataflow_config as build_cfg

    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = build_cfg.DataflowBuildConfig(
        output_dir=str(out_dir / "finn"),
        synth_clk_period_ns=clk_ns,
        fpga_part=fpga_part,
        steps=_resolve_steps(HW_GRAPH_STEP_NAMES),
        generate_outputs=[build_cfg.DataflowOutputType.ESTIMATE_REPORTS],
    )
    intermediate = _build(build_dataflow, qonnx_path, cfg) / "intermediate_models"
    graph = out_dir / HW_GRAPH_FILE
    parent = out_dir / PARENT_FILE
    (intermediate / "step_minimize_bit_width.onnx").replace(graph)
    (intermediate / "dataflow_parent.onnx").replace(parent)
    return HwGraph(graph=graph, parent=parent)


def _resolve_steps(names: list[str]) -> list[Any]:
    """FINN step names, with our own step given to FINN as the callable it is."""
    return [
        keep_output_scale_in_software if s == "keep_output_scale_in_software" else s
        for s in names
    ]


def _build(build_dataflow: Any, model_path: Path, cfg: Any) -> Path:
    """Run FINN's builder quietly; return its output directory or raise FinnStepError.

    FINN returns -1 on failure, except under pytest where it re-raises; both count.
    """
    finn_dir = Path(cfg.output_dir)
    with _quiet():
        try:
            rc = int(build_dataflow.build_dataflow_cfg(str(model_path), cfg))
        except Exception as err:
            finn_dir.mkdir(parents=True, exist_ok=True)
            with (finn_dir / "build_dataflow.log").open("a") as f:
                f.write(f"\nERROR: {type(err).__name__}: {err}\n")
            rc = -1
    if rc != 0 or _builder_status(finn_dir) != "ok":
        step, message = _failure_from_log(finn_dir / "build_dataflow.log")
        raise FinnStepError(step, message)
    return finn_dir


def _builder_status(finn_dir: Path) -> str:
    meta = finn_dir / "report" / "metadata_builder.json"
    if not meta.exists():
        return "missing"
    return json.loads(meta.read_text()).get("status", "missing")


def _failure_from_log(log_path: Path) -> tuple[str, str]:
    """The last step FINN started, and the last error line it logged."""
    if not log_path.exists():
        return "unknown", "FINN wrote no build log"
    text = log_path.read_text(errors="replace")
    steps = re.findall(r"Running step: (\S+)", text)
    errors = [
        line.strip() for line in text.splitlines() if "ERROR" in line or "Error:" in line
    ]
    message = errors[-1] if errors else "see " + str(log_path)
    message = re.sub(r"^\[[^\]]*\]\s*", "", message)
    return (steps[-1] if steps else "unknown"), message[:300]


def run_estimate_build(
    qonnx_path: Path, out_dir: Path, fpga_part: str, clk_ns: float,
    folding_config: dict[str, dict[str, int]] | None = None, target_fps: int | None = None,
) -> dict[str, Any]:
    """A complete FINN estimate-only build (FINN's own step list) for one folding.

    This is the slow reference path: the incremental `estimate` must give the same numbers.
    Returns FINN's report JSONs, keyed by report name.
    """
    _prepare_finn()
    import finn.builder.build_dataflow as build_dataflow
    import finn.builder.build_dataflow_config as build_cfg

    out_dir.mkdir(parents=True, exist_ok=True)
    folding_file = None
    if folding_config is not None:
        folding_file = out_dir / "folding_config.json"
        folding_file.write_text(json.dumps({"Defaults": {}, **folding_config}, indent=2))
    steps = list(build_cfg.estimate_only_dataflow_steps)
    steps.insert(steps.index("step_convert_to_hw") + 1, "keep_output_scale_in_software")
    cfg = build_cfg.DataflowBuildConfig(
        output_dir=str(out_dir / "finn"),
        synth_clk_period_ns=clk_ns,
        fpga_part=fpga_part,
        steps=_resolve_steps(steps),
        folding_config_file=folding_file,
        target_fps=target_fps,
        generate_outputs=[build_cfg.DataflowOutputType.ESTIMATE_REPORTS],
    )
    report = _build(build_dataflow, qonnx_path, cfg) / "report"
    return {p.stem: json.loads(p.read_text()) for p in report.glob("*.json")}


# -- per-point estimates ----------------------------------------------------------------


def load_graph(path: Path) -> Any:
    _prepare_finn()
    from qonnx.core.modelwrapper import ModelWrapper

    return ModelWrapper(str(path))


def foldable_layers(graph: Any) -> list[Any]:
    """The graph's nodes that take PE/SIMD, with the dimensions those must divide."""
    from qonnx.custom_op.registry import getCustomOp

    from bench.folding import Layer

    layers = []
    for node in graph.graph.node:
        base = node.op_type.removesuffix("_hls").removesuffix("_rtl")
        if base not in FOLDABLE_DIMS:
            continue
        inst = getCustomOp(node)
        pe_attr, simd_attr = FOLDABLE_DIMS[base]
        weight_bits = None
        if base in ("MVAU", "VVAU"):
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
    """Input/weight/output datatypes FINN settled on, per MVAU/VVAU/Thresholding node."""
    from qonnx.custom_op.registry import getCustomOp

    result: dict[str, dict[str, str]] = {}
    for node in graph.graph.node:
        inst = getCustomOp(node)
        types = {}
        for attr, key in (
            ("inputDataType", "input"), ("weightDataType", "weight"),
            ("outputDataType", "output"),
        ):
            value = inst.get_nodeattr(attr) if _has_attr(inst, attr) else None
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

        self.graph = graph
        self.fpga_part = fpga_part
        self.clk_ns = clk_ns
        self.layers = foldable_layers(graph)
        self._nodes = {n.name: _with_static_schema(getCustomOp(n)) for n in graph.graph.node}
        self._hw_nodes = {
            n.name: self._nodes[n.name]
            for n in graph.graph.node
            if is_hls_node(n) or is_rtl_node(n)
        }
        self._pristine = {
            name: {a: inst.get_nodeattr(a) for a in ("PE", "SIMD") if _has_attr(inst, a)}
            for name, inst in self._nodes.items()
        }

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
        cycles = {name: int(inst.get_exp_cycles()) for name, inst in self._hw_nodes.items()}
        resources = {
            name: inst.node_res_estimation(self.fpga_part)
            for name, inst in self._hw_nodes.items()
        }
        resources["total"] = aggregate_dict_keys(dict(resources))
        for name, inst in self._hw_nodes.items():
            inst.set_nodeattr("cycles_estimate", cycles[name])
        perf = self.graph.analysis(dataflow_performance)
        return estimate_from_reports(cycles, resources, perf, self.clk_ns)

    def layer_options(self, layer: Any) -> list[dict[str, Any]]:
        """Cycles and resources of one layer for each valid (PE, SIMD), by FINN's models."""
        from bench.folding import divisors

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
                options.append({
                    "pe": pe, "simd": simd, "cycles": int(inst.get_exp_cycles()),
                    **{_resource_key(k): float(v) for k, v in res.items() if _resource_key(k)},
                })
        for attr, value in saved.items():
            inst.set_nodeattr(attr, value)
        return options

    def finn_auto_folding(self, target_fps: float) -> dict[str, dict[str, int]]:
        """FINN's SetFolding for a target FPS, with the builder's defaults, on a copy."""
        from finn.transformation.fpgadataflow.set_folding import SetFolding

        target_cycles = int((1e9 / self.clk_ns) / target_fps)
        self.apply({})
        with _quiet():
            folded = copy.deepcopy(self.graph).transform(
                SetFolding(target_cycles, mvau_wwidth_max=36, two_pass_relaxation=True)
            )
        return FoldableGraph(folded, self.fpga_part, self.clk_ns).current_folding()


def _with_static_schema(inst: Any) -> Any:
    """Give a custom-op wrapper a memoized attribute schema and attribute reads.

    FINN rebuilds a node's attribute-schema dict and scans the node's attribute list on
    every single attribute read, which is most of the cost of an estimate. The schema of
    an op type never changes, and an attribute only changes through `set_nodeattr`, which
    here forgets the remembered value. Values read, and so the estimates, are unchanged
    (the perf benchmark and the tests compare against a full FINN build).
    """
    schema = inst.get_nodeattr_types()
    inst.get_nodeattr_types = lambda: schema
    read, write = inst.get_nodeattr, inst.set_nodeattr
    remembered: dict[str, Any] = {}

    def get_nodeattr(name: str) -> Any:
        if name not in remembered:
            remembered[name] = read(name)
        return remembered[name]

    def set_nodeattr(name: str, value: Any) -> None:
        remembered.pop(name, None)
        write(name, value)

    inst.get_nodeattr, inst.set_nodeattr = get_nodeattr, set_nodeattr
    return inst


def _has_attr(inst: Any, attr: str) -> bool:
    return attr in inst.get_nodeattr_types()


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


# -- execution --------------------------------------------------------------------------


def execute_hw_graph(hw: HwGraph, inputs: np.ndarray, work_dir: Path) -> np.ndarray:
    """Run the hardware graph in FINN's Python simulation, one sample at a time.

    Specialized (HLS/RTL) nodes only simulate through cppsim/rtlsim, which need Xilinx
    headers or tools, so the graph is first mapped back to FINN's abstract HW layers,
    whose Python execution is the bit-exact reference for the specialized ones.
    """
    from finn.util.execution import execute_parent
    from finn.util.verification import despecialize_model

    graph = load_graph(hw.graph)
    child = work_dir / "hw_graph_python.onnx"
    with _quiet():
        despecialize_model(graph).save(str(child))
    outputs = []
    with _quiet():
        for sample in inputs:
            out = execute_parent(str(hw.parent), str(child), sample[None].astype(np.float32))
            outputs.append(np.asarray(out).reshape(-1))
    return np.stack(outputs)


def weight_initializers(graph: Any) -> dict[str, np.ndarray]:
    """Integer weight matrices of the MVAU/VVAU nodes, as FINN holds them."""
    result = {}
    for node in graph.graph.node:
        base = node.op_type.removesuffix("_hls").removesuffix("_rtl")
        if base in ("MVAU", "VVAU") and len(node.input) > 1:
            value = graph.get_initializer(node.input[1])
            if value is not None:
                result[node.name] = value
    return result


# -- the Vivado path ------------------------------------------------------------------------


# FINN's default flow, cut where each target ends. rtlsim performance measurement is left
# out: it needs Vivado's XSI simulator and adds nothing to the resource/fmax numbers.
_FULL_FLOW_PREFIX = [
    "step_qonnx_to_finn", "step_tidy_up", "step_streamline", "step_convert_to_hw",
    "keep_output_scale_in_software", "step_minimize_bit_width_initial",
    "step_create_dataflow_partition", "step_specialize_layers",
    "step_target_fps_parallelization", "step_apply_folding_config", "step_minimize_bit_width",
    "step_transpose_decomposition", "step_generate_estimate_reports",
    "step_assign_ddr_weight_offsets", "step_generate_hardware", "step_create_stitched_ip",
]
SYNTH_STEPS = [*_FULL_FLOW_PREFIX, "step_out_of_context_synthesis"]
BITFILE_STEPS = [
    *SYNTH_STEPS, "step_prepare_synthesis", "step_synthesize_bitfile", "step_make_driver",
    "step_deployment_package",
]


class VivadoMissing(RuntimeError):
    """A target that needs Vivado was asked for on a machine without it."""


def synthesis_plan(
    target: str, folding_config: dict[str, dict[str, int]], board: str, fpga_part: str,
    clk_ns: float, out_dir: Path,
) -> dict[str, Any]:
    """What qnn-bench hands FINN for `target`: the step list and the build configuration.

    Kept separate from running it so the plan can be shown (and tested) without Vivado.
    """
    if target not in ("synth", "bitfile"):
        raise ValueError(f"unknown synthesis target {target!r}; allowed: synth, bitfile")
    outputs = ["estimate_reports", "stitched_ip", "out_of_context_synth"]
    config: dict[str, Any] = {
        "output_dir": str(out_dir / "finn"),
        "synth_clk_period_ns": clk_ns,
        "fpga_part": fpga_part,
        "folding_config_file": str(out_dir / "folding_config.json"),
        "generate_outputs": outputs,
    }
    if target == "bitfile":
        config.update(
            board=board, shell_flow_type="vivado_zynq",
            generate_outputs=[*outputs, "bitfile", "pynq_driver", "deployment_package"],
        )
    steps = SYNTH_STEPS if target == "synth" else BITFILE_STEPS
    return {"target": target, "steps": list(steps), "config": config,
            "folding": folding_config}


def steps_past_estimates(target: str) -> list[str]:
    """The FINN steps a synthesis target adds after the estimate reports."""
    steps = SYNTH_STEPS if target == "synth" else BITFILE_STEPS
    return steps[steps.index("step_generate_estimate_reports") + 1 :]


def describe_plan(plan: dict[str, Any]) -> str:
    steps = steps_past_estimates(plan["target"])
    return f"FINN steps {', '.join(steps)} with fpga_part {plan['config']['fpga_part']}"


def run_synthesis(qonnx_path: Path, plan: dict[str, Any]) -> dict[str, Any]:
    """Run FINN's flow through out-of-context synthesis (and the bitfile) for one folding.

    Returns the record fields `synth_*` / `fmax_mhz` parsed from FINN's
    `ooc_synth_and_timing.json`.
    """
    if not vivado_available():
        raise VivadoMissing(
            f"target {plan['target']!r} needs Vivado (XILINX_VIVADO is not set); it would run "
            + describe_plan(plan)
        )
    _prepare_finn()
    import finn.builder.build_dataflow as build_dataflow
    import finn.builder.build_dataflow_config as build_cfg

    config = dict(plan["config"])
    folding_file = Path(config["folding_config_file"])
    folding_file.parent.mkdir(parents=True, exist_ok=True)
    folding_file.write_text(json.dumps({"Defaults": {}, **plan["folding"]}, indent=2))
    config["generate_outputs"] = [
        build_cfg.DataflowOutputType(o) for o in config["generate_outputs"]
    ]
    if "shell_flow_type" in config:
        config["shell_flow_type"] = build_cfg.ShellFlowType(config["shell_flow_type"])
    cfg = build_cfg.DataflowBuildConfig(steps=_resolve_steps(plan["steps"]), **config)
    finn_dir = _build(build_dataflow, qonnx_path, cfg)
    fields = parse_synth_report(finn_dir / "report" / "ooc_synth_and_timing.json")
    bitfiles = sorted(finn_dir.glob("bitfile/*.bit"))
    if bitfiles:
        fields["bitfile"] = str(bitfiles[0])
    return fields


def parse_synth_report(path: Path) -> dict[str, Any]:
    """Record fields from FINN's `ooc_synth_and_timing.json` (out-of-context synthesis).

    FINN writes Vivado's utilization counts (LUT, FF, DSP, BRAM_36K, BRAM_18K, URAM, ...),
    WNS, the derived fmax and the throughput at that fmax. BRAM is reported in 36 kb
    tiles, counting each 18 kb block as half a tile, as Vivado's "Block RAM Tile" does.
    """
    data = json.loads(path.read_text())

    def number(key: str) -> float | None:
        value = data.get(key)
        try:
            return float(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    bram36 = number("BRAM")
    if bram36 is None and (number("BRAM_36K") is not None or number("BRAM_18K") is not None):
        bram36 = (number("BRAM_36K") or 0.0) + (number("BRAM_18K") or 0.0) / 2
    return {
        "synth_lut": number("LUT"),
        "synth_ff": number("FF"),
        "synth_bram36": bram36,
        "synth_dsp": number("DSP"),
        "synth_uram": number("URAM"),
        "synth_wns_ns": number("WNS"),
        "fmax_mhz": number("fmax_mhz"),
        "synth_fps": number("estimated_throughput_fps"),
        "synth_power_w": number("total_power_W"),
    }
