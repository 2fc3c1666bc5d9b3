"""`--model pkg.mod:factory` finds its module in the working directory, as `python -m`
does, also when the command runs as the installed `qnnbench` script (whose sys.path has
no working directory)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.core.errors import SpecError

ROOT = Path(__file__).resolve().parents[1]
MODULE = "qnnbench_cwd_factory_mod"
SOURCE = "def make(input_shape, num_classes):\n    return (input_shape, num_classes)\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A working directory holding the user's module, and a sys.path without it."""
    (tmp_path / f"{MODULE}.py").write_text(SOURCE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path
                                      if p not in ("", ".", str(tmp_path), os.getcwd())])
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    yield tmp_path
    sys.modules.pop(MODULE, None)


def test_factory_module_is_found_in_the_working_directory(project):
    from bench.core.user_code import tracked_files
    from bench.learn.train import load_factory

    # the run id's hash finds the same file the import does
    assert tracked_files(MODULE) == {f"{MODULE}.py": project / f"{MODULE}.py"}
    factory = load_factory(f"{MODULE}:make")
    assert factory((1, 8, 8), 10) == ((1, 8, 8), 10)
    assert sys.path[-1] == str(project)  # appended: installed packages keep precedence


def test_a_module_missing_everywhere_is_still_one_line(project):
    from bench.learn.train import load_factory

    with pytest.raises(SpecError, match="cannot import no_such_module_here"):
        load_factory("no_such_module_here:make")


def test_command_without_the_working_directory_on_its_path(tmp_path):
    """Like the console script: '' removed from sys.path; the module's import must work,
    so the error is about the missing factory name, not the import."""
    (tmp_path / f"{MODULE}.py").write_text(SOURCE)
    code = (f"import sys; sys.path.remove(''); sys.path.insert(0, {str(ROOT)!r}); "
            "from bench.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run(
        [sys.executable, "-c", code, "run", "--model", f"{MODULE}:no_such_factory",
         "--results-dir", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"qnnbench: error: model '{MODULE}:no_such_factory': "
                                   f"{MODULE} has no callable 'no_such_factory'")
