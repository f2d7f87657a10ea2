"""Calls side by side, each in a process of its own: results in order, the parent's lock lent, failures stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from segnas.errors import SegnasError
from segnas.runtime.lock import work_lock
from segnas.selection.side_by_side import run_side_by_side, threads_each


def whoami(work: str, k: int) -> dict[str, int]:
    """In a child: take the work folder's lock as a stage would, and say who and how many threads ran `k`."""
    with work_lock(work):
        return {"k": k, "pid": os.getpid(), "threads": torch.get_num_threads()}


def fail(k: int, holder_pid_file: str | None = None) -> None:
    """In a child: fail when asked to, else nap. With `holder_pid_file`, the failing call first starts a process that
    inherits its descriptors (its sentinel pipe among them) and outlives it, and writes that process's pid there."""
    if k == 1:
        if holder_pid_file is not None:
            holder = subprocess.Popen(["sleep", "60"], close_fds=False)
            Path(holder_pid_file).write_text(str(holder.pid))
        raise ValueError("this call fails")
    time.sleep(120)


def test_calls_run_in_processes_of_their_own_that_share_the_threads_and_the_parents_lock(tmp_path: Path) -> None:
    with work_lock(tmp_path):  # held here, as a search holds it while its trials run side by side
        got = run_side_by_side(whoami, [(str(tmp_path), 0), (str(tmp_path), 1)], tmp_path, "a call")
    assert [g["k"] for g in got] == [0, 1]
    assert len({g["pid"] for g in got} | {os.getpid()}) == 3
    assert all(g["threads"] == threads_each(2) for g in got) and threads_each(2) >= 1
    assert threads_each(10**6) == 1


def test_a_failed_call_is_an_error_that_names_it_and_stops_the_others_at_once(tmp_path: Path) -> None:
    t0 = time.monotonic()
    with pytest.raises(SegnasError, match=r"a call 2 of 2: its process ended with exit code 1"):
        run_side_by_side(fail, [(0,), (1,)], tmp_path, "a call")  # the first call naps for 120 s
    assert time.monotonic() - t0 < 60


def test_a_failure_is_seen_even_while_another_process_holds_the_failed_calls_pipe(tmp_path: Path) -> None:
    """A process outliving the failed call with its descriptors keeps the call's sentinel from ever being ready:
    the exit code must be looked at anyway."""
    pid_file = tmp_path / "holder.pid"
    t0 = time.monotonic()
    try:
        with pytest.raises(SegnasError, match=r"a call 2 of 2: its process ended with exit code 1"):
            run_side_by_side(fail, [(0, str(pid_file)), (1, str(pid_file))], tmp_path, "a call")
        assert time.monotonic() - t0 < 40
    finally:
        if pid_file.is_file():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


def nap(seconds: float) -> None:
    """In a child: sleep."""
    time.sleep(seconds)


PARENT = """
import sys
from pathlib import Path
from tests.test_side_by_side import nap
from segnas.selection.side_by_side import run_side_by_side
run_side_by_side(nap, [(120,)], Path(sys.argv[1]), "a nap")
"""


def test_a_child_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    """A killed search must not leave a trial training on into the folder that its --resume will train into."""
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path)], cwd=Path(__file__).parents[1])
    try:
        deadline = time.monotonic() + 60
        children: list[int] = []
        while not children and time.monotonic() < deadline:
            time.sleep(0.5)
            children = [int(c) for c in Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text().split()]
        assert children, "the child never started"
    finally:  # at once, while the child may still be importing: it must see its parent gone all the same
        parent.kill()
        parent.wait()
    gone_by = time.monotonic() + 60  # its imports, then a second of watching (more on a loaded machine)
    while Path(f"/proc/{children[0]}").exists() and time.monotonic() < gone_by:
        time.sleep(0.2)
    alive = Path(f"/proc/{children[0]}/stat").is_file() and Path(f"/proc/{children[0]}/stat").read_text().split()[2] != "Z"
    assert not alive, "the child outlived its killed parent"
