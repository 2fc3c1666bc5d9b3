"""Run points through the stage lists of `bench.stages.plan` and write their records.

A *group* is the points that share everything but their folding: PREPARE runs once for
the group (each stage from the cache where possible), then every point picks its
folding(s) and each folding is estimated. Each record is written atomically as soon as
it is done. Repeating a finished run does no work at all: its record is found before
torch or FINN are imported.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench.core.errors import UserError
from bench.core.record import Record, RecordError
from bench.core.spec import RunSpec, stable_hash
from bench.core.warn import warn
from bench.engine.provenance import now, versions
from bench.engine.stage import HardwareMismatch, RunContext, StageFailed, run_stages
from bench.engine.store import Store
from bench.stages.plan import PER_FOLDING, PER_POINT, PREPARE


@dataclass
class RunOutcome:
    record: Record
    path: Path
    cached: bool
    cached_stages: list[str] = field(default_factory=list)
    extra_records: int = 0  # Pareto front points beyond the point's own record


def run_point(
    spec: RunSpec, store: Store, log: Callable[[str], None] = lambda msg: None,
    show_progress: bool = True,
) -> RunOutcome:
    """Produce (or find) the record of one run point; a failed record is retried."""
    return run_group([spec], store, log, show_progress, retry_failed=True)[0]


def finished_record(spec: RunSpec, store: Store, retry_failed: bool) -> Record | None:
    """The point's record if it counts as done; an unusable record file does not."""
    try:
        record = store.load_record(spec.run_id())
    except RecordError as err:
        warn(f"{err}; the point will be run again")
        return None
    if record is None:
        return None
    if spec.fp32_baseline and record.status == "ok" and record.fp32_accuracy is None:
        return None  # the same run, now asked for its baseline too
    if record.status == "ok" or not retry_failed:
        return record
    return None


def is_done(spec: RunSpec, store: Store, retry_failed: bool) -> bool:
    return finished_record(spec, store, retry_failed) is not None


def run_group(
    specs: list[RunSpec],
    store: Store,
    log: Callable[[str], None] = lambda msg: None,
    show_progress: bool = True,
    retry_failed: bool = False,
    notify: Callable[[RunOutcome], None] = lambda outcome: None,
    user_errors_as_records: bool = False,
    wait: bool = True,
) -> list[RunOutcome] | None:
    """Run points that share everything but the folding: prepare once, fold each.

    Bad input is rejected before this is called; from here on, any failure becomes a
    record with `status: failed` naming the stage it happened in, never numbers. A user
    error (e.g. missing data files) stops a single run, but in a sweep
    (`user_errors_as_records`) it fails this group's points and the sweep goes on.

    The group runs under a lock, so another process working on the same group waits for
    it and then finds its records; with `wait=False` a busy group returns None at once.
    """
    groups = {stable_hash(s.preparation_fields()) for s in specs}
    if len(groups) > 1:
        raise ValueError("run_group needs points that differ only in their folding")
    with store.try_locked("groups", groups.pop(), wait) as acquired:
        if not acquired:
            return None
        return _run_group_locked(specs, store, log, show_progress, retry_failed, notify,
                                 user_errors_as_records)


def _run_group_locked(
    specs: list[RunSpec], store: Store, log: Callable[[str], None], show_progress: bool,
    retry_failed: bool, notify: Callable[[RunOutcome], None], user_errors_as_records: bool,
) -> list[RunOutcome]:
    outcomes: dict[str, RunOutcome] = {}
    todo = []
    for spec in specs:
        record = finished_record(spec, store, retry_failed)
        if record is None:
            todo.append(spec)
            continue
        outcome = RunOutcome(record, store.record_path(record.run_id), True)
        outcomes[spec.run_id()] = outcome
        notify(outcome)
    if todo:
        group = RunContext(todo[0], store, versions(), log, show_progress)
        failure: StageFailed | None = None
        try:
            run_stages(PREPARE, group)
        except StageFailed as err:
            failure = err
        except UserError as err:
            if not user_errors_as_records:
                raise
            failure = StageFailed(_current_stage(group), err)
        for spec in todo:
            point = group.child(spec)
            records = [failed_record(point, failure)] if failure else _fold_point(point)
            for record in records:
                store.write_record(record)
            main = records[-1]  # the point's own record (written last)
            outcome = RunOutcome(main, store.record_path(main.run_id), False,
                                 list(group.cached_stages), extra_records=len(records) - 1)
            outcomes[spec.run_id()] = outcome
            notify(outcome)
        store.write_results_csv()
    else:
        store.ensure_results_csv()
    return [outcomes[s.run_id()] for s in specs]


def _current_stage(ctx: RunContext) -> str:
    """The first stage of PREPARE that did not finish (where a user error came from)."""
    return next((s.name for s in PREPARE if s.name not in ctx.artifacts
                 and s.active(ctx.spec)), "prepare")


def _fold_point(point: RunContext) -> list[Record]:
    """Records for this point's folding: one, or one per Pareto front point."""
    try:
        run_stages(PER_POINT, point)
    except StageFailed as err:
        return [failed_record(point, err)]
    records = []
    for choice in point["choose"]:
        one = point.child()
        one.artifacts["choice"] = choice
        try:
            run_stages(PER_FOLDING, one)
        except StageFailed as err:
            records.append(failed_record(one, err))
            continue
        try:
            records.append(ok_record(one, choice))
        except ValidationError as err:  # numbers no record may hold (e.g. zero FPS)
            records.append(failed_record(one, StageFailed("record", err)))
    return records


def identity(spec: RunSpec) -> dict[str, Any]:
    return {
        "run_id": spec.run_id(), "model": spec.model, "dataset": spec.dataset,
        "data_sha256": spec.data_sha256,
        # the content that names an external model (also on a record of a failed run)
        "model_sha256": spec.qonnx_sha256 or spec.factory_sha256,
        "weight_bits": spec.weight_bits, "act_bits": spec.act_bits,
        "input_bits": spec.input_bits, "weight_quant": spec.weight_quant, "seed": spec.seed,
        "input_size": spec.input_size,
        "epochs": spec.epochs, "batch_size": spec.batch_size, "lr": spec.lr,
        "target": spec.target, "folding_strategy": spec.folding_strategy,
        "folding_id": spec.folding.label(), "folding_spec": spec.folding.model_dump(),
        "device": spec.board, "clk_ns": spec.clk_ns, "dsp_policy": spec.dsp,
    }


def ok_record(ctx: RunContext, choice: Any) -> Record:
    from bench.core.devices import get_board

    return Record(**{
        **identity(ctx.spec),
        "run_id": choice.run_id,
        "folding": [f.to_dict() for f in choice.folding],
        "part": get_board(ctx.spec.board).part,
        **ctx.fields,
        **choice.extra,
        "status": "ok",
        "timings_s": ctx.timings,
        "cached_stages": ctx.cached_stages,
        "versions": ctx.versions,
        "created_at": now(),
    })


# Fields of stages that ran before a failure and say what was run (not results of it).
FAILED_RECORD_FIELDS = ("model_source", "model_sha256", "input_datatype", "input_scale",
                        "input_offset", "train_device", "augment")


def failed_record(ctx: RunContext, failure: StageFailed) -> Record:
    err = failure.error
    kept = {k: ctx.fields[k] for k in FAILED_RECORD_FIELDS if k in ctx.fields}
    if isinstance(err, HardwareMismatch):
        # what was measured is the evidence: keep all of it (reports read only ok records'
        # numbers, so none of it is mistaken for a result)
        kept = dict(ctx.fields)
        if "choice" in ctx.artifacts:
            kept["folding"] = [f.to_dict() for f in ctx["choice"].folding]
    return Record(**{
        **identity(ctx.spec),
        **kept,
        "status": "failed",
        "error": f"{type(err).__name__}: {err}".splitlines()[0][:500],
        "failed_stage": failure.stage,
        "failed_step": failure.step,
        "traceback": "".join(traceback.format_exception(err, limit=8)),
        "timings_s": ctx.timings,
        "cached_stages": ctx.cached_stages,
        "versions": ctx.versions,
        "created_at": now(),
    })


__all__ = ["RunOutcome", "UserError", "is_done", "run_group", "run_point"]
