"""Helpers shared by the benchmark scripts: where real data lives, and a header naming machine and date."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def header(title: str) -> str:
    """One line naming the benchmark, the machine and the date, to paste into BENCHMARKS.md."""
    cpu = platform.processor() or platform.machine()
    return (f"# {title} — {datetime.date.today()} — {os.cpu_count()} cores ({cpu}), torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads")
