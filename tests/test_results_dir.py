"""Results directories that cannot hold results are refused before any work, and a record
that cannot be written is one line naming the file and the reason, not a traceback.

The tests run as root, where permission bits stop nothing; they use what stops root too:
a symbolic link loop, /proc (no files can be created in it) and a directory standing where
a record file has to go.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.cli import main
from bench.core.errors import UserError
from bench.core.record import Record
from bench.engine.store import Store

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["--bits", "2", "--epochs", "1"]


def _loop(results: Path) -> Path:
    results.mkdir()
    (results / "runs").symlink_to("runs")  # runs -> runs: nothing can be created in it
    return results


def _cache_in_proc(results: Path) -> Path:
    results.mkdir()
    (results / "cache").symlink_to("/proc/self")  # a directory, but not for our files
    return results


@pytest.mark.parametrize("make,where", [
    (_loop, "runs"),
    (lambda results: Path("/proc"), "/proc"),
    (_cache_in_proc, "cache"),
])
def test_unusable_results_dir_is_one_line_before_any_work(tmp_path, capsys, make, where):
    results = make(tmp_path / "results")
    started = time.monotonic()
    code = main(["run", *QUICK, "--results-dir", str(results), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("qnnbench: error: --results-dir:") and err.count("\n") == 1, err
    assert where in err
    assert time.monotonic() - started < 30  # refused, not trained first
    if results != Path("/proc"):
        assert not (results / "cache" / "train").exists()
        assert sorted(p.name for p in results.iterdir()) in (["cache", "runs"], ["runs"])


def test_the_check_leaves_nothing_behind(tmp_path):
    from bench.cli import writable_results_dir

    results = writable_results_dir(str(tmp_path / "r"))
    assert sorted(p.name for p in results.rglob("*")) == ["cache", "runs"]


def test_a_record_that_cannot_be_written_is_a_user_error_naming_it(tmp_path):
    store = Store(tmp_path)
    record = Record(run_id="p", model="tfc", dataset="digits", weight_bits=2, act_bits=2,
                    weight_quant="int", seed=0, epochs=1, status="failed", error="x",
                    failed_stage="train")
    (store.record_path("p") / "occupied").mkdir(parents=True)  # a directory in its place
    with pytest.raises(UserError) as caught:
        store.write_record(record)
    message = str(caught.value)
    assert str(store.record_path("p")) in message and "directory" in message.lower()
    assert "\n" not in message
    assert [p.name for p in store.runs_dir.iterdir()] == ["p.json"]  # no temporary left


def test_a_failed_record_write_during_a_sweep_is_one_line(tmp_path):
    """The point fails fast (no data files: in a sweep, a failed record) and its record
    has nowhere to go."""
    from bench.core.sweep_spec import load_sweep

    empty = tmp_path / "no-data"
    empty.mkdir()
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"datasets: [mnist]\nbits: [2]\nepochs: 1\ndata_dir: {empty}\n")
    results = tmp_path / "results"
    (point,) = load_sweep(sweep)
    blocked = Store(results).record_path(point.run_id())
    (blocked / "occupied").mkdir(parents=True)
    code = (f"import sys; sys.path.remove(''); sys.path.insert(0, {str(ROOT)!r}); "
            "from bench.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run(
        [sys.executable, "-c", code, "sweep", str(sweep), "--results-dir", str(results),
         "--quiet"], capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("qnnbench: error: cannot write"), errors
    assert str(blocked) in errors[0]
