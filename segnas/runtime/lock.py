"""One writer per work folder: an advisory lock (`WORK/.lock`) that the kernel drops when its process
dies, even by SIGKILL, so a crashed command never leaves the folder locked."""

from __future__ import annotations

import fcntl
import functools
import inspect
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

from segnas.errors import SegnasError, WorkFolderBusy
from segnas.runtime.files import check_writable

P = ParamSpec("P")
R = TypeVar("R")

_held: dict[Path, int] = {}  # lock file → nesting depth in this process (run → search → …)
_fds: dict[Path, int] = {}  # lock file → its descriptor in this process


def _drop_inherited() -> None:
    """In a forked child (a data loader worker), close the inherited lock descriptors: a flock lasts while any
    copy is open, so workers outliving a killed parent by a few seconds would keep the folder locked."""
    for fd in _fds.values():
        os.close(fd)
    _fds.clear()
    _held.clear()


os.register_at_fork(after_in_child=_drop_inherited)


@contextmanager
def work_lock(work: str | Path) -> Iterator[None]:
    """Hold the work folder's lock for the block; another process holding it is a clear error.

    Ranks other than 0 of a data-parallel run do not lock: rank 0 holds it for all of them.
    """
    if os.environ.get("RANK", "0") != "0":
        yield
        return
    path = (Path(work) / ".lock").resolve()
    if path in _held:
        _held[path] += 1
        try:
            yield
        finally:
            _held[path] -= 1
        return
    if not path.parent.is_dir():  # never create it here: a refused command must leave nothing behind
        raise SegnasError(f"{work}: work folder does not exist; create it with `segnas plan DATA --work {work}`")
    check_writable(path.parent, "work folder")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise WorkFolderBusy(f"{work}: work folder is in use by {owner}; wait for it to finish or stop it "
                          "(two commands writing one work folder would corrupt it)") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} ({' '.join(['segnas', *sys.argv[1:]])[:200]}), since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
    _held[path], _fds[path] = 1, fd
    try:
        yield
    finally:
        del _held[path], _fds[path]
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def borrow(work: str | Path) -> None:
    """In a child process that the lock's holder waits for (a trial side by side): act as its holder, so that the
    child's stages do not refuse the folder their parent locked for them."""
    _held.setdefault((Path(work) / ".lock").resolve(), 1)


def busy(work: str | Path) -> str | None:
    """Who holds the work folder's lock, when another process does (else None); takes nothing and creates nothing."""
    path = (Path(work) / ".lock").resolve()
    if path in _held or not path.is_file():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
    finally:
        os.close(fd)  # closing drops a lock taken just now
    return None


def locks_work(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorator: hold the lock of the function's `work` argument while it runs."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with work_lock(signature.bind(*args, **kwargs).arguments["work"]):
            return fn(*args, **kwargs)
    return wrapper
