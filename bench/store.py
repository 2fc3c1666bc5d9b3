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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DONE_MARKER = "done.json"

# Columns of results.csv, in order; the full record (per-layer data included) stays in JSON.
CSV_COLUMNS = [
    "run_id", "status", "model", "dataset", "weight_bits", "act_bits", "input_bits",
    "weight_quant", "seed", "epochs", "accuracy", "fp32_accuracy", "folding_strategy",
    "est_fps", "est_latency_ns", "est_max_cycles", "est_bottleneck", "lut", "bram18", "uram",
    "dsp", "device", "clk_ns", "fits", "verify_ok", "verify_max_abs_err", "verify_samples",
    "error", "created_at",
]


def write_json_atomic(path: Path, data: Any) -> None:
    """Write to a temporary file in the same directory, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=False, default=_json_default)
            f.write("\n")
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

    def load_record(self, run_id: str) -> dict[str, Any] | None:
        path = self.record_path(run_id)
        if not path.exists():
            return None
        return json.loads(path.read_text())

    def write_record(self, record: dict[str, Any]) -> Path:
        path = self.record_path(record["run_id"])
        write_json_atomic(path, record)
        return path

    def iter_records(self) -> Iterator[dict[str, Any]]:
        if not self.runs_dir.exists():
            return
        for path in sorted(self.runs_dir.glob("*.json")):
            try:
                yield json.loads(path.read_text())
            except json.JSONDecodeError:
                continue  # not ours, or written by something that was not atomic

    def write_results_csv(self) -> Path:
        """Regenerate results.csv from every record (one row each, flat columns only)."""
        path = self.results_dir / "results.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".results.csv.", dir=path.parent)
        with os.fdopen(fd, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for record in self.iter_records():
                writer.writerow({k: record.get(k) for k in CSV_COLUMNS})
        os.replace(tmp, path)
        return path
