"""`segnas race`: the final selection at equal wall clock, as a command (registered by `segnas.app.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

out = Console()


def race_command(
    work: Annotated[Path, typer.Option("--work", "-w", help="Work folder (plan, preprocessed cases, runs).")],
    search: Annotated[Path, typer.Option("--search", "-s", help="The search's run folder (its arch.json and log.jsonl).")],
    minutes: Annotated[float, typer.Option("--minutes", min=0.1, help="Time for the race on this machine: rung 0 gets every "
                                           "candidate minutes / (rungs × candidates); the winner trains 2^(rungs−1) of those.")] = 60.0,
    preset: Annotated[str, typer.Option("--preset", "-p", help="The training recipe every candidate gets.")] = "scnas",
    fold: Annotated[int, typer.Option("--fold", "-f", help="Fold whose inner split scores the rungs.")] = 0,
    width: Annotated[int | None, typer.Option("--width", help="Stem channels of the searched candidates (default: MONAI UNet's 16 "
                                              "where the preset retrains wider, else as searched).")] = None,
    rungs: Annotated[int, typer.Option("--rungs", min=1, max=8, help="Successive-halving rungs (η = 2).")] = 3,
    samples: Annotated[int, typer.Option("--samples", min=0, help="Architectures drawn from the search's final distribution.")] = 2,
    random_draws: Annotated[int, typer.Option("--random", min=0, help="Uniformly random architectures of the space.")] = 2,
    storage: Annotated[str | None, typer.Option("--storage", help="Optuna storage URL shared by the race's workers (default: "
                                                "SQLite in WORK/race/fold<F>/race.db); start `segnas race` with the same URL on "
                                                "each machine.")] = None,
    unit_epochs: Annotated[int | None, typer.Option("--unit-epochs", min=1, help="Epochs per time unit for every candidate: equal "
                                                    "steps instead of equal time (a race that repeats exactly).")] = None,
    baselines: Annotated[list[str] | None, typer.Option("--baseline", help="A hand-designed network that enters the race "
                                                       "(repeatable; default: monai_unet and monai_dynunet).")] = None,
    given: Annotated[list[Path] | None, typer.Option("--candidate", help="An arch.json that races as it is, named by its file "
                                                     "(repeatable): a network found on another dataset, fitted to this one "
                                                     "(transfer).")] = None,
    no_baselines: Annotated[bool, typer.Option("--no-baselines", help="Race members of the searched space only.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the samples and of the queue's order; random draw i is the "
                                      "space's draw 1000 + seed + i (seeds at least --random apart draw other networks).")] = 0,
    settings: Annotated[list[str] | None, typer.Option("--set", help="Override a training setting: KEY=VALUE (repeatable).")] = None,
) -> None:
    """Race the search's architecture against samples of its distribution, random draws and MONAI's UNet and DynUNet
    at equal wall clock; successive halving (Optuna) keeps the better half at each rung.

    Example: [bold]segnas race --work work/la --search work/la/runs/search_scnas_unet_trained_fold0 --minutes 60[/]
    """
    from segnas.config import TrainConfig, make_config, parse_overrides
    from segnas.selection.race import RaceConfig, race, race_folder, race_training
    from segnas.selection.rungs import ranked_rows, units_line, winner_line

    overrides: dict[str, Any] = {**parse_overrides(settings or []), "fold": fold, **({"width": width} if width else {})}
    train_cfg = make_config(preset, race_training(preset, overrides), TrainConfig)
    entered = () if no_baselines else tuple(baselines) if baselines else RaceConfig.baselines
    cfg = RaceConfig.for_minutes(minutes, rungs=rungs, samples=samples, random=random_draws, unit_epochs=unit_epochs,
                                 baselines=entered, given=tuple(str(g) for g in given or ()), seed=seed)
    summary = race(work, search, train_cfg, cfg, storage, show_progress=False)
    # the race's own unit: shared among fewer candidates than planned, it is longer than the one planned here
    unit = f"{unit_epochs} epoch(s)" if unit_epochs else f"{summary['unit_seconds']:.0f} s, validation included"
    t = Table(title=f"race on fold {fold} (inner Dice per rung; a unit is {unit})")
    t.add_column("candidate")
    for r in range(rungs):
        t.add_column(f"{2 ** r} unit(s)", justify="right")
    t.add_column("state")
    for name, row in ranked_rows(summary):
        t.add_row(name, *[f"{row['rungs'][str(2 ** r)]:.3f}" if str(2 ** r) in row["rungs"] else "" for r in range(rungs)], row["state"])
    out.print(t)
    out.print(units_line(summary))
    if "winner" in summary:
        out.print(winner_line(summary))
        out.print(f"the rung table: {race_folder(Path(work), fold)}/summary.json, drawn in race.png")
    else:
        out.print("the race is not finished: other workers still run trials; run the same command again to see the result")
