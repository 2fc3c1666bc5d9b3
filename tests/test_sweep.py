"""Sweeps: spec validation, strategies, resume after kill -9, failures, workers, Dask."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.cli import main
from bench.core.spec import SpecError
from bench.core.sweep_spec import load_sweep
from bench.run.executor import group_points, run_sweep

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "bench" / "foldings"
NUMERIC = ["accuracy", "est_fps", "est_max_cycles", "lut", "bram18", "dsp", "verify_ok"]


def write_spec(tmp_path: Path, text: str, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def records(results: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (results / "runs").glob("*.json")}


# -- validation (fast) ------------------------------------------------------------------


def test_every_problem_is_reported_at_once(tmp_path):
    spec = write_spec(tmp_path, """
models: [tfc, resnet]
bits: [2, 9]
colour: blue
folding:
  - {strategy: uniform, pe: 0}
  - {strategy: layers, file: missing.json}
  - {strategy: warp}
""")
    with pytest.raises(SpecError) as exc:
        load_sweep(spec)
    message = str(exc.value)
    assert "\n" not in message
    for fragment in ("colour", "is not a known field"):
        assert fragment in message
    spec.write_text(spec.read_text().replace("colour: blue\n", ""))
    with pytest.raises(SpecError) as exc:
        load_sweep(spec)
    message = str(exc.value)
    for fragment in ("folding[0]: pe: must be in 1..65536",
                     "folding[1]", "missing.json", "folding[2]", "unknown folding strategy",
                     "resnet", "1..8"):
        assert fragment in message, fragment


def test_yaml_is_loaded_safely(tmp_path):
    spec = write_spec(tmp_path, "models: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_sweep(spec)


def test_cli_rejects_bad_spec_with_one_line(tmp_path, capsys):
    spec = write_spec(tmp_path, "bits: [0]\n")
    assert main(["sweep", str(spec), "--results-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1..8" in err
    assert not (tmp_path / "r").exists()


def test_expansion_and_grouping(tmp_path):
    spec = write_spec(tmp_path, f"""
models: [tfc]
bits: [2, 3]
quant: [int]
epochs: 1
folding:
  - {{strategy: uniform, pe: 1}}
  - {{strategy: layers, file: {CONFIGS / 'tfc_paper_a.json'}}}
  - {{strategy: target_fps, fps: 1000}}
""")
    points = load_sweep(spec)
    assert len(points) == 6
    groups = group_points(points)
    assert [len(g) for g in groups] == [3, 3]
    assert len({p.run_id() for p in points}) == 6
    layers = points[1].folding
    assert layers.config["MVAU_hls_0"] == {"PE": 16, "SIMD": 64}


def test_target_applies_to_every_point_and_is_checked(tmp_path):
    spec = write_spec(tmp_path, """
models: [tfc]
bits: [2, 4]
target: rtl
folding:
  - {strategy: uniform, pe: 2, simd: 8}
  - {strategy: uniform, pe: 4, simd: 8}
""")
    points = load_sweep(spec)
    assert len(points) == 4 and {p.target for p in points} == {"rtl"}
    assert load_sweep(write_spec(tmp_path, "models: [tfc]\n"))[0].target == "estimate"
    with pytest.raises(SpecError, match="target"):
        load_sweep(write_spec(tmp_path, "models: [tfc]\ntarget: gates\n"))


def test_mvu_is_a_list_that_multiplies_the_points(tmp_path):
    spec = write_spec(tmp_path, """
models: [tfc]
bits: [4]
quant: [int, pot]
mvu: [finn, rtl]
""")
    points = load_sweep(spec)
    assert sorted((p.weight_quant, p.mvu) for p in points) == [
        ("int", "finn"), ("int", "rtl"), ("pot", "finn"), ("pot", "rtl")]
    assert len({p.run_id() for p in points}) == 4
    assert load_sweep(write_spec(tmp_path, "models: [tfc]\nmvu: rtl\n"))[0].mvu == "rtl"
    assert load_sweep(write_spec(tmp_path, "models: [tfc]\n"))[0].mvu == "finn"
    with pytest.raises(SpecError, match="mvu"):
        load_sweep(write_spec(tmp_path, "models: [tfc]\nmvu: [finn, hls]\n"))


# -- running (slow) ---------------------------------------------------------------------


@pytest.mark.slow
def test_strategies_records_and_rerun_does_nothing(tmp_path):
    results = tmp_path / "results"
    spec = write_spec(tmp_path, f"""
models: [tfc]
bits: [2]
epochs: 1
folding:
  - {{strategy: uniform, pe: 8, simd: 8}}
  - {{strategy: layers, file: {CONFIGS / 'tfc_paper_a.json'}}}
  - {{strategy: target_fps, fps: 100000}}
  - {{strategy: pareto, max_utilization: 0.8}}
  - {{strategy: fastest, max_utilization: 0.8}}
  - {{strategy: layers, file: {CONFIGS / 'tfc_paper_f.json'}}}
""")
    points = load_sweep(spec)
    tally = run_sweep(points, results)
    assert (tally.ok, tally.failed, tally.cached) == (5, 1, 0)
    recs = records(results)
    by_strategy: dict[str, list[dict]] = {}
    for r in recs.values():
        by_strategy.setdefault(r["folding_strategy"], []).append(r)

    # The paper's invalid folding is rejected before FINN, naming layer and valid values.
    bad = next(r for r in by_strategy["layers"] if r["status"] == "failed")
    assert "PE=8 does not divide its output size 10" in bad["error"]
    assert "valid PE values: 1, 2, 5, 10" in bad["error"]
    good = next(r for r in by_strategy["layers"] if r["status"] == "ok")
    mvus = [(f["pe"], f["simd"]) for f in good["folding"] if f["op_type"].startswith("MVAU")]
    assert mvus == [(16, 64), (8, 8), (8, 8), (10, 8)]
    # the RTL graph's standalone thresholds run at the PE of the MVU they follow
    thresholds = [f["pe"] for f in good["folding"] if f["op_type"].startswith("Threshold")]
    assert thresholds == [16, 8, 8]

    finn = by_strategy["target_fps"][0]
    assert finn["est_fps"] >= 100000  # FINN's SetFolding meets the target it was given
    front = by_strategy["pareto"]
    assert len(front) == front[0]["pareto_front_size"] >= 2
    assert sum(r["pareto_best"] for r in front) == 1
    fps = [r["est_fps"] for r in sorted(front, key=lambda r: r["pareto_index"])]
    luts = [r["lut"] for r in sorted(front, key=lambda r: r["pareto_index"])]
    assert fps == sorted(fps, reverse=True) and luts == sorted(luts, reverse=True)
    assert all(r["utilization"]["lut"] <= 0.8 for r in front)
    # `fastest` is the front's fastest point, alone
    (fastest,) = by_strategy["fastest"]
    best = next(r for r in front if r["pareto_best"])
    assert fastest["folding"] == best["folding"] and fastest["est_fps"] == best["est_fps"]
    assert fastest["pareto_front"] is False and fastest["folding_id"] == "fastest0.8"
    # Pareto beats or matches FINN's own folding at no more LUT.
    assert max(r["est_fps"] for r in front if r["lut"] <= finn["lut"]) >= finn["est_fps"]

    def files() -> dict[str, tuple[int, int]]:
        return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns)
                for p in (results / "runs").glob("*.json")}

    before = files()
    tally = run_sweep(points, results)
    assert (tally.ok, tally.cached, tally.failed) == (0, 5, 1)  # failed stays failed
    assert files() == before  # nothing rewritten

    tally = run_sweep(points, results, retry_failed=True)
    assert (tally.cached, tally.failed) == (5, 1)
    after = files()
    retried = f"{bad['run_id']}.json"
    assert after[retried] != before[retried]  # the failed point ran again (a new file)
    assert {k: v for k, v in after.items() if k != retried} == {
        k: v for k, v in before.items() if k != retried
    }


@pytest.mark.slow
def test_kill_9_then_resume_loses_and_redoes_nothing(tmp_path):
    results = tmp_path / "results"
    spec = write_spec(tmp_path, """
models: [tfc]
bits: [2, 3, 4]
epochs: 1
folding:
  - {strategy: uniform, pe: 1}
  - {strategy: uniform, pe: 4}
""")
    cmd = [sys.executable, "-m", "bench.cli", "sweep", str(spec), "--results-dir",
           str(results), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    runs = results / "runs"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(runs.glob("*.json"))) < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.name: p.read_bytes() for p in runs.glob("*.json")}
    assert 2 <= len(finished) < 6, "the sweep should have been killed half-way"

    rerun = subprocess.run(cmd[:-1], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"{len(finished)} already finished" in rerun.stderr
    after = {p.name: p.read_bytes() for p in runs.glob("*.json")}
    assert len(after) == 6
    assert all(after[name] == content for name, content in finished.items())
    assert all(json.loads(c)["status"] == "ok" for c in after.values())


@pytest.mark.slow
def test_jobs_2_and_dask_match_serial(tmp_path):
    spec = write_spec(tmp_path, """
models: [tfc]
bits: [2, 3]
epochs: 1
folding:
  - {strategy: uniform, pe: 2}
  - {strategy: uniform, pe: 16}
""")
    points = load_sweep(spec)
    serial, parallel, dask = tmp_path / "serial", tmp_path / "jobs2", tmp_path / "dask"
    assert run_sweep(points, serial).ok == 4
    assert run_sweep(points, parallel, jobs=2).ok == 4
    with DaskCluster(tmp_path) as address:
        assert run_sweep(points, dask, dask_scheduler=address).ok == 4
    expected = records(serial)
    for other in (records(parallel), records(dask)):
        assert set(other) == set(expected)
        for run_id, record in expected.items():
            assert {k: other[run_id][k] for k in NUMERIC} == {k: record[k] for k in NUMERIC}
            assert other[run_id]["folding"] == record["folding"]
            # The float rounding left in verification depends on BLAS thread counts.
            assert other[run_id]["verify_max_abs_err"] == pytest.approx(
                record["verify_max_abs_err"], abs=1e-6)


class DaskCluster:
    """A real Dask scheduler and one worker process on 127.0.0.1."""

    def __init__(self, tmp_path: Path) -> None:
        self.file = tmp_path / "scheduler.json"
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> str:
        dask = str(Path(sys.executable).parent / "dask")
        self.procs.append(subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(self.file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        deadline = time.time() + 60
        while not self.file.exists() and time.time() < deadline:
            time.sleep(0.2)
        self.procs.append(subprocess.Popen(
            [dask, "worker", "--scheduler-file", str(self.file), "--nworkers", "1",
             "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        address = json.loads(self.file.read_text())["address"]
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(1, timeout=120)
        return address

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.slow
def test_perf_command_reports_identical_estimates(tmp_path, capsys):
    code = main(["perf", "--json", "--naive-points", "1", "--repeats", "1",
                 "--results-dir", str(tmp_path)])
    out = capsys.readouterr().out.strip().splitlines()
    result = json.loads(out[-1])
    assert code == 0 and result["identical"] is True
    assert result["points_incremental"] == 49
    assert result["speedup"] == pytest.approx(
        result["incremental_points_per_s"] / result["naive_points_per_s"], rel=0.01
    )
