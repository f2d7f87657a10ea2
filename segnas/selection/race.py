"""The race: the network a user gets is chosen by training the candidates at equal wall clock on this device.

Candidates are the search's derived architecture, samples from its final distribution (a search by training's best
other trials instead), random draws of the same space and the hand-designed baselines (MONAI UNet, DynUNet), all
fitted to the dataset at one width and trained with one recipe. Optuna runs the trials and prunes them by successive
halving (its `SuccessiveHalvingPruner`, η = 2): rung r gives a candidate 2^r time units in all, a unit being the
same number of seconds for everyone: one epoch of as many steps as the candidate's measured step time
(`segnas.nas.timing.train_step`) fits in what its rungs' validations leave of it (their time estimated from a timed
forward pass and the windows of the inner cases, spread over the units), so a cheap network trains more steps in the
same time and a network slow to validate pays for it. The race's minutes are sized for one unit per candidate per rung,
and it keeps to them: a network of the space goes on to its next rung only if the units the others trained, train, or
hold in reserve leave room for it (`within_budget`); the baselines' full runs are reserved from the start. Both favour
the candidates queued first (the halving cannot stop the first to reach a rung; the budget stops the last networks of
the space), so the queue's order is drawn with the race's seed (`entry_order`) and kept in the summary. Rungs are
scored by Dice on the fold's inner split (its `search_val` cases, held out of the race's trainings); the fold's
validation cases stay untouched for reporting. A trial that survives every rung has trained for the full budget: the
best of those wins — unless it is not hand-designed and leads the best hand-designed one by no more than one standard
error of their paired per-case differences (`held_back`): then the baseline wins — and `finish` trains the winner on
(from its last checkpoint, with the same recipe) for the time left of a total budget.

The trials live in an Optuna storage: SQLite in the work folder by default, or any URL Optuna accepts, so that
`segnas race` started on several machines runs one race. A killed worker's trial is failed and retried (at once for
a process of this machine that is gone, after the heartbeat's grace period for another machine's); its training
resumes from its checkpoint under the schedule it was first measured with (`schedule.json`). Finished trials are never rerun.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segnas.config import TRAIN_PRESETS, TrainConfig
from segnas.data.plan import Plan, load_plan
from segnas.data.preprocess import load_case
from segnas.data.splits import Fold, load_fold
from segnas.errors import SegnasError
from segnas.inference.predict import volume_windows, windows_per_call
from segnas.nas.arch import Architecture, load_architecture
from segnas.nas.timing import forward_seconds, train_step
from segnas.networks.baselines import UNET_CHANNELS, baseline_architecture
from segnas.networks.model import build_network, load_model
from segnas.runtime.files import read_json, write_json
from segnas.runtime.workspace import RaceFolder, RunFolder, Workspace
from segnas.selection.candidates import make_candidates
from segnas.selection.rungs import summarize
from segnas.selection.study import ETA, open_study, worker_name
from segnas.training.train import over_budget, train, validate_cases

log = logging.getLogger(__name__)
# the fallback's yardstick is timed over this long: over 0.2 s, MONAI UNet's step on ISBI came out 164–344 ms in three
# starts of one `segnas run --minutes 60` beside another process (BENCHMARKS.md, "On ISBI (2D)")
YARDSTICK_SECONDS = 2.0


@dataclass(frozen=True)
class RaceConfig:
    """How a race is run: its rungs, the time unit, and what enters it besides the search's architecture."""

    unit_seconds: float = 60.0  # training time of rung 0 per candidate; rung r totals 2^r units
    rungs: int = 3  # the survivors of the last rung have trained 2^(rungs − 1) units: the full budget
    samples: int = 2  # architectures drawn from the search's final distribution (a search by training: its best other trials)
    random: int = 2  # uniformly random architectures of the space
    baselines: tuple[str, ...] = ("monai_unet", "monai_dynunet")
    given: tuple[str, ...] = ()  # arch.json files entered as they are, named by their file (a network found on another dataset)
    unit_epochs: int | None = None  # epochs per unit for every candidate (equal steps, not equal time: for tests)
    score_cases: int = 8  # inner cases a rung is scored on (the first of the fold's search_val): validation is in the units
    min_unit_steps: int = 500  # a race whose unit gives the first baseline fewer steps than this is not run (`affordable`)
    seed: int = 0  # of the samples, random draws and queue order: random draw i is the space's draw of seed 1000 + seed + i

    @property
    def candidates(self) -> int:
        """How many candidates enter: the searched architecture, its samples, the random draws, the given ones, the baselines."""
        return 1 + self.samples + self.random + len(self.given) + len(self.baselines)

    def validation_share(self, validation_s: float) -> float:
        """Seconds of each unit that validating takes, for a candidate validated in `validation_s` per rung: one that
        runs every rung validates `rungs` times in ETA^(rungs − 1) units."""
        return validation_s * self.rungs / ETA ** (self.rungs - 1)

    def minutes_affordable(self, ms_per_step: float, validation_s: float = 0.0) -> float:
        """The race minutes from which a unit gives `min_unit_steps` steps at `ms_per_step` beside its share of
        validating in `validation_s` per rung (the inverse of `for_minutes` at that unit)."""
        unit = self.min_unit_steps * ms_per_step / 1000 + self.validation_share(validation_s)
        return unit * self.rungs * self.candidates / 60

    @classmethod
    def for_minutes(cls, minutes: float, **settings: Any) -> RaceConfig:
        """A race of these settings whose rungs, one unit per candidate each, fill `minutes` of training."""
        cfg = cls(**settings)
        return dataclasses.replace(cfg, unit_seconds=minutes * 60 / (cfg.rungs * cfg.candidates))


def race_folder(work: Path, fold: int) -> Path:
    """WORK/race/fold<F>: the candidates' arch.json files, their trainings and the default storage."""
    return Workspace(Path(work)).race(fold).root


def race_training(preset: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The training settings of a race: a preset's retraining width (SCNAS's 68 stem channels, sized for a GPU
    cluster) gives way to MONAI UNet's (16), the network raced against at equal time, unless `overrides` set a
    width; a preset without a width keeps the searched one. Every candidate trains from scratch: the baselines and
    random draws have no search weights to start from, so RONASMIS's fine-tuning of them (`init` search) cannot race."""
    if str(overrides.get("init", "scratch")) != "scratch":
        raise SegnasError(f"init={overrides['init']}: a race trains every candidate from scratch (the baselines and random "
                          "draws have no search weights to start from); leave init out of the training settings")
    raced = {**overrides, "init": "scratch"}
    if "width" in overrides or TRAIN_PRESETS.get(preset, {}).get("width") is None:
        return raced
    return {**raced, "width": UNET_CHANNELS}


def step_ms(arch: Architecture, plan: Plan, train_cfg: TrainConfig, device: torch.device, least: float = 0.2) -> float:
    """Measured milliseconds of one training step of `arch` with the recipe's batch and patch on `device` (the median
    of the steps of at least `least` seconds)."""
    patch = list(train_cfg.patch_size or plan.patch_size)
    return train_step(build_network(arch), (train_cfg.batch_size, plan.in_channels, *patch), plan.num_classes, device,
                      train_cfg.channels_last, least=least)[0]


def validation_seconds(arch: Architecture, plan: Plan, train_cfg: TrainConfig, ws: Workspace, cases: list[str],
                       device: torch.device) -> float:
    """Estimated seconds of one validation of `arch` on `cases` on `device`: a forward pass over one call's windows,
    timed here, times the windows the cases take (`volume_windows`)."""
    patch = list(train_cfg.patch_size or plan.patch_size)
    per_call = windows_per_call(patch)
    seconds = forward_seconds(build_network(arch), (per_call, plan.in_channels, *patch), device, train_cfg.channels_last)
    axis = plan.slice_axis if plan.dims == 2 else None
    windows = sum(volume_windows(load_case(ws, c).image.shape[1:], patch, axis, train_cfg.val_mode) for c in cases)
    return seconds * windows / per_call


def unit_schedule(arch_path: Path, plan: Plan, train_cfg: TrainConfig, cfg: RaceConfig, device: torch.device,
                  validation_s: float = 0.0) -> tuple[int, int, float]:
    """(epochs per time unit, steps per epoch, measured ms per step) of a candidate on this device: one epoch per
    unit, as many steps as fit in `unit_seconds` less its share of validating (`validation_s` per rung: a candidate
    that runs every rung validates `rungs` times in ETA^(rungs − 1) units), so that validation is raced too (every
    candidate has the same epochs, so per-epoch schedules compare); with `unit_epochs`, that many epochs of the
    recipe's steps (equal steps)."""
    ms = step_ms(load_architecture(arch_path), plan, train_cfg, device)
    if cfg.unit_epochs is not None:
        return cfg.unit_epochs, train_cfg.steps_per_epoch, ms
    return 1, max(1, int((cfg.unit_seconds - cfg.validation_share(validation_s)) * 1000 / ms)), ms


def schedule(run: Path, measure: Callable[[], dict[str, float]]) -> dict[str, float]:
    """A candidate's unit schedule (`epochs`, `steps`, `step_ms`, `validation_s`), measured once and kept in its run
    folder (`schedule.json`): a trial retried after its worker died resumes its checkpoint under the same steps per
    epoch, where timed again they would differ and the checkpoint would refuse the other settings."""
    path = run / "schedule.json"
    if path.is_file():
        return read_json(path)
    found = measure()
    run.mkdir(parents=True, exist_ok=True)
    write_json(path, found)
    return found


def shared_among(cfg: RaceConfig, entered: int) -> RaceConfig:
    """The race's settings for the `entered` candidates it could make: when fewer entered than planned (samples
    unlike every other candidate ran out), its minutes are shared among them; unchanged in equal-steps mode."""
    if cfg.unit_epochs is not None or not 0 < entered < cfg.candidates:
        return cfg
    return dataclasses.replace(cfg, unit_seconds=cfg.unit_seconds * cfg.candidates / entered)


def entry_order(names: list[str], seed: int) -> list[str]:
    """The order the candidates are queued in, drawn with the race's seed: Optuna's asynchronous halving never stops
    the first candidate to reach a rung, and the budget stops the last networks of the space first, so a fixed order
    (the search's network first, random draws last) would favour one kind of candidate in every race."""
    return random.Random(seed).sample(names, len(names))


def units_held(study: Any, cfg: RaceConfig, but: int) -> int:
    """Time units the race's other trials have trained, are training, or hold in reserve: a finished trial its last
    rung's, a running one the rung it trains towards (`units`), a queued baseline every rung (it may still win), a
    queued network of the space one unit (its first rung); trial `but` (the asking one) left out."""
    import optuna

    state, full, held = optuna.trial.TrialState, ETA ** (cfg.rungs - 1), 0
    for t in study.get_trials(deepcopy=False):
        if t.number == but or t.user_attrs.get("spare"):
            continue
        if t.state in (state.COMPLETE, state.PRUNED):
            held += max(t.intermediate_values, default=0)
        elif t.state == state.RUNNING:
            held += int(t.user_attrs.get("units", 1))
        elif t.state == state.WAITING:
            held += full if t.user_attrs.get("candidate") in cfg.baselines else 1
    return held


def within_budget(study: Any, cfg: RaceConfig, trial: int, name: str, units: int, entered: int) -> bool:
    """Whether candidate `name` may train on to `units` units: the race's units (one per candidate per rung, what its
    minutes were sized for) hold it beside what the others hold (`units_held`). Baselines always may: every network
    of the space reserved their full runs, so the budget never stops the hand-designed networks the race must beat
    (the halving still may). Optuna's halving, with trials run one after another, promotes every candidate that leads the
    ones before it; without this, six candidates trained 17–23 units where 18 were planned (BENCHMARKS.md, "The
    race's minutes")."""
    if name in cfg.baselines:
        return True
    return units_held(study, cfg, trial) + units <= cfg.rungs * entered


def inner_cases(fold: Fold, cfg: RaceConfig) -> list[str]:
    """The cases a race's rungs are scored on: the first `score_cases` of the fold's inner split (`search_val`)."""
    return list(fold.search_val)[:cfg.score_cases]


def race_device(train_cfg: TrainConfig) -> torch.device:
    """The device the race trains on: the GPU when there is one and the recipe does not ask for the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() and train_cfg.device != "cpu" else "cpu")


def affordable(plan: Plan, train_cfg: TrainConfig, cfg: RaceConfig, device: torch.device, ws: Workspace | None = None,
               cases: list[str] | None = None) -> tuple[bool, int, float, float]:
    """(whether the race is worth running, steps per unit of its first baseline, that baseline's ms per step, its
    estimated seconds to validate the race's inner `cases` of `ws` per rung: its unit's steps are what validating
    leaves of the unit, as in the race).

    Measured on a 2-core CPU (BENCHMARKS.md, issue 23): with units of 46–62 MONAI UNet steps the races on LA and
    ACDC handed users worse networks than the UNet trained for the whole time (the winner trains for a fraction
    of it; on ACDC the per-candidate overheads overran the budget and the ranking was noise). Below
    `min_unit_steps` the race is not run: 500 by default, where an LA network's training loss ranks 19 networks
    of the SCNAS space as their Dice after 1000 steps does with Kendall τ 0.75 (0.51 after 150 steps, 0.12 after
    50; BENCHMARKS.md, "What does rank them")."""
    yardstick = cfg.baselines[0] if cfg.baselines else "monai_unet"  # a race of the space alone is measured by it too
    arch = baseline_architecture(yardstick, plan, list(train_cfg.patch_size or plan.patch_size))
    ms = step_ms(arch, plan, train_cfg, device, least=YARDSTICK_SECONDS)
    validation_s = validation_seconds(arch, plan, train_cfg, ws, cases, device) if ws is not None and cases else 0.0
    steps = max(0, int((cfg.unit_seconds - cfg.validation_share(validation_s)) * 1000 / ms))
    return steps >= cfg.min_unit_steps, steps, ms, validation_s


def race(work: str | Path, search_run: str | Path, train_cfg: TrainConfig, cfg: RaceConfig = RaceConfig(),
         storage: str | None = None, show_progress: bool = False) -> dict[str, Any]:
    """Run (or join, or resume) the race of fold `train_cfg.fold`; returns its summary, also written to
    `WORK/race/fold<F>/summary.json` once every trial has finished."""
    import optuna

    work, search_run = Path(work), Path(search_run)
    ws = Workspace(work)
    plan = load_plan(ws)
    fold = load_fold(ws, train_cfg.fold)
    if not fold.search_val:
        raise SegnasError(f"{ws.splits}: fold {train_cfg.fold} has no inner cases (search_val) to score the race on")
    folder = race_folder(work, train_cfg.fold)
    folder.mkdir(parents=True, exist_ok=True)
    candidates = make_candidates(work, search_run, plan, train_cfg, cfg, folder)
    cfg = shared_among(cfg, len(candidates))
    storage = storage or f"sqlite:///{RaceFolder(folder).storage.resolve()}"
    study = open_study(storage, f"race_fold{train_cfg.fold}", entry_order(list(candidates), cfg.seed))
    recipe = dataclasses.replace(train_cfg, select="inner", val_every=0, max_minutes=None)
    device = race_device(train_cfg)
    model_device = "cpu" if device.type == "cpu" else "auto"
    inner = inner_cases(fold, cfg)

    def objective(trial: optuna.Trial) -> float:
        if "candidate" not in trial.user_attrs:  # not from the queue: every candidate is taken (by this or another worker)
            trial.set_user_attr("spare", True)
            study.stop()
            raise optuna.TrialPruned()
        name = trial.suggest_categorical("candidate", list(candidates))
        trial.set_user_attr("worker", worker_name())
        run = RaceFolder(folder).runs / name

        def measure() -> dict[str, float]:
            validation_s = 0.0 if cfg.unit_epochs is not None else validation_seconds(
                load_architecture(candidates[name]), plan, recipe, ws, inner, device)
            epochs, steps, ms = unit_schedule(candidates[name], plan, recipe, cfg, device, validation_s)
            if validation_s:
                log.info("race: %s validates %d inner case(s) in about %.1f s; it trains %d steps per unit of %.0f s",
                         name, len(inner), validation_s, steps, cfg.unit_seconds)
            return {"epochs": epochs, "steps": steps, "step_ms": ms, "validation_s": validation_s}

        kept = schedule(run, measure)
        epochs, steps, ms, validation_s = int(kept["epochs"]), int(kept["steps"]), kept["step_ms"], kept["validation_s"]
        trial.set_user_attr("step_ms", round(ms, 2))
        trial.set_user_attr("validation_s", round(validation_s, 2))
        trial.set_user_attr("unit_epochs", epochs)
        trial.set_user_attr("steps_per_epoch", steps)
        cfg_c = dataclasses.replace(recipe, epochs=epochs * ETA ** (cfg.rungs - 1), steps_per_epoch=steps)
        dice = float("nan")
        for r in range(cfg.rungs):
            units = ETA**r
            if r and not within_budget(study, cfg, trial.number, name, units, len(candidates)):
                trial.set_user_attr("budget", True)
                log.info("race: %s stops after %d unit(s): the race's units are spent or held by the others", name, units // ETA)
                raise optuna.TrialPruned()
            trial.set_user_attr("units", units)
            train(work, candidates[name], cfg_c, run=run, resume=True, stop_after=epochs * units, show_progress=show_progress)
            t0 = time.perf_counter()
            per_case = {c: float(np.mean(list(v.values()))) for c, v in validate_cases(load_model(run, "last", model_device), ws, inner).items()}
            trial.set_user_attr(f"validated_s_{units}", round(time.perf_counter() - t0, 2))  # beside the estimate
            trial.set_user_attr("cases", {c: round(v, 4) for c, v in per_case.items()})  # the last rung's, for `held_back`
            dice = float(np.mean(list(per_case.values())))
            trial.report(dice, units)
            log.info("race: %s after %d unit(s) (%d steps): inner Dice %.4f", name, units, epochs * units * steps, dice)
            if r < cfg.rungs - 1 and trial.should_prune():  # the last rung's score is the result, never pruned
                raise optuna.TrialPruned()
        return dice

    def queue_empty(study: optuna.Study, _: Any) -> None:
        if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
            study.stop()  # the candidates still running belong to other workers

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
        study.optimize(objective, callbacks=[queue_empty])
    return summarize(study, candidates, folder, cfg)


def _epochs(run: Path) -> list[dict[str, Any]]:
    """The epoch records of a run's log so far."""
    log_file = RunFolder(run).log
    lines = log_file.read_text().splitlines() if log_file.is_file() else []
    return [json.loads(line) for line in lines if line.strip()]


def trained_minutes(run: Path) -> float:
    """Minutes of training (epochs' seconds, validation not counted) in a run's log so far."""
    return sum(float(r.get("seconds", 0.0)) for r in _epochs(run)) / 60


def finish(work: str | Path, summary: dict[str, Any], train_cfg: TrainConfig, total_minutes: float,
           show_progress: bool = False) -> Path:
    """Train the race's winner on from its last checkpoint (same recipe, same epoch length; its log keeps
    counting) until it has trained `total_minutes` in all, so that a total budget is used to its end; resumable.
    Returns its run folder."""
    run, winner = Path(summary["winner_run"]), summary["winner"]
    config = RunFolder(run).config
    continued = config.is_file() and read_json(config).get("max_minutes") == total_minutes  # a finish to this total ran
    # training stops by its time rule when one more epoch would reach the total, which may leave it a little short
    if trained_minutes(run) >= total_minutes or (continued and over_budget(_epochs(run), total_minutes)):
        return run
    row = summary["candidates"][winner]
    epochs_done = len(_epochs(run))
    recipe = dataclasses.replace(train_cfg, select="inner", val_every=0, steps_per_epoch=int(row["steps_per_epoch"]),
                                 epochs=epochs_done + 100_000, max_minutes=total_minutes)
    log.info("race: %s trains on until %.1f min of training (%.1f so far)", winner, total_minutes, trained_minutes(run))
    return train(work, summary["winner_arch"], recipe, run=run, resume=True, show_progress=show_progress, longer=True)
