"""qnn-bench's own warnings: shown to the user, one line each; everyone else's silenced.

Brevitas, FINN, QONNX and torch warn about optional accelerators and deprecations on
every import, none of it actionable for a user of the command, so the command silences
warnings in general. What qnn-bench itself warns about (an invalid record that is
recomputed, a damaged cache entry that is rebuilt, a record file left out) is meant for
the user, so it carries its own category and stays visible.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any, TextIO


class BenchWarning(UserWarning):
    """Something the user should know that does not stop the command."""


def warn(message: str) -> None:
    """Issue a `BenchWarning` (the command prints it as `qnnbench: warning: ...`)."""
    warnings.warn(message, BenchWarning, stacklevel=2)


def show_own_warnings() -> None:
    """Silence every warning but `BenchWarning`, which is printed as one line on stderr,
    each text once. Call inside `warnings.catch_warnings()` to scope it."""
    warnings.simplefilter("ignore")
    warnings.filterwarnings("always", category=BenchWarning)
    if getattr(warnings.showwarning, "qnnbench", False):
        return  # nested (a serial sweep's groups): keep the outer one and what it showed
    shown: set[str] = set()

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None, **_: Any) -> None:
        text = " ".join(str(message).split())
        if text in shown:  # e.g. the same skipped file, seen by every group of a sweep
            return
        shown.add(text)
        print(f"qnnbench: warning: {text}", file=file or sys.stderr)

    show.qnnbench = True  # type: ignore[attr-defined]
    warnings.showwarning = show
