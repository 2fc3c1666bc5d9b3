"""What a run does, in order: the stage lists.

    PREPARE      once per group of points that share a trained model
                 data → train → fp32 → export → hw_graph → verify → hw_accuracy
                 → foldable → rtl_graph (target rtl); an external QONNX model has
                 external → qonnx_accuracy in place of train → fp32 → export
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
DEFAULT_INPUT_SCALE = 1.0 / 255.0  # image data: pixels 0..255 become 0..1
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
    from bench.stages.dataset import zero_pad

    if not ctx.spec.has_data:
        return None  # hardware only: verification runs on random inputs
    # An external model is not trained: only its test files are needed.
    data = load_dataset(ctx.spec.dataset, data_dir=resolve_data_dir(ctx.spec.data_dir),
                        test_only=ctx.spec.is_external)
    return zero_pad(data, ctx.spec.input_size)


def _recipe(ctx: RunContext) -> dict[str, Any]:
    from bench.stages.data import fingerprint
    from bench.stages.train import TRAIN_THREADS, training_setup

    # Only what differs from the CPU recipe without augmentation enters the key, so the
    # checkpoints trained before these options existed are still found.
    setup = {k: v for k, v in training_setup(ctx.spec).items()
             if v != {"device": "cpu", "augment": False}[k]}
    return {"data": fingerprint(ctx["data"]), "threads": TRAIN_THREADS,
            "torch": ctx.versions["torch"],
            "brevitas": ctx.versions["brevitas"], "models": models_source_hash(),
            "recipe": training_source_hash(), **setup, **_factory_source(ctx)}


def _factory_source(ctx: RunContext) -> dict[str, str]:
    """An external Brevitas module is identified by the source of the module defining it."""
    if ":" not in ctx.spec.model or ctx.spec.is_external:
        return {}
    from bench.stages.train import factory_source_hash

    return {"factory": ctx.spec.model, "factory_source": factory_source_hash(ctx.spec.model)}


def _train_fields(ctx: RunContext, trained: Trained) -> dict[str, Any]:
    from bench.stages.train import training_setup

    external = ":" in ctx.spec.model
    source = _factory_source(ctx)
    return {"accuracy": trained.accuracy, "train_threads": _threads(),
            "model_source": f"brevitas:{ctx.spec.model}" if external else "zoo",
            "model_sha256": source.get("factory_source"),
            "train_device": training_setup(ctx.spec)["device"],
            "augment": training_setup(ctx.spec)["augment"]}


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
    active=lambda spec: not spec.is_external,
    record=_train_fields,
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


def _exported(ctx: RunContext) -> Exported:
    """The QONNX graph FINN builds from: exported from PyTorch, or an external file."""
    return ctx.artifacts.get("export") or ctx["external"]


def _test_inputs(ctx: RunContext, samples: int | None = None) -> np.ndarray:
    """Test samples as the graph takes them; random ones of its input type without data."""
    if not ctx.spec.is_external:
        return ctx["data"].x_test[:samples]
    from bench import finn_flow

    path = ctx["external"].path
    if ctx["data"] is None:
        return finn_flow.external.random_inputs(path, samples or VERIFY_SAMPLES, ctx.spec.seed)
    x = ctx["data"].x_test[:samples]
    return x.reshape(len(x), *ctx["external"].meta["input_shape"][1:])


def _external(ctx: RunContext, entry: Path) -> dict[str, Any]:
    import hashlib
    import shutil

    from bench import finn_flow
    from bench.core.errors import SpecError
    from bench.core.spec import check_input_shape
    from bench.stages.verify import compare

    spec = ctx.spec
    source = entry / "original.onnx"
    shutil.copyfile(Path(spec.qonnx).expanduser(), source)  # type: ignore[arg-type]
    if hashlib.sha256(source.read_bytes()).hexdigest() != spec.qonnx_sha256:
        raise SpecError(f"qonnx: {spec.qonnx} changed while the run was starting; run again")
    shape = finn_flow.external.input_shape(source)
    if ctx["data"] is not None:
        try:
            check_input_shape(shape, ctx["data"].input_shape, spec.dataset)
        except ValueError as err:
            raise SpecError(str(err)) from None
    prepared = finn_flow.external.prepare_external(
        source, entry / "model.qonnx.onnx", spec.input_scale, spec.input_offset,
        DEFAULT_INPUT_SCALE,
    )
    meta = {"input_shape": list(shape), "input_datatype": prepared.input_datatype,
            "input_scale": prepared.input_scale, "input_offset": prepared.input_offset,
            "inserted": prepared.inserted}
    # The inserted step must reproduce the float model: run both graphs on the same data.
    ctx.artifacts["external"] = Exported(prepared.path, meta)
    x = _test_inputs(ctx, EXPORT_CHECK_SAMPLES)
    mapped = (x.astype(np.float32) * np.float32(prepared.input_scale)
              + np.float32(prepared.input_offset))
    result = compare(finn_flow.external.run_qonnx_batched(prepared.path, x),
                     finn_flow.external.run_qonnx_batched(source, mapped), rtol=1e-4)
    if not result.ok:
        raise RuntimeError(
            f"the inserted input mapping (x * {prepared.input_scale:g} + "
            f"{prepared.input_offset:g}) does not reproduce the float model: max abs err "
            f"{result.max_abs_err:.3g} on {result.mismatched_samples} of {result.samples} samples"
        )
    return {**meta, "max_abs_err": result.max_abs_err, "samples": result.samples}


def _external_fields(ctx: RunContext, exported: Exported) -> dict[str, Any]:
    meta = exported.meta
    return {
        "model_source": f"qonnx:{Path(ctx.spec.qonnx or '').name}",
        "model_sha256": ctx.spec.qonnx_sha256, "input_datatype": meta["input_datatype"],
        "input_scale": meta["input_scale"], "input_offset": meta["input_offset"],
        "preprocess_inserted": meta["inserted"], "preprocess_max_abs_err": meta["max_abs_err"],
    }


def _data_key(ctx: RunContext) -> str | None:
    from bench.stages.data import fingerprint

    return fingerprint(ctx["data"]) if ctx["data"] is not None else None


def _external_source_hash() -> str:
    from bench.finn_flow import external

    return source_hash(Path(external.__file__))


# An external QONNX file, cleaned up, checked and given its input mapping: the artifact
# plays the role of `export` for everything downstream.
EXTERNAL = Stage(
    "external", produce=_external,
    open=lambda ctx, entry, meta: Exported(entry / "model.qonnx.onnx", meta),
    determines=lambda ctx: {
        "sha256": ctx.spec.qonnx_sha256, "scale": ctx.spec.input_scale,
        "offset": ctx.spec.input_offset, "default_scale": DEFAULT_INPUT_SCALE,
        "data": _data_key(ctx), "qonnx": ctx.versions["qonnx"],
        "source": _external_source_hash(),
    },
    active=lambda spec: spec.is_external,
    record=_external_fields,
    describe=lambda ctx: f"checking {ctx.spec.model} and mapping data onto its input",
)


def _qonnx_accuracy(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench import finn_flow

    logits = finn_flow.external.run_qonnx_batched(ctx["external"].path, _test_inputs(ctx))
    labels = ctx["data"].y_test
    return {"accuracy": float((logits.argmax(axis=1) == labels).mean()),
            "samples": len(labels)}


# The external model's own accuracy: QONNX execution of the float graph on the test set.
QONNX_ACCURACY = Stage(
    "qonnx_accuracy", produce=_qonnx_accuracy, open=lambda ctx, entry, meta: meta,
    determines=lambda ctx: {"data": _data_key(ctx)},
    upstream=("external",),
    active=lambda spec: spec.is_external and spec.has_data,
    record=lambda ctx, meta: {"accuracy": float(meta["accuracy"])},
    describe=lambda ctx: "measuring the model's accuracy by QONNX execution",
)


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


def _factory_bits(ctx: RunContext, exported: Exported) -> dict[str, Any]:
    """An external module's bit widths are what its exported graph says, not the spec's."""
    if ":" not in ctx.spec.model:
        return {}
    from bench.core import qonnx_file

    info = qonnx_file.describe(str(exported.path))
    return {"weight_bits": info.weight_bits, "act_bits": info.act_bits,
            "weight_quant": info.weight_quant}


EXPORT = Stage(
    "export", produce=_export,
    open=lambda ctx, entry, meta: Exported(entry / "model.qonnx.onnx", meta),
    determines=lambda ctx: {"qonnx": ctx.versions["qonnx"]},
    upstream=("train", "untrained"),
    active=lambda spec: not spec.is_external,
    record=lambda ctx, exported: {
        "export_max_abs_err": exported.meta.get("max_abs_err"),
        "export_mismatched_samples": exported.meta.get("mismatched_samples"),
        **_factory_bits(ctx, exported),
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
    hw = finn_flow.build_hw_graph(_exported(ctx).path, entry, board.part, ctx.spec.clk_ns)
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
    upstream=("export", "external"),
    record=lambda ctx, built: {
        "layer_datatypes": built.meta.get("datatypes", {}),
        "weight_distinct_values": built.meta.get("weight_distinct_values", {}),
    },
    describe=lambda ctx: "building the FINN hardware graph (streamline, HW layers, specialize)",
)


def _verify(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench.stages.train import predict_float64
    from bench.stages.verify import verify_hw_graph

    inputs = _test_inputs(ctx, VERIFY_SAMPLES)
    if ctx.spec.is_external:
        from bench import finn_flow

        expected = finn_flow.external.run_qonnx_batched(ctx["external"].path, inputs)
    else:
        expected = predict_float64(_model_of(ctx).model, inputs)
    result = verify_hw_graph(ctx["hw_graph"].hw, expected, inputs, entry)
    return {"ok": result.ok, "max_abs_err": result.max_abs_err, "samples": result.samples,
            "argmax_agreement": result.argmax_agreement,
            "mismatched_samples": result.mismatched_samples}


VERIFY = Stage(
    "verify", produce=_verify, open=lambda ctx, entry, meta: meta,
    determines=lambda ctx: {"reference": "qonnx" if ctx.spec.is_external else "float64",
                            "samples": VERIFY_SAMPLES},
    upstream=("hw_graph",),
    record=lambda ctx, meta: {
        "verify_ok": bool(meta["ok"]), "verify_max_abs_err": meta["max_abs_err"],
        "verify_samples": meta["samples"],
        "verify_argmax_agreement": meta.get("argmax_agreement"),
        "verify_mismatched_samples": meta.get("mismatched_samples"),
    },
    describe=lambda ctx: f"verifying the HW graph against "
    f"{'QONNX execution' if ctx.spec.is_external else 'Brevitas'} on {VERIFY_SAMPLES} "
    f"{'test' if ctx.spec.has_data else 'random'} samples",
)


def _hw_samples(ctx: RunContext) -> int:
    total = len(ctx["data"].y_test)
    wanted = ctx.spec.hw_accuracy_samples
    return total if wanted is None else min(wanted, total)


def _hw_accuracy(ctx: RunContext, entry: Path) -> dict[str, Any]:
    import time

    n = _hw_samples(ctx)
    start = time.perf_counter()
    logits = ctx["hw_graph"].hw.execute_many(_test_inputs(ctx, n), entry)
    seconds = time.perf_counter() - start
    correct = logits.argmax(axis=1) == ctx["data"].y_test[:n]
    return {"accuracy": float(correct.mean()) if n else None, "samples": n,
            "seconds": round(seconds, 3), "images_per_s": round(n / seconds, 2)}


# The hardware graph's accuracy over the test set: FINN's Python execution, which is
# bit-exact to the accelerator, next to the model's own accuracy.
HW_ACCURACY = Stage(
    "hw_accuracy", produce=_hw_accuracy, open=lambda ctx, entry, meta: meta,
    determines=lambda ctx: {"samples": _hw_samples(ctx), "data": _data_key(ctx)},
    upstream=("hw_graph",),
    active=lambda spec: spec.has_data and spec.hw_accuracy_samples != 0,
    record=lambda ctx, meta: {"hw_accuracy": meta["accuracy"],
                              "hw_accuracy_samples": int(meta["samples"])},
    describe=lambda ctx: f"measuring the HW graph's accuracy on {_hw_samples(ctx)} test "
    "samples (FINN Python execution)",
)

# The hardware graph opened for folding, held in memory by every folding of the group.
FOLDABLE = Stage(
    "foldable", timed=False,
    produce=lambda ctx, entry: ctx["hw_graph"].hw.foldable(
        get_board(ctx.spec.board).part, ctx.spec.clk_ns
    ),
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
    return finn_flow.run_synthesis(_exported(ctx).path, plan)


SYNTH = Stage(
    "synth", produce=_synth, open=lambda ctx, entry, meta: meta,
    determines=lambda ctx: {"folding": _finn_config(ctx), "target": ctx.spec.target,
                            "board": ctx.spec.board, "clk_ns": ctx.spec.clk_ns},
    upstream=("export", "external"),
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
    _, reasons = rtl.build_rtl_hw_graph(_exported(ctx).path, entry, board.part, ctx.spec.clk_ns)
    return {"hls_reasons": reasons}


def _open_rtl_graph(ctx: RunContext, entry: Path, meta: dict[str, Any]) -> RtlGraph:
    from bench import finn_flow

    return RtlGraph(finn_flow.HwGraph(entry), dict(meta.get("hls_reasons", {})))


def _rtl_source_hash() -> str:
    import bench.finn_flow.rtl as finn_rtl
    import bench.rtl as rtl

    return source_hash(Path(finn_rtl.__file__), *Path(rtl.__file__).parent.glob("*.py"))


RTL_GRAPH = Stage(
    "rtl_graph", produce=_rtl_graph, open=_open_rtl_graph,
    determines=lambda ctx: {"part": get_board(ctx.spec.board).part, "clk_ns": ctx.spec.clk_ns,
                            "finn": ctx.versions["finn"], "source": _rtl_source_hash()},
    upstream=("export", "external"),
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
        graph, _test_inputs(ctx, RTL_SAMPLES), entry / "layers", board.part,
        ctx.spec.clk_ns, ctx["rtl_graph"].hls_reasons,
        cache_dir=ctx.store.cache_dir / "verilator", synth_cache_dir=ctx.store.cache_dir / "yosys",
    )
    return {"layers": rows, "tool_versions": dict(tool_versions())}


def _rtl_fields(ctx: RunContext, meta: dict[str, Any]) -> dict[str, Any]:
    rows = meta["layers"]
    measured = [r for r in rows if "lut" in r]
    return {
        "rtl_layers": rows,
        **{f"rtl_{k}": sum(int(r[k]) for r in measured) for k in ("lut", "ff", "bram18", "dsp")},
        "rtl_coverage": len(measured) / len(rows) if rows else 0.0,
        "rtl_lut_coverage": _lut_share(measured, rows),
        "rtl_sim_ok": bool(measured) and all(r.get("sim_ok") is True for r in measured),
        "rtl_tool_versions": dict(meta["tool_versions"]),
    }


def _lut_share(measured: list[dict[str, Any]], rows: list[dict[str, Any]]) -> float | None:
    """FINN's LUT estimate of the measured layers over that of all layers (None if FINN
    estimates no LUTs at all): how much of the estimated design the measurement covers."""
    total = sum(float(r.get("est_lut") or 0.0) for r in rows)
    return sum(float(r.get("est_lut") or 0.0) for r in measured) / total if total else None


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

PREPARE = [DATA, TRAIN, FP32, EXTERNAL, QONNX_ACCURACY, EXPORT, HW_GRAPH, VERIFY, HW_ACCURACY,
           FOLDABLE, RTL_GRAPH]
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
