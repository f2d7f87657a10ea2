"""`segnas demo`: the whole pipeline on fresh synthetic data, shortened to minutes on a laptop CPU."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console

from segnas.data.synthetic import make_dataset

# SCNAS's recipe at toy scale: search narrow (8 stem channels), retrain wider (16), Gumbel two-op sampling.
DEMO_SEARCH: dict[str, Any] = {"epochs": 3, "steps_per_epoch": 6, "batch_size": 2, "space_settings.channels": 8,
                               "patch_size": [32, 32, 16], "workers": 0}
DEMO_TRAIN: dict[str, Any] = {"width": 16, "epochs": 14, "steps_per_epoch": 30, "batch_size": 4, "patch_size": [32, 32, 16],
                              "loss": "dice_ce", "weight_lr": 3e-3, "fg_fraction": 0.5, "val_every": 2, "workers": 2}
QUICK: dict[str, Any] = {"epochs": 1, "steps_per_epoch": 3}  # a smoke test of every stage; results mean nothing
DEMO_2D: dict[str, dict[str, Any]] = {"search": {"patch_size": [64, 64]}, "train": {"patch_size": [96, 96], "batch_size": 8}}


def run_demo(out: Path, cases: int = 12, dims: int = 3, workers: int = 2, console: Console | None = None,
             quick: bool = False) -> dict[str, Any]:
    """synth → validate → plan → preprocess → search → train → predict → evaluate on fold 0; returns its summary."""
    from segnas.app.pipeline import run_pipeline

    con = console or Console()
    t0 = time.perf_counter()
    data, work = out / "data", out / "work"
    make_dataset(data, cases, dims, seed=0, force=True)
    con.rule("synthetic data")
    con.print(f"{cases} two-channel {dims}D cases (organ + lesion, decoys in each channel) in {data}")
    search = {**DEMO_SEARCH, **(DEMO_2D["search"] if dims == 2 else {})}
    train = {**DEMO_TRAIN, **(DEMO_2D["train"] if dims == 2 else {})}
    if quick:
        search, train = {**search, **QUICK}, {**train, **QUICK, "val_every": 1}
    summary = run_pipeline(data, work, "scnas", folds=[0], search_overrides=search, train_overrides=train,
                           plan_options={"folds": min(5, cases)}, force="plan", workers=workers, console=con)
    con.print(f"demo finished in {time.perf_counter() - t0:.0f} s: mean foreground Dice "
              f"{summary['mean_foreground_dice']:.3f} on the held-out cases of fold 0")
    return summary
