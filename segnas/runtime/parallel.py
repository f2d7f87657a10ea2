"""Map a function over items in worker processes, with progress."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from segnas.runtime.progress import progress

T = TypeVar("T")
R = TypeVar("R")


def pmap(fn: Callable[[T], R], items: Iterable[T], workers: int = 1, description: str = "working",
         show: bool = True) -> Iterator[R]:
    """Yield fn(item) in item order; `workers` > 1 uses spawned processes (safe beside torch threads)."""
    items = list(items)
    with progress(show) as bar:
        task = bar.add_task(description, total=len(items))
        if workers <= 1 or len(items) <= 1:
            for item in items:
                yield fn(item)
                bar.advance(task)
            return
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            for result in pool.map(fn, items):
                yield result
                bar.advance(task)
