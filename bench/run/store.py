"""On-disk cache of stage artifacts and the run records.

Layout under the results directory:

    runs/<run_id>.json          one record per run point (never rewritten by another run)
    results.csv                 regenerated from all records after every run
    cache/<stage>/<key>/        artifacts of a stage, keyed by the hash of its inputs

A cache entry counts only once its `done.json` marker exists; the marker is written last
and atomically, so a killed process leaves at worst an unfinished directory that the next
run discards and redoes.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.run.record import Record, RecordError, scalar_columns

DONE_MARKER = "done.json"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file in the same directory, then rename over the target."""
    write_text_atomic(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never a part: write aside, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_default(obj: Any) -> Any:
    # numpy scalars and paths show up in records; JSON has no type for them.
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialize {type(obj).__name__}")


class Store:
    """Run records and the stage cache of one results directory."""

    def __init__(self, results_dir: Path | str, cache_dir: Path | str | None = None) -> None:
        self.results_dir = Path(results_dir)
        self.runs_dir = self.results_dir / "runs"
        self.cache_dir = Path(cache_dir) if cache_dir else self.results_dir / "cache"

    # -- stage cache ----------------------------------------------------------------------

    def cache_entry(self, stage: str, key: str) -> Path:
        return self.cache_dir / stage / key

    def is_cached(self, stage: str, key: str) -> bool:
        return (self.cache_entry(stage, key) / DONE_MARKER).exists()

    def cached_meta(self, stage: str, key: str) -> dict[str, Any]:
        return json.loads((self.cache_entry(stage, key) / DONE_MARKER).read_text())

    @contextmanager
    def new_entry(self, stage: str, key: str) -> Iterator[tuple[Path, dict[str, Any]]]:
        """Yield a fresh directory and a metadata dict; on success mark the entry done.

        Anything left from an interrupted earlier attempt is removed first.
        """
        entry = self.cache_entry(stage, key)
        if entry.exists():
            shutil.rmtree(entry)
        entry.mkdir(parents=True)
        meta: dict[str, Any] = {}
        yield entry, meta
        write_json_atomic(entry / DONE_MARKER, meta)

    # -- records --------------------------------------------------------------------------

    def record_path(self, run_id: str) -> Path:
        return self.runs_dir / f"{run_id}.json"

    def load_record(self, run_id: str) -> Record | None:
        """The record of `run_id`, or None; RecordError if the file is there but unusable."""
        path = self.record_path(run_id)
        if not path.exists():
            return None
        return Record.read(path)

    def write_record(self, record: Record) -> Path:
        path = self.record_path(record.run_id)
        write_text_atomic(path, record.to_json())
        return path

    def scan_records(self) -> tuple[list[Record], list[RecordError]]:
        """Every valid record, and a RecordError (naming the file) for every other one."""
        records: list[Record] = []
        problems: list[RecordError] = []
        if self.runs_dir.is_dir():
            for path in sorted(self.runs_dir.glob("*.json")):
                try:
                    records.append(Record.read(path))
                except RecordError as err:
                    problems.append(err)
        return records, problems

    def iter_records(self) -> Iterator[Record]:
        """Valid records only; each unusable file is reported as a warning naming it."""
        records, problems = self.scan_records()
        for problem in problems:
            warnings.warn(f"skipping {problem}", stacklevel=2)
        yield from records

    def write_results_csv(self) -> Path:
        """Regenerate results.csv from every record (one row each, scalar fields only)."""
        path = self.results_dir / "results.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        columns = list(scalar_columns())
        fd, tmp = tempfile.mkstemp(prefix=".results.csv.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
                writer.writeheader()
                for record in self.iter_records():
                    writer.writerow(record.model_dump(include=set(columns)))
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return path
