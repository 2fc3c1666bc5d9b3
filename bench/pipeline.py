"""One run point through every stage: train, export, hw graph, verify, fold+estimate, record.

Each stage's artifact is cached under the hash of everything that determines it, so a
folding sweep trains and streamlines once, and repeating a finished run does no work at
all (its record is found before torch or FINN are even imported).
"""

from __future__ import annotations

import hashlib
import platform
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench.devices import get_board, utilization
from bench.spec import RunSpec, resolve_data_dir, stable_hash
from bench.store import Store

VERIFY_SAMPLES = 64
EXPORT_CHECK_SAMPLES = 16


@dataclass
class _Prepared:
    """What every folding of one trained model shares."""

    board: Any
    graph: Any  # finn_flow.FoldableGraph
    accuracy: float
    hw_meta: dict[str, Any]
    export_meta: dict[str, Any]
    verify_meta: dict[str, Any]
    qonnx_path: Path
    fp32_accuracy: float | None = None


def prepare(spec: RunSpec, store: Store) -> _Prepared:
    """Train, export, build and verify (from the cache where possible), without folding."""
    return _PointRunner(spec, store, log=lambda msg: None, show_progress=False).prepare()


@dataclass
class RunOutcome:
    record: dict[str, Any]
    path: Path
    cached: bool
    cached_stages: list[str] = field(default_factory=list)
    extra_records: int = 0  # Pareto front points beyond the point's own record


def _source_hash(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def models_source_hash() -> str:
    """A change to a model definition or quantizer must not reuse old checkpoints."""
    import models

    return _source_hash(*Path(models.__file__).parent.glob("*.py"))


def training_source_hash() -> str:
    """Likewise for the training loop (e.g. the PoT annealing schedule)."""
    return _source_hash(Path(__file__).with_name("train.py"))


def versions() -> dict[str, str]:
    result = {"python": platform.python_version()}
    for name, dist in (
        ("torch", "torch"), ("brevitas", "brevitas"), ("qonnx", "qonnx"), ("finn", "finn-plus"),
        ("onnx", "onnx"),
    ):
        try:
            result[name] = version(dist)
        except PackageNotFoundError:
            result[name] = "missing"
    return result


def run_point(
    spec: RunSpec,
    store: Store,
    log: Callable[[str], None] = lambda msg: None,
    show_progress: bool = True,
) -> RunOutcome:
    """Produce (or find) the record of one run point; a failed record is retried."""
    return run_group([spec], store, log, show_progress, retry_failed=True)[0]


def is_done(spec: RunSpec, store: Store, retry_failed: bool) -> bool:
    record = store.load_record(spec.run_id())
    if record is None:
        return False
    if spec.fp32_baseline and record.get("status") == "ok" and record.get("fp32_accuracy") is None:
        return False  # the same run, now asked for its baseline too
    return record.get("status") == "ok" or not retry_failed


def run_group(
    specs: list[RunSpec],
    store: Store,
    log: Callable[[str], None] = lambda msg: None,
    show_progress: bool = True,
    retry_failed: bool = False,
    notify: Callable[[RunOutcome], None] = lambda outcome: None,
) -> list[RunOutcome]:
    """Run points that share everything but the folding: prepare once, fold each.

    Bad input is rejected before this is called; from here on, any failure becomes a
    record with `status: failed` and the error, never numbers. Each record is written
    (atomically) as soon as its point is finished.
    """
    keys = {stable_hash(s.preparation_fields()) for s in specs}
    if len(keys) > 1:
        raise ValueError("run_group needs points that differ only in their folding")
    outcomes: dict[str, RunOutcome] = {}
    todo = []
    for spec in specs:
        if is_done(spec, store, retry_failed):
            run_id = spec.run_id()
            outcome = RunOutcome(store.load_record(run_id), store.record_path(run_id), True)
            outcomes[run_id] = outcome
            notify(outcome)
        else:
            todo.append(spec)
    if todo:
        runner = _PointRunner(todo[0], store, log, show_progress)
        try:
            prepared = runner.prepare()
        except UserError:
            raise
        except Exception as err:
            prepared = None
            failure = err
        for spec in todo:
            point = _PointRunner(spec, store, log, show_progress, shared=runner)
            if prepared is None:
                records = [point.failed_record(failure)]
            else:
                try:
                    records = point.fold(prepared)
                except Exception as err:
                    records = [point.failed_record(err)]
            for record in records:
                store.write_record(record)
            main = records[-1]  # the point's own record (written last)
            outcome = RunOutcome(main, store.record_path(main["run_id"]), False,
                                 list(runner.cached_stages), extra_records=len(records) - 1)
            outcomes[spec.run_id()] = outcome
            notify(outcome)
        store.write_results_csv()
    return [outcomes[s.run_id()] for s in specs]


class UserError(Exception):
    """Raised for problems the user must fix (e.g. missing data); nothing is recorded."""


class _PointRunner:
    """Holds the state of one run while it moves through the stages."""

    def __init__(
        self, spec: RunSpec, store: Store, log: Callable[[str], None], show_progress: bool,
        shared: _PointRunner | None = None,
    ) -> None:
        self.spec = spec
        self.store = store
        self.log = log
        self.show_progress = show_progress
        # Points of one group report the preparation's timings and cache hits as their own.
        self.timings: dict[str, float] = dict(shared.timings) if shared else {}
        self.cached_stages: list[str] = list(shared.cached_stages) if shared else []
        self.stage = "setup"
        self.versions = shared.versions if shared else versions()

    # -- stages ---------------------------------------------------------------------------

    def prepare(self) -> _Prepared:
        """Everything before folding: data, training, export, hw graph, verification."""
        from bench.data import DatasetError, fingerprint, load_dataset

        spec = self.spec
        board = get_board(spec.board)
        self.stage = "data"
        try:
            dataset = load_dataset(spec.dataset, data_dir=resolve_data_dir(spec.data_dir))
        except DatasetError as err:
            raise UserError(str(err)) from None
        train_key = stable_hash(
            {"spec": spec.training_fields(), "data": fingerprint(dataset),
             "torch": self.versions["torch"], "brevitas": self.versions["brevitas"],
             "models": models_source_hash(), "recipe": training_source_hash()}
        )
        model, accuracy = self._train(train_key, dataset)
        fp32_accuracy = self._train_baseline(dataset) if spec.fp32_baseline else None
        export_key = stable_hash({"train": train_key, "qonnx": self.versions["qonnx"]})
        qonnx_path, export_meta = self._export(export_key, model, dataset)
        hw_key = stable_hash(
            {"export": export_key, "part": board.part, "clk_ns": spec.clk_ns,
             "finn": self.versions["finn"]}
        )
        hw, hw_meta = self._hw_graph(hw_key, qonnx_path, board.part)
        verify_key = stable_hash({"hw": hw_key, "reference": "float64"})
        verify_meta = self._verify(verify_key, hw, model, dataset)
        from bench import finn_flow

        graph = finn_flow.FoldableGraph(finn_flow.load_graph(hw.graph), board.part, spec.clk_ns)
        return _Prepared(board, graph, accuracy, hw_meta, export_meta, verify_meta, qonnx_path,
                         fp32_accuracy)

    def _timed(self, stage: str, fn: Callable[[], Any]) -> Any:
        self.stage = stage
        start = time.perf_counter()
        result = fn()
        self.timings[stage] = round(time.perf_counter() - start, 3)
        return result

    def _train(self, key: str, dataset: Any) -> tuple[Any, float]:
        import torch

        from bench.train import make_model, train

        entry = self.store.cache_entry("train", key)
        if self.store.is_cached("train", key):
            self.cached_stages.append("train")
            meta = self.store.cached_meta("train", key)
            model = make_model(self.spec, dataset)
            model.load_state_dict(torch.load(entry / "model.pt", weights_only=True))
            model.eval()
            return model, float(meta["accuracy"])
        self.log(f"training {self.spec.model} W{self.spec.weight_bits}A{self.spec.act_bits} "
                 f"({self.spec.weight_quant}) on {self.spec.dataset}, {self.spec.epochs} epochs")
        result = self._timed("train", lambda: train(self.spec, dataset, self.show_progress))
        with self.store.new_entry("train", key) as (entry, meta):
            torch.save(result.model.state_dict(), entry / "model.pt")
            meta.update(accuracy=result.accuracy, final_loss=result.final_loss,
                        spec=self.spec.training_fields())
        return result.model, result.accuracy

    def _train_baseline(self, dataset: Any) -> float:
        """The unquantized twin, same recipe; shared by every bit width of the model."""
        from bench.data import fingerprint
        from bench.train import train

        key = stable_hash({"baseline": self.spec.baseline_fields(), "data": fingerprint(dataset),
                           "torch": self.versions["torch"], "models": models_source_hash(),
                           "recipe": training_source_hash()})
        if self.store.is_cached("fp32", key):
            self.cached_stages.append("fp32")
            return float(self.store.cached_meta("fp32", key)["accuracy"])
        self.log(f"training the FP32 baseline of {self.spec.model}, {self.spec.epochs} epochs")
        result = self._timed(
            "fp32", lambda: train(self.spec, dataset, self.show_progress, float_baseline=True)
        )
        with self.store.new_entry("fp32", key) as (_, meta):
            meta.update(accuracy=result.accuracy, spec=self.spec.baseline_fields())
        return result.accuracy

    def _export(self, key: str, model: Any, dataset: Any) -> tuple[Path, dict[str, Any]]:
        from bench.export import export_and_check

        entry = self.store.cache_entry("export", key)
        path = entry / "model.qonnx.onnx"
        if self.store.is_cached("export", key):
            self.cached_stages.append("export")
            return path, self.store.cached_meta("export", key)
        self.log("exporting to QONNX and checking it against PyTorch")
        with self.store.new_entry("export", key) as (entry, meta):
            inputs = dataset.x_test[:EXPORT_CHECK_SAMPLES]
            result = self._timed(
                "export", lambda: export_and_check(model, inputs, path, self.spec.input_bits)
            )
            meta.update(max_abs_err=result.max_abs_err, samples=result.samples,
                        mismatched_samples=result.mismatched_samples)
        return path, meta

    def _hw_graph(self, key: str, qonnx_path: Path, part: str) -> tuple[Any, dict[str, Any]]:
        from bench import finn_flow

        entry = self.store.cache_entry("hw", key)
        if self.store.is_cached("hw", key):
            self.cached_stages.append("hw_graph")
            return (
                finn_flow.HwGraph(entry / finn_flow.HW_GRAPH_FILE, entry / finn_flow.PARENT_FILE),
                self.store.cached_meta("hw", key),
            )
        self.log("building the FINN hardware graph (streamline, HW layers, specialize)")
        with self.store.new_entry("hw", key) as (entry, meta):
            hw = self._timed(
                "hw_graph",
                lambda: finn_flow.build_hw_graph(qonnx_path, entry, part, self.spec.clk_ns),
            )
            graph = finn_flow.load_graph(hw.graph)
            weights = finn_flow.weight_initializers(graph)
            meta.update(
                datatypes=finn_flow.layer_datatypes(graph),
                weight_distinct_values={k: len(set(v.flatten())) for k, v in weights.items()},
            )
        return hw, meta

    def _verify(self, key: str, hw: Any, model: Any, dataset: Any) -> dict[str, Any]:
        from bench.train import predict_float64
        from bench.verify import verify_hw_graph

        if self.store.is_cached("verify", key):
            self.cached_stages.append("verify")
            return self.store.cached_meta("verify", key)
        self.log(f"verifying the HW graph against Brevitas on {VERIFY_SAMPLES} test samples")
        inputs = dataset.x_test[:VERIFY_SAMPLES]
        expected = predict_float64(model, inputs)
        with self.store.new_entry("verify", key) as (entry, meta):
            result = self._timed(
                "verify", lambda: verify_hw_graph(hw, expected, inputs, entry)
            )
            meta.update(ok=result.ok, max_abs_err=result.max_abs_err, samples=result.samples,
                        argmax_agreement=result.argmax_agreement,
                        mismatched_samples=result.mismatched_samples)
        return meta

    def fold(self, prep: _Prepared) -> list[dict[str, Any]]:
        """Records for this point's folding: one, or one per Pareto front point."""
        from bench import folding as fold

        spec, graph = self.spec, prep.graph
        strategy = spec.folding
        self.stage = "fold"
        if strategy.strategy == "pareto":
            return self._pareto_records(prep)
        if strategy.strategy == "uniform":
            chosen = fold.uniform_folding(graph.layers, strategy.pe, strategy.effective_simd)
        elif strategy.strategy == "layers":
            chosen = fold.layers_folding(graph.layers, strategy.config)
        else:
            config = graph.finn_auto_folding(strategy.fps)
            chosen = fold.folding_from_config(graph.layers, config)
        return [self._record(prep, chosen, {})]

    def _pareto_records(self, prep: _Prepared) -> list[dict[str, Any]]:
        from bench import folding as fold

        graph, board = prep.graph, prep.board
        limit = self.spec.folding.max_utilization
        budget = {r: limit * c for r, c in board.capacity().items()}
        start = time.perf_counter()
        options = {layer.name: graph.layer_options(layer) for layer in graph.layers}
        bits = {la.name: la.weight_bits for la in graph.layers if la.weight_bits}
        front = fold.pareto_search(options, budget, bits)
        self.timings["search"] = round(time.perf_counter() - start, 3)
        if not front:
            raise RuntimeError(
                f"no folding fits within {100 * limit:g} % of every resource of {board.name}"
            )
        base_id = self.spec.run_id()
        records = []
        for index, point in enumerate(front):
            record = self._record(prep, fold.front_point_folding(graph.layers, point), {
                "pareto_front": True, "pareto_index": index, "pareto_best": index == 0,
                "pareto_max_utilization": limit, "pareto_front_size": len(front),
            })
            if index:
                record["run_id"] = f"{base_id}-front{index:02d}"
            records.append(record)
        # The fastest point carries the point's own id and is written last: once it
        # exists, the whole front is on disk.
        return records[1:] + records[:1]

    def _record(
        self, prep: _Prepared, folding: list[Any], extra: dict[str, Any]
    ) -> dict[str, Any]:
        from bench.folding import to_finn_config

        spec, board = self.spec, prep.board
        config = to_finn_config(folding)
        est = self._timed("estimate", lambda: prep.graph.estimate(config))
        fractions, fits = utilization(board, est.totals)
        synth = self._synthesize(prep, config) if spec.target != "estimate" else {}
        return {
            **self.identity(),
            "accuracy": prep.accuracy,
            "fp32_accuracy": prep.fp32_accuracy,
            "folding": [f.to_dict() for f in folding],
            "folding_strategy": spec.folding_strategy,
            "folding_label": spec.folding.label(),
            "folding_spec": spec.folding.model_dump(),
            "est_fps": est.fps,
            "est_latency_ns": est.latency_ns,
            "est_max_cycles": est.max_cycles,
            "est_critical_path_cycles": est.critical_path_cycles,
            "est_bottleneck": est.bottleneck,
            "lut": est.totals.get("lut", 0.0),
            "bram18": est.totals.get("bram18", 0.0),
            "uram": est.totals.get("uram", 0.0),
            "dsp": est.totals.get("dsp", 0.0),
            "per_layer": est.per_layer,
            "layer_datatypes": prep.hw_meta.get("datatypes", {}),
            "weight_distinct_values": prep.hw_meta.get("weight_distinct_values", {}),
            "device": board.name,
            "part": board.part,
            "clk_ns": spec.clk_ns,
            "utilization": fractions,
            "fits": fits,
            "export_max_abs_err": prep.export_meta.get("max_abs_err"),
            "export_mismatched_samples": prep.export_meta.get("mismatched_samples"),
            "verify_ok": bool(prep.verify_meta["ok"]),
            "verify_max_abs_err": prep.verify_meta["max_abs_err"],
            "verify_samples": prep.verify_meta["samples"],
            "verify_argmax_agreement": prep.verify_meta.get("argmax_agreement"),
            "verify_mismatched_samples": prep.verify_meta.get("mismatched_samples"),
            "pareto_front": False,
            "target": spec.target,
            **synth,
            **extra,
            "status": "ok",
            "error": None,
            "failed_stage": None,
            "timings_s": dict(self.timings),
            "cached_stages": self.cached_stages,
            "versions": self.versions,
            "created_at": _now(),
        }

    def _synthesize(self, prep: _Prepared, config: dict[str, Any]) -> dict[str, Any]:
        """With Vivado: FINN's flow through synthesis for this folding, cached by folding."""
        from bench import finn_flow

        key = stable_hash({"qonnx": str(prep.qonnx_path), "folding": config,
                           "target": self.spec.target, "board": prep.board.name})
        if self.store.is_cached("synth", key):
            self.cached_stages.append("synth")
            return self.store.cached_meta("synth", key)
        self.log(f"running FINN through {self.spec.target} (Vivado)")
        with self.store.new_entry("synth", key) as (entry, meta):
            plan = finn_flow.synthesis_plan(
                self.spec.target, config, prep.board.name, prep.board.part, self.spec.clk_ns,
                entry,
            )
            meta.update(self._timed(
                "synth", lambda: finn_flow.run_synthesis(prep.qonnx_path, plan)
            ))
        return meta

    # -- record helpers -------------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        s = self.spec
        return {
            "run_id": s.run_id(),
            "model": s.model,
            "dataset": s.dataset,
            "weight_bits": s.weight_bits,
            "act_bits": s.act_bits,
            "input_bits": s.input_bits,
            "weight_quant": s.weight_quant,
            "seed": s.seed,
            "epochs": s.epochs,
            "batch_size": s.batch_size,
            "lr": s.lr,
        }

    def failed_record(self, err: Exception) -> dict[str, Any]:
        from bench.finn_flow import FinnStepError

        stage = err.step if isinstance(err, FinnStepError) else self.stage
        return {
            **self.identity(),
            "folding_strategy": self.spec.folding_strategy,
            "folding_label": self.spec.folding.label(),
            "device": self.spec.board,
            "clk_ns": self.spec.clk_ns,
            "status": "failed",
            "error": f"{type(err).__name__}: {err}".splitlines()[0][:500],
            "failed_stage": stage,
            "traceback": "".join(traceback.format_exception(err, limit=8)),
            "timings_s": self.timings,
            "versions": self.versions,
            "created_at": _now(),
        }




def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
