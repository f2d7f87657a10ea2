"""Progress of long work: a rich bar on a terminal, plain lines at a steady interval anywhere else (a log file
under nohup, a batch scheduler, `| tee`), where a bar would stay silent until the end."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

INTERVAL_ENV = "SEGNAS_PROGRESS_SECONDS"  # seconds between plain progress lines (default 30)


def clock(seconds: float) -> str:
    """H:MM:SS."""
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float
    visible: bool
    fields: dict[str, Any]
    started: float = field(default_factory=time.monotonic)
    printed: float = field(default_factory=time.monotonic)
    shown: float = 0.0  # completed count of the last printed line
    done_printed: bool = False


class LineProgress:
    """The subset of rich's `Progress` that segnas uses, writing one plain line per task every `interval`
    seconds and once when the task completes: `<description>: <done>/<total> (<pct>) elapsed <t> eta <t> <stats>`."""

    def __init__(self, interval: float = 30.0, stream: TextIO | None = None, disable: bool = False) -> None:
        self.interval, self.stream, self.disable = interval, stream or sys.stderr, disable
        self.tasks: list[_Task] = []

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        for i, t in enumerate(self.tasks):  # the last state of a task that stopped early (a time budget, an error)
            if t.completed != t.shown:
                self._print(TaskID(i))

    def add_task(self, description: str, total: float | None = None, completed: float = 0, visible: bool = True,
                 **fields: Any) -> TaskID:
        """A new task; returns its id (rich's id type, so that callers need not know which progress they hold)."""
        self.tasks.append(_Task(description, total, completed, visible, dict(fields)))
        return TaskID(len(self.tasks) - 1)

    def update(self, task: TaskID, *, advance: float | None = None, completed: float | None = None,
               total: float | None = None, description: str | None = None, visible: bool | None = None,
               **fields: Any) -> None:
        """Change a task; prints its line when the interval has passed or it has just completed."""
        t = self.tasks[task]
        if total is not None:
            t.total = total
        if completed is not None:
            if completed == 0:  # (re)started, as each validation of a training is: time it from now
                t.started = time.monotonic()
            t.completed = completed
        if advance is not None:
            t.completed += advance
        if description is not None:
            t.description = description
        if visible is not None:
            t.visible = visible
        t.fields.update(fields)
        finished = t.total is not None and t.completed >= t.total
        t.done_printed = t.done_printed and finished  # a task started again (the next validation) may finish again
        if finished and not t.done_printed or time.monotonic() - t.printed >= self.interval:
            self._print(task)
            t.done_printed = finished

    def advance(self, task: TaskID, advance: float = 1) -> None:
        """Add `advance` to a task's completed count."""
        self.update(task, advance=advance)

    def line(self, task: TaskID) -> str:
        """The progress line of a task."""
        t = self.tasks[task]
        elapsed = time.monotonic() - t.started
        parts = [f"{t.description}: {t.completed:g}"]
        if t.total:
            parts[0] += f"/{t.total:g} ({100 * t.completed / t.total:.0f}%)"
        parts.append(f"elapsed {clock(elapsed)}")
        if t.total and 0 < t.completed < t.total:
            parts.append(f"eta {clock(elapsed / t.completed * (t.total - t.completed))}")
        stats = t.fields.get("stats")
        if stats:
            parts.append(str(stats))
        return " ".join(parts)

    def _print(self, task: TaskID) -> None:
        t = self.tasks[task]
        t.printed, t.shown = time.monotonic(), t.completed
        if not self.disable and t.visible:
            print(self.line(task), file=self.stream, flush=True)


def progress(show: bool = True, transient: bool = False, stats: bool = False) -> Progress | LineProgress:
    """The progress display of every long loop: a bar on a terminal, else plain lines (see `LineProgress`);
    `stats` adds a free-text column (`update(task, stats=…)`)."""
    if not sys.stderr.isatty():
        return LineProgress(float(os.environ.get(INTERVAL_ENV, "30")), disable=not show)
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn()]
    if stats:
        columns.append(TextColumn("{task.fields[stats]}"))
    return Progress(*columns, console=Console(stderr=True), transient=transient, disable=not show)
