"""Commands of the data world: synth, validate, plan, preprocess."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from segnas.app.cli_base import Work, Workers, app, out, reports_errors
from segnas.errors import SegnasError


@app.command()
@reports_errors
def synth(
    out_dir: Annotated[Path, typer.Argument(metavar="OUT", help="Folder to create (MSD layout).")],
    cases: Annotated[int, typer.Option("--cases", "-n", min=1, help="Number of cases.")] = 12,
    dims: Annotated[int, typer.Option("--dims", help="2 or 3.")] = 3,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same files.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")] = False,
) -> None:
    """Write the built-in synthetic organ + lesion dataset.

    Example: [bold]segnas synth data/synth3d --cases 12 --dims 3 --seed 0[/]
    """
    from segnas.data.synthetic import make_dataset
    path = make_dataset(out_dir, cases, dims, seed, force)
    out.print(f"wrote {cases} synthetic {dims}D case(s) to [bold]{path}[/]")


@app.command()
@reports_errors
def validate(data: Annotated[Path, typer.Argument(metavar="DATA", help="MSD dataset folder (with dataset.json).")]) -> None:
    """Check a dataset and list every problem with its file; writes nothing.

    Exits 0 with a summary table when the dataset is sound, 1 when anything is wrong.

    Example: [bold]segnas validate ../shared/data/LA2018_down2[/]
    """
    from segnas.app.report import print_notes, validation_table
    from segnas.data.validate import validate_dataset
    from segnas.runtime.progress import progress
    with progress(transient=True) as bar:
        task = bar.add_task("validate")
        report = validate_dataset(data, lambda i, n: bar.update(task, completed=i, total=n))
    if report.cases:
        out.print(validation_table(report))
    print_notes(out, report.notes)
    if not report.ok:
        raise SegnasError(f"{data}: {len(report.problems)} problem(s) found", report.problems)
    out.print(f"[green]{data}: {len(report.cases)} case(s), no problems[/]")


@app.command()
@reports_errors
def plan(
    data: Annotated[Path, typer.Argument(metavar="DATA", help="MSD dataset folder.")],
    work: Work,
    dims: Annotated[int | None, typer.Option("--dims", help="Force a 2D or 3D plan (default: from the data).")] = None,
    budget: Annotated[int | None, typer.Option("--budget", help="Patch voxel budget (default 96³ in 3D, 256² in 2D).")] = None,
    num_folds: Annotated[int | None, typer.Option("--num-folds", min=2, help="How many cross-validation folds (default 5, or one per case group "
                                                                             "when there are fewer).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fold assignment.")] = 0,
    search_ratio: Annotated[float, typer.Option("--search-ratio", help="Share of a fold's training cases that train weights during search; the rest "
                                                                       "validate architectures.")] = 0.8,
    group: Annotated[str | None, typer.Option("--group", help=r"Regex whose first group names the patient, so a patient's cases stay together "
                                                          r"(e.g. 'patient(\d+)').")] = None,
    workers: Workers = 2,
) -> None:
    """Fingerprint a dataset and write fingerprint.json, plan.json and splits.json (plan.json is yours to edit).

    Example: [bold]segnas plan ../shared/data/LA2018_down2 --work work/la[/]
    """
    from segnas.app.report import plan_table, print_notes
    from segnas.data.plan import plan_dataset
    from segnas.runtime.files import read_json
    from segnas.runtime.workspace import Workspace
    p = plan_dataset(data, work, dims, budget, workers, num_folds, seed, search_ratio, group)
    out.print(plan_table(p))
    print_notes(out, read_json(Workspace(work).fingerprint)["notes"])
    out.print(f"wrote [bold]{work}/plan.json[/], fingerprint.json, splits.json")


@app.command()
@reports_errors
def preprocess(
    work: Work,
    workers: Workers = 2,
    force: Annotated[bool, typer.Option("--force", help="Redo cases already cached.")] = False,
) -> None:
    """Crop, normalise and resample every case as plan.json says; cached and resumable.

    Example: [bold]segnas preprocess --work work/la[/]
    """
    from segnas.data.preprocess import preprocess_dataset
    counts = preprocess_dataset(work, workers, force)
    out.print(f"preprocessed {counts['done']} case(s), {counts['cached']} already cached, in [bold]{work}/preprocessed[/]")
