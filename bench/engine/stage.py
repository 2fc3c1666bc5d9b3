"""Stages as data, and the one loop that runs a list of them.

A `Stage` says what determines its artifact (hashed, together with the keys of the stages
it builds on, into a cache key), how to produce the artifact into a cache entry, how to
open it again, and which record fields it contributes. `run_stages` is the only code that
caches, times, logs and attributes failures, so a new stage is one entry in a list
(see `bench.stages.plan`), never another copy of cache-or-compute.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.core import interrupt
from bench.core.errors import UserError
from bench.core.spec import RunSpec, stable_hash
from bench.engine.provenance import sources_hash
from bench.engine.store import Store


@dataclass
class RunContext:
    """What one run point has so far: its spec, artifacts and keys by stage, timings."""

    spec: RunSpec
    store: Store
    versions: dict[str, str]
    log: Callable[[str], None] = lambda message: None
    show_progress: bool = False
    artifacts: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    cached_stages: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)  # record fields from the stages

    def child(self, spec: RunSpec | None = None) -> RunContext:
        """A copy for a later stage list (a folding of this point): shares what was done."""
        return RunContext(
            spec or self.spec, self.store, self.versions, self.log, self.show_progress,
            dict(self.artifacts), dict(self.keys), dict(self.timings),
            list(self.cached_stages), dict(self.fields),
        )

    def __getitem__(self, stage: str) -> Any:
        return self.artifacts[stage]


def _always(spec: RunSpec) -> bool:
    return True


def _no_fields(ctx: RunContext, artifact: Any) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Stage:
    """One named step of a run.

    * `determines(ctx)`: what, besides the upstream stages' keys, determines the artifact
      (JSON-able). None for uncached stages (cheap, or in memory only).
    * `produce(ctx, entry)`: do the work, writing files into `entry` (a fresh cache
      directory, or None if uncached); returns the entry's metadata (JSON-able), or the
      artifact itself for an uncached stage.
    * `open(ctx, entry, meta)`: the artifact from a cache entry (after producing it, and on
      a cache hit). Uncached stages take their artifact straight from `produce`.
    * `record(ctx, artifact)`: the record fields this stage contributes.
    * `sources`: dotted names of the modules or packages whose files determine the
      artifact besides its inputs (a package counts with all its code and data files);
      the engine hashes them into the key, so editing them never reuses a stale entry.
    * `requires(spec)`: raises a `UserError` when this machine cannot run the stage for
      the spec (a tool or Vivado missing, a module that does not import); asked by
      `bench.stages.plan.preflight` before any work starts.
    * `check(ctx, artifact)`: for stages that compare hardware with its reference, why the
      artifact shows the hardware computes something else (None when it does not). The
      point then fails in this stage (`HardwareMismatch`), its numbers kept in the record;
      the artifact stays cached, so a re-run fails the same way without redoing the work.
    """

    name: str
    produce: Callable[[RunContext, Path | None], Any]
    open: Callable[[RunContext, Path, dict[str, Any]], Any] | None = None
    determines: Callable[[RunContext], dict[str, Any]] | None = None
    upstream: tuple[str, ...] = ()
    active: Callable[[RunSpec], bool] = _always
    record: Callable[[RunContext, Any], dict[str, Any]] = _no_fields
    describe: Callable[[RunContext], str] | None = None
    timed: bool = True
    sources: tuple[str, ...] = ()
    requires: Callable[[RunSpec], None] | None = None
    check: Callable[[RunContext, Any], str | None] | None = None

    @property
    def cached(self) -> bool:
        return self.determines is not None


class HardwareMismatch(Exception):
    """The hardware a stage measured is not bit-exact with its reference: a failed point,
    never an ok record with a flag a script could overlook."""


class StageFailed(Exception):
    """A stage raised: `stage` names it, `step` the FINN step if FINN failed inside it."""

    def __init__(self, stage: str, error: BaseException, step: str | None = None) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.stage = stage
        self.error = error
        self.step = step


def stage_key(stage: Stage, ctx: RunContext) -> str:
    assert stage.determines is not None
    upstream = {name: ctx.keys[name] for name in stage.upstream if name in ctx.keys}
    code = {"sources": sources_hash(stage.sources)} if stage.sources else {}
    return stable_hash({"stage": stage.name, "upstream": upstream, **code,
                        **stage.determines(ctx)})


def run_stages(stages: list[Stage], ctx: RunContext) -> RunContext:
    """Run each active stage in order: from the cache if its key is there, else produce it.

    User errors pass through untouched (nothing is recorded for them); any other error
    becomes StageFailed naming the stage it happened in.
    """
    for stage in stages:
        if not stage.active(ctx.spec):
            continue
        try:
            _run_one(stage, ctx)
        except (UserError, StageFailed):
            raise
        except Exception as err:
            if interrupt.requested():  # FINN catches Ctrl-C and reports a failed step
                raise KeyboardInterrupt from err
            raise StageFailed(stage.name, err, getattr(err, "step", None)) from err
    return ctx


def _run_one(stage: Stage, ctx: RunContext) -> None:
    if not stage.cached:
        artifact = _timed(stage, ctx, lambda: stage.produce(ctx, None))
    else:
        key = stage_key(stage, ctx)
        ctx.keys[stage.name] = key
        store = ctx.store
        # Under the entry's lock, so that of several processes needing this artifact
        # exactly one produces it and the others reuse it.
        with store.locked(stage.name, key):
            found = store.intact_meta(stage.name, key)
            if found is not None:
                ctx.cached_stages.append(stage.name)
                meta = found
            else:
                with store.new_entry(stage.name, key) as (entry, fresh):
                    fresh.update(_timed(stage, ctx, lambda: stage.produce(ctx, entry)) or {})
                meta = store.cached_meta(stage.name, key)  # as written: read back, checked
        assert stage.open is not None, f"cached stage {stage.name} needs open()"
        artifact = stage.open(ctx, store.cache_entry(stage.name, key), meta)
    ctx.artifacts[stage.name] = artifact
    ctx.fields.update(stage.record(ctx, artifact))
    if stage.check is not None and (why := stage.check(ctx, artifact)):
        raise HardwareMismatch(why)


def _timed(stage: Stage, ctx: RunContext, work: Callable[[], Any]) -> Any:
    if stage.describe is not None:
        ctx.log(stage.describe(ctx))
    start = time.perf_counter()
    result = work()
    if stage.timed:
        ctx.timings[stage.name] = round(time.perf_counter() - start, 3)
    return result
