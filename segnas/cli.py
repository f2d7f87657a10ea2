"""The command line: each command parses flags and calls one library function; no logic lives here."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler

from segnas.errors import SegnasError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
                  help="Neural architecture search for medical image segmentation (SCNAS, RONASMIS, Thrifty NAS).")
out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(fn: F) -> F:
    """Turn a SegnasError into a red message on stderr and its exit code."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SegnasError as e:
            err.print(f"[bold red]error:[/] {e}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(e.exit_code) from None
    return wrapper  # type: ignore[return-value]


@app.callback()
def _setup(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s",
                        handlers=[RichHandler(console=err, show_path=False)])


Work = Annotated[Path, typer.Option("--work", "-w", help="Work folder (plan, preprocessed cases, runs).")]
Workers = Annotated[int, typer.Option("--workers", "-j", min=1, help="Worker processes.")]


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
    from segnas.synthetic import make_dataset
    path = make_dataset(out_dir, cases, dims, seed, force)
    out.print(f"wrote {cases} synthetic {dims}D case(s) to [bold]{path}[/]")


@app.command()
@reports_errors
def validate(data: Annotated[Path, typer.Argument(metavar="DATA", help="MSD dataset folder (with dataset.json).")]) -> None:
    """Check a dataset and list every problem with its file; writes nothing.

    Exits 0 with a summary table when the dataset is sound, 1 when anything is wrong.

    Example: [bold]segnas validate ../shared/data/LA2018_down2[/]
    """
    from segnas.report import validation_table
    from segnas.validate import validate_dataset
    from segnas.parallel import progress_bar
    with progress_bar(transient=True) as bar:
        task = bar.add_task("validate")
        report = validate_dataset(data, lambda i, n: bar.update(task, completed=i, total=n))
    if report.cases:
        out.print(validation_table(report))
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
    folds: Annotated[int, typer.Option("--folds", min=2, help="Cross-validation folds.")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fold assignment.")] = 0,
    search_ratio: Annotated[float, typer.Option("--search-ratio", help="Share of a fold's training cases that train weights during search; the rest validate architectures.")] = 0.8,
    group: Annotated[str | None, typer.Option("--group", help=r"Regex whose first group names the patient, so a patient's cases stay together (e.g. 'patient(\d+)').")] = None,
    workers: Workers = 2,
) -> None:
    """Fingerprint a dataset and write fingerprint.json, plan.json and splits.json (plan.json is yours to edit).

    Example: [bold]segnas plan ../shared/data/LA2018_down2 --work work/la[/]
    """
    from segnas.plan import plan_dataset
    from segnas.report import plan_table
    p = plan_dataset(data, work, dims, budget, workers, folds, seed, search_ratio, group)
    out.print(plan_table(p))
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
    from segnas.preprocess import preprocess_dataset
    counts = preprocess_dataset(work, workers, force)
    out.print(f"preprocessed {counts['done']} case(s), {counts['cached']} already cached, in [bold]{work}/preprocessed[/]")


@app.command()
@reports_errors
def search(
    work: Work,
    preset: Annotated[str, typer.Option("--preset", "-p", help="scnas, ronasmis, thrifty or darts: a paper's settings.")] = "scnas",
    space: Annotated[str | None, typer.Option("--space", help="Override the preset's space (unet, nested).")] = None,
    strategy: Annotated[str | None, typer.Option("--strategy", help="Override the preset's strategy (gumbel2, darts, pcdarts, enas).")] = None,
    fold: Annotated[int, typer.Option("--fold", "-f", min=0, help="Cross-validation fold whose training cases are searched on.")] = 0,
    epochs: Annotated[int | None, typer.Option("--epochs", "-e", min=1, help="Epochs (default: the preset's).")] = None,
    settings: Annotated[list[str] | None, typer.Option("--set", help="Override any setting: KEY=VALUE, e.g. steps_per_epoch=50, space_settings.channels=32, strategy_options.tau_end=0.2.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run from its last checkpoint.")] = False,
) -> None:
    """Search an architecture on a fold's search split; writes arch.json, a log, plots and checkpoints.

    Example: [bold]segnas search --work work/la --preset scnas --fold 0 --set space_settings.channels=16[/]
    """
    from segnas.config import make_config, parse_overrides
    from segnas.search import search as run_search
    overrides: dict[str, Any] = parse_overrides(settings or [])
    overrides.update({k: v for k, v in (("space", space), ("strategy", strategy), ("epochs", epochs)) if v is not None})
    overrides["fold"] = fold
    run = run_search(work, make_config(preset, overrides), resume=resume)
    out.print(f"found architecture: [bold]{run / 'arch.json'}[/] (plots and log beside it)")


def parse_patch(text: str) -> list[int]:
    """'128x128x128' or '128,128,128' → [128, 128, 128]."""
    try:
        patch = [int(v) for v in text.replace(",", "x").split("x")]
    except ValueError:
        raise SegnasError(f"--patch {text!r}: expected sizes like 128x128x128") from None
    if not 2 <= len(patch) <= 3 or min(patch) < 1:
        raise SegnasError(f"--patch {text!r}: expected 2 or 3 positive sizes")
    return patch


@app.command()
@reports_errors
def show(
    arch_file: Annotated[Path, typer.Argument(metavar="ARCH", help="An arch.json file.")],
    patch: Annotated[str | None, typer.Option("--patch", help="Patch for GFLOPs, e.g. 128x128x128 (default 128³ in 3D, 256² in 2D).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for the cell drawings (default: beside ARCH).")] = None,
) -> None:
    """Print an architecture with its parameters and GFLOPs, and draw each cell type as a PNG.

    Example: [bold]segnas show runs/scnas/arch.json --patch 128x128x128[/]
    """
    from rich.table import Table

    from segnas.arch import load_architecture
    from segnas.show import draw_cells, summarize
    from segnas.spaces import get_space
    loaded = load_architecture(arch_file)
    arch = get_space(loaded.space).check(loaded, str(arch_file))
    size = parse_patch(patch) if patch else [128] * 3 if arch.settings["dims"] == 3 else [256] * 2
    if len(size) != arch.settings["dims"]:
        raise SegnasError(f"--patch {patch}: {len(size)} sizes for a {arch.settings['dims']}D architecture")
    info = summarize(arch, size)
    out.print(str(arch))
    t = Table(title=f"{arch.space} at {'×'.join(map(str, size))}")
    for col in ("parameters", "GFLOPs (forward)", "supernet parameters"):
        t.add_column(col, justify="right")
    t.add_row(f"{info['parameters']:,}", f"{info['gflops']:.2f}", f"{info['supernet_parameters']:,}")
    out.print(t)
    for path in draw_cells(arch, out_dir or arch_file.parent):
        out.print(f"drew {path}")


@app.command()
@reports_errors
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the demo's data and work.")] = Path("demo_run"),
    cases: Annotated[int, typer.Option("--cases", min=4, help="Synthetic cases.")] = 12,
    dims: Annotated[int, typer.Option("--dims", help="2 or 3.")] = 3,
    workers: Workers = 2,
) -> None:
    """Run the pipeline on fresh synthetic data: synth → validate → plan → preprocess → patches → search.

    Example: [bold]segnas demo --out demo_run[/]
    """
    from segnas.demo import run_demo
    run_demo(out_dir, cases, dims, workers, out)


def main() -> None:
    """Entry point of the `segnas` script."""
    app(prog_name="segnas")


if __name__ == "__main__":
    main()
    sys.exit(0)
