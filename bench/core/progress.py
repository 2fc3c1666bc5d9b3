"""Progress display for long stages (rich, on stderr so stdout stays for results)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

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


@contextmanager
def sweep_progress(
    total: int, enabled: bool = True
) -> Iterator[Callable[[dict[str, Any], Any], None]]:
    """Yield `on_event(event, tally)`: a bar with count, ETA and the ok/failed/cached tally."""
    if not enabled:
        yield lambda event, tally: None
        return
    columns = (
        TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        TextColumn("{task.fields[tally]}"),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("sweep", total=total, tally="")

        def on_event(event: dict[str, Any], tally: Any) -> None:
            progress.update(
                task, completed=tally.done,
                tally=f"[green]{tally.ok} ok[/] [red]{tally.failed} failed[/] "
                f"[blue]{tally.cached} cached[/]",
            )

        yield on_event
