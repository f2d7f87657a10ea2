"""Every kind of search behind one call: the one-shot strategies (`segnas.nas.search`) and the search by training
(`segnas.selection.trained`), which trains whole networks and so sits above the search loop."""

from __future__ import annotations

from pathlib import Path

from segnas.config import SearchConfig
from segnas.nas.search import run_folder
from segnas.nas.search import search as one_shot
from segnas.nas.strategies import check_options as check_one_shot
from segnas.runtime.files import read_json
from segnas.runtime.workspace import PLACEBO, Workspace
from segnas.selection import trained


def search(work: str | Path, cfg: SearchConfig, resume: bool = False, stop_after: int | None = None,
           show_progress: bool = True) -> Path:
    """Run the search `cfg` asks for on the fold's search split; returns the run folder holding `arch.json`
    (`stop_after`: end a one-shot search after that many epochs as if it were killed, for tests)."""
    if trained.is_trained(cfg):
        return trained.trained_search(work, cfg, run_folder(Path(work), cfg), resume, show_progress, twin(Path(work), cfg))
    return one_shot(work, cfg, resume=resume, stop_after=stop_after, show_progress=show_progress)


def check_options(cfg: SearchConfig) -> None:
    """An option the search's strategy does not take is an error naming it, before any search starts."""
    if trained.is_trained(cfg):
        trained.options(cfg)
    else:
        check_one_shot(cfg.strategy, cfg.strategy_options)


def twin(work: Path, cfg: SearchConfig) -> Path:
    """The run folder of the search's placebo, or of the placebo's search (its work folder's marker names the
    search's): the two train their trials alike."""
    marker = work / PLACEBO
    if marker.is_file():  # a placebo's work folder (`Workspace.placebo`)
        return run_folder(Path(read_json(marker)["source"]), cfg)
    return run_folder(Workspace(work).placebo(cfg.fold, cfg.seed), cfg)
