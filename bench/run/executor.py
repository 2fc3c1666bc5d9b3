"""Runs the points of a sweep: serially, in local worker processes, or on a Dask cluster.

The unit of work is a *group*: the points that share a trained model and target (they
differ only in folding). A group trains, exports, builds and verifies once, then folds
and estimates each of its points, writing each record as soon as it is done. Groups are
independent, so they parallelize without two workers ever training the same model.

Finished points are skipped before anything heavy is imported, which is what makes a
rerun of a finished (or killed) sweep cheap: only missing points are done.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench.core.errors import SpecError
from bench.core.spec import RunSpec, describe_validation_error, stable_hash
from bench.engine.store import Store
from bench.run.point import finished_record


@dataclass
class Tally:
    """Counts shown live and returned at the end."""

    total: int
    ok: int = 0
    failed: int = 0
    cached: int = 0
    front_points: int = 0
    failed_ids: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.ok + self.failed + self.cached

    def add(self, event: dict[str, Any]) -> None:
        if event["cached"] and event["status"] == "ok":
            self.cached += 1
        elif event["status"] == "ok":
            self.ok += 1
        else:
            self.failed += 1
            self.failed_ids.append(event["run_id"])
        self.front_points += event.get("extra_records", 0)


def group_points(points: list[RunSpec]) -> list[list[RunSpec]]:
    """Points sharing a preparation (model, data, bits, recipe, target), in sweep order."""
    groups: dict[str, list[RunSpec]] = {}
    for point in points:
        groups.setdefault(stable_hash(point.preparation_fields()), []).append(point)
    return list(groups.values())


def _event(outcome: Any) -> dict[str, Any]:
    return {
        "run_id": outcome.record.run_id,
        "status": outcome.record.status,
        "cached": outcome.cached,
        "extra_records": outcome.extra_records,
    }


def run_group_task(
    spec_dicts: list[dict[str, Any]], results_dir: str, retry_failed: bool,
    events: Any = None, wait: bool = True,
) -> list[dict[str, Any]] | None:
    """Worker entry point (local process or Dask): plain data in, plain data out.

    None if `wait` is False and another process is working on this group right now.
    """
    import warnings

    from bench.core.warn import show_own_warnings
    from bench.run.point import run_group

    try:  # validated again: the files a spec names may have changed since it was made
        specs = [RunSpec.model_validate(d) for d in spec_dicts]
    except ValidationError as err:
        raise SpecError(f"{describe_validation_error(err)}; run the sweep again") from None
    notify = (lambda outcome: events.put(_event(outcome))) if events is not None else None
    with warnings.catch_warnings():
        show_own_warnings()  # in worker processes as in the command itself
        outcomes = run_group(
            specs, Store(results_dir), show_progress=False, retry_failed=retry_failed,
            notify=notify or (lambda outcome: None), user_errors_as_records=True, wait=wait,
        )
    return None if outcomes is None else [_event(o) for o in outcomes]


def run_sweep(
    points: list[RunSpec],
    results_dir: Path,
    jobs: int = 1,
    dask_scheduler: str | None = None,
    retry_failed: bool = False,
    on_event: Callable[[dict[str, Any], Tally], None] = lambda event, tally: None,
    log: Callable[[str], None] = lambda msg: None,
) -> Tally:
    store = Store(results_dir)
    tally = Tally(total=len(points))
    todo_groups = []
    for group in group_points(points):
        pending = []
        for point in group:
            record = finished_record(point, store, retry_failed)
            if record is None:
                pending.append(point)
                continue
            event = {"run_id": point.run_id(), "status": record.status, "cached": True,
                     "extra_records": 0}
            tally.add(event)
            on_event(event, tally)
        if pending:
            todo_groups.append(pending)
    if not todo_groups:
        return tally

    def handle(event: dict[str, Any]) -> None:
        tally.add(event)
        on_event(event, tally)

    payloads = [[p.model_dump() for p in group] for group in todo_groups]
    if dask_scheduler:
        _run_on_dask(payloads, str(results_dir), retry_failed, dask_scheduler, handle, log)
    elif jobs > 1:
        _run_in_processes(payloads, str(results_dir), retry_failed, jobs, handle)
    else:
        # Groups another process is busy with come last: by then they are usually done
        # and only need their records read.
        busy = [p for p in payloads if run_group_task(
            p, str(results_dir), retry_failed, _DirectQueue(handle), wait=False) is None]
        for payload in busy:
            run_group_task(payload, str(results_dir), retry_failed, _DirectQueue(handle))
    Store(results_dir).write_results_csv()
    return tally


class _DirectQueue:
    """Quacks like a queue, but hands events straight to the caller (serial runs)."""

    def __init__(self, handle: Callable[[dict[str, Any]], None]) -> None:
        self.handle = handle

    def put(self, event: dict[str, Any]) -> None:
        self.handle(event)


def _run_in_processes(
    payloads: list[list[dict[str, Any]]], results_dir: str, retry_failed: bool, jobs: int,
    handle: Callable[[dict[str, Any]], None],
) -> None:
    """Fresh interpreters ("spawn"): FINN and torch keep global state that must not be
    inherited half-initialized through fork."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        events = manager.Queue()
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context)
        try:
            pending = {
                pool.submit(run_group_task, p, results_dir, retry_failed, events)
                for p in payloads
            }
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(events, handle)
                for future in done:
                    future.result()  # a crash of the worker itself surfaces here
            _drain(events, handle)
        except KeyboardInterrupt:
            _stop_workers(pool)
            raise
        pool.shutdown()


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """On Ctrl-C or SIGTERM, end the workers now instead of letting their groups finish."""
    import psutil

    pool.shutdown(wait=False, cancel_futures=True)
    for child in psutil.Process().children(recursive=True):
        child.terminate()


def _drain(events: Any, handle: Callable[[dict[str, Any]], None]) -> None:
    while True:
        try:
            handle(events.get_nowait())
        except queue_module.Empty:
            return


def _run_on_dask(
    payloads: list[list[dict[str, Any]]], results_dir: str, retry_failed: bool,
    address: str, handle: Callable[[dict[str, Any]], None], log: Callable[[str], None],
) -> None:
    """Submit each group to an existing Dask cluster; its workers need this package
    installed and the results directory on a shared filesystem."""
    from distributed import Client, as_completed

    with Client(address, timeout=30) as client:
        log(f"connected to Dask scheduler {address} "
            f"({len(client.scheduler_info()['workers'])} workers)")
        futures = [
            client.submit(run_group_task, p, results_dir, retry_failed, pure=False)
            for p in payloads
        ]
        for future in as_completed(futures):
            for event in future.result():
                handle(event)
