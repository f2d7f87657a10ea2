"""Two commands on one work folder: the second is refused with a clear message; a killed holder frees it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from segnas.app.cli import app
from segnas.errors import WorkFolderBusy
from segnas.runtime.lock import busy, work_lock

from .conftest import copy_work

HOLD = "import sys, time; from segnas.runtime.lock import work_lock\nwith work_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)"


def test_second_command_is_refused_and_a_killed_holder_frees_the_folder(work3d: Path, tmp_path: Path) -> None:
    work = copy_work(work3d, tmp_path / "w")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(work)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        result = CliRunner().invoke(app, ["preprocess", "--work", str(work), "-j", "1", "--force"])
        assert result.exit_code == 1
        assert "in use by pid" in result.output and str(holder.pid) in result.output
        assert len(list((work / "preprocessed").glob("*.json"))) == 6  # --force did not get to delete anything
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    result = CliRunner().invoke(app, ["preprocess", "--work", str(work), "-j", "1"])
    assert result.exit_code == 0, result.output


def test_the_same_process_may_nest(tmp_path: Path) -> None:
    with work_lock(tmp_path), work_lock(tmp_path):
        pass
    with work_lock(tmp_path):  # released after nesting
        pass


FORKED = """import os, sys, time
from segnas.runtime.lock import work_lock
with work_lock(sys.argv[1]):
    r, w = os.pipe()
    if os.fork() == 0:  # a data loader worker: outlives its parent for a while
        os.write(w, b"x")  # the fork's callbacks have run by now (under load the child may start late)
        time.sleep(30)
        os._exit(0)
    os.read(r, 1)
    print('held', flush=True)
    time.sleep(60)"""


def test_a_forked_worker_outliving_its_killed_parent_does_not_keep_the_folder(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", FORKED, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with work_lock(tmp_path):  # the child still sleeps, but never held the lock
        pass


def test_busy_names_another_process_holding_the_folder_and_takes_nothing(tmp_path: Path) -> None:
    assert busy(tmp_path) is None and not (tmp_path / ".lock").exists()  # creates nothing
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert f"pid {holder.pid}" in (busy(tmp_path) or "")
        assert f"pid {holder.pid}" in (busy(tmp_path) or "")  # asking twice did not take the lock
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert busy(tmp_path) is None
    with work_lock(tmp_path):
        assert busy(tmp_path) is None  # this process's own lock is not another's


def test_a_benchmark_lane_waits_for_the_folder_another_lane_prepares(tmp_path: Path) -> None:
    """Two lanes of a benchmark started at once prepare one work folder: the second waits instead of failing."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from _common import when_free

    tmp_path.mkdir(exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD.replace("time.sleep(60)", "time.sleep(3)"), str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WorkFolderBusy, match="in use by pid"), work_lock(tmp_path):
            pass
        calls: list[int] = []

        def locked() -> str:
            calls.append(1)
            with work_lock(tmp_path):
                return "prepared"

        assert when_free(locked) == "prepared" and len(calls) >= 2  # refused while held, done once it was let go
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
