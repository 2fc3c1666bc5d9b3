"""What a run does, in order: the stage lists.

    PREPARE      once per group of points that share a trained model
                 data → train → fp32 → export → hw_graph → verify → foldable
                 → rtl_graph (target rtl)
    CHOOSE       once per point: which folding(s) the point's strategy picks
    PER_FOLDING  once per folding: estimate → rtl_measure (target rtl)
                 → synth (with Vivado)

Each stage is declared below as data (see `bench.run.stage.Stage`); the loop in
`bench.run.stage.run_stages` does the caching, timing, logging and failure attribution.
Studies that need no training (published designs, the speed benchmark) run
`UNTRAINED_HW` instead of `PREPARE`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.devices import get_board, utilization
from bench.core.spec import resolve_data_dir
from bench.run.provenance import models_source_hash, source_hash, training_source_hash
from bench.run.stage import RunContext, Stage

VERIFY_SAMPLES = 64
EXPORT_CHECK_SAMPLES = 16
RTL_SAMPLES = 4  # test samples each RTL layer is simulated on (back to back)


@dataclass
class Trained:
    model: Any  # torch.nn.Module
    accuracy: float | None


@dataclass
class Choice:
    """One folding a point's strategy picked, and the record fields that describe it."""

    folding: list[Any]  # bench.stages.folding.LayerFolding
    extra: dict[str, Any]
    run_id: str


# -- data and training ----------------------------------------------------------------------


def _load_data(ctx: RunContext, entry: Path | None) -> Any:
    from bench.stages.data import load_dataset

    return load_dataset(ctx.spec.dataset, data_dir=resolve_data_dir(ctx.spec.data_dir))


def _recipe(ctx: RunContext) -> dict[str, Any]:
    from bench.stages.data import fingerprint
    from bench.stages.train import TRAIN_THREADS

    return {"data": fingerprint(ctx["data"]), "threads": TRAIN_THREADS,
            "torch": ctx.versions["torch"],
            "brevitas": ctx.versions["brevitas"], "models": models_source_hash(),
            "recipe": training_source_hash()}


def _train(ctx: RunContext, entry: Path) -> dict[str, Any]:
    import torch

    from bench.stages.train import train

    result = train(ctx.spec, ctx["data"], ctx.show_progress)
    torch.save(result.model.state_dict(), entry / "model.pt")
    return {"accuracy": result.accuracy, "final_loss": result.final_loss}


def _open_trained(ctx: RunContext, entry: Path, meta: dict[str, Any]) -> Trained:
    import torch

    from bench.stages.train import make_model

    model = make_model(ctx.spec, ctx["data"])
    model.load_state_dict(torch.load(entry / "model.pt", weights_only=True))
    return Trained(model.eval(), float(meta["accuracy"]))


def _untrained(ctx: RunContext, entry: Path) -> dict[str, Any]:
    return {"seed": ctx.spec.seed}  # nothing to store: the seed and the code determine it


def _open_untrained(ctx: RunContext, entry: Path, meta: dict[str, Any]) -> Trained:
    """Rebuilt from its seed (Brevitas creates some scales lazily, so a state dict of a
    never-run model does not load back)."""
    import torch

    from bench.stages.train import make_model

    torch.manual_seed(int(meta["seed"]))
    return Trained(make_model(ctx.spec, ctx["data"]).eval(), None)


def _fp32(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench.stages.train import train

    result = train(ctx.spec, ctx["data"], ctx.show_progress, float_baseline=True)
    return {"accuracy": result.accuracy}


def _threads() -> int:
    from bench.stages.train import TRAIN_THREADS

    return TRAIN_THREADS


def _model_of(ctx: RunContext) -> Trained:
    return ctx.artifacts.get("train") or ctx["untrained"]


DATA = Stage("data", produce=_load_data, timed=False)

TRAIN = Stage(
    "train", produce=_train, open=_open_trained,
    determines=lambda ctx: {"spec": ctx.spec.training_fields(), **_recipe(ctx)},
    record=lambda ctx, trained: {"accuracy": trained.accuracy, "train_threads": _threads()},
    describe=lambda ctx: (
        f"training {ctx.spec.model} W{ctx.spec.weight_bits}A{ctx.spec.act_bits} "
        f"({ctx.spec.weight_quant}) on {ctx.spec.dataset}, {ctx.spec.epochs} epochs"
    ),
)

# The unquantized twin, same recipe: shared by every bit width of the model.
FP32 = Stage(
    "fp32", produce=_fp32, open=lambda ctx, entry, meta: float(meta["accuracy"]),
    determines=lambda ctx: {"baseline": ctx.spec.baseline_fields(), **_recipe(ctx)},
    active=lambda spec: spec.fp32_baseline,
    record=lambda ctx, accuracy: {"fp32_accuracy": accuracy},
    describe=lambda ctx: f"training the FP32 baseline of {ctx.spec.model}, "
    f"{ctx.spec.epochs} epochs",
)

# A seeded, untrained model: estimates depend on architecture, bits and folding only.
UNTRAINED = Stage(
    "untrained", produce=_untrained, open=_open_untrained,
    determines=lambda ctx: {"spec": ctx.spec.training_fields(), **_recipe(ctx)},
)


# -- export, hardware graph, verification ---------------------------------------------------


@dataclass
class Exported:
    path: Path
    meta: dict[str, Any]


def _export(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench.stages.export import export_and_check, export_qonnx

    inputs = ctx["data"].x_test[:EXPORT_CHECK_SAMPLES]
    trained = _model_of(ctx)
    path = entry / "model.qonnx.onnx"
    if trained.accuracy is None:
        # An untrained model only feeds FINN's estimates, which do not depend on the
        # weights; its lazily initialized scales make a numeric check meaningless.
        export_qonnx(trained.model, inputs[:1], path, ctx.spec.input_bits)
        return {"checked": False}
    result = export_and_check(trained.model, inputs, path, ctx.spec.input_bits)
    return {"max_abs_err": result.max_abs_err, "samples": result.samples,
            "mismatched_samples": result.mismatched_samples}


EXPORT = Stage(
    "export", produce=_export,
    open=lambda ctx, entry, meta: Exported(entry / "model.qonnx.onnx", meta),
    determines=lambda ctx: {"qonnx": ctx.versions["qonnx"]},
    upstream=("train", "untrained"),
    record=lambda ctx, exported: {
        "export_max_abs_err": exported.meta.get("max_abs_err"),
        "export_mismatched_samples": exported.meta.get("mismatched_samples"),
    },
    describe=lambda ctx: "exporting to QONNX and checking it against PyTorch",
)


@dataclass
class BuiltGraph:
    hw: Any  # bench.finn_flow.HwGraph
    meta: dict[str, Any]


def _hw_graph(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench import finn_flow

    board = get_board(ctx.spec.board)
    hw = finn_flow.build_hw_graph(ctx["export"].path, entry, board.part, ctx.spec.clk_ns)
    model = hw.model()
    weights = finn_flow.weight_initializers(model)
    return {
        "datatypes": finn_flow.layer_datatypes(model),
        "weight_distinct_values": {k: len(set(v.flatten())) for k, v in weights.items()},
    }


def _open_hw_graph(ctx: RunContext, entry: Path, meta: dict[str, Any]) -> BuiltGraph:
    from bench import finn_flow

    return BuiltGraph(finn_flow.HwGraph(entry), meta)


HW_GRAPH = Stage(
    "hw_graph", produce=_hw_graph, open=_open_hw_graph,
    determines=lambda ctx: {"part": get_board(ctx.spec.board).part, "clk_ns": ctx.spec.clk_ns,
                            "finn": ctx.versions["finn"]},
    upstream=("export",),
    record=lambda ctx, built: {
        "layer_datatypes": built.meta.get("datatypes", {}),
        "weight_distinct_values": built.meta.get("weight_distinct_values", {}),
    },
    describe=lambda ctx: "building the FINN hardware graph (streamline, HW layers, specialize)",
)


def _verify(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench.stages.train import predict_float64
    from bench.stages.verify import verify_hw_graph

    inputs = ctx["data"].x_test[:VERIFY_SAMPLES]
    expected = predict_float64(_model_of(ctx).model, inputs)
    result = verify_hw_graph(ctx["hw_graph"].hw, expected, inputs, entry)
    return {"ok": result.ok, "max_abs_err": result.max_abs_err, "samples": result.samples,
            "argmax_agreement": result.argmax_agreement,
            "mismatched_samples": result.mismatched_samples}


VERIFY = Stage(
    "verify", produce=_verify, open=lambda ctx, entry, meta: meta,
    determines=lambda ctx: {"reference": "float64", "samples": VERIFY_SAMPLES},
    upstream=("hw_graph",),
    record=lambda ctx, meta: {
        "verify_ok": bool(meta["ok"]), "verify_max_abs_err": meta["max_abs_err"],
        "verify_samples": meta["samples"],
        "verify_argmax_agreement": meta.get("argmax_agreement"),
        "verify_mismatched_samples": meta.get("mismatched_samples"),
    },
    describe=lambda ctx: f"verifying the HW graph against Brevitas on {VERIFY_SAMPLES} "
    "test samples",
)

def _mvu_fields(ctx: RunContext, graph: Any) -> dict[str, Any]:
    """`mvu`, and with our unit which layers it took (datapath) or left (why)."""
    if ctx.spec.mvu == "finn":
        return {"mvu": "finn"}
    from bench.finn_flow.mvu_op import ESTIMATE_MODEL

    return {"mvu": ctx.spec.mvu, "mvu_layers": graph.mvu_layers,
            "estimate_model": ESTIMATE_MODEL}


# The hardware graph opened for folding, held in memory by every folding of the group
# (with --mvu rtl, with our unit in place of FINN's MVAUs where it computes the same).
FOLDABLE = Stage(
    "foldable", timed=False,
    produce=lambda ctx, entry: ctx["hw_graph"].hw.foldable(
        get_board(ctx.spec.board).part, ctx.spec.clk_ns, ctx.spec.mvu
    ),
    record=_mvu_fields,
)


# -- per point: choose the folding(s) -------------------------------------------------------


def _choose(ctx: RunContext, entry: Path | None) -> list[Choice]:
    from bench.stages import folding as fold

    spec, graph = ctx.spec, ctx["foldable"]
    strategy = spec.folding
    if strategy.strategy == "pareto":
        return _pareto_choices(ctx)
    if strategy.strategy == "uniform":
        chosen = fold.uniform_folding(graph.layers, strategy.pe, strategy.effective_simd)
    elif strategy.strategy == "layers":
        chosen = fold.layers_folding(graph.layers, strategy.config)
    else:
        chosen = fold.folding_from_config(graph.layers, graph.finn_auto_folding(strategy.fps))
    return [Choice(chosen, {"pareto_front": False}, spec.run_id())]


def _pareto_choices(ctx: RunContext) -> list[Choice]:
    from bench.stages import folding as fold

    graph, board = ctx["foldable"], get_board(ctx.spec.board)
    limit = ctx.spec.folding.max_utilization
    budget = {r: limit * c for r, c in board.capacity().items()}
    options = {layer.name: graph.layer_options(layer) for layer in graph.layers}
    bits = {la.name: la.weight_bits for la in graph.layers if la.weight_bits}
    front = fold.pareto_search(options, budget, bits)
    if not front:
        raise RuntimeError(
            f"no folding fits within {100 * limit:g} % of every resource of {board.name}"
        )
    base_id = ctx.spec.run_id()
    choices = [
        Choice(fold.front_point_folding(graph.layers, point), {
            "pareto_front": True, "pareto_index": index, "pareto_best": index == 0,
            "pareto_max_utilization": limit, "pareto_front_size": len(front),
        }, base_id if index == 0 else f"{base_id}-front{index:02d}")
        for index, point in enumerate(front)
    ]
    # The fastest point carries the point's own id and is written last: once it exists,
    # the whole front is on disk.
    return choices[1:] + choices[:1]


CHOOSE = Stage("fold", produce=_choose)


# -- per folding: estimate, synthesize -------------------------------------------------------


def _finn_config(ctx: RunContext) -> dict[str, dict[str, int]]:
    from bench.stages.folding import to_finn_config

    return to_finn_config(ctx["choice"].folding)


def _estimate_fields(ctx: RunContext, est: Any) -> dict[str, Any]:
    board = get_board(ctx.spec.board)
    fractions, fits = utilization(board, est.totals)
    return {
        "est_fps": est.fps, "est_latency_ns": est.latency_ns, "est_max_cycles": est.max_cycles,
        "est_critical_path_cycles": est.critical_path_cycles,
        "est_bottleneck": est.bottleneck,
        **{r: est.totals.get(r, 0.0) for r in ("lut", "bram18", "uram", "dsp")},
        "per_layer": est.per_layer, "utilization": fractions, "fits": fits,
    }


ESTIMATE = Stage(
    "estimate", produce=lambda ctx, entry: ctx["foldable"].estimate(_finn_config(ctx)),
    record=_estimate_fields,
)


def _synth(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench import finn_flow

    board = get_board(ctx.spec.board)
    plan = finn_flow.synthesis_plan(ctx.spec.target, _finn_config(ctx), board.name,
                                    board.part, ctx.spec.clk_ns, entry)
    return finn_flow.run_synthesis(ctx["export"].path, plan)


SYNTH = Stage(
    "synth", produce=_synth, open=lambda ctx, entry, meta: meta,
    determines=lambda ctx: {"folding": _finn_config(ctx), "target": ctx.spec.target,
                            "board": ctx.spec.board, "clk_ns": ctx.spec.clk_ns},
    upstream=("export",),
    active=lambda spec: spec.target in ("synth", "bitfile"),
    record=lambda ctx, fields: dict(fields),
    describe=lambda ctx: f"running FINN through {ctx.spec.target} (Vivado)",
)


# -- measured hardware of the RTL layers (target rtl) -----------------------------------------


@dataclass
class RtlGraph:
    hw: Any  # bench.finn_flow.HwGraph, thresholds standalone, RTL preferred
    hls_reasons: dict[str, str]  # per node FINN left HLS: why


def _rtl_graph(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench.finn_flow import rtl

    board = get_board(ctx.spec.board)
    hw, reasons = rtl.build_rtl_hw_graph(ctx["export"].path, entry, board.part,
                                         ctx.spec.clk_ns)
    if ctx.spec.mvu == "rtl":
        from bench.finn_flow.mvu_transform import use_qnnbench_mvu

        model, _, _ = use_qnnbench_mvu(hw.model())
        model.save(str(hw.graph_path))
    return {"hls_reasons": reasons}


def _open_rtl_graph(ctx: RunContext, entry: Path, meta: dict[str, Any]) -> RtlGraph:
    from bench import finn_flow

    return RtlGraph(finn_flow.HwGraph(entry), dict(meta.get("hls_reasons", {})))


def _rtl_source_hash() -> str:
    import bench.finn_flow.rtl as finn_rtl
    import bench.rtl as rtl

    # our unit's files count only for --mvu rtl runs, whose graphs contain it, but
    # hashing them always is simpler than splitting the key
    unit = [Path(finn_rtl.__file__).with_name(n) for n in ("mvu_op.py", "mvu_transform.py")]
    hdl = sorted((Path(rtl.__file__).parent / "hdl").glob("*.sv"))
    return source_hash(Path(finn_rtl.__file__), *Path(rtl.__file__).parent.glob("*.py"),
                       *unit, *hdl, Path(rtl.__file__).with_name("mvu_fit.json"))


RTL_GRAPH = Stage(
    "rtl_graph", produce=_rtl_graph, open=_open_rtl_graph,
    determines=lambda ctx: {"part": get_board(ctx.spec.board).part, "clk_ns": ctx.spec.clk_ns,
                            "finn": ctx.versions["finn"], "source": _rtl_source_hash(),
                            **({"mvu": ctx.spec.mvu} if ctx.spec.mvu != "finn" else {})},
    upstream=("export",),
    active=lambda spec: spec.target == "rtl",
    describe=lambda ctx: "building FINN's hardware graph with RTL layers preferred",
)


def _rtl_folding(ctx: RunContext) -> dict[str, dict[str, int]]:
    from bench.finn_flow import rtl

    return rtl.translate_folding(_finn_config(ctx), ctx["foldable"].graph,
                                 ctx["rtl_graph"].hw.model())


def _rtl_measure(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench.finn_flow import rtl
    from bench.rtl import measure
    from bench.rtl.tools import tool_versions

    board = get_board(ctx.spec.board)
    graph = rtl.apply_folding(ctx["rtl_graph"].hw.model(), _rtl_folding(ctx))
    rows = measure.measure_graph(
        graph, ctx["data"].x_test[:RTL_SAMPLES], entry / "layers", board.part,
        ctx.spec.clk_ns, ctx["rtl_graph"].hls_reasons,
        cache_dir=ctx.store.cache_dir / "verilator",
    )
    return {"layers": rows, "tool_versions": dict(tool_versions())}


def _rtl_fields(ctx: RunContext, meta: dict[str, Any]) -> dict[str, Any]:
    rows = meta["layers"]
    measured = [r for r in rows if "lut" in r]
    return {
        "rtl_layers": rows,
        **{f"rtl_{k}": sum(int(r[k]) for r in measured) for k in ("lut", "ff", "bram18", "dsp")},
        "rtl_coverage": len(measured) / len(rows) if rows else 0.0,
        "rtl_sim_ok": bool(measured) and all(r.get("sim_ok") is True for r in measured),
        "rtl_tool_versions": dict(meta["tool_versions"]),
    }


def _rtl_determines(ctx: RunContext) -> dict[str, Any]:
    from bench.rtl.tools import tool_versions

    return {"folding": _rtl_folding(ctx), "samples": RTL_SAMPLES,
            "tools": dict(tool_versions()), "source": _rtl_source_hash()}


RTL_MEASURE = Stage(
    "rtl_measure", produce=_rtl_measure, open=lambda ctx, entry, meta: meta,
    determines=_rtl_determines,
    upstream=("rtl_graph",),
    active=lambda spec: spec.target == "rtl",
    record=_rtl_fields,
    describe=lambda ctx: f"synthesizing (Yosys) and simulating (Verilator) the RTL layers "
    f"on {RTL_SAMPLES} test samples",
)


# -- the lists ------------------------------------------------------------------------------

PREPARE = [DATA, TRAIN, FP32, EXPORT, HW_GRAPH, VERIFY, FOLDABLE, RTL_GRAPH]
PER_POINT = [CHOOSE]
PER_FOLDING = [ESTIMATE, RTL_MEASURE, SYNTH]
# Published designs and the speed benchmark: the same stages on an untrained model, with
# a synthetic `data` artifact given by the caller (see `synthetic_data`).
UNTRAINED_HW = [UNTRAINED, EXPORT, HW_GRAPH, FOLDABLE]


def synthetic_data(input_shape: tuple[int, int, int], num_classes: int = 10,
                   samples: int = EXPORT_CHECK_SAMPLES, seed: int = 0) -> Any:
    """Seeded random 8-bit images of a shape, standing in for a data set nobody needs."""
    from bench.stages.data import Dataset

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(samples, *input_shape), dtype=np.uint8)
    y = (np.arange(samples) % num_classes).astype(np.int64)
    return Dataset("synthetic", x, y, x, y, num_classes)


def untrained_context(spec: Any, store: Any, input_shape: tuple[int, int, int]) -> RunContext:
    """A context for `UNTRAINED_HW`: the spec's model, untrained, on synthetic inputs."""
    from bench.run.provenance import versions

    ctx = RunContext(spec, store, versions())
    ctx.artifacts["data"] = synthetic_data(input_shape)
    return ctx
