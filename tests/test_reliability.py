"""A results directory survives concurrency, crashes, corruption and interrupts."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.core.spec import make_spec
from bench.engine.store import Store
from bench.run.point import run_point

# Fields that say when and how a record was made, not what it measured.
PROVENANCE = {"created_at", "timings_s", "cached_stages"}


def measured(record_path: Path) -> dict:
    data = json.loads(record_path.read_text())
    return {k: v for k, v in data.items() if k not in PROVENANCE}


def qnnbench(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.cli", *args]


# -- corruption -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished W2A2 run whose cache the tests below damage in copies."""
    results = tmp_path_factory.mktemp("finished") / "results"
    spec = make_spec(weight_bits=2, act_bits=2, epochs=1, pe=2)
    outcome = run_point(spec, Store(results), show_progress=False)
    assert outcome.record.status == "ok"
    return spec, results, measured(outcome.path)


def _only_entry(results: Path, stage: str) -> Path:
    entries = [p for p in (results / "cache" / stage).iterdir() if p.is_dir()]
    assert len(entries) == 1
    return entries[0]


@pytest.mark.parametrize("stage,file,damage", [
    ("train", "model.pt", "truncate"),
    ("export", "model.qonnx.onnx", "garbage"),
    ("hw_graph", "hw_graph.onnx", "truncate"),
    ("hw_graph", "done.json", "garbage"),
    ("verify", "done.json", "truncate"),
])
def test_a_damaged_cache_file_is_named_and_rebuilt(finished, stage, file, damage, tmp_path):
    spec, original, expected = finished
    results = tmp_path / "results"
    shutil.copytree(original, results)
    shutil.rmtree(results / "runs")  # the point must be computed again from the cache
    path = _only_entry(results, stage) / file
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\x00garbage")
    with pytest.warns(UserWarning, match=str(path.parent)):
        outcome = run_point(spec, Store(results), show_progress=False)
    assert outcome.record.status == "ok"
    assert stage not in outcome.cached_stages
    assert measured(outcome.path) == expected


@pytest.mark.parametrize("stage,field", [("train", "accuracy"), ("hw_accuracy", "accuracy")])
def test_an_edited_number_in_a_cache_entry_is_named_and_rebuilt(finished, stage, field,
                                                                tmp_path):
    """Numbers kept in done.json (not in a file of the entry) are under its checksum too."""
    spec, original, expected = finished
    results = tmp_path / "results"
    shutil.copytree(original, results)
    shutil.rmtree(results / "runs")
    done = _only_entry(results, stage) / "done.json"
    meta = json.loads(done.read_text())
    assert meta[field] != 0.01
    done.write_text(json.dumps({**meta, field: 0.01}, indent=2))  # still valid JSON
    with pytest.warns(UserWarning, match=str(done)):
        outcome = run_point(spec, Store(results), show_progress=False)
    assert stage not in outcome.cached_stages
    assert measured(outcome.path) == expected


def test_an_artifact_of_another_key_is_never_used(finished, tmp_path):
    """The W3A3 hardware graph moved into the W2A2 entry: detected, rebuilt, W2A2 numbers."""
    spec, original, expected = finished
    results = tmp_path / "results"
    shutil.copytree(original, results)
    shutil.rmtree(results / "runs")
    other = make_spec(weight_bits=3, act_bits=3, epochs=1, pe=2)
    assert run_point(other, Store(results), show_progress=False).record.status == "ok"
    mine = _only_entry_for(results, "hw_graph", exclude_newest=True)
    theirs = _only_entry_for(results, "hw_graph", exclude_newest=False)
    shutil.rmtree(mine)
    shutil.copytree(theirs, mine)
    shutil.rmtree(results / "runs")
    with pytest.warns(UserWarning, match="not made for key"):
        outcome = run_point(spec, Store(results), show_progress=False)
    assert measured(outcome.path) == expected


def _only_entry_for(results: Path, stage: str, exclude_newest: bool) -> Path:
    entries = sorted((p for p in (results / "cache" / stage).iterdir() if p.is_dir()),
                     key=lambda p: (p / "done.json").stat().st_mtime_ns)
    assert len(entries) == 2
    return entries[0] if exclude_newest else entries[1]


def test_results_csv_comes_back_when_deleted(finished, tmp_path):
    spec, original, _ = finished
    results = tmp_path / "results"
    shutil.copytree(original, results)
    (results / "results.csv").unlink()
    assert run_point(spec, Store(results), show_progress=False).cached
    assert spec.run_id() in (results / "results.csv").read_text()
    assert oct((results / "results.csv").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- concurrency --------------------------------------------------------------------------

SPEC = """
models: [tfc]
bits: [2, 3]
epochs: 1
folding:
  - {strategy: uniform, pe: 2}
  - {strategy: uniform, pe: 8}
"""


@pytest.mark.slow
def test_three_sweeps_on_one_directory_one_killed(tmp_path):
    spec = tmp_path / "sweep.yaml"
    spec.write_text(SPEC)
    serial = tmp_path / "serial"
    done = subprocess.run(qnnbench("sweep", str(spec), "--results-dir", str(serial),
                                   "--quiet"), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]

    shared = tmp_path / "shared"
    procs = [subprocess.Popen(qnnbench("sweep", str(spec), "--results-dir", str(shared),
                                       "--quiet"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True) for _ in range(3)]
    # Kill one of them while it is busy (as soon as the shared cache has begun to fill).
    deadline = time.time() + 300
    while time.time() < deadline and not (shared / "cache" / "train").exists():
        time.sleep(0.1)
    time.sleep(1.0)
    os.killpg(procs[0].pid, signal.SIGKILL)
    for proc in procs[1:]:
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-2000:]
        assert " 0 failed" in err
    procs[0].wait()
    expected = {p.name: measured(p) for p in (serial / "runs").glob("*.json")}
    got = {p.name: measured(p) for p in (shared / "runs").glob("*.json")}
    assert got == expected
    assert all(r["status"] == "ok" for r in got.values())


# -- interrupts ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_during_the_finn_build_stops_without_a_failed_record(tmp_path, signum,
                                                                          code):
    results = tmp_path / "results"
    proc = subprocess.Popen(
        qnnbench("run", "--bits", "2", "--epochs", "1", "--results-dir", str(results)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "building the FINN hardware graph" in line:
            break
    time.sleep(1.5)  # inside FINN's builder now
    proc.send_signal(signum)
    rest = proc.communicate(timeout=120)[0]
    assert proc.returncode == code, rest[-2000:]
    assert "interrupted" in rest
    assert list(results.glob("runs/*.json")) == []  # no failed record for the interrupted point


# -- a failing group does not stop the sweep ----------------------------------------------


def test_a_group_whose_data_is_missing_fails_alone(tmp_path):
    from bench.core.sweep_spec import load_sweep
    from bench.run.executor import run_sweep

    empty = tmp_path / "no-data"
    empty.mkdir()
    spec = tmp_path / "sweep.yaml"
    spec.write_text(f"datasets: [mnist, digits]\nbits: [2]\nepochs: 1\ndata_dir: {empty}\n")
    results = tmp_path / "results"
    tally = run_sweep(load_sweep(spec), results)
    assert (tally.ok, tally.failed) == (1, 1)
    records = {r.dataset: r for r in Store(results).iter_records()}
    assert records["digits"].status == "ok"
    failed = records["mnist"]
    assert failed.status == "failed" and failed.failed_stage == "data"
    assert "could not find" in failed.error and str(empty) in failed.error
