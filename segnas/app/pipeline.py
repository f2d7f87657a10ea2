"""`segnas run`: validate → plan → preprocess → per fold (search → train → predict held-out cases → evaluate) → cross-validation.

Resumable stage by stage: a stage whose outputs exist is kept when they were made from the same settings,
inputs and format (otherwise it stops, naming what differs), a run with a checkpoint is resumed, and `force`
redoes a stage and every stage after it. Every setting is checked before the first stage runs.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from segnas.data.plan import Plan
from segnas.errors import SegnasError
from segnas.nas.arch import load_architecture
from segnas.runtime.files import read_json, write_json
from segnas.runtime.lock import work_lock
from segnas.runtime.staleness import FORMAT, setting_changes, signature_changes, stale
from segnas.runtime.workspace import ARCH, SUMMARY, RunFolder, Workspace

if TYPE_CHECKING:
    from segnas.config import TrainConfig
    from segnas.selection.race import RaceConfig

STAGES = ("plan", "preprocess", "search", "train", "predict")
# `segnas run --minutes M`: shares of each fold's M for the search and the race; the race's winner trains on for the rest
SEARCH_SHARE, RACE_SHARE = 0.2, 0.4
DEFAULT_COST_WEIGHT = 1.0  # a budgeted search on half the grid weighs the predicted step beyond cost_target × MONAI UNet's
DEFAULT_STEM_STRIDE = 2  # and in 3D runs its cells on half the grid (BENCHMARKS.md, "Cells on half the grid")
# and searches by training, one op per cell type: on LA its exports beat every random draw of the space, the one-shot
# searches' did not (BENCHMARKS.md, "Deciding by training"; "The search by training with Dice and step time modelled apart")
DEFAULT_STRATEGY, DEFAULT_TIE = "trained", "cell"


def forced(stage: str, force: str | None) -> bool:
    """Whether `stage` is redone when `force` names the first stage to redo."""
    if force is None:
        return False
    if force not in STAGES:
        raise SegnasError(f"--force {force!r}: known stages are {', '.join(STAGES)}")
    return STAGES.index(stage) >= STAGES.index(force)


def plan_stage(data: Path, ws: Workspace, force: str | None, workers: int, plan_options: dict[str, Any], con: Console) -> Plan:
    """Validate the data and plan; a kept plan is used only for the same files (then they are not read again)
    and the same split options."""
    from segnas.app.report import plan_table, print_notes, validation_table
    from segnas.data.msd import data_signature, load_dataset
    from segnas.data.plan import load_plan, plan_dataset
    from segnas.data.splits import load_splits
    from segnas.data.validate import validate_dataset

    con.rule("validate")
    kept = ws.plan.is_file() and not forced("plan", force)
    if kept:
        plan = load_plan(ws)
        if Path(plan.dataset).resolve() != data.resolve():
            raise SegnasError(f"{ws.plan}: this work folder was planned for {plan.dataset}, not {data}; use another --work")
    saved = read_json(ws.fingerprint).get("files") if kept and ws.fingerprint.is_file() else None  # None: planned before signatures
    if saved is not None:
        changes = signature_changes(saved, data_signature(load_dataset(data)))
        if changes:
            raise stale("plan", ws.plan, [f"the dataset's files changed since planning: {c}" for c in changes])
        con.print(f"{len(saved) - 1} case(s) unchanged since they were validated and planned: not read again")
    else:
        report = validate_dataset(data)
        if not report.ok:
            raise SegnasError(f"{data}: {len(report.problems)} problem(s) found", report.problems)
        con.print(validation_table(report))
    con.rule("plan")
    if kept:
        splits = load_splits(ws)
        made = {"folds": len(splits.folds), "group_pattern": splits.group_pattern}
        asked = {k: v for k, v in plan_options.items() if k in made}
        changes = setting_changes({k: made[k] for k in asked}, asked)
        if changes:
            raise stale("plan", ws.splits, [f"split option {c}" for c in changes])
        con.print(f"kept the existing {ws.plan} (use --force plan to redo)")
    else:
        plan = plan_dataset(data, ws.root, workers=workers, validated=True, **plan_options)
    con.print(plan_table(plan))
    print_notes(con, read_json(ws.fingerprint).get("notes", []))  # a plan made before notes has none
    return plan


def _prepare(run: Path, done: str, stage: str, force: str | None, kept: str, con: Console) -> bool | None:
    """None when the run finished before (its `done` file exists): keep it; else whether to resume it.
    A forced stage's run folder is removed first."""
    if forced(stage, force) and run.exists():
        shutil.rmtree(run)
    if (run / done).is_file():
        con.print(kept)
        return None
    resume = (RunFolder(run).checkpoint).is_file()
    con.print(f"{'resuming' if resume else 'starting'} {stage} {run.name}")
    return resume


def search_stage(ws: Workspace, preset: str, fold: int, overrides: dict[str, Any], force: str | None, con: Console) -> Path:
    """The fold's search run folder with `arch.json` (searched, resumed or kept)."""
    from segnas.config import make_config
    from segnas.nas.search import run_folder
    from segnas.selection.searches import search

    cfg = make_config(preset, {**overrides, "fold": fold})
    run = run_folder(ws.root, cfg)
    resume = _prepare(run, ARCH, "search", force, f"fold {fold}: kept the found architecture {RunFolder(run).arch}", con)
    if resume is None:
        _check_kept("search", run, cfg.to_json())
        return run
    run = search(ws.root, cfg, resume=resume)
    describe(run, ws, con)
    return run


def describe(run: Path, ws: Workspace, con: Console) -> None:
    """Draw the found cells beside arch.json and print the network's size."""
    from segnas.app.show import draw_cells, summarize
    from segnas.data.plan import load_plan
    from segnas.nas.arch import load_architecture

    arch = load_architecture(RunFolder(run).arch)
    patch = load_plan(ws).patch_size
    draw_cells(arch, run)
    info = summarize(arch, patch)
    con.print(f"found {run / 'arch.json'}: {info['parameters']:,} parameters as searched ({info['supernet_parameters']:,} "
              f"in the supernet), {info['gflops']:.2f} GFLOPs per {'×'.join(map(str, patch))} patch; cells drawn in {run}/cell_*.png")


def train_stage(ws: Workspace, preset: str, fold: int, arch_path: Path, overrides: dict[str, Any], force: str | None,
                con: Console) -> Path:
    """The fold's trained model folder (trained, resumed or kept)."""
    from segnas.config import TrainConfig, make_config
    from segnas.training.train import run_folder, train

    cfg = make_config(preset, {**overrides, "fold": fold}, TrainConfig)
    run = run_folder(ws.root, cfg)
    resume = _prepare(run, SUMMARY, "train", force, f"fold {fold}: kept the trained model {run}", con)
    if resume is None:
        _check_kept("train", run, {**cfg.to_json(), "arch_source": str(arch_path)})
        if load_architecture(RunFolder(run).arch).values != load_architecture(arch_path).values:
            raise stale("train", run, [f"architecture: {arch_path} holds another one than the model was trained on"])
        return run
    return train(ws.root, arch_path, cfg, resume=resume)


def race_stage(ws: Workspace, fold: int, search_run: Path, train_cfg: TrainConfig, cfg: RaceConfig, deadline: float,
               con: Console) -> Path:
    """The race's winner (`segnas.selection.race`), trained on until `deadline` (a `time.perf_counter()` value):
    its run folder is the fold's model. The rung table is printed; the time each stage took goes to split.json."""
    from segnas.selection.race import finish, race, trained_minutes
    from segnas.selection.rungs import ranked_rows, units_line, winner_line

    race_minutes = cfg.unit_seconds * cfg.rungs * cfg.candidates / 60
    t0 = time.perf_counter()
    summary = race(ws.root, search_run, train_cfg, cfg)
    for name, row in ranked_rows(summary):
        con.print(f"  {name:14s} {row['state']:9s} " + "  ".join(f"{k} unit(s): {v:.3f}" for k, v in row["rungs"].items()))
    con.print(f"  {units_line(summary)}")
    winner = summary["winner"]
    con.print(winner_line(summary))
    con.print(f"  the rung table drawn in {ws.race(fold).figure}")
    t1 = time.perf_counter()
    split = read_json(ws.race(fold).split) if ws.race(fold).split.is_file() else {}
    if "winner_training_minutes" not in split:  # fixed once, so that a resumed run keeps the first deadline
        split.update(race_minutes=(t1 - t0) / 60, winner=winner,
                     winner_training_minutes=trained_minutes(Path(summary["winner_run"])) + max(0.0, deadline - t1) / 60)
        write_json(ws.race(fold).split, split)
    con.print(f"{winner} trains on until it has trained {split['winner_training_minutes']:.1f} minute(s) in all")
    run = finish(ws.root, summary, train_cfg, split["winner_training_minutes"])
    final = split.get("final_training_minutes", 0.0) + (time.perf_counter() - t1) / 60  # summed over resumed sessions
    write_json(ws.race(fold).split, {**split, "race_minutes_planned": race_minutes, "final_training_minutes": final,
                                     "note": "the winner trains on from its race checkpoint until the fold's minutes are used"})
    return run


def minutes_stage(ws: Workspace, plan: Plan, preset: str, fold: int, minutes: float, shares: tuple[float, float],
                  search_overrides: dict[str, Any], train_overrides: dict[str, Any], force: str | None, con: Console,
                  race: dict[str, Any] | None = None) -> Path:
    """One fold of `segnas run --minutes`: a hardware-aware budgeted search, the race, the winner trained on to the
    fold's deadline; or, when the race cannot be afforded (`segnas.selection.race.affordable`), the first baseline
    trained for all the minutes. `race`: settings of its `RaceConfig` (`min_unit_steps`, `given`). Returns the fold's
    model; the decision and the time of each part go to split.json."""
    from segnas.config import TrainConfig, make_config
    from segnas.data.splits import load_fold
    from segnas.selection.race import RaceConfig, affordable, inner_cases, race_device, race_training

    t_fold = time.perf_counter()
    search_share, race_share = shares
    split_file = ws.race(fold).split
    split = read_json(split_file) if split_file.is_file() else {}
    train_cfg = make_config(preset, {**race_training(preset, train_overrides), "fold": fold}, TrainConfig)
    cfg = RaceConfig.for_minutes(race_share * minutes, **(race or {}))
    if not split:  # decided once: a resumed run keeps the first run's decision and figures
        ok, steps, ms, validation_s = affordable(plan, train_cfg, cfg, race_device(train_cfg), ws,
                                                 inner_cases(load_fold(ws, fold), cfg))
        split = {"minutes": minutes, "search_share": search_share, "race_share": race_share,
                 "baseline_steps_per_unit": steps, "baseline_ms_per_step": round(ms, 1),
                 "baseline_validation_s": round(validation_s, 2)}
        if not ok:
            needed = cfg.minutes_affordable(split["baseline_ms_per_step"], split["baseline_validation_s"]) / race_share
            split.update(fallback=cfg.baselines[0], reason=f"a race unit of {cfg.unit_seconds:.0f} s gives {cfg.baselines[0]} {steps} "
                         f"steps (< {cfg.min_unit_steps}): too few to rank candidates on this machine in {minutes:g} min; at "
                         f"{ms:.0f} ms per step here a race runs from about {needed:.0f} min")
        ws.race(fold).root.mkdir(parents=True, exist_ok=True)
        write_json(split_file, split)
    if split.get("fallback"):
        given = [Path(p).stem for p in cfg.given]  # a user's --candidate files race only where a race runs
        unraced = f"; not raced: {', '.join(given)} (race them with `segnas race --candidate` given more minutes)" if given else ""
        con.print(f"[bold yellow]no search and no race:[/] {split['reason']}; {split['fallback']} trains for all {minutes:g} "
                  f"minutes instead (give more minutes, or a GPU, to search){unraced}")
        return fallback_stage(ws, plan, split["fallback"], train_cfg, minutes, split["baseline_ms_per_step"], con)
    searching = budgeted_search(plan, preset, search_overrides, search_share * minutes, train_cfg.width)
    coarse = " (cells on half the grid: stem_stride 2)" if searching.get("space_settings.stem_stride") == DEFAULT_STEM_STRIDE else ""
    chosen = make_config(preset, searching)
    how = ("hardware-aware " if chosen.cost_weight > 0 else "") + ("search by training" if chosen.strategy == "trained" else "search")
    con.rule(f"fold {fold}: {how} in {search_share * minutes:.0f} min{coarse}")
    search_run = search_stage(ws, preset, fold, searching, force, con)
    if "search_minutes" not in split:
        split["search_minutes"] = (time.perf_counter() - t_fold) / 60
        write_json(split_file, split)
    con.rule(f"fold {fold}: race at equal wall clock ({race_share * minutes:.0f} min), scored on up to {cfg.score_cases} inner "
             f"case(s); the winner then trains until {minutes:g} min are used")
    return race_stage(ws, fold, search_run, train_cfg, cfg, t_fold + minutes * 60, con)


def default_search(plan: Plan | None, preset: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The search a user gets without naming a strategy: given a budget in minutes (`minutes` in `overrides`, as
    `segnas search` and `segnas run` set by default), the hardware-aware search by training of `budgeted_search`, as
    `segnas run --minutes` runs it: on this CPU the one-shot strategies end such searches near uniform, the search
    by training decides (BENCHMARKS.md, "ISBI decides with a user's 30 minutes"). With `epochs` (the paper's fixed
    schedule), with a strategy named, or for a preset whose training starts from the search's shared weights
    (RONASMIS's `init` search), the preset's own strategy. `plan` None (not planned yet): the full grid."""
    from segnas.config import TRAIN_PRESETS

    if "minutes" not in overrides or "strategy" in overrides or TRAIN_PRESETS.get(preset, {}).get("init") == "search":
        return overrides
    return budgeted_search(plan, preset, overrides, float(overrides["minutes"]))


def budgeted_search(plan: Plan | None, preset: str, overrides: dict[str, Any], minutes: float,
                    width: int | None = None) -> dict[str, Any]:
    """The settings of a budgeted run's search: by training (`DEFAULT_STRATEGY`, one op per cell type where the space
    ties them), in 3D with `stem_stride` 2 when the space has the setting and the patch allows it — on LA, 600 steps
    of such networks took less time than 150 of the same architectures at full resolution and scored higher
    (BENCHMARKS.md, "Cells on half the grid"); in 2D, on ISBI, the half grid scored lower on every slice, so 2D stays
    on the full grid — and, with the cells on half the grid, hardware-aware (`cost_weight`; trials, or the cost
    model, at the trained `width`). On the full grid the space's fixed part alone costs over twice MONAI UNet's step,
    so the cost term's target is out of reach and it drives every decision to a parameter-free op (ISBI: the
    default search undecided, every cell `identity`; BENCHMARKS.md, "What `segnas search` does by default"). The
    user's `--search-set` overrides any of them."""
    from segnas.config import make_config
    from segnas.nas.spaces import get_space
    from segnas.networks.model import check_patch

    searching = {"strategy": DEFAULT_STRATEGY, **overrides, "minutes": minutes}
    cfg = make_config(preset, searching)
    space = get_space(cfg.space)
    if width is not None:  # the costs, and a search by training's trials, at the width the race trains
        searching = {("strategy_options.width" if cfg.strategy == "trained" else "cost_width"): width, **searching}
    if cfg.strategy == "trained" and "tie" in space.defaults:
        searching = {"space_settings.tie": DEFAULT_TIE, **searching}
    if plan is not None and plan.dims == 3 and "stem_stride" in space.defaults and "stem_stride" not in cfg.space_settings:
        settings = space.settings(**{"dims": plan.dims, "in_channels": plan.in_channels, "num_classes": plan.num_classes,
                                     **cfg.space_settings, "stem_stride": DEFAULT_STEM_STRIDE})
        try:
            check_patch(list(cfg.patch_size or plan.patch_size), settings, cfg.space)
            searching = {**searching, "space_settings.stem_stride": DEFAULT_STEM_STRIDE}
        except SegnasError:  # a patch too small for one more halving: the cells stay on the input's grid
            pass
    half = int(searching.get("space_settings.stem_stride", cfg.space_settings.get("stem_stride", 1))) == DEFAULT_STEM_STRIDE
    return {"cost_weight": DEFAULT_COST_WEIGHT if half else 0.0, **searching}


def fallback_stage(ws: Workspace, plan: Plan, name: str, train_cfg: TrainConfig, minutes: float, ms: float, con: Console) -> Path:
    """The baseline `name` trained for `minutes` on all of the fold's training cases (last weights), in epochs of
    a tenth of the minutes (at most one minute) at its measured `ms` per step, so that it stops within an epoch of
    its deadline; kept when finished, resumed when interrupted."""
    import dataclasses

    from segnas.training.train import baseline_file, train

    arch = baseline_file(ws, name, train_cfg.patch_size or plan.patch_size)
    run = ws.runs / f"minutes_{name}_fold{train_cfg.fold}"
    if RunFolder(run).summary.is_file():
        con.print(f"fold {train_cfg.fold}: kept the trained model {run}")
        return run
    cfg = dataclasses.replace(train_cfg, epochs=10**6, steps_per_epoch=max(1, int(min(60_000, 6_000 * minutes) / ms)), max_minutes=minutes,
                              select="last", val_every=0)
    return train(ws.root, arch, cfg, run=run, resume=RunFolder(run).checkpoint.is_file())


def _check_kept(stage: str, run: Path, settings: dict[str, Any]) -> None:
    """A kept search or training must have been made with these settings and this format of run folder."""
    saved = read_json(RunFolder(run).config)
    changes = setting_changes({"format": 1, **saved}, {**settings, "format": FORMAT})
    if changes:
        raise stale(stage, run, changes)


def predict_stage(ws: Workspace, plan: Plan, model_run: Path, case_ids: Sequence[str], out: Path,
                  force: str | None, con: Console) -> dict[str, Any]:
    """Predict the held-out cases from their original files, then evaluate against their labels."""
    from segnas.data.msd import file_signature, load_dataset
    from segnas.inference.evaluate import evaluate_pairs, metrics_table
    from segnas.inference.predict import predict_files
    from segnas.networks.model import load_model

    spec = load_dataset(plan.dataset)
    cases = [spec.case(c) for c in case_ids]
    if forced("predict", force) and out.exists():
        shutil.rmtree(out)
    source = {"model": str(model_run), "weights": file_signature(RunFolder(model_run).best)}
    if (out / "source.json").is_file():
        changes = setting_changes(read_json(out / "source.json"), source)
        if changes:
            raise stale("predict", out, changes)
    preds = predict_files(load_model(model_run), [c.images for c in cases], out, skip_existing=True)
    write_json(out / "source.json", source)
    pairs = [(p, c.label) for p, c in zip(preds, cases)]
    summary = evaluate_pairs(pairs, {str(k): v for k, v in plan.labels.items()}, out / "metrics.json")
    con.print(metrics_table(summary, f"{out.parent.name} {out.name}: held-out cases in their original geometry"))
    return summary


def run_pipeline(data: str | Path, work: str | Path, preset: str = "scnas", folds: Sequence[int] | None = None,
                 search_overrides: dict[str, Any] | None = None, train_overrides: dict[str, Any] | None = None,
                 plan_options: dict[str, Any] | None = None, force: str | None = None, workers: int = 2,
                 console: Console | None = None, minutes: float | None = None, search_share: float = SEARCH_SHARE,
                 race_share: float = RACE_SHARE, race: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every stage on a dataset; returns the cross-validation summary (also in WORK/predictions/PRESET/cv_summary.json).

    With `minutes`, each fold gets that much time in all: `search_share` of it for a budgeted, hardware-aware
    search, `race_share` for the race (`race`: settings of its `RaceConfig`), and the race's winner trains on for the
    rest: it is the fold's model."""
    from segnas.config import TrainConfig, make_config
    from segnas.selection.searches import check_options
    con = console or Console()
    data, ws = Path(data), Workspace(Path(work))
    forced("plan", force)  # an unknown stage name or setting fails before any work
    if minutes and not (0 < search_share and 0 < race_share and search_share + race_share < 1):
        raise SegnasError(f"--search-share {search_share:g} and --race-share {race_share:g} must be above 0 and leave time "
                          "for the winner's training (their sum below 1)")
    searching = {**(search_overrides or {}), "fold": 0}  # as the folds will search: by training unless told otherwise
    searching = budgeted_search(None, preset, searching, minutes) if minutes else default_search(None, preset, searching)
    check_options(make_config(preset, searching))
    make_config(preset, {**(train_overrides or {}), "fold": 0}, TrainConfig)
    if race and race.get("given"):  # a candidate file that cannot race fails before any work
        from segnas.selection.candidates import given_architectures
        from segnas.selection.race import RaceConfig

        if not minutes:
            raise SegnasError("--candidate races a network beside the search's: it needs --minutes")
        given_architectures(RaceConfig(given=tuple(race["given"])))
    t0 = time.perf_counter()
    plan = plan_stage(data, ws, force, workers, plan_options or {}, con)
    with work_lock(ws.root):
        return _after_plan(data, ws, plan, preset, folds, search_overrides, train_overrides, force, workers, con, t0,
                           minutes, search_share, race_share, race)


def _after_plan(data: Path, ws: Workspace, plan: Plan, preset: str, folds: Sequence[int] | None,
                search_overrides: dict[str, Any] | None, train_overrides: dict[str, Any] | None, force: str | None,
                workers: int, con: Console, t0: float, minutes: float | None = None, search_share: float = SEARCH_SHARE,
                race_share: float = RACE_SHARE, race: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stages after planning, under the work folder's lock."""
    from segnas.data.preprocess import preprocess_dataset
    from segnas.data.splits import load_splits
    from segnas.inference.evaluate import cross_validation, cv_table

    con.rule("preprocess")
    counts = preprocess_dataset(ws.root, workers, forced("preprocess", force))
    con.print(f"{counts['done']} case(s) preprocessed, {counts['cached']} cached, in {ws.preprocessed}")
    all_folds = load_splits(ws).folds
    chosen = list(range(len(all_folds))) if folds is None else list(folds)
    for f in chosen:
        if not 0 <= f < len(all_folds):
            raise SegnasError(f"{ws.splits}: there is no fold {f} (folds 0..{len(all_folds) - 1})")
    predictions = ws.root / "predictions" / preset
    for f in chosen:
        fold = all_folds[f]
        if minutes:
            model_run = minutes_stage(ws, plan, preset, f, minutes, (search_share, race_share), search_overrides or {},
                                      train_overrides or {}, force, con, race)
        else:
            con.rule(f"fold {f}: search on {len(fold.search_train)} + {len(fold.search_val)} case(s)")
            search_run = search_stage(ws, preset, f, default_search(plan, preset, search_overrides or {}), force, con)
            con.rule(f"fold {f}: train on {len(fold.train)} case(s), validate on {len(fold.val)}")
            model_run = train_stage(ws, preset, f, RunFolder(search_run).arch, train_overrides or {}, force, con)
        con.rule(f"fold {f}: predict and evaluate {len(fold.val)} held-out case(s)")
        predict_stage(ws, plan, model_run, fold.val, predictions / f"fold{f}", force, con)
    con.rule("cross-validation")
    summary = cross_validation(predictions)
    con.print(cv_table(summary, f"{preset} on {plan.name}"))
    con.print(f"finished in {time.perf_counter() - t0:.0f} s; results in {predictions}")
    return summary
