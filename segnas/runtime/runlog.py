"""A run's log: `log.jsonl`, a line per epoch that survives kills, mirrored to TensorBoard when it is installed."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from segnas.runtime.files import atomic_path

log = logging.getLogger(__name__)


class RunLog:
    """`log.jsonl` of a run, a record per epoch; on resume, records past the checkpoint are dropped."""

    def __init__(self, path: Path, start_epoch: int, write: bool = True) -> None:
        self.path, self.write = path, write
        self.records = [r for r in _read(path) if r.get("epoch", 10**9) < start_epoch]
        if write:
            with atomic_path(path) as tmp:
                tmp.write_text("".join(json.dumps(r) + "\n" for r in self.records))
        self.tensorboard = _tensorboard(path.parent) if write else None

    def append(self, record: dict[str, Any]) -> None:
        """Add an epoch's record (a line flushed at once: a kill loses at most the line being written)."""
        self.records.append(record)
        if not self.write:  # another rank writes the log
            return
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tensorboard is not None:
            for k, v in record.items():
                if isinstance(v, float):
                    self.tensorboard.add_scalar(k, v, record["epoch"])
            self.tensorboard.flush()  # visible in TensorBoard while the run goes on, and kept if it is killed


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
    return out


def _tensorboard(run: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard not installed: optional
        return None
    return SummaryWriter(str(run / "tensorboard"))
