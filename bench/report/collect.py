"""Run records → one tidy pandas DataFrame (one row per record), and its CSV/Parquet files.

Columns and their types come from the record schema (`bench.core.record.Record`): every
scalar field is a column under its own name, and nested fields become:

* `utilization` → `util_lut`, `util_bram18`, `util_uram`, `util_dsp` (fractions, 0..1)
* `versions`    → `version_torch`, `version_finn`, ...
* `timings_s`   → `time_train_s`, `time_estimate_s`, ...
* `folding`, `folding_spec`, `per_layer`, `layer_datatypes`, `weight_distinct_values` →
  JSON strings (nested data; `json.loads` gives the record's value back)

plus derived columns: `bits_label` ("W4A4"), `fclk_mhz`, `folding_label` (readable and
unique per folding: "PE4/SIMD4", "layers:tfc_paper_a", "target 100,000 FPS",
"pareto0.8 #2", ...; the record's `folding_id`, the id used in run ids such as
"pe4simd4", is a column of its own), `parallelism` (sum of PE×SIMD over the layers,
used to order foldings from least to most parallel), `max_pe`, `max_simd`, and the costs
reports show: `cost_lut`, `cost_bram18`, `cost_dsp` (the calibrated totals `cal_*`, or
FINN's estimate for records without them) with `cost_basis` saying which.

Every column exists even when no record has the field (then it is empty), so reports can
rely on them. Failed records (`status: failed`) keep their identity and error and have
empty numbers. Record files that do not validate are reported by path and left out.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core.record import (
    FLATTENED,
    JSON_FIELDS,
    LIST_FIELDS,
    NOT_COLUMNS,
    Record,
    RecordError,
    scalar_columns,
)
from bench.core.warn import warn

# -- the schema ---------------------------------------------------------------------------

# Columns computed here from the record, with their kinds.
DERIVED = {
    "bits_label": "str", "fclk_mhz": "float", "folding_label": "str",
    "requested_pe": "int", "requested_simd": "int", "parallelism": "int", "max_pe": "int",
    "max_simd": "int", "util_lut": "float", "util_bram18": "float", "util_uram": "float",
    "util_dsp": "float", "cost_lut": "float", "cost_bram18": "float", "cost_dsp": "float",
    "cost_basis": "str",
}
COST_RESOURCES = ("lut", "bram18", "dsp")


def _kinds() -> dict[str, str]:
    return {**scalar_columns(), **DERIVED}


INT_COLUMNS = [c for c, k in _kinds().items() if k == "int"]
FLOAT_COLUMNS = [c for c, k in _kinds().items() if k == "float"]
BOOL_COLUMNS = [c for c, k in _kinds().items() if k == "bool"]
# Columns always present, in this order; anything else (versions, timings) follows them.
COLUMNS = list(_kinds())
JSON_COLUMNS = list(JSON_FIELDS)
DROPPED = set(NOT_COLUMNS)

CSV_NAME = "collected.csv"
PARQUET_NAME = "collected.parquet"


# -- reading ------------------------------------------------------------------------------

def iter_record_files(results_dir: Path | str) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(path, record) for every valid record under `results_dir/runs/`.

    A directory without `runs/` is read directly, so both the results directory and its
    `runs/` folder work. A file that is not a valid record is reported (warning naming the
    file and the problem) and left out; `bad_record_files` lists them.
    """
    for path, result in _read_all(results_dir):
        if isinstance(result, RecordError):
            warn(f"skipping {result}")
            continue
        yield path, result.model_dump()


def bad_record_files(results_dir: Path | str) -> list[RecordError]:
    """Every file under runs/ that is not a valid record, with the reason."""
    return [r for _, r in _read_all(results_dir) if isinstance(r, RecordError)]


def _read_all(results_dir: Path | str) -> Iterator[tuple[Path, Record | RecordError]]:
    root = Path(results_dir)
    runs = root / "runs" if (root / "runs").is_dir() else root
    if not runs.is_dir():
        return
    for path in sorted(runs.glob("*.json")):
        try:
            yield path, Record.read(path)
        except RecordError as err:
            yield path, err


def load_records(results_dir: Path | str) -> list[dict[str, Any]]:
    return [record for _, record in iter_record_files(results_dir)]


def collect(results_dir: Path | str) -> pd.DataFrame:
    """All records of a results directory as one DataFrame (see the module docstring)."""
    return records_to_frame(load_records(results_dir))


# -- one record → one row -----------------------------------------------------------------

_UNIFORM_ID = re.compile(r"^pe(\d+)simd(\d+)$")
_NUMBER_ID = re.compile(r"^(?:fps|pareto|fastest)([0-9.]+)$")


def _spec(record: dict[str, Any]) -> dict[str, Any]:
    spec = record.get("folding_spec")
    return spec if isinstance(spec, dict) else {}


def _layers(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in record.get("folding") or [] if isinstance(f, dict)]


def requested_uniform(record: dict[str, Any]) -> tuple[int | None, int | None]:
    """The PE/SIMD a uniform folding asked for every layer (None if not uniform/unknown).

    Taken from the record's `requested_pe`/`requested_simd`, else its `folding_spec`, else
    the per-layer requests, else the folding id in its `folding_id` ("pe4simd4").
    """
    rp, rs = record.get("requested_pe"), record.get("requested_simd")
    spec = _spec(record)
    if rp is None and spec.get("strategy") == "uniform":
        rp, rs = spec.get("pe"), spec.get("simd")
    if rp is None:
        asked = {(f.get("requested_pe"), f.get("requested_simd")) for f in _layers(record)}
        asked = {a for a in asked if a[0] is not None}
        if len(asked) == 1 and record.get("folding_strategy") in (None, "", "uniform"):
            rp, rs = next(iter(asked))
    if rp is None:
        match = _UNIFORM_ID.match(str(record.get("folding_id") or ""))
        if match:
            rp, rs = int(match[1]), int(match[2])
    if rp is None:
        return None, None
    return int(rp), int(rs if rs is not None else rp)


def readable_folding(record: dict[str, Any]) -> str:
    """A short, human-readable name for a record's folding, unique per actual folding.

    uniform → "PE4/SIMD4" (what was requested: FINN may clamp single layers);
    layers file → "layers:tfc_paper_a"; FINN's target-FPS folding → "target 100,000 FPS";
    a point of a Pareto search → "pareto0.8 #2"; anything else → the record's own folding
    id, or PE/SIMD per layer ("custom: 16/49 8/8 8/8 10/8").
    """
    spec = _spec(record)
    strategy = str(record.get("folding_strategy") or spec.get("strategy") or "")
    own = str(record.get("folding_id") or "")
    if strategy in ("", "uniform"):
        rp, rs = requested_uniform(record)
        if rp is not None:
            return f"PE{rp}/SIMD{rs}"
    number = _NUMBER_ID.match(own)
    if strategy == "layers":
        file = spec.get("file")
        return f"layers:{Path(file).stem}" if file else f"layers:{own.removeprefix('layers-')}"
    if strategy == "target_fps":
        fps = spec.get("fps") or (float(number[1]) if number else None)
        return f"target {fps:,.0f} FPS" if fps else "target_fps"
    if strategy in ("pareto", "fastest"):
        limit = spec.get("max_utilization") or (float(number[1]) if number else None)
        label = f"{strategy}{limit:g}" if limit else strategy
        index = record.get("pareto_index")
        return f"{label} #{index}" if index is not None else label
    layers = _layers(record)
    if own and strategy not in ("", "uniform"):
        return own
    pes = {f.get("pe") for f in layers if f.get("pe") is not None}
    simds = {f.get("simd") for f in layers if f.get("simd") is not None}
    if layers and len(pes) <= 1 and len(simds) <= 1 and (pes or simds):
        label = f"PE{next(iter(pes), 1)}/SIMD{next(iter(simds), 1)}"
        return label if strategy in ("", "uniform") else f"{strategy}: {label}"
    if layers:
        per_layer = " ".join(f"{f.get('pe') or 1}/{f.get('simd') or 1}" for f in layers)
        return f"{strategy or 'custom'}: {per_layer}"
    return own or strategy or "unknown"


def _parallelism(record: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
    """(sum of PE×SIMD, max PE, max SIMD) over the folded layers; requested values if none."""
    layers = _layers(record)
    if layers:
        total = sum(int(f.get("pe") or 1) * int(f.get("simd") or 1) for f in layers)
        pes = [int(f["pe"]) for f in layers if f.get("pe") is not None]
        simds = [int(f["simd"]) for f in layers if f.get("simd") is not None]
        return total, max(pes, default=None), max(simds, default=None)
    rp, rs = requested_uniform(record)
    if rp is None:
        return None, None, None
    return rp * rs, rp, rs


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def record_to_row(record: dict[str, Any]) -> dict[str, Any]:
    """Flatten one record into a dict of scalar cells."""
    row: dict[str, Any] = {}
    for key, value in record.items():
        if key in DROPPED:
            continue
        if key in FLATTENED and isinstance(value, dict):
            prefix, suffix = FLATTENED[key]
            for sub, subvalue in value.items():
                row[f"{prefix}{sub}{suffix}"] = (
                    subvalue if _is_scalar(subvalue) else json.dumps(subvalue)
                )
        elif key in JSON_COLUMNS:
            row[key] = None if value is None else json.dumps(value, sort_keys=True)
        elif key in LIST_FIELDS and isinstance(value, list):
            row[key] = ",".join(map(str, value)) or None
        elif _is_scalar(value):
            row[key] = value
        else:
            row[key] = json.dumps(value, sort_keys=True, default=str)
    wb, ab = record.get("weight_bits"), record.get("act_bits")
    if wb is not None and ab is not None:
        row["bits_label"] = f"W{wb}A{ab}"
    clk = record.get("clk_ns")
    if isinstance(clk, int | float) and clk > 0:
        row["fclk_mhz"] = 1000.0 / clk
    row["folding_label"] = readable_folding(record)
    rp, rs = requested_uniform(record)
    row.setdefault("requested_pe", rp)
    row.setdefault("requested_simd", rs)
    row["parallelism"], row["max_pe"], row["max_simd"] = _parallelism(record)
    row.update(cost_columns(record))
    return row


def cost_columns(record: dict[str, Any]) -> dict[str, Any]:
    """The costs a report shows: calibrated where the record has them, else FINN's, and
    `cost_basis` ("calibrated", "calibrated 57 %" for a partly covered graph, "FINN")."""
    coverage = record.get("cost_coverage")
    calibrated = record.get("cal_lut") is not None
    cells: dict[str, Any] = {
        f"cost_{r}": record.get(f"cal_{r}") if calibrated else record.get(r)
        for r in COST_RESOURCES}
    if not calibrated or not coverage:
        basis = "FINN" if record.get("lut") is not None else None
    else:
        basis = "calibrated" if coverage >= 1 else f"calibrated {100 * coverage:.0f} %"
    return {**cells, "cost_basis": basis}


# -- many records → DataFrame -------------------------------------------------------------

def records_to_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per record; the columns of `COLUMNS` first, then extras, then JSON columns."""
    rows = [record_to_row(r) for r in records]
    df = pd.DataFrame(rows)
    extras = sorted(c for c in df.columns if c not in COLUMNS and c not in JSON_COLUMNS)
    versions = [c for c in extras if c.startswith("version_")]
    times = [c for c in extras if c.startswith("time_")]
    others = [c for c in extras if c not in versions and c not in times]
    order = COLUMNS + others + versions + times + JSON_COLUMNS
    df = df.reindex(columns=order)
    df = _coerce_types(df)
    if len(df):
        keys = ["model", "dataset", "weight_quant", "weight_bits", "act_bits", "parallelism",
                "run_id"]
        df = df.sort_values(keys, na_position="last", kind="stable").reset_index(drop=True)
    return df


def _coerce_types(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for col in INT_COLUMNS:
        num = pd.to_numeric(df[col], errors="coerce")
        # A float that is not whole (a future fractional field) stays float.
        whole = num.dropna().map(lambda v: float(v).is_integer() and math.isfinite(v)).all()
        df[col] = num.round().astype("Int64") if whole else num.astype(float)
    for col in FLOAT_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    for col in BOOL_COLUMNS:
        df[col] = df[col].map(_to_bool).astype("boolean")
    typed = set(INT_COLUMNS) | set(FLOAT_COLUMNS) | set(BOOL_COLUMNS)
    for col in df.columns:
        if col.startswith("time_") and col.endswith("_s"):
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
        elif col in typed:
            continue
        elif df[col].dtype == object or col in COLUMNS or col in JSON_COLUMNS:
            # Text: missing is None (not NaN), also for a column no record has yet.
            df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df


def _to_bool(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return pd.NA
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def ok_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Successful runs only (records with numbers)."""
    if df.empty or "status" not in df.columns:
        return df.iloc[0:0]
    return df[df["status"] == "ok"]


def outcomes(df: pd.DataFrame) -> pd.Series:
    """Each row's outcome: ok, not_applicable (a folding invalid by design) or failed."""
    from bench.core.outcome import outcome

    if df.empty or "status" not in df.columns:
        return pd.Series([], dtype=object, index=df.index)
    return pd.Series([
        outcome(r.get("status"), r.get("failed_stage"), r.get("error"))
        for r in df.to_dict("records")
    ], index=df.index, dtype=object)


def outcome_counts(df: pd.DataFrame) -> dict[str, int]:
    """How many rows are ok, not applicable and failed."""
    counts = outcomes(df).value_counts()
    return {k: int(counts.get(k, 0)) for k in ("ok", "not_applicable", "failed")}


# -- files --------------------------------------------------------------------------------

def write_tables(df: pd.DataFrame, out_dir: Path | str) -> dict[str, Path]:
    """Write `collected.csv` and `collected.parquet` into `out_dir`; returns their paths.

    Parquet needs pyarrow; without it only the CSV is written (with a warning).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    csv_path = out / CSV_NAME
    df.to_csv(csv_path, index=False)
    paths["csv"] = csv_path
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        warn("pyarrow is not installed: skipping the Parquet file")
        return paths
    parquet_path = out / PARQUET_NAME
    _parquet_safe(df).to_parquet(parquet_path, index=False)
    paths["parquet"] = parquet_path
    return paths


def _parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Parquet columns need one type: object columns that mix types become strings."""
    df = df.copy()
    for col in df.columns:
        if df[col].dtype != object:
            continue
        kinds = {type(v) for v in df[col] if v is not None}
        if kinds == {int, float}:
            df[col] = pd.to_numeric(df[col], errors="coerce")
        elif len(kinds) > 1:
            df[col] = df[col].map(lambda v: None if v is None else str(v))
    return df


def read_table(path: Path | str) -> pd.DataFrame:
    """Read a `collected.csv` / `collected.parquet` back (types restored for CSV)."""
    path = Path(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    df = pd.read_csv(path)
    for col in COLUMNS + JSON_COLUMNS:
        if col not in df.columns:
            df[col] = None
    return _coerce_types(df)
