"""The meeting point: a plain `search()` that alternates architecture and weight steps.

Each step: the strategy takes an architecture step on a batch of architecture-validation cases,
then the supernet's weights take a step on a batch of weight-training cases with what the strategy
selects. Both case sets come from the fold's search split, so the fold's validation cases never
steer the search. Every epoch ends with an atomic checkpoint; `resume=True` continues exactly.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from segnas.config import SearchConfig, check_config
from segnas.data.patches import PatchDataset, patch_loader
from segnas.data.plan import load_plan
from segnas.data.splits import load_fold
from segnas.errors import SegnasError
from segnas.inference.metrics import dice_per_sample
from segnas.nas import budget as budgets
from segnas.nas.arch import Architecture, OpChoice, Selection, derive
from segnas.nas.cost import SpaceCost, search_cost
from segnas.nas.decisions import changed, describe, describe_scores, summarize, verdict
from segnas.nas.scores import decide, score_decisions
from segnas.nas.spaces import get_space
from segnas.nas.strategies import Evaluation, Strategy, check_options, get_strategy
from segnas.networks.model import check_patch, memory_format, to_device
from segnas.runtime.checkpoint import check_resumable, load_checkpoint, open_run, rng_state, save_checkpoint, seed_everything, set_rng_state
from segnas.runtime.distributed import (
    Group,
    average_gradients,
    barrier,
    broadcast,
    check_identical,
    device_for,
    max_difference,
    mean,
    rank_seed,
    setup,
    shard,
)
from segnas.runtime.files import write_json
from segnas.runtime.guard import Guard, all_finite, guarded_step
from segnas.runtime.lock import locks_work
from segnas.runtime.optim import weight_optimizer
from segnas.runtime.plots import plot_search
from segnas.runtime.precision import Precision, speed_up
from segnas.runtime.progress import progress
from segnas.runtime.runlog import RunLog
from segnas.runtime.staleness import FORMAT
from segnas.runtime.workspace import RunFolder, Workspace
from segnas.training.losses import main_output, segmentation_loss

log = logging.getLogger(__name__)


@dataclass
class Searcher:
    """The objects of one search, built from the work folder and the config."""

    cfg: SearchConfig
    run: Path
    settings: dict[str, Any]
    strategy: Strategy
    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau
    train_data: PatchDataset
    val_data: PatchDataset
    loss: Callable[..., torch.Tensor]
    device: torch.device
    num_classes: int
    layout: torch.memory_format = torch.contiguous_format
    group: Group = Group()
    # bf16 autocast on GPUs that have it (no loss scaling in the architecture step)
    precision: Precision = field(default_factory=lambda: Precision(torch.device("cpu"), False))
    guard: Guard = field(init=False)
    loaders: tuple[DataLoader, DataLoader] = field(init=False)

    def __post_init__(self) -> None:
        self.guard = Guard(self.run, "search", "search")
        self.loaders = (patch_loader(self.train_data, self.cfg.batch_size, self.cfg.workers),
                        patch_loader(self.val_data, self.cfg.batch_size, self.cfg.workers))

    def batch(self, b: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Images and labels of a loader batch on the device, images in the network's layout."""
        return b["image"].to(self.device, memory_format=self.layout), b["label"].to(self.device)

    def state(self, epoch: int) -> dict[str, Any]:
        """Everything to continue after `epoch`."""
        return {"kind": "search", "epoch": epoch, "config": self.cfg.to_json(), "settings": self.settings,
                "net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "strategy": self.strategy.checkpoint(), "rng": rng_state()}

    def restore(self, state: dict[str, Any]) -> int:
        """Load a checkpoint; returns the epoch to start from."""
        check_resumable(state["config"], self.cfg.to_json(), RunFolder(self.run).checkpoint)
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.strategy.restore(state["strategy"])
        set_rng_state(state["rng"])
        return int(state["epoch"]) + 1

    def autocast(self) -> Any:
        """Mixed-precision context of the forward passes."""
        return self.precision.autocast()

    def evaluate(self, batch: dict[str, torch.Tensor]) -> Callable[[Selection, bool], Evaluation]:
        """The strategy's view of an architecture-validation batch."""
        x, y = self.batch(batch)

        def run(selection: Selection, with_grad: bool) -> Evaluation:
            with torch.set_grad_enabled(with_grad), self.autocast():
                out = self.net(x, selection)
                loss = self.loss(out, y)
            return Evaluation(loss, dice_per_sample(main_output(out).detach(), y, self.num_classes))

        return run

    def evaluate_all(self, batches: int = 4) -> Callable[[Selection], float]:
        """Mean Dice of a selection over a fixed set of architecture-validation batches (ENAS export)."""
        self.val_data.set_epoch(10**6)  # a fixed draw, the same for every candidate
        fixed = [b for _, b in zip(range(batches), patch_loader(self.val_data, self.cfg.batch_size, 0))]

        def run(selection: Selection) -> float:
            with torch.no_grad():
                return float(torch.cat([self.evaluate(b)(selection, False).dice for b in fixed]).mean())

        return run

    def scorer(self, draws: int, batches: int) -> tuple[Callable[[int], Selection], Callable[[Selection, int], float]]:
        """For `segnas.nas.scores`: draw i of the strategy's weight-training selection (seeded, so the same for every
        candidate), and minus the mean loss of a selection on the i-th of `draws` fixed sets of validation batches."""
        self.val_data.set_epoch(10**6 + 1)
        fixed = [b for _, b in zip(range(draws * batches), patch_loader(self.val_data, self.cfg.batch_size, 0))]
        per = max(1, len(fixed) // draws)  # an epoch of validation patches may hold fewer batches than asked

        def draw(i: int) -> Selection:
            torch.manual_seed(self.cfg.seed * 7919 + i)
            with torch.no_grad():
                return self.strategy.selection(for_weights=True)

        def score(selection: Selection, i: int) -> float:
            with torch.no_grad():
                sets = fixed[(i * per) % len(fixed):][:per]
                return -sum(float(self.evaluate(b)(selection, False).loss) for b in sets) / len(sets)

        return draw, score


def build(work: Path, cfg: SearchConfig, run: Path, cost: tuple[SpaceCost, float] | None = None) -> Searcher:
    """Everything a search needs: plan, split, space, strategy, supernet, optimisers, data; with `cost` (a cost
    model and its target ms), a strategy that steers by it."""
    ws = Workspace(work)
    plan = load_plan(ws)
    fold = load_fold(ws, cfg.fold)
    if not fold.search_val:
        raise SegnasError(f"{ws.splits}: fold {cfg.fold} has no architecture-validation cases (search_val)")
    seed_everything(cfg.seed)
    space = get_space(cfg.space)
    settings = space.settings(**{"dims": plan.dims, "in_channels": plan.in_channels,
                                 "num_classes": plan.num_classes, **cfg.space_settings})
    strategy = get_strategy(cfg.strategy)(space.choices(**settings), lr=cfg.arch_lr, betas=(cfg.arch_betas[0], cfg.arch_betas[1]),
                                          weight_decay=cfg.arch_weight_decay, **cfg.strategy_options)
    if cost is not None:
        strategy.set_cost(cost[0], cost[1], cfg.cost_weight)
    group = setup(cfg.device)
    device = device_for(group, cfg.device)
    layout = memory_format(settings["dims"], cfg.channels_last)
    net = to_device(space.supernet(partial_channels=strategy.partial_channels, **settings), device, layout)
    strategy.to(device)
    speed_up(device)
    strategy.connect(lambda obj: broadcast(obj, group), lambda v: mean(v, group, device),
                     lambda: average_gradients(strategy.parameters(), group))
    optimizer = weight_optimizer(net.parameters(), cfg)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=cfg.plateau_factor, patience=cfg.plateau_patience)
    patch = list(cfg.patch_size or plan.patch_size)
    check_patch(patch, settings, cfg.space)
    n = cfg.steps_per_epoch * cfg.batch_size
    seed = rank_seed(cfg.seed, group)
    train_data, val_data = (PatchDataset(work, shard(ids, group), patch, plan.dims, plan.slice_axis, samples_per_epoch=n, seed=s, augment=aug)
                            for ids, s, aug in ((fold.search_train, seed, True), (fold.search_val, seed + 1, False)))
    return Searcher(cfg, run, settings, strategy, net, optimizer, scheduler, train_data, val_data,
                    segmentation_loss(cfg.loss), device, plan.num_classes, layout, group,
                    Precision(device, cfg.amp, allow_fp16=False))


def cost_model(work: Path, cfg: SearchConfig, run: Path) -> tuple[SpaceCost, float, dict[str, Any]]:
    """The run's cost model (`segnas.nas.cost.search_cost`): measured by rank 0, read from `run/cost.json` by the others."""
    group = setup(cfg.device)
    ws = Workspace(work)
    plan = load_plan(ws)
    settings = get_space(cfg.space).settings(**{"dims": plan.dims, "in_channels": plan.in_channels,
                                                "num_classes": plan.num_classes, **cfg.space_settings})
    device = device_for(group, cfg.device)
    if group.main:
        found = search_cost(ws, run, cfg, plan, settings, device)
    barrier(group)
    return found if group.main else search_cost(ws, run, cfg, plan, settings, device)


def run_folder(work: Path, cfg: SearchConfig) -> Path:
    """WORK/runs/search_<preset>_<space>_<strategy>_fold<F>."""
    return Path(work) / "runs" / f"search_{cfg.preset}_{cfg.space}_{cfg.strategy}_fold{cfg.fold}"


@locks_work
def search(work: str | Path, cfg: SearchConfig, resume: bool = False, stop_after: int | None = None,
           show_progress: bool = True) -> Path:
    """Search an architecture on the fold's search split; returns the run folder holding `arch.json`.

    `stop_after` ends the run after that many epochs as if it were killed (for tests of `resume`).
    """
    work = Path(work)
    check_config(cfg)
    check_options(cfg.strategy, cfg.strategy_options)
    run = run_folder(work, cfg)
    ckpt = RunFolder(run).checkpoint
    if ckpt.exists() and not resume:
        raise SegnasError(f"{run}: a search already ran here; continue it with --resume or remove the folder")
    requested, budget = cfg, None
    if resume and ckpt.is_file() and (cfg.minutes is not None or cfg.cost_weight > 0):
        load_checkpoint(ckpt, "search")  # a damaged checkpoint is named before minutes of timing
    cost, cost_seconds = None, 0.0
    if cfg.cost_weight > 0:
        t0 = time.perf_counter()
        cost_model_, target_ms, cost_record = cost_model(work, cfg, run)
        cost, cost_seconds = (cost_model_, target_ms), time.perf_counter() - t0
        log.info("cost model: %d op costs measured in %.0f s; MONAI UNet's step %.0f ms → target %.0f ms per step",
                 cost_record["measured_entries"], cost_seconds, cost_record["reference_ms"], target_ms)
    if cfg.minutes is not None:
        budget = budgets.load_or_plan(work, cfg, run, resume, spent=cost_seconds)
        cfg = budgets.apply(cfg, budget)
        log.info("search budget %g min: %s", requested.minutes, budgets.describe(budget))
    s = build(work, cfg, run, cost)
    main = s.group.main  # only rank 0 writes
    start = open_run(run, "search", resume, s.restore, main)
    if main:
        write_json(RunFolder(run).config, {**requested.to_json(), "format": FORMAT, "space_settings_resolved": s.settings,
                                         "ranks": s.group.world, **({"budget": budget} if budget else {})})
    history = RunLog(RunFolder(run).log, start, write=main)
    ops = [c.label for c in s.strategy.choices if isinstance(c, OpChoice)]

    def derived(probs: dict[str, list[float]]) -> dict[str, Any]:
        return derive(cfg.space, s.settings, s.strategy.choices, probs).values

    previous = derived(history.records[-1]["probabilities"]) if history.records else None
    spent = (budget or {}).get("planning_seconds", 0.0) + sum(r.get("seconds", 0.0) for r in history.records)
    with progress(show_progress and main, stats=True) as bar:
        task = bar.add_task(f"search {cfg.preset}", total=cfg.epochs * cfg.steps_per_epoch,
                            completed=start * cfg.steps_per_epoch, stats="")
        for epoch in range(start, cfg.epochs):
            record = run_epoch(s, epoch, lambda st: bar.update(task, advance=1, stats=st))
            values = derived(record["probabilities"])
            moved = changed(previous, values)
            record["decisions"] = {**summarize(record["probabilities"], ops), "changed": moved,
                                   "changed_share": moved / max(len(values), 1)}
            previous = values
            history.append(record)
            if main:
                save_checkpoint(ckpt, s.state(epoch))
            barrier(s.group)
            spent += record["seconds"]
            if stop_after is not None and epoch + 1 >= stop_after and epoch + 1 < cfg.epochs:
                return run
            # another epoch like this one would overrun the budget (the machine got slower than when it was timed)
            if requested.minutes is not None and spent + record["seconds"] > requested.minutes * 60 and epoch + 1 < cfg.epochs:
                log.warning("search budget of %g min nearly spent after epoch %d of %d: exporting now", requested.minutes,
                            epoch + 1, cfg.epochs)
                break
    arch = s.strategy.export(cfg.space, s.settings, s.evaluate_all())
    summary = history.records[-1]["decisions"] if history.records else summarize(s.strategy.probabilities(), ops)
    decision, words = verdict(summary), describe(summary)
    scored: dict[str, Any] = {}
    if cfg.derive == "scores":  # every rank scores the same draws on its own batches; rank 0's values are saved
        values, scored = decide(score_decisions(s.strategy.choices, *s.scorer(cfg.score_draws, cfg.score_batches), cfg.score_draws))
        arch.values.update(values)
        decision, words = describe_scores(scored["clear_share"], scored["op_decisions"])
    arch.provenance = {"preset": cfg.preset, "strategy": cfg.strategy, "epochs_run": len(history.records), "epochs_planned": cfg.epochs,
                       "decisions": summary, "verdict": decision, "in_words": words, **({"scores": scored} if scored else {}),
                       **({"budget": budget["chosen"]} if budget else {})}
    if cost is not None:  # what the found network should cost on this device, beside the target
        step_ms, step_bytes = cost[0].predict(arch.values)
        arch.provenance["cost"] = {"predicted_step_ms": round(step_ms, 1), "target_step_ms": cost[1],
                                   "reference_step_ms": cost_record["reference_ms"], "activation_mb": round(step_bytes / 2**20, 1),
                                   "at": {"channels": cost_record["settings"]["channels"], "patch_size": cost_record["patch_size"],
                                          "batch_size": cost_record["batch_size"]}}
    if main:
        arch.save(RunFolder(run).arch)
        choices = {c.label: list(c.candidates) for c in s.strategy.choices}
        plot_search(history.records, choices, run)
        (log.info if decision == "decided" else log.warning)("%s", words)
        log.info("search finished: %s", RunFolder(run).arch)
    barrier(s.group)
    return run


def weight_loss(s: Searcher, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, Any]:
    """The supernet's training loss on a batch with what the strategy selects for the weights, and its output."""
    out = s.net(x, s.strategy.selection(for_weights=True))
    return s.loss(out, y), out


def run_epoch(s: Searcher, epoch: int, tick: Callable[[str], None]) -> dict[str, Any]:
    """One epoch of alternating steps → the epoch's log record."""
    t0 = time.perf_counter()
    s.net.train()
    s.train_data.set_epoch(epoch)
    s.val_data.set_epoch(epoch)
    train, val = s.loaders
    sums: dict[str, float] = {}
    steps = 0
    arch_steps = arch_skipped = skipped = 0
    for tb, vb in zip(train, val):
        if epoch >= s.cfg.warmup_epochs:
            stats = guarded_arch_step(s, vb)
            arch_steps += 1
            arch_skipped += stats is None
            for k, v in (stats or {}).items():
                sums[k] = sums.get(k, 0.0) + v
        x, y = s.batch(tb)
        done = guarded_step(s.optimizer, s.precision, s.net, s.group, lambda: weight_loss(s, x, y))
        if done is None:
            skipped += 1
            log.warning("search epoch %d: non-finite loss, weight step skipped", epoch + 1)
            continue
        loss, out = done
        check_identical(s.strategy.parameters(), s.group, "architecture parameters")
        sums["train_loss"] = sums.get("train_loss", 0.0) + float(loss)
        sums["train_dice"] = sums.get("train_dice", 0.0) + float(dice_per_sample(main_output(out).detach(), y, s.num_classes).mean())
        steps += 1
        status = s.strategy.status()
        tick(f"epoch {epoch + 1} loss {sums['train_loss'] / steps:.3f} dice {sums['train_dice'] / steps:.3f}"
             + (f" {status}" if status else ""))
    record: dict[str, Any] = {"epoch": epoch, "train_loss": float("nan"), "train_dice": float("nan"),
                              **{k: v / max(steps, 1) for k, v in sums.items()}}
    if arch_skipped:
        record["arch_nonfinite_steps"] = arch_skipped
    if skipped or arch_skipped or not all_finite(s.net.parameters()):
        record.update(recover(s, skipped + arch_skipped, steps + arch_steps - arch_skipped))
    if steps:
        s.scheduler.step(record["train_loss"])
    warm = s.cfg.warmup_epochs
    if epoch >= warm:  # schedules (τ) move with the architecture epochs, not through the warm-up
        record.update(s.strategy.end_epoch(epoch - warm, s.cfg.epochs - warm))
    record["lr"] = s.optimizer.param_groups[0]["lr"]
    record["seconds"] = time.perf_counter() - t0
    record["probabilities"] = s.strategy.probabilities()
    if s.group.active:  # the check that data parallelism kept the ranks in step
        record["ranks"] = s.group.world
        record["arch_params_rank_difference"] = max_difference(s.strategy.parameters(), s.group)
        record["weights_rank_difference"] = max_difference(s.net.parameters(), s.group)
    return record


def guarded_arch_step(s: Searcher, batch: dict[str, torch.Tensor]) -> dict[str, float] | None:
    """The strategy's step, undone when its loss or the architecture parameters it leaves are not finite → None."""
    before = copy.deepcopy(s.strategy.checkpoint())  # small: architecture parameters and their optimiser state
    stats = s.strategy.arch_step(s.evaluate(batch))
    bad = not (math.isfinite(stats["arch_loss"]) and all_finite(s.strategy.parameters()))
    if s.group.active:  # every rank undoes together
        bad = mean(float(bad), s.group, s.device) > 0.0
    if not bad:
        return stats
    s.strategy.restore(before)
    log.warning("non-finite architecture loss or parameters: architecture step undone")
    return None


def recover(s: Searcher, skipped: int, steps: int) -> dict[str, Any]:
    """After non-finite steps: both learning rates halved; weights and architecture parameters restored if needed."""
    def restore(state: dict[str, Any]) -> None:
        s.net.load_state_dict(state["net"])
        s.optimizer.load_state_dict(state["optimizer"])
        s.strategy.restore({**state["strategy"], "extra": s.strategy.extra_state()})  # keep schedules where they are

    params = [*s.net.parameters(), *s.strategy.parameters()]
    return s.guard.recover(skipped, steps, params, [s.optimizer, s.strategy.optimizer], restore)


def found_architecture(run: Path) -> Architecture:
    """The `arch.json` of a finished search run."""
    from segnas.nas.arch import load_architecture

    return load_architecture(RunFolder(run).arch)
