"""A finished search's op decisions read again through its trained supernet (`segnas.nas.scores`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segnas.config import SearchConfig
from segnas.nas.scores import decide, score_decisions
from segnas.nas.search import build
from segnas.runtime.checkpoint import load_checkpoint
from segnas.runtime.workspace import RunFolder


def rescore(work: str | Path, run: str | Path, draws: int = 8, batches: int = 4) -> dict[str, Any]:
    """A search's op decisions scored through its supernet as of its last checkpoint:
    `values` (each decision's best candidate), `summary` (how many are clear, each judgement) and the raw `scores`."""
    state = load_checkpoint(RunFolder(Path(run)).checkpoint, "search")
    s = build(Path(work), SearchConfig(**state["config"]), Path(run))
    s.net.load_state_dict(state["net"])
    s.strategy.restore(state["strategy"])
    found = score_decisions(s.strategy.choices, *s.scorer(draws, batches), draws)
    values, summary = decide(found)
    return {"values": values, "summary": summary, "scores": found, "draws": draws, "batches": batches}
