"""Search and training configuration: one dataclass each, the papers' settings as named presets, and
`key=value` overrides. Both share the weight-optimiser field names, so one `weight_optimizer()` serves both."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from segnas.errors import SegnasError


@dataclass
class SearchConfig:
    """Everything a search needs besides the work folder; written to the run folder as `config.json`."""

    preset: str = "custom"
    space: str = "unet"
    strategy: str = "gumbel2"
    space_settings: dict[str, Any] = field(default_factory=dict)  # channels, depth, skip, deep_supervision, …
    strategy_options: dict[str, Any] = field(default_factory=dict)  # tau_start, partial_channels, export_samples, …
    loss: str = "dice_ce"
    epochs: int = 50
    steps_per_epoch: int = 100
    batch_size: int = 2
    patch_size: list[int] | None = None  # None: the plan's
    weight_optimizer: str = "adam"
    weight_lr: float = 3e-4
    weight_betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    weight_momentum: float = 0.9
    weight_decay: float = 0.0
    arch_lr: float = 3e-4
    arch_betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    arch_weight_decay: float = 1e-3
    plateau_patience: int = 20
    plateau_factor: float = 0.1
    warmup_epochs: int = 0  # epochs that train weights only, before any architecture step
    # A budget in minutes (None: the epochs above). The search then picks its proxy and schedule from steps
    # timed on this device (`segnas/nas/budget.py`): epochs, steps_per_epoch, warmup_epochs, the supernet's
    # channels, the patch and (differentiable strategies) arch_lr are replaced by the plan in budget.json.
    minutes: float | None = None
    budget_arch_steps: int = 500  # architecture steps the proxy must afford before a larger proxy is kept
    budget_travel: float = 8.0  # arch_lr × architecture steps: how far a consistent signal can move a logit
    budget_warmup: float = 0.2  # share of the budget's steps that train weights only, before any architecture step
    # Hardware-aware search (`segnas/nas/cost.py`): with cost_weight > 0 every candidate op is timed on this device
    # at the trained network's width and the plan's patch, and the architecture loss gains
    # cost_weight × max(0, expected step ms / target − 1), target = cost_target × MONAI UNet's step there.
    cost_weight: float = 0.0
    cost_target: float = 2.0
    cost_width: int | None = None  # stem channels the costs are measured at (None: the search's own)
    # How the op decisions are read at the end: from α ("alpha", the papers'), or by scoring every candidate through
    # the trained supernet in `score_draws` random architectures on `score_batches` fixed batches (`segnas/nas/scores.py`).
    derive: str = "alpha"
    score_draws: int = 8
    score_batches: int = 4
    fold: int = 0
    seed: int = 0
    workers: int = 2
    device: str = "auto"
    channels_last: bool = True  # 3D: channels-last memory lets oneDNN/cuDNN take their fast paths (1.4× here)
    amp: bool = True  # bf16 autocast on CUDA GPUs that support it; ignored elsewhere

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return dataclasses.asdict(self)


@dataclass
class TrainConfig:
    """Everything a training of a found network needs besides the work folder and `arch.json`."""

    preset: str = "custom"
    width: int | None = None  # stem channels of the trained network (None: as searched)
    init: str = "scratch"  # or "search": start from the supernet's shared weights (RONASMIS, no retraining)
    loss: str = "dice_ce"
    epochs: int = 200
    steps_per_epoch: int = 250
    batch_size: int = 2
    patch_size: list[int] | None = None  # None: the plan's
    # The patch recipe measured best on LA at 1000 and 3000 steps (BENCHMARKS.md, "Training recipe"): half the
    # patches centred on foreground, every patch inside the volume, flips only (rotation, scaling and
    # intensity changes cost Dice at those budgets; turn them on for long trainings, not measured there).
    fg_fraction: float = 0.5
    augment_affine: bool = False  # random rotation and scaling of the patches
    augment_intensity: bool = False  # random intensity scaling, Gaussian noise and gamma
    patch_inside: bool = True  # draw patches that stay inside the volume (else centres anywhere, padded with zeros)
    select: str = "last"  # best.pt: the last epoch ("last", nnU-Net's way), the best on an inner split of the
    # training cases ("inner": the fold's search_val cases, held out of training), or the best on the fold's
    # validation cases ("val": the cases a fold reports, so its held-out figures are optimistic)
    keep_every: int = 0  # keep a copy of the weights every this many steps (checkpoints/step_<N>.pt); 0: none
    weight_optimizer: str = "adam"
    weight_lr: float = 1e-3  # without a preset (the presets keep their papers' rates)
    weight_betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    weight_momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "plateau"  # or "poly" (nnU-Net's decay to zero over the epochs)
    plateau_patience: int = 30  # epochs without a lower training loss before the learning rate drops
    plateau_factor: float = 0.2
    min_lr: float = 1e-7  # training stops once the learning rate falls below this
    max_minutes: float | None = None  # time budget: stop after the epoch that reaches it (it validates unless val_every is 0)
    val_every: int = 1  # epochs between validations (sliding window on the fold's validation cases); 0: none
    # (best.pt is then the last epoch and a time budget counts training alone; score the run with predict)
    val_mode: str = "sliding"  # or "whole": whole-volume inference (RONASMIS)
    fold: int = 0
    seed: int = 0
    workers: int = 2
    device: str = "auto"
    channels_last: bool = True
    amp: bool = True  # mixed precision on CUDA (bf16 where supported); ignored on CPU
    compile: bool = False  # torch.compile the network for the training steps (first steps slower while it compiles)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return dataclasses.asdict(self)


HELP: dict[str, str] = {  # one line per setting of either config: what `segnas settings` prints
    "preset": "the paper whose settings these are (custom: none)",
    "space": "search space: unet (SCNAS/RONASMIS cells) or nested (Thrifty's UNet++-like space)",
    "strategy": "search strategy: gumbel2, darts, pcdarts or enas",
    "space_settings": "the space's settings, e.g. space_settings.channels=32, .depth, .skip, .deep_supervision",
    "strategy_options": "the strategy's options, e.g. strategy_options.tau_end=0.2, .partial_channels, .export_samples",
    "loss": "dice_ce (Dice + cross-entropy) or jaccard",
    "epochs": "epochs to run",
    "steps_per_epoch": "weight steps per epoch (a batch each)",
    "batch_size": "patches per step",
    "patch_size": "patch in voxels, e.g. [80,64,32] (null: the plan's)",
    "weight_optimizer": "adam or sgd for the network weights",
    "weight_lr": "learning rate of the network weights",
    "weight_betas": "Adam's betas for the weights",
    "weight_momentum": "SGD momentum for the weights",
    "weight_decay": "weight decay of the network weights",
    "arch_lr": "learning rate of the architecture parameters (or the ENAS controller)",
    "arch_betas": "Adam's betas for the architecture parameters",
    "arch_weight_decay": "weight decay of the architecture parameters",
    "plateau_patience": "epochs without a lower training loss before the learning rate drops",
    "plateau_factor": "factor of that drop",
    "warmup_epochs": "epochs that train weights only, before any architecture step",
    "minutes": "search budget in minutes: proxy and schedule chosen from timed steps (null: the epochs as set)",
    "budget_arch_steps": "architecture steps a proxy must afford within the budget before a larger one is kept",
    "budget_travel": "budgeted search: arch_lr × architecture steps (how far a consistent signal moves a logit)",
    "budget_warmup": "budgeted search: share of the steps that train weights only, first",
    "cost_weight": "hardware-aware search: weight of the predicted step time beyond the target in the architecture loss (0: off)",
    "cost_target": "hardware-aware search: target training-step time, as a multiple of MONAI UNet's on this device",
    "cost_width": "hardware-aware search: stem channels the op costs are measured at (null: the search's; the trained width is best)",
    "derive": "how op decisions are read at the end: alpha (the papers') or scores (each candidate tried through the supernet)",
    "score_draws": "derive=scores: random architectures each candidate is tried in (the same for every candidate)",
    "score_batches": "derive=scores: fixed architecture-validation batches each try is scored on",
    "fold": "cross-validation fold",
    "seed": "random seed (weights, patches, sampling)",
    "workers": "patch loader processes (0: in the training process)",
    "device": "auto, cpu, cuda or cuda:N",
    "channels_last": "3D: channels-last memory layout (faster convolutions on CPU and GPU)",
    "amp": "mixed precision on CUDA (bf16 where supported); ignored on CPU",
    "width": "stem channels of the trained network (null: as searched)",
    "init": "scratch, or search: start from the supernet's shared weights (RONASMIS)",
    "fg_fraction": "share of patches centred on a foreground voxel (the rest anywhere)",
    "augment_affine": "random rotation and scaling of the patches",
    "augment_intensity": "random intensity scaling, Gaussian noise and gamma",
    "patch_inside": "patches lie inside the volume (else centres anywhere, padded with zeros)",
    "select": "best.pt: last (the last epoch), inner (best on search_val cases held out of training) or val (best on the reported cases: optimistic)",
    "keep_every": "keep the weights every this many steps in checkpoints/ (0: never)",
    "schedule": "plateau (drop on a training-loss plateau) or poly (nnU-Net's decay to zero)",
    "min_lr": "training stops once the learning rate falls below this",
    "max_minutes": "time budget in minutes (null: none)",
    "val_every": "epochs between validations during training (0: none)",
    "val_mode": "sliding (windows) or whole (one pass over the volume, RONASMIS)",
    "compile": "torch.compile the network for the training steps",
}


def describe_settings(kind: type[SearchConfig] | type[TrainConfig], preset: str | None = None) -> list[tuple[str, Any, str]]:
    """(key, value, meaning) of every setting of a config kind, with a preset's values."""
    cfg = make_config(preset, None, kind)
    return [(f.name, getattr(cfg, f.name), HELP[f.name]) for f in dataclasses.fields(kind)]


PRESETS: dict[str, dict[str, Any]] = {
    # SCNAS (seed 000): Gumbel two-op sampling on the U-Net cell space, 48 stem channels, Jaccard loss,
    # Adam 0.025 / (0.1, 0.001) for weights and 0.003 / (0.5, 0.999) for α, ÷10 after a 20-epoch plateau.
    "scnas": dict(space="unet", strategy="gumbel2", space_settings={"channels": 48},
                  strategy_options={"tau_start": 1.0, "tau_end": 0.1}, loss="jaccard", epochs=200,
                  weight_optimizer="adam", weight_lr=0.025, weight_betas=[0.1, 0.001],
                  arch_lr=0.003, arch_betas=[0.5, 0.999], arch_weight_decay=0.0, plateau_patience=20, plateau_factor=0.1),
    # RONASMIS (seed 001): ENAS controller, REINFORCE on per-case Dice; U-Net base with 1×1×1 decoder skips
    # and deep supervision; children share and keep their weights (no retraining).
    "ronasmis": dict(space="unet", strategy="enas", space_settings={"channels": 16, "skip": "conv", "deep_supervision": True},
                     strategy_options={"export_samples": 20, "entropy_weight": 1e-4, "baseline_decay": 0.95},
                     loss="dice_ce", epochs=150, weight_optimizer="adam", weight_lr=1e-3, arch_lr=3.5e-4,
                     arch_betas=[0.0, 0.999], arch_weight_decay=0.0),
    # Thrifty NAS (seed 002): PC-DARTS on the nested space (K=4, edge normalisation), Dice + CE.
    "thrifty": dict(space="nested", strategy="pcdarts", space_settings={"channels": 16},
                    strategy_options={"partial_channels": 4}, loss="dice_ce", epochs=50, warmup_epochs=15,
                    weight_optimizer="sgd", weight_lr=0.1, weight_momentum=0.9, weight_decay=3e-4,
                    arch_lr=6e-4, arch_betas=[0.5, 0.999], arch_weight_decay=1e-3),
    # Plain first-order DARTS on the SCNAS space: the baseline the others are measured against.
    "darts": dict(space="unet", strategy="darts", space_settings={"channels": 16}, loss="dice_ce", epochs=50,
                  weight_optimizer="sgd", weight_lr=0.025, weight_momentum=0.9, weight_decay=3e-4,
                  arch_lr=3e-4, arch_betas=[0.5, 0.999], arch_weight_decay=1e-3),
}


TRAIN_PRESETS: dict[str, dict[str, Any]] = {
    # SCNAS retraining: 68 stem channels from scratch, Jaccard loss, Adam 3e-4 / (0.9, 0.999), ÷5 after a
    # 30-epoch plateau of the training loss, at most 500 epochs or until the learning rate is below 1e-7.
    "scnas": dict(width=68, init="scratch", loss="jaccard", epochs=500, batch_size=8, weight_optimizer="adam",
                  weight_lr=3e-4, weight_betas=[0.9, 0.999], plateau_patience=30, plateau_factor=0.2, min_lr=1e-7),
    # RONASMIS: no retraining — the controller's best child keeps its shared weights and is fine-tuned;
    # deep supervision comes with the architecture's settings; whole-volume inference.
    "ronasmis": dict(init="search", loss="dice_ce", epochs=50, weight_optimizer="adam", weight_lr=3e-4,
                     plateau_patience=10, plateau_factor=0.2, val_mode="whole"),
    # Thrifty NAS: retrained from scratch with Dice + CE, the same budget as its baselines.
    "thrifty": dict(init="scratch", loss="dice_ce", epochs=200, weight_optimizer="adam", weight_lr=3e-4),
    "darts": dict(init="scratch", loss="dice_ce", epochs=200, weight_optimizer="adam", weight_lr=3e-4),
}

ConfigT = TypeVar("ConfigT", SearchConfig, TrainConfig)


def parse_value(text: str) -> Any:
    """A --set value: JSON when it parses (numbers, booleans, lists, null), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@overload
def make_config(preset: str | None = None, overrides: dict[str, Any] | None = None) -> SearchConfig: ...
@overload
def make_config(preset: str | None, overrides: dict[str, Any] | None, kind: type[ConfigT]) -> ConfigT: ...
@overload
def make_config(preset: str | None = None, overrides: dict[str, Any] | None = None, *, kind: type[ConfigT]) -> ConfigT: ...


def make_config(preset: str | None = None, overrides: dict[str, Any] | None = None,
                kind: Any = SearchConfig) -> Any:
    """A preset's search (or, with `kind=TrainConfig`, training) config with `overrides` applied;
    keys may be dotted (`space_settings.channels`)."""
    table = PRESETS if kind is SearchConfig else TRAIN_PRESETS
    base: dict[str, Any] = {}
    if preset is not None:
        if preset not in table:
            raise SegnasError(f"unknown preset {preset!r}; known: {', '.join(table)}")
        base = json.loads(json.dumps(table[preset]))
        base["preset"] = preset
        if (overrides or {}).get("strategy", base.get("strategy")) != base.get("strategy"):  # another strategy:
            base.pop("strategy_options", None)  # the preset's options are its own strategy's
    cfg = kind(**base)
    fields = {f.name: f for f in dataclasses.fields(kind)}
    for k, v in (overrides or {}).items():
        name, _, sub = k.partition(".")
        if name not in fields:
            raise SegnasError(f"unknown setting {k!r}; known: {', '.join(fields)}")
        value = parse_value(v) if isinstance(v, str) else v
        if sub:
            target = getattr(cfg, name)
            if not isinstance(target, dict):
                raise SegnasError(f"setting {name!r} has no parts; use {name}=VALUE")
            target[sub] = value
            continue
        default = getattr(cfg, name)
        optional = "None" in str(fields[name].type)
        if isinstance(default, bool) or default is None or (optional and value is None):
            pass
        elif isinstance(default, float) and isinstance(value, int):
            value = float(value)
        elif not isinstance(value, type(default)):
            raise SegnasError(f"setting {name!r} must be {type(default).__name__}, got {v!r}")
        setattr(cfg, name, value)
    return check_config(cfg)


SELECTIONS = ("last", "inner", "val")
DERIVATIONS = ("alpha", "scores")  # how a search reads its op decisions at the end (SearchConfig.derive)


def check_config(cfg: ConfigT) -> ConfigT:
    """Every number in a usable range; a schedule that leaves a search without architecture steps is an error."""
    def need(ok: bool, key: str, what: str) -> None:
        if not ok:
            raise SegnasError(f"setting {key!r} must be {what}, found {getattr(cfg, key)!r}")
    for key in ("epochs", "steps_per_epoch", "batch_size"):
        need(getattr(cfg, key) >= 1, key, "at least 1")
    for key in ("workers", "fold", "plateau_patience"):
        need(getattr(cfg, key) >= 0, key, "0 or more")
    need(cfg.weight_lr >= 0, "weight_lr", "0 or more")
    need(cfg.patch_size is None or (isinstance(cfg.patch_size, list) and bool(cfg.patch_size)
                                    and all(type(p) is int and 1 <= p <= 4096 for p in cfg.patch_size)),
         "patch_size", "null or a list of positive integers")
    if isinstance(cfg, SearchConfig):
        need(cfg.arch_lr > 0, "arch_lr", "positive")
        need(cfg.minutes is None or cfg.minutes > 0, "minutes", "null or positive")
        need(cfg.budget_arch_steps >= 1, "budget_arch_steps", "at least 1")
        need(cfg.budget_travel > 0, "budget_travel", "positive")
        need(0 <= cfg.budget_warmup < 1, "budget_warmup", "from 0 to below 1")
        need(0 <= cfg.cost_weight <= 100, "cost_weight", "from 0 to 100")
        need(0 < cfg.cost_target <= 100, "cost_target", "above 0, at most 100")
        need(cfg.cost_width is None or 1 <= cfg.cost_width <= 1024, "cost_width", "null or 1 to 1024")
        need(cfg.derive in DERIVATIONS, "derive", " or ".join(DERIVATIONS))
        need(cfg.score_draws >= 2, "score_draws", "at least 2 (a decision's lead needs a spread)")
        need(cfg.score_batches >= 1, "score_batches", "at least 1")
        need(0 <= cfg.warmup_epochs < cfg.epochs, "warmup_epochs",
             f"0 or more and below epochs ({cfg.epochs}): with {cfg.warmup_epochs} warm-up epochs of {cfg.epochs} the "
             "search would take no architecture step and export an untrained pick; lower warmup_epochs or raise epochs")
    else:
        need(cfg.val_every >= 0, "val_every", "0 or more")
        need(0 <= cfg.fg_fraction <= 1, "fg_fraction", "between 0 and 1")
        need(cfg.width is None or 1 <= cfg.width <= 1024, "width", "null or 1 to 1024")
        need(cfg.max_minutes is None or cfg.max_minutes > 0, "max_minutes", "null or positive")
        need(cfg.select in SELECTIONS, "select", " or ".join(SELECTIONS))
        need(cfg.keep_every >= 0, "keep_every", "0 or more")
    return cfg


DEFAULT_SEARCH_MINUTES = 30.0  # what `segnas search` and `segnas run` budget when given neither epochs nor minutes


def budgeted_by_default(overrides: dict[str, Any]) -> dict[str, Any]:
    """Search overrides with the default budget in minutes unless they set `epochs` or `minutes` themselves."""
    if "epochs" in overrides or "minutes" in overrides:
        return overrides
    return {**overrides, "minutes": DEFAULT_SEARCH_MINUTES}


def steps_to_epochs(steps: int, steps_per_epoch: int) -> int:
    """Epochs that make exactly `steps` training steps; an error when `steps` is not a multiple of an epoch."""
    if steps % steps_per_epoch:
        raise SegnasError(f"--steps {steps} is not a multiple of steps_per_epoch ({steps_per_epoch}); "
                          f"pick a multiple or set steps_per_epoch (e.g. --set steps_per_epoch={_divisor(steps, steps_per_epoch)})")
    return steps // steps_per_epoch


def _divisor(steps: int, most: int) -> int:
    """The largest divisor of `steps` that is at most `most`."""
    return max(d for d in range(1, min(steps, most) + 1) if steps % d == 0)


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """['a=1', 'b.c=x'] → {'a': '1', 'b.c': 'x'}; a pair without '=' is an error."""
    out = {}
    for p in pairs:
        if "=" not in p:
            raise SegnasError(f"--set {p!r}: expected KEY=VALUE")
        k, v = p.split("=", 1)
        out[k.strip()] = v.strip()
    return out
