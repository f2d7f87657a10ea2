"""Commands that make models: search, show, train, and run (every stage)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from segnas.app.cli_base import Settings, Work, Workers, app, out, parse_folds, parse_patch, reports_errors, torch_threads
from segnas.errors import SegnasError
from segnas.runtime.workspace import RunFolder, Workspace


@app.command()
@reports_errors
def search(
    work: Work,
    preset: Annotated[str, typer.Option("--preset", "-p", help="scnas, ronasmis, thrifty or darts: a paper's settings.")] = "scnas",
    space: Annotated[str | None, typer.Option("--space", help="Override the preset's space (unet, nested).")] = None,
    strategy: Annotated[str | None, typer.Option("--strategy", help="The strategy: trained (short trainings of whole networks; the "
                                                                 "default with a budget in minutes, but for ronasmis), or the "
                                                                 "papers' one-shot gumbel2, darts, pcdarts, enas (the preset's "
                                                                 "with --epochs).")] = None,
    fold: Annotated[int, typer.Option("--fold", "-f", min=0, help="Cross-validation fold whose training cases are searched on.")] = 0,
    minutes: Annotated[float | None, typer.Option("--minutes", min=0.1, help="Search budget: the proxy (width, patch) and schedule are chosen from "
                                                                             "steps timed on this device (default 30 unless --epochs is "
                                                                             "given).")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", "-e", min=1, help="The preset's fixed schedule with this many epochs, instead of a "
                                                                             "budget in minutes.")] = None,
    settings: Annotated[list[str] | None, typer.Option("--set", help="Override any setting: KEY=VALUE, e.g. steps_per_epoch=50, "
                                                                     "space_settings.channels=32, strategy_options.tau_end=0.2 (`segnas "
                                                                     "settings` lists them).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run from its last checkpoint (from the start if it has none yet).")] = False,
    placebo: Annotated[bool, typer.Option("--placebo", help="Run the same search with the fold's training labels shuffled across cases "
                                                            "(in WORK/placebo/): a control of whether its decisions are about your "
                                                            "labels or only about how fast networks learn.")] = False,
) -> None:
    """Search an architecture on a fold's search split; writes arch.json, a log, plots and checkpoints.

    By default the search fits 30 minutes of this machine, trains the networks it proposes briefly (the search by
    training, hardware-aware: the strategy that decides on such budgets; name another with --strategy, or run the
    paper's fixed schedule with --epochs) and says at the end whether it decided. Once a search and
    its --placebo (same settings) have both finished, either command compares them and writes placebo.json beside
    the search's arch.json.

    Example: [bold]segnas search --work work/la --preset scnas --fold 0 --minutes 60[/]
    """
    from segnas.app.pipeline import default_search
    from segnas.config import budgeted_by_default, make_config, parse_overrides
    from segnas.data.plan import planned
    from segnas.nas.arch import load_architecture
    from segnas.selection import placebo as control
    from segnas.selection.searches import search as run_search
    overrides: dict[str, Any] = parse_overrides(settings or [])
    overrides.update({k: v for k, v in (("space", space), ("strategy", strategy), ("epochs", epochs), ("minutes", minutes))
                      if v is not None})
    overrides["fold"] = fold
    ws = Workspace(Path(work))
    cfg = make_config(preset, default_search(planned(ws), preset, budgeted_by_default(overrides)))
    run = (control.placebo_search if placebo else run_search)(work, cfg, resume=resume)
    said = load_architecture(RunFolder(run).arch).provenance.get("verdict")  # its words were logged as the search ended
    what = "placebo's architecture (labels shuffled)" if placebo else "found architecture"
    out.print(f"{what}: [bold]{run / 'arch.json'}[/] (plots and log beside it)"
              + (f"; verdict: {said} (in words above, and in `segnas show`)" if said else ""))
    if (compared := control.report(work, cfg)) is not None:
        folder = compared['files']['search'].removesuffix('arch.json')
        out.print(f"search against its placebo ({folder}placebo.json, drawn in placebo.png):\n{compared['in_words']}")
        print_readings(compared)
    elif placebo or Workspace(Path(work)).placebo(cfg.fold, cfg.seed).is_dir():
        out.print("the search and its placebo (the same command with --placebo) are compared once both have finished: the "
                  "second to finish writes placebo.json beside the search's arch.json (or run either again with --resume)")


@app.command()
@reports_errors
def show(
    arch_file: Annotated[Path, typer.Argument(metavar="ARCH", help="An arch.json file.")],
    patch: Annotated[str | None, typer.Option("--patch", help="Patch for GFLOPs, e.g. 128x128x128 (default 128³ in 3D, 256² in 2D).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for the cell drawings (default: beside ARCH).")] = None,
    timing: Annotated[bool, typer.Option("--timing", help="Also time a training step on this machine (batch 2 at --patch): "
                                         "predicted by the cost model and measured, with MONAI UNet's beside it.")] = False,
    device: Annotated[str, typer.Option("--device", help="Device for --timing: cpu, cuda, cuda:1 …")] = "cpu",
    width: Annotated[int | None, typer.Option("--width", min=1, help="Stem channels to size and time it at, as `segnas train --width` "
                                                                  "builds it (default: the file's).")] = None,
) -> None:
    """Print an architecture with its parameters and GFLOPs, and draw each cell type as a PNG.

    Example: [bold]segnas show runs/scnas/arch.json --patch 128x128x128[/]
    """
    from rich.table import Table

    from segnas.app.show import draw_cells, summarize
    from segnas.nas.arch import load_architecture
    from segnas.nas.spaces import get_space
    loaded = load_architecture(arch_file)
    arch = get_space(loaded.space, arch_file).check(loaded, str(arch_file))
    if width is not None:
        arch = arch.with_settings(channels=width)
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
    if timing:
        from segnas.app.show import step_cost
        c = step_cost(arch, size, None, device)
        t = Table(title=f"training step on {device}, batch 2 at {'×'.join(map(str, size))}")
        for col in ("", "ms per step", "activation MiB"):
            t.add_column(col, justify="right")
        t.add_row("predicted (cost model)", f"{c['predicted_ms']:.0f}", f"{c['predicted_mb']:.0f}")
        t.add_row("measured", f"{c['measured_ms']:.0f}", f"{c['measured_mb']:.0f}")
        t.add_row("MONAI UNet, measured", f"{c['monai_unet_ms']:.0f}", "")
        out.print(t)
    if "cost" in arch.provenance:
        c = arch.provenance["cost"]
        at = c.get("at", {})
        patch = "×".join(map(str, at["patch_size"])) if isinstance(at.get("patch_size"), list) else "the plan's"
        where = f" at {at['channels']} channels, patch {patch}, batch {at['batch_size']}" if at else ""
        how = (f"predicted by the search's cost model: {c['predicted_step_ms']:.0f} ms per step" if "predicted_step_ms" in c
               else f"measured in the search: {c['measured_step_ms']:.0f} ms per step" if c.get("measured_step_ms") else "the search's yardstick:")
        out.print(f"{how} (target {c['target_step_ms']:.0f} ms, MONAI UNet {c['reference_step_ms']:.0f} ms){where}")
        if timing and at.get("channels") not in (None, arch.settings.get("channels")):
            out.print(f"(timed above at {arch.settings.get('channels')} channels; add --width {at['channels']} to time it as the search did)")
    if "in_words" in arch.provenance:
        out.print(f"how it was found: {arch.provenance['in_words']}")
    if (compared := RunFolder(arch_file.parent).placebo).is_file():
        from segnas.runtime.files import read_json
        out.print(f"against its placebo ({compared}): {read_json(compared)['in_words']}")
        print_readings(read_json(compared))
    for path in draw_cells(arch, out_dir or arch_file.parent):
        out.print(f"drew {path}")


@app.command()
@reports_errors
def train(
    work: Work,
    arch: Annotated[Path, typer.Option("--arch", "-a", help="arch.json of a search (or any architecture file, e.g. from another dataset), or a "
                                                            "baseline: monai_unet, monai_dynunet.")],
    preset: Annotated[str, typer.Option("--preset", "-p", help="scnas, ronasmis, thrifty or darts: a paper's training recipe.")] = "scnas",
    fold: Annotated[str, typer.Option("--fold", "-f", help="Fold number, a list like 0,2, or all.")] = "0",
    width: Annotated[int | None, typer.Option("--width", help="Stem channels of the trained network (default: the "
                                                             "preset's; SCNAS retrains at 68).")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", "-e", min=1, help="Epochs (default: the preset's).")] = None,
    steps: Annotated[int | None, typer.Option("--steps", min=1, help="Training steps in all (epochs × steps_per_epoch; a multiple of "
                                                                     "steps_per_epoch).")] = None,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="CPU threads of torch (default: torch's choice).")] = None,
    settings: Settings = None,
    name: Annotated[str | None, typer.Option("--name", help="Run folder name under WORK/runs (default train_<preset>_fold<F>).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint (from the start if it has none yet).")] = False,
) -> None:
    """Train a found architecture on a fold: wider if asked, for this dataset's channels and classes (transfer).

    Example: [bold]segnas train --work work/la --arch work/la/runs/search_scnas_unet_trained_fold0/arch.json --fold all[/]
    """
    from segnas.config import TrainConfig, make_config, parse_overrides, steps_to_epochs
    from segnas.data.splits import load_splits
    from segnas.runtime.workspace import Workspace
    from segnas.training.train import baseline_file
    from segnas.training.train import train as run_train
    if threads is not None:
        torch_threads(threads)
    overrides: dict[str, Any] = parse_overrides(settings or [])
    overrides.update({k: v for k, v in (("width", width), ("epochs", epochs)) if v is not None})
    arch = baseline_file(Workspace(work), str(arch)) if not arch.exists() else arch
    folds = parse_folds(fold)
    folds = folds if folds is not None else list(range(len(load_splits(Workspace(work)).folds)))
    for f in folds:
        cfg = make_config(preset, {**overrides, "fold": f}, TrainConfig)
        if steps is not None:
            cfg.epochs = steps_to_epochs(steps, cfg.steps_per_epoch)
        run = run_train(work, arch, cfg, work / "runs" / f"{name}_fold{f}" if name else None, resume=resume)
        out.print(f"trained model: [bold]{run}[/] (best.pt, checkpoint.pt, log.jsonl, learning_curve.png)")


@app.command()
@reports_errors
def run(
    data: Annotated[Path, typer.Argument(metavar="DATA", help="MSD dataset folder.")],
    work: Work,
    preset: Annotated[str, typer.Option("--preset", "-p", help="scnas, ronasmis, thrifty or darts.")] = "scnas",
    fold: Annotated[str | None, typer.Option("--fold", "-f", help="Which folds to run: 0, a list like 0,2, or all (default all).")] = None,
    num_folds: Annotated[int | None, typer.Option("--num-folds", min=2, help="How many folds the plan makes (default 5, or one per case group when "
                                                                             "there are fewer).")] = None,
    search_minutes: Annotated[float | None, typer.Option("--search-minutes", min=0.1, help="Each fold's search budget in minutes (default 30 unless "
                                                                                           "--search-set epochs=N): a search by "
                                                                                           "training unless --search-set strategy=… "
                                                                                           "(ronasmis: its own).")] = None,
    search_settings: Annotated[list[str] | None, typer.Option("--search-set", help="Search setting KEY=VALUE (repeatable; `segnas settings` lists "
                                                                                   "them).")] = None,
    train_settings: Annotated[list[str] | None, typer.Option("--train-set", help="Training setting KEY=VALUE (repeatable; `segnas settings` lists "
                                                                                 "them).")] = None,
    group: Annotated[str | None, typer.Option("--group", help=r"Regex naming the patient so a patient's cases share a fold "
                                                          r"(e.g. 'patient(\d+)').")] = None,
    force: Annotated[str | None, typer.Option("--force", help="Redo this stage and all after it: plan, preprocess, search, "
                                                          "train or predict.")] = None,
    workers: Workers = 2,
    minutes: Annotated[float | None, typer.Option("--minutes", min=0.25, help="Each fold's time in all: a budgeted, hardware-aware "
                                                  "search (--search-share of it), a race at equal wall clock (--race-share), then the "
                                                  "race's winner trains on for the rest and is the fold's model.")] = None,
    search_share: Annotated[float, typer.Option("--search-share", min=0.05, max=0.95, help="With --minutes: the search's share.")] = 0.2,
    race_share: Annotated[float, typer.Option("--race-share", min=0.05, max=0.95, help="With --minutes: the race's share.")] = 0.4,
    min_unit_steps: Annotated[int, typer.Option("--min-unit-steps", min=1, help="With --minutes: no search or race unless a race unit gives "
                                                "MONAI's UNet this many steps on this machine (else it trains for all the minutes).")] = 500,
    candidates: Annotated[list[Path] | None, typer.Option("--candidate", help="With --minutes: an arch.json that races beside the "
                                                          "search's networks, named by its file (repeatable): a network found "
                                                          "on another dataset, fitted to this one (transfer).")] = None,
) -> None:
    """Every stage: validate → plan → preprocess → per fold search → train → predict held-out cases → evaluate → CV.

    Stages whose outputs exist are skipped; interrupted searches and trainings resume.

    Example: [bold]segnas run ../shared/data/LA2018_down2 --work work/la --preset scnas --fold 0[/]
    """
    from segnas.app.pipeline import run_pipeline
    from segnas.config import budgeted_by_default, parse_overrides
    plan_options = {k: v for k, v in (("group_pattern", group), ("folds", num_folds)) if v is not None}
    searching = parse_overrides(search_settings or []) | ({"minutes": search_minutes} if search_minutes is not None else {})
    run_pipeline(data, work, preset, parse_folds(fold), budgeted_by_default(searching),
                 parse_overrides(train_settings or []), plan_options, force, workers, out, minutes, search_share, race_share,
                 {"min_unit_steps": min_unit_steps, "given": tuple(str(c) for c in candidates or ())})


def print_readings(compared: dict[str, Any]) -> None:
    """A search against its placebo, decision by decision, as a table (nothing when placebo.json has no readings)."""
    from rich.table import Table

    if not compared.get("decisions"):
        return
    t = Table(title="each decision: the search's and the placebo's first choice")
    for column in ("decision", "search", "placebo (labels shuffled)", "about"):
        t.add_column(column)
    for label, r in compared["decisions"].items():
        t.add_row(label, r["search"] + ("" if r["search_decided"] else " (open)"),
                  r["placebo"] + ("" if r["placebo_decided"] else " (open)"), r["about"])
    out.print(t)
