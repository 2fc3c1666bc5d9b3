"""Stages from a model to a verified hardware graph: export (or an external QONNX file),
FINN's hardware graph, verification, accuracy of the hardware graph, the foldable view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.core.devices import get_board
from bench.engine.stage import RunContext, Stage
from bench.stages.artifacts import (
    DEFAULT_INPUT_SCALE,
    EXPORT_CHECK_SAMPLES,
    VERIFY_SAMPLES,
    BuiltGraph,
    Exported,
    data_key,
    exported,
    model_of,
    test_inputs,
)

# -- export, hardware graph, verification ---------------------------------------------------


def _external(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench import finn_flow
    from bench.core import qonnx_file
    from bench.core.errors import SpecError
    from bench.core.spec import check_input_shape
    from bench.learn.verify import compare

    spec = ctx.spec
    source = entry / "original.onnx"
    # One self-contained copy: weights kept in external data files come along.
    data, sha = qonnx_file.self_contained(spec.qonnx)  # type: ignore[arg-type]
    if sha != spec.qonnx_sha256:
        raise SpecError(f"qonnx: {spec.qonnx} changed while the run was starting; run again")
    source.write_bytes(data)
    shape = finn_flow.external.input_shape(source)
    dataset = ctx["data"]
    if dataset is not None:
        try:
            check_input_shape(shape, dataset.input_shape, spec.dataset)
        except ValueError as err:
            raise SpecError(str(err)) from None
    prepared = finn_flow.external.prepare_external(
        source, entry / "model.qonnx.onnx", spec.input_scale, spec.input_offset,
        DEFAULT_INPUT_SCALE, data_datatype=_data_datatype(dataset),
    )
    if dataset is not None:
        _check_data_fits(ctx, prepared.path)
    meta = {"input_shape": list(shape), "input_datatype": prepared.input_datatype,
            "input_scale": prepared.input_scale, "input_offset": prepared.input_offset,
            "inserted": prepared.inserted}
    # The inserted step must reproduce the float model: run both graphs on the same data.
    ctx.artifacts["external"] = Exported(prepared.path, meta)
    x = test_inputs(ctx, EXPORT_CHECK_SAMPLES)
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


def _data_datatype(dataset: Any) -> str | None:
    """The data's integer datatype: uint8 pixels, an npz set's int8 features, or None."""
    if dataset is None:
        return None
    return "INT8" if dataset.x_test.dtype == np.int8 else "UINT8"


def _check_data_fits(ctx: RunContext, model_path: Path) -> None:
    """Refuse data the prepared model cannot score or take: labels past its outputs (they
    would count as wrong answers) and values outside its input datatype (they would be
    clipped or wrapped on the way in)."""
    from bench import finn_flow
    from bench.core.errors import SpecError

    spec, dataset = ctx.spec, ctx["data"]
    outputs = finn_flow.external.output_count(model_path)
    labels = dataset.y_test
    if labels.size and int(labels.max()) >= outputs:
        raise SpecError(
            f"{spec.dataset}'s test labels run {int(labels.min())}..{int(labels.max())} but "
            f"the model has {outputs} outputs (labels 0..{outputs - 1}); give data whose "
            "labels index the model's outputs"
        )
    datatype = finn_flow.external.input_datatype_range(model_path)
    x = dataset.x_test
    if x.size and (int(x.min()) < datatype[1] or int(x.max()) > datatype[2]):
        raise SpecError(
            f"{spec.dataset}'s values run {int(x.min())}..{int(x.max())} but the model's "
            f"input takes {datatype[0]} ({datatype[1]}..{datatype[2]}); map them with "
            "--input-scale/--input-offset, or give data in the input's range"
        )


def _external_fields(ctx: RunContext, exported: Exported) -> dict[str, Any]:
    meta = exported.meta
    return {
        "model_source": f"qonnx:{Path(ctx.spec.qonnx or '').name}",
        "model_sha256": ctx.spec.qonnx_sha256, "input_datatype": meta["input_datatype"],
        "input_scale": meta["input_scale"], "input_offset": meta["input_offset"],
        "preprocess_inserted": meta["inserted"], "preprocess_max_abs_err": meta["max_abs_err"],
    }


# An external QONNX file, cleaned up, checked and given its input mapping: the artifact
# plays the role of `export` for everything downstream.
EXTERNAL = Stage(
    "external", produce=_external,
    open=lambda ctx, entry, meta: Exported(entry / "model.qonnx.onnx", meta),
    determines=lambda ctx: {
        "sha256": ctx.spec.qonnx_sha256, "scale": ctx.spec.input_scale,
        "offset": ctx.spec.input_offset, "default_scale": DEFAULT_INPUT_SCALE,
        "data": data_key(ctx), "qonnx": ctx.versions["qonnx"],
    },
    sources=("bench.finn_flow.external",),
    active=lambda spec: spec.is_external,
    record=_external_fields,
    describe=lambda ctx: f"checking {ctx.spec.model} and mapping data onto its input",
)


def _qonnx_accuracy(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench import finn_flow

    logits = finn_flow.external.run_qonnx_batched(ctx["external"].path, test_inputs(ctx))
    labels = ctx["data"].y_test
    return {"accuracy": float((logits.argmax(axis=1) == labels).mean()),
            "samples": len(labels)}


# The external model's own accuracy: QONNX execution of the float graph on the test set.
QONNX_ACCURACY = Stage(
    "qonnx_accuracy", produce=_qonnx_accuracy, open=lambda ctx, entry, meta: meta,
    determines=lambda ctx: {"data": data_key(ctx)},
    upstream=("external",),
    active=lambda spec: spec.is_external and spec.has_data,
    record=lambda ctx, meta: {"accuracy": float(meta["accuracy"])},
    describe=lambda ctx: "measuring the model's accuracy by QONNX execution",
)


def _export(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench.learn.export import export_and_check, export_qonnx

    inputs = ctx["data"].x_test[:EXPORT_CHECK_SAMPLES]
    trained = model_of(ctx)
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


def _hw_graph(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench import finn_flow

    board = get_board(ctx.spec.board)
    reasons: dict[str, str] = {}
    if ctx.spec.impl == "rtl":
        from bench.finn_flow.rtl_layers import build_rtl_hw_graph

        hw, reasons = build_rtl_hw_graph(exported(ctx).path, entry, board.part,
                                         ctx.spec.clk_ns)
    else:
        hw = finn_flow.build_hw_graph(exported(ctx).path, entry, board.part, ctx.spec.clk_ns)
    model = hw.model()
    weights = finn_flow.weight_initializers(model)
    return {
        "hls_reasons": reasons,
        "datatypes": finn_flow.layer_datatypes(model),
        "weight_distinct_values": {k: len(set(v.flatten())) for k, v in weights.items()},
    }


def _open_hw_graph(ctx: RunContext, entry: Path, meta: dict[str, Any]) -> BuiltGraph:
    from bench import finn_flow

    return BuiltGraph(finn_flow.HwGraph(entry), meta)


HW_GRAPH = Stage(
    "hw_graph", produce=_hw_graph, open=_open_hw_graph,
    determines=lambda ctx: {"part": get_board(ctx.spec.board).part, "clk_ns": ctx.spec.clk_ns,
                            "finn": ctx.versions["finn"],
                            **({"impl": "rtl"} if ctx.spec.impl == "rtl" else {})},
    upstream=("export", "external"),
    sources=("bench.finn_flow.builder", "bench.finn_flow.transforms",
             "bench.finn_flow.rtl_layers"),
    record=lambda ctx, built: {
        "impl": ctx.spec.impl, "hls_layers": built.meta.get("hls_reasons", {}),
        "layer_datatypes": built.meta.get("datatypes", {}),
        "weight_distinct_values": built.meta.get("weight_distinct_values", {}),
    },
    describe=lambda ctx: "building the FINN hardware graph (streamline, HW layers, "
    f"specialize, {ctx.spec.impl.upper()} preferred)",
)


def _verify(ctx: RunContext, entry: Path) -> dict[str, Any]:
    from bench.learn.train import predict_float64
    from bench.learn.verify import verify_hw_graph

    inputs = test_inputs(ctx, VERIFY_SAMPLES)
    if ctx.spec.is_external:
        from bench import finn_flow

        expected = finn_flow.external.run_qonnx_batched(ctx["external"].path, inputs)
    else:
        expected = predict_float64(model_of(ctx).model, inputs)
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
    logits = ctx["hw_graph"].hw.execute_many(test_inputs(ctx, n), entry)
    seconds = time.perf_counter() - start
    correct = logits.argmax(axis=1) == ctx["data"].y_test[:n]
    return {"accuracy": float(correct.mean()) if n else None, "samples": n,
            "seconds": round(seconds, 3), "images_per_s": round(n / seconds, 2)}


# The hardware graph's accuracy over the test set: FINN's Python execution, which is
# bit-exact to the accelerator, next to the model's own accuracy.
HW_ACCURACY = Stage(
    "hw_accuracy", produce=_hw_accuracy, open=lambda ctx, entry, meta: meta,
    determines=lambda ctx: {"samples": _hw_samples(ctx), "data": data_key(ctx)},
    upstream=("hw_graph",),
    active=lambda spec: spec.has_data and spec.hw_accuracy_samples != 0,
    record=lambda ctx, meta: {"hw_accuracy": meta["accuracy"],
                              "hw_accuracy_samples": int(meta["samples"])},
    describe=lambda ctx: f"measuring the HW graph's accuracy on {_hw_samples(ctx)} test "
    "samples (FINN Python execution)",
)

def _unit_verify(ctx: RunContext, entry: Path) -> dict[str, Any]:
    """FINN's Python execution of the graph with our units against the graph they replaced,
    bit for bit on the verification samples (the MVU's execution is its reference model;
    the pool's is FINN's Pool, so there the check is of the swap itself: attributes,
    tensors, order)."""
    inputs = test_inputs(ctx, VERIFY_SAMPLES)
    finn_graph = ctx["hw_graph"].hw
    units = finn_graph.with_model(ctx["foldable"].graph, entry / "units")
    expected = finn_graph.execute_many(inputs, entry / "finn_run")
    got = units.execute_many(inputs, entry / "units_run")
    mismatched = int((~np.all(expected == got, axis=1)).sum())
    return {"ok": mismatched == 0, "samples": len(inputs), "mismatched_samples": mismatched}


# With --mvu rtl: does the graph with our units (MVUs, max pools) compute what FINN's
# graph computes?
UNIT_VERIFY = Stage(
    "unit_verify", produce=_unit_verify, open=lambda ctx, entry, meta: meta,
    determines=lambda ctx: {"samples": VERIFY_SAMPLES},
    sources=("bench.finn_flow.mvu_op", "bench.finn_flow.mvu_transform", "bench.rtl.mvu_unit",
             "bench.finn_flow.pool_op", "bench.finn_flow.pool_transform",
             "bench.rtl.pool_unit", "bench.finn_flow.unit_op"),
    upstream=("hw_graph",),
    active=lambda spec: spec.mvu == "rtl",
    record=lambda ctx, meta: {"mvu_verify_ok": bool(meta["ok"]),
                              "mvu_verify_samples": int(meta["samples"])},
    check=lambda ctx, meta: None if meta["ok"] else (
        f"the graph with our units differs from FINN's on {meta['mismatched_samples']} of "
        f"{meta['samples']} samples"),
    describe=lambda ctx: "checking the graph with our units against FINN's on "
    f"{VERIFY_SAMPLES} samples",
)


def _mvu_fields(ctx: RunContext, graph: Any) -> dict[str, Any]:
    """`mvu`, and with our units which layers they took (an MVU's datapath, a pool's
    `unit`) or left (why)."""
    if ctx.spec.mvu == "finn":
        return {"mvu": "finn"}
    from bench.finn_flow import mvu_op, pool_op

    model = mvu_op.ESTIMATE_MODEL
    if any(n.op_type == pool_op.RTL_OP_TYPE for n in graph.graph.graph.node):
        model += f"; max pools: {pool_op.ESTIMATE_MODEL}"
    return {"mvu": ctx.spec.mvu, "mvu_layers": graph.mvu_layers, "estimate_model": model}


# The hardware graph opened for folding, held in memory by every folding of the group
# (with --mvu rtl, with our units in place of FINN's MVAUs and max pools where they
# compute the same).
FOLDABLE = Stage(
    "foldable", timed=False,
    produce=lambda ctx, entry: ctx["hw_graph"].hw.foldable(
        get_board(ctx.spec.board).part, ctx.spec.clk_ns, ctx.spec.mvu, ctx.spec.dsp
    ),
    record=_mvu_fields,
)


def allow_worker_processes() -> None:
    """Let `HW_ACCURACY` spread a large test set over one process per core.

    Only a command-line `run` asks for it: sweep workers are already the parallelism,
    and spawned workers would re-run an unguarded script that imports this.
    """
    from bench.finn_flow.execute import allow_worker_processes as allow

    allow()
