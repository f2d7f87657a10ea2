"""Helpers shared by the benchmark scripts: where real data lives, a header naming machine and date, timing, and
architectures with every op set to one."""

from __future__ import annotations

import datetime
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from segnas.nas.arch import Architecture

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def header(title: str) -> str:
    """One line naming the benchmark, the machine and the date, to paste into BENCHMARKS.md."""
    cpu = platform.processor() or platform.machine()
    return (f"# {title} — {datetime.date.today()} — {os.cpu_count()} cores ({cpu}), torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads")


def when_free(fn: Callable[..., Any], *args: Any, wait_s: float = 600.0, **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)`, retried every 2 s while another process holds the work folder it opens: lanes started
    side by side prepare one folder, and the first holds it while the others would be refused."""
    from segnas.errors import WorkFolderBusy

    deadline = time.monotonic() + wait_s
    while True:
        try:
            return fn(*args, **kwargs)
        except WorkFolderBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def read_log(path: Path) -> list[dict[str, Any]]:
    """The records of a run's log.jsonl, a dict per line."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def paired(one: dict[str, float], two: dict[str, float]) -> dict[str, Any]:
    """Two networks' per-case Dice on the same cases (`segnas.inference.compare.paired`), each mean as `dice`."""
    from segnas.inference.compare import paired as compared

    found = compared(one, two)
    return {"dice": found.pop("means"), **found}


def rss_kib(field: str) -> int:
    """A field of /proc/self/status in KiB (VmRSS: now, VmHWM: peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def measure(step: Callable[[], None], device: str, repeats: int) -> dict[str, float]:
    """Memory the first call of `step` adds, then the median seconds of `repeats` further calls.

    Memory is taken on the very first step: memory that the allocator keeps after a step would hide
    what a later step adds. CPU: peak RSS (its counter reset first) minus RSS before; GPU:
    max_memory_allocated minus memory_allocated before.
    """
    import statistics
    import time

    if device == "cuda":
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        added = torch.cuda.max_memory_allocated() - before
    else:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS counter to the current RSS
        before = rss_kib("VmRSS") * 1024
        step()
        added = rss_kib("VmHWM") * 1024 - before
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return {"added_mb": added / 2**20, "seconds": statistics.median(times)}


def run_isolated(script: str, args: list[str]) -> dict:
    """Run `script --mode …` in a fresh process and return the JSON it prints last."""
    import json
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, script, *args], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{script} {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def every_op(arch: Architecture, op: str) -> Architecture:
    """`arch` with every op decision set to `op` (op decisions' values are names; input decisions' are lists)."""
    return Architecture(arch.space, arch.settings, {k: op if isinstance(v, str) else v for k, v in arch.values.items()})
