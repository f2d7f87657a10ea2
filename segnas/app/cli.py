"""The command line: each command parses flags and calls one library function; no logic lives here."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler

from segnas.errors import SegnasError
from segnas.runtime.workspace import RunFolder

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
                  help="Neural architecture search for medical image segmentation (SCNAS, RONASMIS, Thrifty NAS).")
out = Console()
err = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")


def reports_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a SegnasError into a red message on stderr and its exit code."""
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except SegnasError as e:
            err.print(f"[bold red]error:[/] {e}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(e.exit_code) from None
    return wrapper


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
    from segnas.app.report import validation_table
    from segnas.data.validate import validate_dataset
    from segnas.runtime.progress import progress
    with progress(transient=True) as bar:
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
    from segnas.app.report import plan_table
    from segnas.data.plan import plan_dataset
    p = plan_dataset(data, work, dims, budget, workers, num_folds, seed, search_ratio, group)
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
    from segnas.data.preprocess import preprocess_dataset
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
    minutes: Annotated[float | None, typer.Option("--minutes", min=0.1, help="Search budget: the proxy (width, patch) and schedule are chosen from "
                                                                             "steps timed on this device (default 30 unless --epochs is "
                                                                             "given).")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", "-e", min=1, help="The preset's fixed schedule with this many epochs, instead of a "
                                                                             "budget in minutes.")] = None,
    settings: Annotated[list[str] | None, typer.Option("--set", help="Override any setting: KEY=VALUE, e.g. steps_per_epoch=50, "
                                                                     "space_settings.channels=32, strategy_options.tau_end=0.2 (`segnas "
                                                                     "settings` lists them).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run from its last checkpoint (from the start if it has none yet).")] = False,
) -> None:
    """Search an architecture on a fold's search split; writes arch.json, a log, plots and checkpoints.

    By default the search fits 30 minutes of this machine and says at the end whether it decided.

    Example: [bold]segnas search --work work/la --preset scnas --fold 0 --minutes 60[/]
    """
    from segnas.config import budgeted_by_default, make_config, parse_overrides
    from segnas.nas.arch import load_architecture
    from segnas.nas.search import search as run_search
    overrides: dict[str, Any] = parse_overrides(settings or [])
    overrides.update({k: v for k, v in (("space", space), ("strategy", strategy), ("epochs", epochs), ("minutes", minutes))
                      if v is not None})
    overrides["fold"] = fold
    run = run_search(work, make_config(preset, budgeted_by_default(overrides)), resume=resume)
    words = load_architecture(RunFolder(run).arch).provenance.get("in_words")
    out.print(f"found architecture: [bold]{run / 'arch.json'}[/] (plots and log beside it)" + (f"\n{words}" if words else ""))


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
    timing: Annotated[bool, typer.Option("--timing", help="Also time a training step on this machine (batch 2 at --patch): "
                                         "predicted by the cost model and measured, with MONAI UNet's beside it.")] = False,
    device: Annotated[str, typer.Option("--device", help="Device for --timing: cpu, cuda, cuda:1 …")] = "cpu",
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
        out.print(f"predicted by the search's cost model: {c['predicted_step_ms']:.0f} ms per step (target {c['target_step_ms']:.0f} ms, "
                  f"MONAI UNet {c['reference_step_ms']:.0f} ms) at {c['at']['channels']} channels, patch "
                  f"{'×'.join(map(str, c['at']['patch_size']))}, batch {c['at']['batch_size']}")
    if "in_words" in arch.provenance:
        out.print(f"how it was found: {arch.provenance['in_words']}")
    for path in draw_cells(arch, out_dir or arch_file.parent):
        out.print(f"drew {path}")


Settings = Annotated[list[str] | None, typer.Option("--set", help="Override any setting: KEY=VALUE (repeatable; `segnas settings` lists them).")]


def torch_threads(n: int) -> None:
    """Let torch use `n` CPU threads (intra-op) in this process."""
    import torch
    torch.set_num_threads(n)


def parse_folds(text: str | None) -> list[int] | None:
    """'all' or None → None (every fold); '0,2' → [0, 2]."""
    if text is None or text == "all":
        return None
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise SegnasError(f"--fold {text!r}: expected a fold number, a list like 0,2, or all") from None


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

    Example: [bold]segnas train --work work/la --arch work/la/runs/search_scnas_unet_gumbel2_fold0/arch.json --fold all[/]
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
def predict(
    model: Annotated[list[Path], typer.Option("--model", "-m", help="A training run folder (holds arch.json, plan.json, best.pt); several (-m FOLD0 "
                                                                    "-m FOLD1 …) average their probabilities.")],
    inputs: Annotated[Path, typer.Option("--input", "-i", help="A NIfTI image or a folder of them.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the predicted label maps (not the input folder).")],
    mode: Annotated[str | None, typer.Option("--mode", help="sliding (50% overlap, Gaussian weights) or whole (one pass over the volume); default: "
                                                            "the model's.")] = None,
    tta: Annotated[bool, typer.Option("--tta", help="Average over mirrorings along every axis.")] = False,
    checkpoint: Annotated[str, typer.Option("--checkpoint", help="best (the training's selected weights: the last epoch unless it ran with "
                                                                 "select=inner or val) or last.")] = "best",
    save_probabilities: Annotated[bool, typer.Option("--save-probabilities", help="Also write class probabilities (.npz, float16).")] = False,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:1 …")] = "auto",
    keep: Annotated[bool, typer.Option("--continue", help="Keep predictions already in OUTPUT (an interrupted run's) and predict the rest.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace predictions already in OUTPUT (refused without "
                                                                  "this or --continue).")] = False,
    postprocessing: Annotated[Path | None, typer.Option("--postprocessing", help="A postprocessing.json (from `segnas postprocess`) "
                                                                                    "to apply.")] = None,
) -> None:
    """Predict label maps, written as NIfTI with exactly each input's shape and affine.

    Example: [bold]segnas predict -m work/la/runs/train_scnas_fold0 -m work/la/runs/train_scnas_fold1 -i data/imagesTs -o preds[/]
    """
    from segnas.inference.postprocess import load_rule
    from segnas.inference.predict import input_files, predict_files
    from segnas.networks.model import load_model
    rule = load_rule(postprocessing) if postprocessing is not None else None
    loaded = [load_model(m, checkpoint, device) for m in model]
    written = predict_files(loaded, input_files(inputs), output, mode, tta, save_probabilities, skip_existing=keep,
                            overwrite=overwrite, postprocessing=rule)
    out.print(f"wrote {len(written)} prediction(s) to [bold]{output}[/]" + (f" (mean of {len(loaded)} models)" if len(loaded) > 1 else ""))


Predictions = Annotated[Path, typer.Option("--pred", help="Folder of predicted label maps (e.g. WORK/predictions/scnas/fold0).")]
References = Annotated[Path, typer.Option("--ref", help="Folder of reference label maps (same file names).")]


@app.command()
@reports_errors
def postprocess(
    pred: Predictions,
    ref: References,
    out_file: Annotated[Path | None, typer.Option("--out", help="Where to write the rule (default PRED/postprocessing.json).")] = None,
) -> None:
    """Decide nnU-Net's post-processing on validation predictions: keep the largest connected component (foreground,
    then each class) where that raises the mean Dice. Apply it with `predict --postprocessing`.

    Example: [bold]segnas postprocess --pred work/la/predictions/scnas/fold0 --ref data/labelsTr[/]
    """
    from segnas.inference.postprocess import decide_folder
    rule = decide_folder(pred, ref, out_file)
    kept = (["foreground as one"] if rule["foreground_as_one"] else []) + [f"class {c}" for c in rule["classes"]]
    out.print(f"largest component kept for: {', '.join(kept) or 'nothing (it did not raise the Dice)'}; mean Dice per class "
              + ", ".join(f"{c}: {rule['dice_before'][c]:.3f} → {rule['dice_after'][c]:.3f}" for c in rule["dice_before"]))
    out.print(f"wrote [bold]{out_file or pred / 'postprocessing.json'}[/]")


@app.command()
@reports_errors
def evaluate(
    pred: Predictions,
    ref: References,
    dataset: Annotated[Path | None, typer.Option("--dataset", help="dataset.json (or its folder) for the class names.")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Where to write the metrics (default PRED/metrics.json).")] = None,
    workers: Workers = 2,
) -> None:
    """Dice and HD95 per case and class → metrics.json and a table; missing or misaligned predictions are errors.

    Example: [bold]segnas evaluate --pred preds --ref data/labelsTr --dataset data/dataset.json[/]
    """
    from segnas.inference.evaluate import evaluate_folders, metrics_table
    summary = evaluate_folders(pred, ref, dataset, out_file, workers)
    out.print(metrics_table(summary, f"{pred} vs {ref}"))
    out.print(f"wrote [bold]{out_file or pred / 'metrics.json'}[/]")


@app.command()
@reports_errors
def cv(folder: Annotated[Path, typer.Argument(metavar="FOLDER", help="Folder with fold*/metrics.json, e.g. WORK/predictions/scnas.")]) -> None:
    """Aggregate the folds' metrics: mean ± sd per class over all held-out cases → cv_summary.json.

    Example: [bold]segnas cv work/la/predictions/scnas[/]
    """
    from segnas.inference.evaluate import cross_validation, cv_table
    out.print(cv_table(cross_validation(folder), str(folder)))
    out.print(f"wrote [bold]{folder / 'cv_summary.json'}[/]")


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
                                                                                           "--search-set epochs=N).")] = None,
    search_settings: Annotated[list[str] | None, typer.Option("--search-set", help="Search setting KEY=VALUE (repeatable; `segnas settings` lists "
                                                                                   "them).")] = None,
    train_settings: Annotated[list[str] | None, typer.Option("--train-set", help="Training setting KEY=VALUE (repeatable; `segnas settings` lists "
                                                                                 "them).")] = None,
    group: Annotated[str | None, typer.Option("--group", help=r"Regex naming the patient so a patient's cases share a fold "
                                                          r"(e.g. 'patient(\d+)').")] = None,
    force: Annotated[str | None, typer.Option("--force", help="Redo this stage and all after it: plan, preprocess, search, "
                                                          "train or predict.")] = None,
    workers: Workers = 2,
    minutes: Annotated[float | None, typer.Option("--minutes", min=1.0, help="Each fold's time in all: a budgeted, hardware-aware "
                                                  "search (--search-share of it), a race at equal wall clock (--race-share), then the "
                                                  "race's winner trains on for the rest and is the fold's model.")] = None,
    search_share: Annotated[float, typer.Option("--search-share", min=0.05, max=0.95, help="With --minutes: the search's share.")] = 0.2,
    race_share: Annotated[float, typer.Option("--race-share", min=0.05, max=0.95, help="With --minutes: the race's share.")] = 0.4,
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
                 parse_overrides(train_settings or []), plan_options, force, workers, out, minutes, search_share, race_share)


@app.command()
@reports_errors
def report(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="A search or training run folder.")],
    metrics: Annotated[Path | None, typer.Option("--metrics", help="metrics.json of the run's held-out predictions (default: the one `segnas run` "
                                                                   "wrote for it, if any).")] = None,
) -> None:
    """One HTML page for a run: plots, summary, found cells, per-case metrics, overlays of the best, median and worst case.

    Example: [bold]segnas report work/la/runs/train_scnas_fold0[/]
    """
    from segnas.app.run_report import write_report
    page = write_report(run, metrics)
    out.print(f"wrote [bold]{page}[/] (open it in a browser)")


@app.command()
@reports_errors
def settings(
    preset: Annotated[str | None, typer.Option("--preset", "-p", help="Show a paper's values (scnas, ronasmis, thrifty, darts).")] = None,
) -> None:
    """Every search and training setting with its value and meaning: the keys of --set, --search-set, --train-set.

    Example: [bold]segnas settings --preset thrifty[/]
    """
    from rich.table import Table

    from segnas.config import SearchConfig, TrainConfig, describe_settings
    for title, kind, flag in (("search", SearchConfig, "search --set / run --search-set"),
                              ("training", TrainConfig, "train --set / run --train-set")):
        table = Table(title=f"{title} settings ({flag}), preset {preset or 'none'}", title_justify="left")
        for column in ("key", "value", "meaning"):
            table.add_column(column)
        for key, value, meaning in describe_settings(kind, preset):
            table.add_row(key, json.dumps(value), meaning)
        out.print(table)


@app.command()
@reports_errors
def export(
    model: Annotated[Path, typer.Argument(metavar="RUN", help="A training run folder.")],
    out_file: Annotated[Path | None, typer.Option("--out", help="TorchScript file (default RUN/model.ts).")] = None,
    checkpoint: Annotated[str, typer.Option("--checkpoint", help="best or last.")] = "best",
) -> None:
    """Write TorchScript models (run with torch alone): the network, checked against the eager one, and the network with its preprocessing.

    Example: [bold]segnas export work/la/runs/train_scnas_fold0[/]
    """
    from segnas.inference.export import export_model
    info = export_model(model, out_file, checkpoint)
    target = out_file or model / "model.ts"
    out.print(f"wrote [bold]{target}[/] and its .json; max difference to the eager model "
              f"{info['max_abs_difference_vs_eager']:.2g}; with its preprocessing, for use without segnas: "
              f"[bold]{target.with_name(info['with_preprocessing']['file'])}[/]")


@app.command()
@reports_errors
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the demo's data and work.")] = Path("demo_run"),
    cases: Annotated[int, typer.Option("--cases", min=4, help="Synthetic cases.")] = 12,
    dims: Annotated[int, typer.Option("--dims", help="2 or 3.")] = 3,
    workers: Workers = 2,
    quick: Annotated[bool, typer.Option("--quick", help="One short epoch per stage: a smoke test, not a result.")] = False,
) -> None:
    """The whole pipeline on fresh synthetic data: synth → validate → plan → preprocess → search → train → predict → evaluate.

    Example: [bold]segnas demo --out demo_run[/]
    """
    from segnas.app.demo import run_demo
    run_demo(out_dir, cases, dims, workers, out, quick)


def _race_command() -> None:
    from segnas.app.race_command import race_command
    app.command("race")(reports_errors(race_command))


_race_command()


def main() -> None:
    """Entry point of the `segnas` script."""
    app(prog_name="segnas")


if __name__ == "__main__":
    main()
    sys.exit(0)
