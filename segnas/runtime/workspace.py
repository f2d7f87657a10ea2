"""The work folder: where each stage reads and writes its readable artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from segnas.errors import SegnasError
from segnas.runtime.files import check_writable

# The file names of a run folder (search or training), defined here and nowhere else.
ARCH, CONFIG, LOG, CHECKPOINT, BEST, SUMMARY, PLAN, BUDGET, COST, PLACEBO, PLACEBO_PLOT = (
    "arch.json", "config.json", "log.jsonl", "checkpoint.pt", "best.pt", "summary.json", "plan.json", "budget.json", "cost.json",
    "placebo.json", "placebo.png")


@dataclass(frozen=True)
class RunFolder:
    """The files of one search or training run (`WORK/runs/<name>/`)."""

    root: Path

    @property
    def arch(self) -> Path:
        """The found (search) or trained (training) architecture."""
        return self.root / ARCH

    @property
    def config(self) -> Path:
        """The settings the run was made with."""
        return self.root / CONFIG

    @property
    def log(self) -> Path:
        """A line per epoch."""
        return self.root / LOG

    @property
    def checkpoint(self) -> Path:
        """Everything to resume after the last finished epoch."""
        return self.root / CHECKPOINT

    @property
    def best(self) -> Path:
        """A training's selected weights."""
        return self.root / BEST

    @property
    def summary(self) -> Path:
        """Written when a training has finished."""
        return self.root / SUMMARY

    @property
    def plan(self) -> Path:
        """A training's copy of the plan, so the folder alone can predict."""
        return self.root / PLAN

    @property
    def budget(self) -> Path:
        """A budgeted search's plan of proxy and schedule."""
        return self.root / BUDGET

    @property
    def cost(self) -> Path:
        """A cost-aware search's measured op costs, their calibration and its target step time."""
        return self.root / COST

    @property
    def placebo(self) -> Path:
        """A search's comparison with its placebo (`segnas search --placebo`)."""
        return self.root / PLACEBO

    @property
    def placebo_plot(self) -> Path:
        """The same comparison drawn, decision by decision."""
        return self.root / PLACEBO_PLOT


@dataclass(frozen=True)
class RaceFolder:
    """The files of one fold's race (`WORK/race/fold<F>/`)."""

    root: Path

    @property
    def candidates(self) -> Path:
        """name → arch.json of every candidate (their files in `candidates/`)."""
        return self.root / "candidates.json"

    @property
    def storage(self) -> Path:
        """The default Optuna storage (SQLite)."""
        return self.root / "race.db"

    @property
    def runs(self) -> Path:
        """The candidates' training run folders."""
        return self.root / "runs"

    @property
    def summary(self) -> Path:
        """The rung table and the winner, once every trial has finished."""
        return self.root / SUMMARY

    @property
    def figure(self) -> Path:
        """The rung table drawn: each candidate's inner Dice over the units it trained."""
        return self.root / "race.png"

    @property
    def split(self) -> Path:
        """How `segnas run --minutes` split the fold's time."""
        return self.root / "split.json"


@dataclass(frozen=True)
class Workspace:
    """Paths inside one work folder (one dataset, one plan)."""

    root: Path

    @property
    def fingerprint(self) -> Path:
        """Dataset fingerprint written by `plan`."""
        return self.root / "fingerprint.json"

    @property
    def plan(self) -> Path:
        """The editable plan written by `plan`."""
        return self.root / PLAN

    @property
    def splits(self) -> Path:
        """Cross-validation folds and search splits."""
        return self.root / "splits.json"

    @property
    def runs(self) -> Path:
        """Folder of search and training runs."""
        return self.root / "runs"

    def run(self, name: str) -> RunFolder:
        """The run folder `WORK/runs/<name>`."""
        return RunFolder(self.runs / name)

    def placebo(self, fold: int, seed: int) -> Path:
        """The work folder of fold `fold`'s placebo with seed `seed` (`segnas search --placebo`): its own plan, splits,
        preprocessed cases (training labels shuffled) and runs; its `placebo.json` says whose label each case got."""
        return self.root / "placebo" / f"fold{fold}_seed{seed}"

    def race(self, fold: int) -> RaceFolder:
        """The race of fold `fold` (`segnas race`)."""
        return RaceFolder(self.root / "race" / f"fold{fold}")

    @property
    def costs(self) -> Path:
        """Folder of measured op costs, one cache file per device (`segnas.nas.timing.CostTable`)."""
        return self.root / "cost"

    @property
    def preprocessed(self) -> Path:
        """Folder of preprocessed cases."""
        return self.root / "preprocessed"

    def require(self, path: Path, stage: str) -> Path:
        """`path`, or an error saying which stage makes it."""
        if not path.exists():
            raise SegnasError(f"{path}: does not exist; run `segnas {stage}` first")
        return path

    def make(self) -> None:
        """Create the folder, with a clear error when it cannot be written."""
        check_writable(self.root, "work folder")
