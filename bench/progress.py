"""Progress display for long stages (rich, on stderr so stdout stays for results)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

console = Console(stderr=True)


@contextmanager
def epoch_progress(total: int, label: str, enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """Yield `advance(status)`; shows a bar with count, ETA and the latest status text."""
    if not enabled:
        yield lambda status: None
        return
    columns = (
        TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(label, total=total, status="")
        yield lambda status: progress.update(task, advance=1, status=status)


def say(message: str) -> None:
    console.print(message, highlight=False)
