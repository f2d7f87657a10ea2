"""A search that decides by training: short trainings of whole networks, read through a Bayesian additive model.

Measured on LA (BENCHMARKS.md, issue 21): the one-shot supernets rank trained networks of SCNAS's space no better
than chance, while a network's training loss after 150 of its own steps ranks them as its Dice after 1000 does
(Kendall τ 0.51). This
strategy therefore trains each proposed network alone for `trial_steps` steps with the training recipe and scores
it on the fold's inner cases (its first `score_cases` search_val cases, held out of every trial's training). The
scores feed `segnas.selection.posterior` (t noise: a trial whose training went wrong counts for less): each
candidate's probability of being its decision's best is the table
the search reports and is judged "decided" on, as α's tables are; the next network is a Thompson draw from the same
posterior (the first ones cover every candidate evenly). Few decisions suit it: tie the ops per cell type
(`space_settings.tie=cell`). A hardware-aware search (`cost_weight`) scores a network by its Dice minus cost_weight ×
max(0, step / target − 1), target = cost_target × MONAI UNet's step (ENAS's reward, issue 23); the posterior models
the trials' Dice, and a separate additive model their measured steps (`posterior.Cost`). Every trial is one
line of `log.jsonl` and its training is resumable: a killed search continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segnas.config import SearchConfig, TrainConfig, make_config
from segnas.data.plan import Plan, load_plan
from segnas.data.splits import load_fold
from segnas.errors import SegnasError
from segnas.nas.arch import ZERO, Architecture, InputChoice, OpChoice
from segnas.nas.decisions import changed, summarize
from segnas.nas.spaces import get_space
from segnas.networks.baselines import baseline_architecture
from segnas.networks.model import fit_architecture, load_model
from segnas.runtime.files import read_json, write_json
from segnas.runtime.lock import locks_work
from segnas.runtime.plots import plot_decisions, plot_stakes
from segnas.runtime.progress import progress
from segnas.runtime.runlog import RunLog
from segnas.runtime.staleness import FORMAT
from segnas.runtime.workspace import RunFolder, Workspace
from segnas.selection import posterior, trial_budget
from segnas.selection.race import race_device, step_ms
from segnas.selection.side_by_side import run_side_by_side
from segnas.selection.verdict import clear_of_shuffled, judge, outlook, stakes_words
from segnas.training.train import train, validate

log = logging.getLogger(__name__)
NAME = "trained"
EXPORTS = ("auto", "posterior", "best_trial")
RESOLVED = "strategy_options_resolved"  # config.json: the options a search ran with, defaults included
DEFAULTS: dict[str, Any] = {
    "trial_steps": 150,  # where the training loss ranked LA networks at τ 0.51 (0.12 at 50 steps)
    "steps_per_epoch": 50,
    "width": 16,  # stem channels of every trial network: MONAI UNet's, the network a user would otherwise train
    "score_cases": 8,
    "trials": None,  # a fixed number of trials instead of a budget in minutes
    # trials trained at once, each in its own process with its share of the threads (each round's are proposed
    # together, from the rounds before it); "auto": 2 on a CPU with 2 or more threads (there 1.4× the trials of one
    # process with both threads), 1 on a GPU or with one thread
    "side_by_side": "auto",
    # what arch.json holds: "posterior" (each decision's best posterior mean), "best_trial" (the best-scoring trained
    # network), "auto" (the posterior's pick when the search decided, else the best trial)
    "export": "auto",
    "noise_sd": posterior.NOISE_SD,
    "effect_sd": posterior.EFFECT_SD,
    "noise_dof": posterior.NOISE_DOF,  # the trials' noise is Student-t with this ν (null: normal)
}


def options(cfg: SearchConfig) -> dict[str, Any]:
    """The strategy's options: DEFAULTS with `strategy_options` applied; an unknown key or export is an error."""
    if unknown := sorted(set(cfg.strategy_options) - set(DEFAULTS)):
        raise SegnasError(f"strategy {NAME!r} has no option {unknown[0]!r}; known: {', '.join(DEFAULTS)}")
    opts = {**DEFAULTS, **cfg.strategy_options}
    if opts["export"] not in EXPORTS:
        raise SegnasError(f"strategy_options.export must be one of {', '.join(EXPORTS)}, found {opts['export']!r}")
    if opts["side_by_side"] == "auto":
        opts["side_by_side"] = auto_side_by_side(cfg.device)
    if not isinstance(opts["side_by_side"], int) or isinstance(opts["side_by_side"], bool) or opts["side_by_side"] < 1:
        raise SegnasError(f"strategy_options.side_by_side must be a whole number ≥ 1 or auto, found {opts['side_by_side']!r}")
    return opts


def auto_side_by_side(device: str) -> int:
    """Trials at once by default: 1 on a GPU (not measured side by side) or with one thread, else 2 (measured on 2 cores)."""
    if device != "cpu" and torch.cuda.is_available():
        return 1
    return min(2, torch.get_num_threads())


def op_decisions(space: str, settings: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """label → candidates of every op decision, without `zero` (an exported architecture never takes it)."""
    return {c.label: tuple(n for n in c.candidates if n != ZERO)
            for c in get_space(space).choices(**settings) if isinstance(c, OpChoice)}


def cost_terms(cfg: SearchConfig, unet_ms: float | None) -> tuple[float, float] | None:
    """(weight, target ms) of a hardware-aware search's step penalty; None when it has none."""
    return (cfg.cost_weight, cfg.cost_target * unet_ms) if unet_ms else None


def beliefs(decisions: dict[str, tuple[str, ...]], records: list[dict[str, Any]], opts: dict[str, Any],
            cost: tuple[float, float] | None) -> tuple[posterior.Posterior, posterior.Cost | None]:
    """The posterior of the trials' inner Dice, and with `cost` = (weight, target ms) the model of their steps."""
    rows = [r["values"] for r in records]
    post = posterior.fit(decisions, rows, [r["dice"] for r in records], opts["noise_sd"], opts["effect_sd"], noise_dof=opts["noise_dof"])
    return post, (posterior.fit_cost(decisions, rows, [r["step_ms"] for r in records], cost[1], cost[0]) if cost else None)


def propose(space: str, settings: dict[str, Any], done: list[dict[str, Any]], opts: dict[str, Any], seed: int,
            cost: tuple[float, float] | None = None, t: int | None = None) -> dict[str, Any]:
    """The values of trial `t` (default `len(done)`): the even cover first, then a Thompson draw given the finished
    trials `done`. Deterministic in (seed, trial, done), so a resumed search proposes what the uninterrupted one would."""
    decisions = op_decisions(space, settings)
    t = len(done) if t is None else t
    rng = np.random.default_rng([seed, t])
    cover = max(len(c) for c in decisions.values())
    if t < cover:
        ops = posterior.balanced(decisions, cover, np.random.default_rng([seed]))[t]
    else:
        post, steps = beliefs(decisions, done, opts, cost)
        ops = post.best(post.draws(1, rng), steps)[0]
    values: dict[str, Any] = dict(ops)
    for c in get_space(space).choices(**settings):  # untied spaces: inputs drawn uniformly
        if isinstance(c, InputChoice):
            values[c.label] = [c.candidates[i] for i in sorted(rng.choice(len(c.candidates), c.k, replace=False).tolist())]
    return values


def recipe(cfg: SearchConfig, opts: dict[str, Any], trial: int) -> TrainConfig:
    """The training of one trial: the default recipe, `trial_steps` steps, last weights, no validation during it."""
    steps_per_epoch = min(opts["steps_per_epoch"], opts["trial_steps"])
    return make_config(None, {"width": opts["width"], "epochs": -(-opts["trial_steps"] // steps_per_epoch),
                              "steps_per_epoch": steps_per_epoch, "val_every": 0, "select": "inner", "seed": cfg.seed * 10_007 + trial,
                              "workers": cfg.workers, "fold": cfg.fold, "batch_size": cfg.batch_size, "patch_size": cfg.patch_size,
                              "device": cfg.device, "channels_last": cfg.channels_last, "amp": cfg.amp}, TrainConfig)


def reference_ms(plan: Plan, cfg: SearchConfig, opts: dict[str, Any]) -> float:
    """MONAI UNet's training step on this device with the trials' recipe (the cost term's yardstick), timed as the
    trials' networks are (`race.step_ms`: the epochs' time would include data loading)."""
    train_cfg = recipe(cfg, opts, 0)
    arch = baseline_architecture("monai_unet", plan, list(train_cfg.patch_size or plan.patch_size))
    return step_ms(arch, plan, train_cfg, race_device(train_cfg))


def reference_together(plan: Plan, cfg: SearchConfig, opts: dict[str, Any], ready: Any) -> float:
    """One of the yardstick's timings side by side: timed once alone to warm up, then again when every process has
    warmed up (`ready`, a barrier), so that all of them are timed while the others run, as trials are."""
    reference_ms(plan, cfg, opts)
    ready.wait(timeout=600)
    return reference_ms(plan, cfg, opts)


def reference_side_by_side(work: Path, plan: Plan, cfg: SearchConfig, opts: dict[str, Any]) -> float:
    """The yardstick under the trials' load: with trials side by side, the median of as many timings at once."""
    n = opts["side_by_side"]
    if n == 1:
        return reference_ms(plan, cfg, opts)
    ready = multiprocessing.get_context("spawn").Barrier(n)
    return float(np.median(run_side_by_side(reference_together, [(plan, cfg, opts, ready)] * n, work,
                                            "a timing of MONAI UNet's step")))


def kept_reference(run: Path, measure: Callable[[], float]) -> float:
    """The yardstick's step, measured once per search (`reference.json`): a resumed search scores as it began."""
    path = run / "reference.json"
    if path.is_file():
        return float(read_json(path)["monai_unet_step_ms"])
    ms = measure()
    write_json(path, {"monai_unet_step_ms": ms})
    return ms


def run_trial(work: Path, run: Path, cfg: SearchConfig, opts: dict[str, Any], t: int, values: dict[str, Any],
              settings: dict[str, Any], inner: list[str], unet_ms: float | None, show_progress: bool) -> dict[str, Any]:
    """Train trial `t`'s network (resuming its checkpoint), score it on the inner cases → its log record."""
    t0 = time.perf_counter()
    ws = Workspace(work)
    plan = load_plan(ws)
    arch_path = run / "trials" / f"trial{t:03d}.json"
    train_cfg = recipe(cfg, opts, t)
    arch = fit_architecture(Architecture(cfg.space, settings, values), plan, train_cfg.width)
    arch.save(arch_path)
    trial_run = run / "trials" / f"trial{t:03d}"
    ms = step_ms(arch, plan, train_cfg, race_device(train_cfg))  # timed as the yardstick is
    train(work, arch_path, train_cfg, run=trial_run, resume=True, show_progress=show_progress)
    device = "cpu" if train_cfg.device == "cpu" else "auto"
    scores = validate(load_model(trial_run, "last", device), ws, inner)
    dice = float(np.mean(list(scores.values())))
    terms = cost_terms(cfg, unet_ms)
    penalty = float(posterior.penalty(ms, *terms)) if terms else 0.0
    return {"epoch": t, "trial": t, "values": values, "dice": round(dice, 4), "step_ms": round(ms, 1),
            "penalty": round(penalty, 4), "score": round(dice - penalty, 4), "seconds": time.perf_counter() - t0}


OUTLIER_WEIGHT = 0.5  # a trial the t noise weighs below this (|residual| > 2.4 σ at ν = 4) is reported as an outlier
KEPT = ("space", "space_settings", "fold", "seed", "cost_weight", "cost_target", "batch_size", "patch_size")  # what trials depend on


def check_same(run: Path, cfg: SearchConfig, opts: dict[str, Any]) -> None:
    """A resumed search must propose and score as the one that ran (its trials, minutes or export may change)."""
    path = RunFolder(run).config
    if not path.is_file():
        return
    saved = read_json(path)
    saved["strategy_options"] = saved.get(RESOLVED, saved.get("strategy_options"))  # before RESOLVED, the resolved options were kept there
    now = {**cfg.to_json(), "strategy_options": opts}
    for key in KEPT + ("strategy_options",):
        old, new = saved.get(key), now[key]
        if key == "strategy_options":
            old = {"noise_dof": None, **(old or {})}  # searches before the t noise ran with a normal one
            old, new = ({k: v for k, v in d.items() if k not in ("trials", "export", "side_by_side")} for d in (old, new))
        if old != new:
            raise SegnasError(f"{path}: this search ran with {key} = {old!r}, not {new!r}; resume it with the same settings "
                              "or remove the folder")


def round_of(record: dict[str, Any]) -> int:
    """The round a trial ran in; a trial logged without one ran alone."""
    return int(record.get("round", record["trial"]))


def round_seconds(records: list[dict[str, Any]]) -> list[float]:
    """Wall seconds of each round of trials (its slowest trial)."""
    rounds: dict[int, float] = {}
    for r in records:
        rounds[round_of(r)] = max(rounds.get(round_of(r), 0.0), float(r["seconds"]))
    return list(rounds.values())


def run_round(work: Path, run: Path, cfg: SearchConfig, opts: dict[str, Any], first: int, proposals: list[dict[str, Any]],
              settings: dict[str, Any], inner: list[str], unet_ms: float | None, show_progress: bool) -> list[dict[str, Any]]:
    """Trials first, first + 1, … with the proposed values: in this process when one, else side by side."""
    if len(proposals) == 1:
        return [run_trial(work, run, cfg, opts, first, proposals[0], settings, inner, unet_ms, show_progress)]
    calls = [(work, run, cfg, opts, first + i, values, settings, inner, unet_ms, False) for i, values in enumerate(proposals)]
    return run_side_by_side(run_trial, calls, work, f"{run}: trial")


@locks_work
def trained_search(work: str | Path, cfg: SearchConfig, run: Path, resume: bool = False, show_progress: bool = True,
                   twin: Path | None = None) -> Path:
    """Search by short trainings into `run` (within `cfg.minutes`, or `trials` trials); returns `run` with `arch.json`.
    Unless `cfg` fixes the patch, the trials' patch is chosen for the minutes (`trial_budget`), or taken from the
    run folder `twin` (the search's placebo, or the placebo's search) when that one chose first."""
    work = Path(work)
    opts = options(cfg)
    ws = Workspace(work)
    fold = load_fold(ws, cfg.fold)
    inner = list(fold.search_val)[:opts["score_cases"]]
    if not inner:
        raise SegnasError(f"{ws.splits}: fold {cfg.fold} has no inner cases (search_val) to score the trials on")
    if RunFolder(run).log.is_file() and not resume:
        raise SegnasError(f"{run}: a search already ran here; continue it with --resume or remove the folder")
    if cfg.minutes is None and opts["trials"] is None:
        raise SegnasError(f"strategy {NAME!r} needs a budget: --minutes M or --set strategy_options.trials=N")
    plan = load_plan(ws)
    settings = get_space(cfg.space).settings(**{**cfg.space_settings, "dims": plan.dims, "in_channels": plan.in_channels,
                                                "num_classes": plan.num_classes})
    decisions = op_decisions(cfg.space, settings)
    check_same(run, cfg, opts)
    run.mkdir(parents=True, exist_ok=True)
    write_json(RunFolder(run).config, {**cfg.to_json(), "format": FORMAT, RESOLVED: opts})  # as asked, so `segnas run` can tell it kept
    history = RunLog(RunFolder(run).log, 10**9)
    proxy_s = 0.0
    began_without = bool(history.records) and not (run / trial_budget.FILE).is_file()  # a search begun before the proxy keeps the plan's patch
    if cfg.minutes is not None and cfg.patch_size is None and opts["trials"] is None and not began_without:
        opening = [propose(cfg.space, settings, [], opts, cfg.seed, None, t) for t in range(trial_budget.TIMED)]
        proxy = trial_budget.kept_or_chosen(run, twin, lambda: trial_budget.choose(
            plan, cfg, opts, settings, opening, float(np.mean([len(c) for c in decisions.values()])), lambda c: recipe(c, opts, 0)))
        log.info("search by training: %s", trial_budget.words(proxy))
        cfg, proxy_s = dataclasses.replace(cfg, patch_size=proxy["patch_size"]), float(proxy["seconds"])
    unet_ms = kept_reference(run, lambda: reference_side_by_side(work, plan, cfg, opts)) if cfg.cost_weight > 0 else None
    cost = cost_terms(cfg, unet_ms)
    budget_s = cfg.minutes * 60 - proxy_s if cfg.minutes is not None else float("inf")  # the proxy's timing counts
    previous = history.records[-1]["derived"] if history.records else None
    with progress(show_progress, stats=True) as bar:
        task = bar.add_task(f"search {cfg.preset} by training", total=opts["trials"] or None, completed=len(history.records), stats="")
        while True:
            done = history.records
            rounds = round_seconds(done)
            n = opts["side_by_side"] if opts["trials"] is None else min(opts["side_by_side"], opts["trials"] - len(done))
            if n <= 0 or (rounds and sum(rounds) + float(np.mean(rounds)) > budget_s):
                break
            first = len(done)  # a round's trials are proposed together, from the rounds before it
            proposals = [propose(cfg.space, settings, done, opts, cfg.seed, cost, first + i) for i in range(n)]
            for record in run_round(work, run, cfg, opts, first, proposals, settings, inner, unet_ms, show_progress):
                record["round"] = len(rounds)
                post, steps = beliefs(decisions, history.records + [record], opts, cost)
                record["probabilities"] = post.p_best(np.random.default_rng([cfg.seed, record["trial"], 1]), cost=steps)
                record["derived"] = post.mean_best(steps)
                moved = changed(previous, record["derived"])
                record["decisions"] = {**summarize(record["probabilities"], decisions), "changed": moved,
                                       "changed_share": moved / max(len(decisions), 1)}
                previous = record["derived"]
                history.append(record)
                bar.update(task, advance=1, stats=f"Dice {record['dice']:.3f}")
                log.info("trial %d: inner Dice %.4f, %.0f ms/step; %d of %d op decisions at ≥ 2× uniform", record["trial"], record["dice"],
                         record["step_ms"], round(record["decisions"]["decided_share"] * len(decisions)), len(decisions))
            if first == 0 and (words := outlook(max(round_seconds(history.records)), budget_s, decisions, n)):
                log.warning("%s", words)
    return export(run, cfg, settings, decisions, history.records, opts, unet_ms)


def export(run: Path, cfg: SearchConfig, settings: dict[str, Any], decisions: dict[str, tuple[str, ...]],
           records: list[dict[str, Any]], opts: dict[str, Any], unet_ms: float | None) -> Path:
    """arch.json (`export`: the posterior's pick, inputs from the best trial; or the best trial), its verdict,
    decisions.png and stakes.png."""
    if not records:
        raise SegnasError(f"{run}: the budget of {cfg.minutes} min did not fit one trial; give more --minutes")
    best = max(records, key=lambda r: r["score"])
    # read from the trials (as the last trial's record was, with its seed): a resume re-reads them with this code
    post, steps = beliefs(decisions, records, opts, cost_terms(cfg, unet_ms))
    probabilities = post.p_best(np.random.default_rng([cfg.seed, len(records) - 1, 1]), cost=steps)
    shuffled = posterior.shuffled_p(decisions, [r["values"] for r in records], [r["dice"] for r in records],
                                    np.random.default_rng([cfg.seed, len(records), 2]), cost=steps,
                                    noise_sd=opts["noise_sd"], effect_sd=opts["effect_sd"], noise_dof=opts["noise_dof"])
    before = beliefs(decisions, records[:-1], opts, cost_terms(cfg, unet_ms)) if len(records) > 1 else None
    n_moved = changed(before[0].mean_best(before[1]) if before else None, post.mean_best(steps))  # by the last trial, read now
    moved = {"changed": n_moved, "changed_share": n_moved / max(len(decisions), 1)}
    dice = [r["dice"] for r in records]
    summary = {**summarize(probabilities, decisions), **moved, **clear_of_shuffled(probabilities, shuffled),
               "trials_per_candidate": len(records) / float(np.mean([len(c) for c in decisions.values()])),
               "trial_dice": [round(float(q), 4) for q in np.quantile(dice, [0.0, 0.5, 1.0])],
               "trial_dice_sd": round(float(np.std(dice, ddof=1)) if len(dice) > 1 else 0.0, 4), "noise_sd": round(post.noise_sd(), 4),
               "effect_sd": round(post.effect_sd, 4), "trials": len(records),
               "outliers": [r["trial"] for r, w in zip(records, post.weights) if w < OUTLIER_WEIGHT],
               "trial_seconds": round(float(np.median([r["seconds"] for r in records])), 1),
               "side_by_side": max(Counter(map(round_of, records)).values())}
    decision, words = judge(summary, tied=settings.get("tie") == "cell")
    stakes = post.stakes(np.random.default_rng([cfg.seed, len(records), 3]), cost=steps)
    words += " " + stakes_words(stakes)
    if opts["export"] == "posterior" or (opts["export"] == "auto" and decision == "decided"):
        values, exported = {**best["values"], **post.mean_best(steps)}, "each decision's best posterior mean"
    else:  # the posterior cannot tell the candidates apart: its argmax is a combination nobody trained
        values, exported = dict(best["values"]), f"the best-scoring trial ({best['trial']})"
    words += f" Exported: {exported}" + (", a network the search trained and scored." if values == best["values"] else ".")
    quick = posterior.fastest_plausible(post, records, values, np.random.default_rng([cfg.seed, len(records), 4]), cost=steps)
    if quick["values"] != {k: values[k] for k in quick["values"]}:
        changes = ", ".join(f"{k} {v}" for k, v in quick["values"].items() if v != values[k])
        mean, (lo, hi) = quick["shortfall"]
        words += (f" The fastest network the trials do not rank below the export ({changes}; what it may lose, jointly: "
                  f"{mean:+.3f}, 90 % interval [{lo:+.3f}, {hi:+.3f}]) takes {quick['step_ms']:.0f} ms per step where the "
                  f"export takes {quick['export_step_ms']:.0f} (predicted from the trials' steps); `segnas race` races it.")
    arch = Architecture(cfg.space, settings, values)
    arch.provenance = {"preset": cfg.preset, "strategy": NAME, "trials": len(records), "minutes": cfg.minutes,
                       "trial_steps": opts["trial_steps"], "decisions": summary, "verdict": decision, "in_words": words, "exported": exported,
                       "probabilities": probabilities, "shuffled_p": shuffled, "stakes": stakes,
                       "fastest_plausible": quick,
                       **({"trial_budget": read_json(run / trial_budget.FILE)} if (run / trial_budget.FILE).is_file() else {}),
                       "best_trial": {k: best[k] for k in ("trial", "dice", "step_ms", "score")},
                       **({"cost": cost_record(cfg, opts, unet_ms, best["step_ms"] if values == best["values"] else None)}
                          if unet_ms else {})}
    arch.save(RunFolder(run).arch)
    plot_decisions(records, run)
    plot_stakes(stakes, run / "stakes.png")
    (log.info if decision == "decided" else log.warning)("%s", words)
    return run


def cost_record(cfg: SearchConfig, opts: dict[str, Any], unet_ms: float, step_ms: float | None) -> dict[str, Any]:
    """The exported network's step as its trial measured it (None: a combination no trial trained), beside the target."""
    return {"measured_step_ms": step_ms, "reference_step_ms": round(unet_ms, 1), "target_step_ms": round(cfg.cost_target * unet_ms, 1),
            "at": {"channels": opts["width"], "patch_size": cfg.patch_size, "batch_size": cfg.batch_size}}


def is_trained(cfg: SearchConfig) -> bool:
    """Whether `cfg` asks for the search by training."""
    return cfg.strategy == NAME
