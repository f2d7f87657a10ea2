"""Trials side by side: each call in a process of its own, the machine's threads shared among them.

On a 2-core CPU two one-thread trials at once finished 1.42× faster than the same trials one after the other with
both threads (BENCHMARKS.md, "Trials side by side"): a search by training that runs its trials in pairs gets more
of them within the same minutes. The parent holds the work folder's lock for its children and waits for every one of them.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from segnas.errors import SegnasError
from segnas.runtime.files import read_json, write_json
from segnas.runtime.lock import borrow


def _orphaned(parent: int) -> None:
    """End this process once its parent is gone (killed): a trial must not go on writing into a folder that a
    resumed search will write too."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _child(fn: Callable[..., Any], args: tuple[Any, ...], threads: int, work: str, out: str, parent: int) -> None:
    """In the child: its share of the threads, the parent's lock, and `fn`'s result written to `out`. `parent` is
    the pid that started it, given rather than read here: a parent killed while this child still imported would
    otherwise be read as the process it was handed to, and the child would never see it gone."""
    threading.Thread(target=_orphaned, args=(parent,), daemon=True).start()
    torch.set_num_threads(threads)
    borrow(work)
    try:
        result = fn(*args)
    except BaseException:  # noqa: BLE001 - any failure: say it and end now, without the interpreter's shutdown
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    write_json(Path(out), {"result": result})


def threads_each(n: int) -> int:
    """Torch threads for each of `n` processes side by side: this process's threads shared out, at least one."""
    return max(1, torch.get_num_threads() // n)


def run_side_by_side(fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]], work: Path, what: str) -> list[Any]:
    """[fn(*args) for args in calls], each call in its own process at once (JSON-able results, in order). A failed
    call stops the others and is an error naming `what`; so is an interrupt, which stops them all."""
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked torch threads or open files
    threads = threads_each(len(calls))
    with tempfile.TemporaryDirectory(prefix="side_by_side_") as tmp:
        outs = [Path(tmp) / f"{i}.json" for i in range(len(calls))]
        procs = [ctx.Process(target=_child, args=(fn, tuple(args), threads, str(work), str(out), os.getpid()))
                 for args, out in zip(calls, outs)]
        try:
            for p in procs:
                p.start()
            while running := [p for p in procs if p.exitcode is None]:
                # until one of them ends, looking again every second: a sentinel that some other process happens to
                # hold open as well would otherwise keep a failure unseen until the slowest call ends
                multiprocessing.connection.wait([p.sentinel for p in running], timeout=1.0)
                for i, p in enumerate(procs):
                    if p.exitcode not in (None, 0):  # as soon as one fails: the others are stopped below
                        raise SegnasError(f"{what} {i + 1} of {len(calls)}: its process ended with exit code {p.exitcode} "
                                          "(its error is printed above); the others were stopped")
        finally:
            for p in procs:
                if p.is_alive():
                    p.terminate()
                    p.join()
        return [read_json(out)["result"] for out in outs]
