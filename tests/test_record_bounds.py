"""Record files are read within bounds: one hostile file under runs/ is listed as invalid
and everything else still works (collect, report, the results.csv of runs and sweeps)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from test_collect import make_record, write_records

from bench.cli import main
from bench.core.record import Record, RecordError
from bench.engine.store import Store
from bench.report.collect import bad_record_files, collect

GOOD = [make_record(2, 4), make_record(4, 4)]


def _hostile_runs(runs: Path) -> dict[str, str]:
    """Good records plus one file per bound; returns file name -> expected reason."""
    write_records(runs, GOOD)
    (runs / "deep.json").write_text("[" * 200_000)
    (runs / "nested.json").write_text(json.dumps(
        {**make_record(2, 1, run_id="nested"), "per_layer": _nest(200)}))
    (runs / "long-text.json").write_text(json.dumps(
        make_record(2, 2, run_id="long-text", model="m" * 1_000_000)))
    with (runs / "huge.json").open("w") as f:  # 20 MB of one string field
        f.write('{"run_id": "huge", "error": "')
        f.write("x" * 20_000_000)
        f.write('"}')
    (runs / "zeros.json").symlink_to("/dev/zero")  # endless, if read to the end
    return {"deep.json": "nested deeper", "nested.json": "nested deeper",
            "long-text.json": "characters", "huge.json": "larger than",
            "zeros.json": "not a regular file"}


def _nest(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = {"x": value}
    return value


def test_hostile_record_files_are_listed_and_the_good_ones_collected(tmp_path):
    expected = _hostile_runs(tmp_path / "runs")
    started = time.monotonic()
    with pytest.warns(UserWarning, match="skipping"):
        df = collect(tmp_path)
    bad = {Path(str(e).split(":")[0]).name: str(e) for e in bad_record_files(tmp_path)}
    assert time.monotonic() - started < 30
    assert sorted(df["run_id"]) == sorted(r["run_id"] for r in GOOD)
    assert set(bad) == set(expected)
    for name, reason in expected.items():
        assert reason in bad[name], bad[name]
        assert len(bad[name]) < 300  # the reason, not the content


def test_the_bounds_leave_room_for_real_records():
    from bench.core.record import MAX_DEPTH, MAX_RECORD_BYTES, MAX_STRING

    assert MAX_RECORD_BYTES >= 1 << 20 and MAX_STRING >= 1 << 14 and MAX_DEPTH >= 8
    long_traceback = "Traceback (most recent call last):\n" + "  File x, line 1\n" * 500
    record = Record.model_validate({**make_record(2, 4), "traceback": long_traceback})
    assert len(record.to_json()) < MAX_RECORD_BYTES


def test_report_lists_hostile_files_and_reports_the_rest(tmp_path, capsys):
    results = tmp_path / "results"
    expected = _hostile_runs(results / "runs")
    started = time.monotonic()
    code = main(["report", "--results-dir", str(results)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert time.monotonic() - started < 120
    assert f"{len(expected)} record file(s) left out" in err
    assert all(name in err for name in expected)
    assert (results / "report" / "report.html").stat().st_size > 0
    assert code == main(["collect", "--results-dir", str(results)]) == 0


def test_store_reads_around_hostile_files(tmp_path):
    store = Store(tmp_path)
    expected = _hostile_runs(store.runs_dir)
    records, problems = store.scan_records()
    assert len(records) == len(GOOD) and len(problems) == len(expected)
    rows = store.write_results_csv().read_text().splitlines()
    assert len(rows) == 1 + len(GOOD)
    with pytest.raises(RecordError, match="nested deeper"):
        Record.read(store.runs_dir / "deep.json")


def test_a_sweep_goes_on_beside_hostile_files(tmp_path):
    """Every group regenerates results.csv; a hostile file must not end the sweep there."""
    from bench.core.sweep_spec import load_sweep
    from bench.run.executor import run_sweep

    empty = tmp_path / "no-data"
    empty.mkdir()
    spec = tmp_path / "sweep.yaml"
    spec.write_text(f"datasets: [mnist]\nbits: [2, 3]\nepochs: 1\ndata_dir: {empty}\n")
    results = tmp_path / "results"
    _hostile_runs(results / "runs")
    tally = run_sweep(load_sweep(spec), results)
    assert (tally.ok, tally.failed) == (0, 2)  # both groups ran (and failed on their data)
    records, _ = Store(results).scan_records()
    assert sorted(r.weight_bits for r in records if r.dataset == "mnist") == [2, 3]


def test_a_hostile_cache_marker_is_a_corrupt_entry(tmp_path):
    store = Store(tmp_path)
    with store.new_entry("train", "k") as (entry, meta):
        meta["accuracy"] = 0.5
    (entry / "done.json").write_text("[" * 200_000)
    with pytest.warns(UserWarning, match="unreadable; rebuilding"):
        assert not store.is_cached("train", "k")


def test_sweep_summary_counts_an_unusable_record_as_failed(tmp_path):
    from bench.cli import _split_failed

    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "p.json").write_text("[" * 200_000)
    assert _split_failed(tmp_path, ["p"]) == ([], ["p"])
