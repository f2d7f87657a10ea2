"""Progress: plain lines when stderr is not a terminal (a log file would otherwise stay silent)."""

from __future__ import annotations

import io

import pytest

from segnas.runtime.progress import LineProgress, progress


def test_not_a_terminal_gets_plain_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert isinstance(progress(), LineProgress)  # pytest's captured stderr is not a terminal


def test_lines_at_the_interval_and_at_the_end() -> None:
    out = io.StringIO()
    with LineProgress(interval=3600, stream=out) as bar:
        task = bar.add_task("train scnas fold 0", total=4, stats="")
        for i in range(4):
            bar.update(task, advance=1, stats=f"loss {1 / (i + 1):.2f}")
    lines = out.getvalue().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("train scnas fold 0: 4/4 (100%) elapsed 0:00:0")
    assert lines[0].endswith("loss 0.25")

    out = io.StringIO()
    with LineProgress(interval=0, stream=out) as bar:
        task = bar.add_task("predict", total=3)
        bar.advance(task)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("predict: 1/3 (33%) elapsed") and " eta " in lines[0]


def test_stopped_early_prints_its_last_state_and_hidden_tasks_stay_quiet() -> None:
    out = io.StringIO()
    with LineProgress(interval=3600, stream=out) as bar:
        task = bar.add_task("search", total=10)
        hidden = bar.add_task("validate", total=2, visible=False)
        bar.update(task, completed=7)
        bar.update(hidden, completed=2)
    assert out.getvalue().splitlines() == [line for line in out.getvalue().splitlines() if line.startswith("search: 7/10")]
    assert len(out.getvalue().splitlines()) == 1


def test_a_task_that_restarts_reports_its_next_completion() -> None:
    out = io.StringIO()
    with LineProgress(interval=3600, stream=out) as bar:
        task = bar.add_task("validate", total=2)
        for _ in range(2):
            bar.update(task, completed=0)
            bar.update(task, completed=2)
    assert len(out.getvalue().splitlines()) == 2


def test_disabled_prints_nothing() -> None:
    out = io.StringIO()
    with LineProgress(interval=0, stream=out, disable=True) as bar:
        bar.advance(bar.add_task("x", total=1))
    assert out.getvalue() == ""
