"""On-disk cache of stage artifacts and the run records.

Layout under the results directory:

    runs/<run_id>.json          one record per run point (never rewritten by another run)
    results.csv                 regenerated from all records after every run
    cache/<stage>/<key>/        artifacts of a stage, keyed by the hash of its inputs

Any number of processes (local, `--jobs`, Dask workers on a shared filesystem) may use one
results directory at once:

* a cache entry is produced under an exclusive lock (`cache/<stage>/<key>.lock`, an `flock`
  the kernel releases when its holder dies, even by `kill -9`), so exactly one process
  produces it and the others wait, then reuse it;
* an entry counts only once its `done.json` is written, last and atomically; it names the
  key it was made for and the SHA-256 of every file in it, and carries a checksum over
  itself (its values, such as a measured accuracy, are results too). An entry whose files
  or values do not match (truncated, edited, moved from another key, or written before
  the checksum existed) is reported by name and rebuilt;
* records and `results.csv` are written aside and renamed into place.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.core.checksum import ChecksumMismatch, file_sha256, seal, unseal
from bench.core.errors import WriteError
from bench.core.record import Record, RecordError, scalar_columns
from bench.core.warn import warn

DONE_MARKER = "done.json"
_META_KEY, _META_FILES = "_key", "_files"  # what done.json records about the entry itself


class CorruptEntry(Exception):
    """A cache entry that exists but cannot be trusted; the message names the file."""


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file in the same directory, then rename over the target."""
    write_text_atomic(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never a part: write aside, then rename.

    A file that cannot be written (full disk, something else in its place) is a
    `WriteError`: one line for the user, not a traceback, and the old file stays."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as err:
        raise WriteError.of(path, err) from None
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; files follow the umask
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise WriteError.of(path, err) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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

    @contextmanager
    def locked(self, stage: str, key: str) -> Iterator[None]:
        """Hold the entry's lock: one process at a time checks and produces it."""
        with self.try_locked(stage, key, wait=True):
            yield

    @contextmanager
    def try_locked(self, stage: str, key: str, wait: bool = True) -> Iterator[bool]:
        """Like `locked`; without `wait`, yields False at once if another process holds it."""
        lock_path = self.cache_dir / stage / f"{key}.lock"
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            handle = lock_path.open("a")
        except OSError as err:
            raise WriteError.of(lock_path, err) from None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def is_cached(self, stage: str, key: str) -> bool:
        """Whether a finished, intact entry exists (call while holding `locked`)."""
        return self.intact_meta(stage, key) is not None

    def intact_meta(self, stage: str, key: str) -> dict[str, Any] | None:
        """The metadata of a finished, intact entry, or None (a damaged one is named in a
        warning): one check of its files, where asking `is_cached` and then
        `cached_meta` would hash every file twice."""
        try:
            return self.cached_meta(stage, key)
        except FileNotFoundError:
            return None
        except CorruptEntry as err:
            warn(f"{err}; rebuilding it")
            return None

    def cached_meta(self, stage: str, key: str) -> dict[str, Any]:
        """The entry's metadata, after checking its key and every file's checksum."""
        entry = self.cache_entry(stage, key)
        done = entry / DONE_MARKER
        if not done.exists():
            raise FileNotFoundError(done)
        try:
            meta = json.loads(done.read_text())
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            raise CorruptEntry(f"cache entry {done} is unreadable") from None
        if not isinstance(meta, dict) or meta.get(_META_KEY) != key:
            raise CorruptEntry(f"cache entry {done} was not made for key {key[:12]}")
        try:
            meta = unseal(meta, key)
        except ChecksumMismatch as err:
            raise CorruptEntry(f"cache entry {done} {err}") from None
        for name, digest in (meta.get(_META_FILES) or {}).items():
            path = entry / name
            if not path.is_file() or file_sha256(path) != digest:
                raise CorruptEntry(f"cache file {path} is missing or changed")
        return {k: v for k, v in meta.items() if k not in (_META_KEY, _META_FILES)}

    @contextmanager
    def new_entry(self, stage: str, key: str) -> Iterator[tuple[Path, dict[str, Any]]]:
        """Yield a fresh directory and a metadata dict; on success mark the entry done.

        Call while holding `locked(stage, key)`: anything left from an interrupted or
        corrupt earlier attempt is removed first. `done.json` records the key, the
        checksum of every file directly in the entry (build trees in subdirectories are
        working files, not the artifact) and a checksum of itself with the key.
        """
        entry = self.cache_entry(stage, key)
        if entry.exists():
            shutil.rmtree(entry)
        entry.mkdir(parents=True)
        meta: dict[str, Any] = {}
        yield entry, meta
        files = {
            p.name: file_sha256(p) for p in sorted(entry.iterdir())
            if p.is_file() and p.name != DONE_MARKER
        }
        # The checksum is taken over the values as JSON reads them back (numpy scalars and
        # paths become plain numbers and strings).
        values = json.loads(json.dumps({**meta, _META_KEY: key, _META_FILES: files},
                                       default=_json_default))
        write_json_atomic(entry / DONE_MARKER, seal(values, key))

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
            warn(f"skipping {problem}")
        yield from records

    def ensure_results_csv(self) -> None:
        """Rebuild results.csv if it is missing (e.g. deleted by hand)."""
        if self.runs_dir.is_dir() and not (self.results_dir / "results.csv").exists():
            self.write_results_csv()

    def write_results_csv(self) -> Path:
        """Regenerate results.csv from every record (one row each, scalar fields only)."""
        path = self.results_dir / "results.csv"
        columns = list(scalar_columns())
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".results.csv.", dir=path.parent)
        except OSError as err:
            raise WriteError.of(path, err) from None
        try:
            with os.fdopen(fd, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
                writer.writeheader()
                for record in self.iter_records():
                    writer.writerow(record.model_dump(include=set(columns)))
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        except OSError as err:
            raise WriteError.of(path, err) from None
        finally:
            Path(tmp).unlink(missing_ok=True)
        return path
