"""Progress bars (rich, on stderr) for the commands whose work is long."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Callable, Dict, Optional

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

Report = Callable[[str, int, Optional[int]], None]

STDERR = Console(stderr=True)


def bar() -> Progress:
    """A progress bar on stderr; in a pipe or a CI log it leaves nothing behind."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=STDERR,
        transient=not STDERR.is_terminal,
    )


@contextmanager
def reporter() -> Iterator[Report]:
    """``report(label, done, total)``: one bar per label, advanced by ``done``."""
    tasks: Dict[str, TaskID] = {}
    with bar() as progress:

        def report(label: str, done: int, total: Optional[int]) -> None:
            task = tasks.get(label)
            if task is None:
                task = tasks[label] = progress.add_task(label, total=total)
            progress.update(task, advance=done, total=total)

        yield report
