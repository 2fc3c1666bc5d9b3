"""The command line's answer to input it refuses, for tests of one-line errors."""

from __future__ import annotations

from bench.cli import EXIT_USAGE, main


def refused(capsys, *argv: str) -> str:
    """Run `qnnbench run ARGV --quiet`: exit code 2 and exactly one line on stderr, the
    `qnnbench: error:` line, which is returned."""
    code = main(["run", *argv, "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE, err
    assert err.startswith("qnnbench: error:") and err.count("\n") == 1, err
    return err
