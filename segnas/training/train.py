"""Training a found architecture on a fold: a plain `train()` loop.

The network is built from `arch.json` for this dataset (its channels and classes: that is also how
an architecture transfers to another task), optionally wider than it was searched. It starts from
scratch, or (RONASMIS, `init="search"`) from the supernet's shared weights. Every epoch: patches
from the fold's training cases, then sliding-window Dice on the fold's validation cases (a learning
curve); `best.pt` is the last epoch's weights, or with `select` the best epoch on an inner split held out
of training (or, knowingly optimistic, on the validation cases); everything goes to `checkpoint.pt`
(atomic), and `--resume` continues exactly. The learning rate drops on a training-loss plateau; training stops at `epochs` or when the
learning rate falls below `min_lr`.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from segnas.config import TrainConfig, check_config
from segnas.data.patches import PatchDataset, patch_loader
from segnas.data.plan import load_plan
from segnas.data.preprocess import load_case
from segnas.data.splits import Fold, load_fold
from segnas.errors import SegnasError
from segnas.inference.metrics import dice, dice_per_sample
from segnas.inference.predict import predict_volume
from segnas.nas.arch import Architecture, load_architecture
from segnas.nas.spaces import get_space, inherit_weights
from segnas.networks.model import Model, build_network, check_architecture, check_patch, fit_architecture, memory_format, to_device
from segnas.runtime.checkpoint import check_resumable, load_checkpoint, open_run, rng_state, save_checkpoint, seed_everything, set_rng_state
from segnas.runtime.distributed import Group, barrier, device_for, gather, max_difference, rank_seed, setup, shard
from segnas.runtime.files import write_json
from segnas.runtime.guard import Guard, all_finite, guarded_step
from segnas.runtime.lock import locks_work
from segnas.runtime.optim import weight_optimizer
from segnas.runtime.plots import plot_training
from segnas.runtime.precision import Precision, speed_up
from segnas.runtime.progress import progress
from segnas.runtime.runlog import RunLog
from segnas.runtime.staleness import FORMAT
from segnas.runtime.workspace import RunFolder, Workspace
from segnas.training.losses import main_output, segmentation_loss

log = logging.getLogger(__name__)


def run_folder(work: str | Path, cfg: TrainConfig) -> Path:
    """WORK/runs/train_<preset>_fold<F>."""
    return Path(work) / "runs" / f"train_{cfg.preset}_fold{cfg.fold}"


def search_weights(arch_path: Path, arch: Architecture) -> torch.nn.Module:
    """The supernet of the search run that wrote `arch_path`, with its trained shared weights."""
    ckpt = RunFolder(arch_path.parent).checkpoint
    if not ckpt.is_file():
        raise SegnasError(f"{arch_path}: init=search starts from the shared weights of the one-shot search that found it, and "
                          f"none is beside it ({ckpt.name} missing: a search by training, a race's or a drawn network has "
                          "none); train it from scratch (--set init=scratch)")
    state = load_checkpoint(ckpt, "search")
    if state["settings"] != arch.settings:
        raise SegnasError(f"{ckpt}: the search ran with other settings than the network to train "
                          "(init=search keeps the searched width and the same dataset; use init=scratch to change them)")
    space = get_space(arch.space)
    supernet = space.supernet(**state["settings"])
    supernet.load_state_dict(state["net"])
    return supernet


@dataclass
class Trainer:
    """The objects of one training, built from the work folder, the architecture and the config."""

    cfg: TrainConfig
    run: Path
    model: Model
    optimizer: torch.optim.Optimizer
    scheduler: Any
    precision: Precision
    data: PatchDataset
    val_ids: list[str]
    work: Workspace
    loss: Callable[..., torch.Tensor]
    best: dict[str, Any]
    group: Group = Group()
    forward: Callable[[torch.Tensor], Any] | None = None  # torch.compile'd network when asked
    guard: Guard = field(init=False)
    loader: DataLoader = field(init=False)

    def __post_init__(self) -> None:
        self.guard = Guard(self.run, "training", "train")
        self.loader = patch_loader(self.data, self.cfg.batch_size, self.cfg.workers)

    def state(self, epoch: int) -> dict[str, Any]:
        """Everything to continue after `epoch`."""
        return {"kind": "train", "epoch": epoch, "config": self.cfg.to_json(), "arch": self.model.arch.to_json(),
                "net": self.model.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.precision.scaler.state_dict(),
                "best": self.best, "rng": rng_state()}

    def restore(self, state: dict[str, Any], longer: bool = False) -> int:
        """Load a checkpoint; returns the epoch to start from (`longer`: its epochs and time budget may grow)."""
        check_resumable(state["config"], self.cfg.to_json(), RunFolder(self.run).checkpoint, longer)
        self.model.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.precision.scaler.load_state_dict(state["scaler"])
        self.best = state["best"]
        set_rng_state(state["rng"])
        return int(state["epoch"]) + 1


def build(work: Path, arch_path: Path, cfg: TrainConfig, run: Path) -> Trainer:
    """Everything a training needs: plan, fold, network, optimiser, data."""
    ws = Workspace(work)
    plan = load_plan(ws)
    fold = load_fold(ws, cfg.fold)
    loaded = load_architecture(arch_path)
    searched = check_architecture(loaded, arch_path)
    arch = fit_architecture(searched, plan, cfg.width)
    seed_everything(cfg.seed)
    net = build_network(arch, str(arch_path))
    if cfg.init == "search":
        inherit_weights(net, search_weights(arch_path, arch))
    elif cfg.init != "scratch":
        raise SegnasError(f"init must be scratch or search, not {cfg.init!r}")
    if cfg.val_every < 0:
        raise SegnasError(f"val_every must be 0 (no validation while training) or more, not {cfg.val_every}")
    group = setup(cfg.device)
    device = device_for(group, cfg.device)
    layout = memory_format(arch.settings["dims"], cfg.channels_last)
    net = to_device(net, device, layout)
    speed_up(device)
    patch = list(cfg.patch_size or plan.patch_size)
    check_patch(patch, arch.settings, arch.space)
    model = Model(net, arch, plan, patch, cfg.val_mode, device, layout, run)
    optimizer = weight_optimizer(net.parameters(), cfg)
    scheduler = lr_schedule(optimizer, cfg)
    train_ids, val_ids = training_split(fold, cfg.select)
    data = PatchDataset(work, shard(train_ids, group), patch, plan.dims, plan.slice_axis,
                        cfg.steps_per_epoch * cfg.batch_size, cfg.fg_fraction, augment=True, seed=rank_seed(cfg.seed, group),
                        affine=cfg.augment_affine, intensity=cfg.augment_intensity, inside=cfg.patch_inside)
    return Trainer(cfg, run, model, optimizer, scheduler, Precision(device, cfg.amp), data, shard(val_ids, group), ws,
                   segmentation_loss(cfg.loss), {"epoch": -1, "val_dice": -1.0}, group,
                   torch.compile(net) if cfg.compile else None)


SELECTED_ON = {"last": "nothing: best.pt is the last epoch",
               "inner": "the fold's search_val cases, held out of training (not the reported cases)",
               "val": "the fold's validation cases, which it reports: their figures are optimistic"}


def baseline_file(ws: Workspace, name: str, patch: Sequence[int] | None = None) -> Path:
    """`WORK/baselines/<name>.json` (with a `patch`: `<name>_<patch>.json`): the named baseline configured for the
    work folder's plan and that patch (default the plan's), written once."""
    from segnas.networks.baselines import BASELINES, baseline_architecture
    if name not in BASELINES:
        raise SegnasError(f"{name}: file does not exist, and it is not a baseline ({', '.join(BASELINES)})")
    path = ws.root / "baselines" / (f"{name}_{'x'.join(map(str, patch))}.json" if patch else f"{name}.json")
    if not path.is_file():
        baseline_architecture(name, load_plan(ws), list(patch) if patch else None).save(path)
    return path


def training_split(fold: Fold, select: str) -> tuple[list[str], list[str]]:
    """(cases to train on, cases validated during training) for a model-selection rule (`TrainConfig.select`).

    "inner" holds the fold's search_val cases (a fifth of its training cases) out of training and selects on
    them; "last" and "val" train on all training cases and draw the learning curve on the fold's
    validation cases, which only "val" selects on."""
    if select == "inner":
        inner = set(fold.search_val)
        return [c for c in fold.train if c not in inner], list(fold.search_val)
    return list(fold.train), list(fold.val)


def selects(cfg: TrainConfig, record: dict[str, Any], best: dict[str, Any], validating: bool) -> bool:
    """Whether this epoch's weights become best.pt."""
    if cfg.select == "last" or not validating or cfg.val_every == 0:
        return True
    return bool(record.get("val_dice", -1.0) > best["val_dice"])


def lr_schedule(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> Any:
    """`plateau` (the papers: drop on a training-loss plateau) or `poly` (nnU-Net: lr·(1 − epoch/epochs)^0.9)."""
    if cfg.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=cfg.plateau_factor, patience=cfg.plateau_patience)
    if cfg.schedule == "poly":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: max(1 - e / cfg.epochs, 0.0) ** 0.9)
    raise SegnasError(f"unknown schedule {cfg.schedule!r}; known: plateau, poly")


def validate(model: Model, work: Workspace, case_ids: list[str], group: Group = Group(),
             on_case: Callable[[int, int], None] = lambda done, total: None) -> dict[str, float]:
    """Dice per foreground class (named as in the plan) on the preprocessed grids of `case_ids` (this rank's
    share), averaged over the cases of every rank; `on_case(done, total)` reports progress."""
    per_case = validate_cases(model, work, case_ids, group, on_case)
    names = next(iter(per_case.values()), {})
    return {k: float(np.mean([scores[k] for scores in per_case.values()])) for k in names}


def validate_cases(model: Model, work: Workspace, case_ids: list[str], group: Group = Group(),
                   on_case: Callable[[int, int], None] = lambda done, total: None) -> dict[str, dict[str, float]]:
    """case → foreground class (named as in the plan) → Dice on its preprocessed grid, for `case_ids` (this rank's
    share) and every other rank's."""
    model.net.eval()
    scores: dict[str, dict[str, float]] = {}
    for i, cid in enumerate(case_ids):
        on_case(i, len(case_ids))
        case = load_case(work, cid)
        pred = predict_volume(model, np.asarray(case.image)).argmax(0)
        scores[cid] = {model.plan.labels.get(str(c), str(c)): dice(pred == c, np.asarray(case.seg) == c)
                       for c in range(1, model.plan.num_classes)}
    on_case(len(case_ids), len(case_ids))
    merged: dict[str, dict[str, float]] = {}
    for part in gather(scores, group):
        merged.update(part)
    return merged


def batches(t: Trainer, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The epoch's patches on the device, images in the network's layout."""
    t.data.set_epoch(epoch)
    for b in t.loader:
        yield b["image"].to(t.model.device, memory_format=t.model.layout), b["label"].to(t.model.device)


def forward_loss(t: Trainer, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, Any]:
    """The training loss of a batch and the network's output."""
    out = (t.forward or t.model.net)(x)
    return t.loss(out, y), out


def run_epoch(t: Trainer, epoch: int, tick: Callable[[str], None], last: bool = False,
              on_case: Callable[[int, int], None] = lambda done, total: None) -> dict[str, Any]:
    """One epoch of weight steps, then validation (every `val_every` epochs and when `last`; never if it is 0;
    `on_case` reports its progress) → its log record."""
    t0 = time.perf_counter()
    net, k = t.model.net, t.model.plan.num_classes
    net.train()
    loss_sum = dice_sum = 0.0
    steps = skipped = 0
    for x, y in batches(t, epoch):
        done = guarded_step(t.optimizer, t.precision, net, t.group, lambda: forward_loss(t, x, y))
        if done is None:
            skipped += 1
            log.warning("epoch %d: non-finite loss, step skipped", epoch + 1)
            continue
        loss, out = done
        loss_sum += float(loss)
        dice_sum += float(dice_per_sample(main_output(out).detach(), y, k).mean())
        steps += 1
        tick(f"epoch {epoch + 1} loss {loss_sum / steps:.3f} dice {dice_sum / steps:.3f}")
    record: dict[str, Any] = {"epoch": epoch, "train_loss": loss_sum / steps if steps else float("nan"),
                              "train_dice": dice_sum / steps if steps else float("nan")}
    if skipped or not all_finite(net.parameters()):
        record.update(recover(t, skipped, steps))
    if isinstance(t.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        t.scheduler.step(record["train_loss"])
    else:
        t.scheduler.step()
    record["lr"] = t.optimizer.param_groups[0]["lr"]
    if t.val_ids and t.cfg.val_every > 0 and ((epoch + 1) % t.cfg.val_every == 0 or epoch + 1 == t.cfg.epochs or last):
        per_class = validate(t.model, t.work, t.val_ids, t.group, on_case)
        record["val_dice"] = float(np.mean(list(per_class.values())))
        record["val_dice_per_class"] = per_class
    if t.group.active:
        record["ranks"] = t.group.world
        record["weights_rank_difference"] = max_difference(net.parameters(), t.group)
    record["seconds"] = time.perf_counter() - t0
    return record


def recover(t: Trainer, skipped: int, steps: int) -> dict[str, Any]:
    """After non-finite losses: the guard halves the rate and restores the last good checkpoint if needed."""
    net = t.model.net

    def restore(state: dict[str, Any]) -> None:
        net.load_state_dict(state["net"])
        t.optimizer.load_state_dict(state["optimizer"])

    return t.guard.recover(skipped, steps, list(net.parameters()), [t.optimizer], restore)


def over_budget(records: list[dict[str, Any]], max_minutes: float | None, ahead: bool = True) -> bool:
    """Whether the time budget is used up; `ahead`: by the end of one more epoch as long as the last."""
    if max_minutes is None or not records:
        return False
    spent = sum(r.get("seconds", 0.0) for r in records)
    return spent + (records[-1].get("seconds", 0.0) if ahead else 0.0) >= max_minutes * 60


def expected_steps(planned: int, done: int, budget_s: float | None, used_s: float, session_steps: int,
                   session_s: float) -> int | None:
    """The steps a training will have made when it stops, for its progress bar: `planned` (epochs × steps per epoch),
    or under a time budget the `done` steps plus those its unused seconds allow at this session's pace — unknown
    (None) before the session's first step."""
    if budget_s is None:
        return planned
    if session_steps == 0:
        return None
    return min(planned, done + int(max(0.0, budget_s - used_s) * session_steps / max(session_s, 1e-9)))


@locks_work
def train(work: str | Path, arch_path: str | Path, cfg: TrainConfig, run: str | Path | None = None, resume: bool = False,
          stop_after: int | None = None, show_progress: bool = True, longer: bool = False) -> Path:
    """Train the architecture in `arch_path` on fold `cfg.fold`; returns the run folder (a model for `predict`).

    `stop_after` ends the run after that many epochs as if it were killed (for tests of `resume`); `longer`
    resumes a run under a larger `epochs` or `max_minutes` (every other setting must be the same).
    """
    work, arch_path = Path(work), Path(arch_path)
    check_config(cfg)
    run = Path(run) if run is not None else run_folder(work, cfg)
    ckpt = RunFolder(run).checkpoint
    if ckpt.exists() and not resume:
        raise SegnasError(f"{run}: a training already ran here; continue it with --resume or remove the folder")
    t = build(work, arch_path, cfg, run)
    main = t.group.main  # only rank 0 writes
    start = open_run(run, "train", resume, functools.partial(t.restore, longer=longer), main)
    if main:
        write_json(RunFolder(run).config, {**cfg.to_json(), "format": FORMAT, "arch_source": str(arch_path), "work": str(work),
                                           "ranks": t.group.world})
        write_json(RunFolder(run).plan, t.model.plan.to_json())
        t.model.arch.save(RunFolder(run).arch)
    history = RunLog(RunFolder(run).log, start, write=main)
    t_start = time.perf_counter()
    planned, budget = cfg.epochs * cfg.steps_per_epoch, None if cfg.max_minutes is None else cfg.max_minutes * 60
    used_before, session_steps = sum(r.get("seconds", 0.0) for r in history.records), 0

    def tick(stats: str) -> None:
        nonlocal session_steps
        session_steps += 1
        session_s = time.perf_counter() - t_start
        total = expected_steps(planned, start * cfg.steps_per_epoch + session_steps, budget, used_before + session_s,
                               session_steps, session_s)
        bar.update(task, advance=1, total=total, stats=stats)

    with progress(show_progress and main, stats=True) as bar:
        task = bar.add_task(f"train {cfg.preset} fold {cfg.fold}", completed=start * cfg.steps_per_epoch, stats="",
                            total=expected_steps(planned, start * cfg.steps_per_epoch, budget, used_before, 0, 0.0))
        val_task = bar.add_task(f"validate {len(t.val_ids)} cases", total=len(t.val_ids), visible=False, stats="")
        for epoch in range(start, cfg.epochs):
            first = cfg.max_minutes is not None and epoch == start  # validated: it may use up the budget alone
            out_of_time = over_budget(history.records, cfg.max_minutes)
            record = run_epoch(t, epoch, tick, last=out_of_time or first,
                               on_case=lambda i, n: bar.update(val_task, completed=i, total=n, visible=i < n))
            if selects(cfg, record, t.best, bool(t.val_ids)):
                t.best = {"epoch": epoch, "val_dice": record.get("val_dice", float("nan"))}
                if main:
                    save_checkpoint(RunFolder(run).best, {"kind": "model", "net": t.model.net.state_dict(), **t.best})
            if main and cfg.keep_every and (epoch + 1) * cfg.steps_per_epoch // cfg.keep_every > epoch * cfg.steps_per_epoch // cfg.keep_every:
                step = (epoch + 1) * cfg.steps_per_epoch
                save_checkpoint(run / "checkpoints" / f"step_{step}.pt", {"kind": "model", "net": t.model.net.state_dict(),
                                                                            "epoch": epoch, "step": step})
            history.append(record)
            if main:
                save_checkpoint(ckpt, t.state(epoch))
            barrier(t.group)
            stop = record["lr"] < cfg.min_lr and cfg.schedule == "plateau"
            if stop:
                log.info("learning rate %.2g below %.2g: training stops after epoch %d", record["lr"], cfg.min_lr, epoch + 1)
            if out_of_time or (first and over_budget(history.records, cfg.max_minutes, ahead=False)):
                log.info("time budget of %g min reached: training stops after epoch %d", cfg.max_minutes, epoch + 1)
                stop = True
            if stop_after is not None and epoch + 1 >= stop_after and epoch + 1 < cfg.epochs and not stop:
                return run
            if stop:
                break
    if not main:
        return run
    plot_training(history.records, run)
    last = history.records[-1] if history.records else {}
    # kept without a validation Dice: nothing validated, so `selects` kept every epoch and best.pt is the last
    unvalidated = math.isnan(t.best["val_dice"])
    write_json(RunFolder(run).summary, {"selected_on": SELECTED_ON["last" if unvalidated else cfg.select],
                                      "best_epoch": t.best["epoch"], "best_val_dice": None if unvalidated else t.best["val_dice"],
                                      "epochs_run": len(history.records), "last_val_dice": last.get("val_dice"),
                                      "last_val_dice_per_class": last.get("val_dice_per_class"),
                                      "seconds_this_session": time.perf_counter() - t_start,
                                      "seconds_total": float(sum(r.get("seconds", 0.0) for r in history.records))})
    if unvalidated:
        log.info("training finished: %s (kept the weights of epoch %d; no validation)", run, t.best["epoch"] + 1)
    else:
        log.info("training finished: %s (best validation Dice %.3f at epoch %d)", run, t.best["val_dice"], t.best["epoch"] + 1)
    return run
