"""The command shows qnn-bench's own warnings (an invalid record is recomputed, a damaged
cache entry rebuilt), one line each, and keeps the libraries' import noise silent."""

from __future__ import annotations

import warnings

from bench.cli import main
from bench.core.spec import make_spec
from bench.engine.store import Store


def _missing_data_point(tmp_path):
    """A point that fails at once (no MNIST files), so nothing is trained."""
    empty = tmp_path / "no-data"
    empty.mkdir()
    spec = make_spec(dataset="mnist", data_dir=str(empty), weight_bits=2, act_bits=2,
                     epochs=1)
    return empty, spec


def test_a_damaged_record_is_named_on_stderr_of_run(tmp_path, capsys):
    empty, spec = _missing_data_point(tmp_path)
    results = tmp_path / "results"
    damaged = Store(results).record_path(spec.run_id())
    damaged.parent.mkdir(parents=True)
    damaged.write_text('{"run_id": "truncat')
    code = main(["run", "--dataset", "mnist", "--data-dir", str(empty), "--bits", "2",
                 "--epochs", "1", "--results-dir", str(results), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2  # the missing data files, after the warning
    warned = [line for line in err.splitlines() if line.startswith("qnnbench: warning: ")]
    assert len(warned) == 1, err
    assert str(damaged) in warned[0] and "the point will be run again" in warned[0]


def test_a_damaged_record_is_named_once_on_stderr_of_sweep(tmp_path, capsys):
    empty, _ = _missing_data_point(tmp_path)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"datasets: [mnist]\nbits: [2]\nepochs: 1\ndata_dir: {empty}\n")
    results = tmp_path / "results"
    (results / "runs").mkdir(parents=True)
    other = results / "runs" / "someone-elses.json"
    other.write_text("[1, 2]")
    assert main(["sweep", str(sweep), "--results-dir", str(results), "--quiet"]) == 1
    err = capsys.readouterr().err
    warned = [line for line in err.splitlines() if line.startswith("qnnbench: warning: ")]
    assert warned == [f"qnnbench: warning: skipping {other}: not a JSON object"], err


def test_only_the_projects_warnings_are_shown(capsys):
    from bench.core.warn import BenchWarning, show_own_warnings

    with warnings.catch_warnings():
        show_own_warnings()
        warnings.warn("a library's deprecation notice", DeprecationWarning, stacklevel=1)
        warnings.warn("a library's notice", UserWarning, stacklevel=1)
        warnings.warn("cache entry x is\nunreadable; rebuilding it", BenchWarning,
                      stacklevel=1)
        warnings.warn("cache entry x is\nunreadable; rebuilding it", BenchWarning,
                      stacklevel=1)
    assert capsys.readouterr().err == (
        "qnnbench: warning: cache entry x is unreadable; rebuilding it\n")
