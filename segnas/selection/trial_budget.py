"""The search by training's proxy: the patch its trials train at, chosen before the first trial from steps timed on
this device, so that the minutes afford enough trials per candidate to decide (issue 21: a budgeted search picks
its proxy from a few steps timed on the device before it starts).

Every measured search by training that decided trained its trials on about a quarter of the plan's patch (LA
64×48×32 of 96×80×48, ISBI 128×128 of 256×256: BENCHMARKS.md); at the plan's patch the same minutes give a third
of the trials. The choice, its timings and its forecast go to `trial_budget.json` in the run folder, read back on
resume, and to `arch.json`'s provenance.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from segnas.config import SearchConfig, TrainConfig
from segnas.data.plan import Plan
from segnas.errors import SegnasError
from segnas.nas.arch import Architecture
from segnas.networks.model import check_patch, fit_architecture, patch_multiples
from segnas.runtime.files import read_json, write_json
from segnas.selection.race import race_device, step_ms
from segnas.selection.verdict import ENOUGH_PER_CANDIDATE

FILE = "trial_budget.json"
FRACTIONS = (1.0, 0.5, 0.25, 0.125)  # of the patch's voxels, largest first
TIMED = 2  # networks timed per patch (the search's first trials): the space's steps differ 2–3× between networks
# a trial's seconds over trial_steps × its step: data loading, validation on the inner cases, start-up (1.17–1.36 in
# the searches by training of BENCHMARKS.md's records)
OVERHEAD = 1.3
SIDE_BY_SIDE_GAIN = 1.42  # trials per minute, two side by side against one process with both threads (2-core CPU)


def scaled(patch: list[int], multiple: int, fraction: float) -> list[int]:
    """`patch` scaled alike along every axis to about `fraction` of its voxels, each size a multiple of `multiple`."""
    factor = fraction ** (1 / len(patch))
    return [max(multiple, round(p * factor / multiple) * multiple) for p in patch]


def proxies(patch: list[int], settings: dict[str, Any], space: str) -> list[list[int]]:
    """The patches to try, largest first: `patch` and its FRACTIONS that the space's networks can train on."""
    multiple = max(patch_multiples(settings))
    out: list[list[int]] = []
    for f in FRACTIONS:
        p = scaled(patch, multiple, f)
        try:
            check_patch(p, settings, space)
        except SegnasError:
            continue
        if p not in out:
            out.append(p)
    return out


def forecast(step_s: float, trial_steps: int, budget_s: float, side_by_side: int, candidates: float) -> dict[str, float]:
    """Trials the budget gives at a step of `step_s` (one process, every thread), and per candidate of a decision."""
    trial_s = OVERHEAD * trial_steps * step_s
    trials = budget_s / trial_s * (SIDE_BY_SIDE_GAIN if side_by_side > 1 else 1.0)
    return {"trial_seconds": round(trial_s, 1), "trials": round(trials, 1), "trials_per_candidate": round(trials / candidates, 2)}


def choose(plan: Plan, cfg: SearchConfig, opts: dict[str, Any], settings: dict[str, Any], networks: list[dict[str, Any]],
           candidates: float, recipe: Callable[[SearchConfig], TrainConfig]) -> dict[str, Any]:
    """Time the `networks` (values of the space: the search's first trials) at each proxy, largest first; keep the
    first proxy that affords ENOUGH_PER_CANDIDATE trials per candidate in the budget, else the smallest.
    `recipe(cfg)`: a trial's training under `cfg`."""
    t0 = time.perf_counter()
    budget_s = float(cfg.minutes or 0) * 60
    timed: list[dict[str, Any]] = []
    for patch in proxies(list(plan.patch_size), settings, cfg.space):
        train_cfg = recipe(dataclasses.replace(cfg, patch_size=patch))
        steps = [step_ms(fit_architecture(Architecture(cfg.space, settings, values), plan, train_cfg.width), plan, train_cfg,
                         race_device(train_cfg)) for values in networks]
        row: dict[str, Any] = {"patch_size": patch, "step_ms": round(float(np.mean(steps)), 1),
                               **forecast(float(np.mean(steps)) / 1000, opts["trial_steps"], budget_s, opts["side_by_side"], candidates)}
        timed.append(row)
        if row["trials_per_candidate"] >= ENOUGH_PER_CANDIDATE:
            break
    if not timed:
        raise SegnasError(f"the plan's patch {plan.patch_size} cannot be trained on by this {cfg.space} space's networks")
    chosen = timed[-1]
    return {"patch_size": chosen["patch_size"], "plan_patch_size": list(plan.patch_size), "timed": timed,
            "enough_per_candidate": ENOUGH_PER_CANDIDATE, "minutes": cfg.minutes, "side_by_side": opts["side_by_side"],
            "overhead": OVERHEAD, "side_by_side_gain": SIDE_BY_SIDE_GAIN, "seconds": round(time.perf_counter() - t0, 1)}


def kept_or_chosen(run: Path, twin: Path | None, choose_now: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The run's `trial_budget.json`; else its twin's (a search and its placebo train their trials alike); else
    `choose_now()`, written to the run folder."""
    found = next((p for p in (run / FILE, twin / FILE if twin else None) if p is not None and p.is_file()), None)
    budget = read_json(found) if found else choose_now()
    if not (run / FILE).is_file():
        write_json(run / FILE, budget)
    return budget


def words(budget: dict[str, Any]) -> str:
    """The choice in a line: the patch, of the plan's, and the trials it forecasts."""
    row = next(r for r in budget["timed"] if r["patch_size"] == budget["patch_size"])
    size = "×".join(map(str, budget["patch_size"]))
    of = "" if budget["patch_size"] == budget["plan_patch_size"] else f" (the plan's: {'×'.join(map(str, budget['plan_patch_size']))})"
    return (f"trials train on {size} patches{of}: about {row['trials']:.0f} trials of {row['trial_seconds']:.0f} s in "
            f"{budget['minutes']:g} min, {row['trials_per_candidate']:.1f} per candidate ({budget['enough_per_candidate']} decide)")
