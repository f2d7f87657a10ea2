"""A search that fits a budget in minutes: the proxy (supernet width, patch) and the schedule (steps, epochs,
warm-up, architecture learning rate) chosen from a few steps timed on this device before the search starts.

Why the schedule follows the number of architecture steps: Adam moves each logit by about its learning
rate per step, so `arch_lr × arch_steps` bounds how far α can travel from uniform. The papers' rates
(3e-4…3e-3) over the few hundred architecture steps a small machine affords leave α near uniform — a
"found" architecture that is a random draw. Here the rate is `budget_travel / arch_steps` (at most
`budget_travel / budget_arch_steps`): a consistent signal can move a logit by `budget_travel`, noise much less.
The plan is written to the run folder as `budget.json` and reused on `--resume`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from pathlib import Path
from typing import Any

from segnas.config import SearchConfig
from segnas.data.plan import Plan, load_plan
from segnas.errors import SegnasError
from segnas.nas.arch import ZERO, OpChoice
from segnas.nas.spaces import get_space
from segnas.networks.model import patch_multiples
from segnas.runtime.files import read_json, write_json
from segnas.runtime.workspace import RunFolder, Workspace

log = logging.getLogger(__name__)

TIMED_STEPS = 3  # steps timed per phase and proxy (after as many untimed ones)
RESERVE = 0.08  # share of the budget kept for checkpoints, export and plots
DIFFERENTIABLE = ("gumbel2", "darts", "pcdarts")  # strategies whose logits the travel rule sets


def proxies(cfg: SearchConfig, plan: Plan) -> list[tuple[int, list[int]]]:
    """(width, patch) candidates from the largest to the smallest: narrower first at the plan's patch
    (search narrow, train wide), then smaller patches at the smallest width."""
    space = get_space(cfg.space)
    settings = space.settings(**{"dims": plan.dims, "in_channels": plan.in_channels,
                                 "num_classes": plan.num_classes, **cfg.space_settings})
    width = settings["channels"]
    step = math.lcm(settings.get("nodes", 1), int(cfg.strategy_options.get("partial_channels", 4 if cfg.strategy == "pcdarts" else 1)))
    widths = [width] + [w for w in (16, 12, 8) if w < width and w % step == 0]
    patch = list(cfg.patch_size or plan.patch_size)
    multiples = patch_multiples(settings)
    out = [(w, patch) for w in widths]
    for scale in (0.75, 0.5):
        smaller = [max(m * 2 if i == 0 else m, int(round(p * scale / m)) * m) for i, (p, m) in enumerate(zip(patch, multiples))]
        if smaller != out[-1][1]:
            out.append((widths[-1], smaller))
    return out


def with_proxy(cfg: SearchConfig, width: int, patch: list[int], **changes: Any) -> SearchConfig:
    """`cfg` searching at `width` stem channels on `patch`, with other `changes`."""
    return dataclasses.replace(cfg, space_settings={**cfg.space_settings, "channels": width}, patch_size=list(patch), **changes)


def time_proxy(work: Path, cfg: SearchConfig, run: Path) -> tuple[float, float]:
    """Seconds of a weight-only step and of an alternating (architecture + weight) step at `cfg`'s proxy."""
    from segnas.nas.search import build, run_epoch  # the search imports this module

    probe = dataclasses.replace(cfg, epochs=2, steps_per_epoch=TIMED_STEPS, warmup_epochs=1, minutes=None)
    s = build(work, probe, run)
    run_epoch(s, 0, lambda _: None)  # untimed: allocation, first kernels
    t0 = time.perf_counter()
    run_epoch(s, 0, lambda _: None)
    weights = (time.perf_counter() - t0) / TIMED_STEPS
    t0 = time.perf_counter()
    run_epoch(s, 1, lambda _: None)
    both = (time.perf_counter() - t0) / TIMED_STEPS
    return weights, both


def schedule(seconds: float, weight_step: float, step: float, cfg: SearchConfig) -> dict[str, Any]:
    """Steps, epochs, warm-up and architecture learning rate that fill `seconds` at these step times."""
    warm_share = cfg.budget_warmup
    # n·warm_share weight-only steps and n·(1 − warm_share) alternating ones fill the time
    n = int(seconds / (warm_share * weight_step + (1 - warm_share) * step))
    epochs = 20 if n >= 200 else max(2, n // 10)
    spe = max(1, n // epochs)
    warmup = min(epochs - 1, int(round(warm_share * epochs)))
    arch_steps = (epochs - warmup) * spe
    out: dict[str, Any] = {"epochs": epochs, "steps_per_epoch": spe, "warmup_epochs": warmup, "arch_steps": arch_steps}
    if cfg.strategy in DIFFERENTIABLE:
        # never faster than for `budget_arch_steps` steps: a budget too small for a decision ends undecided
        out["arch_lr"] = cfg.budget_travel / max(arch_steps, cfg.budget_arch_steps)
    return out


def scoring_seconds(cfg: SearchConfig, plan: Plan, weight_step: float) -> float:
    """Seconds `derive=scores` takes after the last epoch: a forward pass (about a third of a weight step) per
    candidate try and batch; 0 for derivation from α."""
    if cfg.derive != "scores":
        return 0.0
    settings = {"dims": plan.dims, "in_channels": plan.in_channels, "num_classes": plan.num_classes, **cfg.space_settings}
    tries = sum(sum(n != ZERO for n in c.candidates) for c in get_space(cfg.space).choices(**settings) if isinstance(c, OpChoice))
    return tries * cfg.score_draws * cfg.score_batches * weight_step / 3


def plan_budget(work: Path, cfg: SearchConfig, run: Path, spent: float = 0.0) -> dict[str, Any]:
    """Time the proxies from the largest down; keep the first that affords `budget_arch_steps` architecture
    steps in the budget (else the smallest) → the plan, written to `run/budget.json`."""
    if cfg.minutes is None or cfg.minutes <= 0:
        raise SegnasError(f"setting 'minutes' must be positive for a budgeted search, found {cfg.minutes!r}")
    t_start = time.perf_counter()
    total = cfg.minutes * 60.0 - spent  # `spent`: seconds the search used before planning (measuring costs)
    plan = load_plan(Workspace(work))
    timed: list[dict[str, Any]] = []

    def measure(width: int, patch: list[int]) -> dict[str, Any]:
        weight_step, step = time_proxy(work, with_proxy(cfg, width, patch), run)
        scoring = scoring_seconds(cfg, plan, weight_step)  # kept for the end, so that the search ends in time
        left = total * (1 - RESERVE) - (time.perf_counter() - t_start) - scoring
        row = {"channels": width, "patch_size": patch, "weight_step_seconds": round(weight_step, 4),
               "step_seconds": round(step, 4), **({"scoring_seconds": round(scoring, 1)} if scoring else {}),
               **schedule(left, weight_step, step, cfg)}
        timed.append(row)
        log.info("search proxy %d channels, patch %s: %.2f s per step → %d architecture steps", width, patch, step, row["arch_steps"])
        return row

    candidates = proxies(cfg, plan)
    smallest = measure(*candidates[-1])  # cheap, and a lower bound for the others
    chosen: dict[str, Any] | None = None
    for width, patch in candidates[:-1]:
        # steps scale less than linearly with channels × voxels (fixed costs per step): a proxy is not worth timing
        # only when even half the linear estimate of its time would not afford the steps
        scale = width / smallest["channels"] * math.prod(patch) / math.prod(smallest["patch_size"])
        if 2 * smallest["arch_steps"] / scale < cfg.budget_arch_steps:
            continue
        row = measure(width, patch)
        if row["arch_steps"] >= cfg.budget_arch_steps:
            chosen = row
            break
    if chosen is None:
        chosen = smallest
        if smallest["arch_steps"] < cfg.budget_arch_steps:
            log.warning("even the smallest proxy affords only %d architecture steps in %g minutes (wanted %d): the "
                        "search may end undecided", chosen["arch_steps"], cfg.minutes, cfg.budget_arch_steps)
    budget = {"minutes": cfg.minutes, "planning_seconds": round(time.perf_counter() - t_start + spent, 1),
              "chosen": chosen, "timed": timed}
    write_json(RunFolder(run).budget, budget)
    return budget


def load_or_plan(work: Path, cfg: SearchConfig, run: Path, resume: bool, spent: float = 0.0) -> dict[str, Any]:
    """The run's `budget.json` when resuming a budgeted search that has one, else a fresh plan."""
    files = RunFolder(run)
    if resume and files.budget.is_file():
        return read_json(files.budget)  # a changed `minutes` is then named by the resume check
    if resume and files.checkpoint.is_file():
        raise SegnasError(f"{run}: this search was started without a budget in minutes; resume it with the settings it "
                          "was started with (--epochs …)")
    run.mkdir(parents=True, exist_ok=True)
    return plan_budget(work, cfg, run, spent)


def describe(budget: dict[str, Any]) -> str:
    """The chosen proxy and schedule in one line."""
    c = budget["chosen"]
    return (f"{c['channels']} channels, patch {'×'.join(map(str, c['patch_size']))}, {c['step_seconds']:.2f} s per step, "
            f"{c['epochs']} epochs × {c['steps_per_epoch']} steps ({c['warmup_epochs']} warm-up), "
            f"{c['arch_steps']} architecture steps" + (f", arch_lr {c['arch_lr']:.2g}" if "arch_lr" in c else ""))


def apply(cfg: SearchConfig, budget: dict[str, Any]) -> SearchConfig:
    """The configuration the search runs: the user's, with the plan's proxy and schedule."""
    c = budget["chosen"]
    changes = {k: c[k] for k in ("epochs", "steps_per_epoch", "warmup_epochs", "arch_lr") if k in c}
    return with_proxy(cfg, c["channels"], c["patch_size"], **changes)
