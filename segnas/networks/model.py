"""A trained model as files in its run folder, and the network of an architecture fitted to a dataset.

RUN/arch.json   the trained architecture (settings as trained: width, channels, classes)
RUN/plan.json   the plan its inputs were preprocessed with (so RUN alone can predict new cases)
RUN/config.json the training config
RUN/best.pt     the selected weights (`TrainConfig.select`: the last epoch by default)
RUN/checkpoint.pt  everything of the last epoch (weights, optimiser, schedules, RNG) for --resume
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from segnas.data.plan import Plan, check_plan
from segnas.errors import SegnasError
from segnas.nas.arch import Architecture, load_architecture
from segnas.nas.spaces import get_space
from segnas.networks.baselines import BASELINES, build_baseline, check_baseline
from segnas.runtime.checkpoint import load_checkpoint
from segnas.runtime.distributed import Group, device_for
from segnas.runtime.files import read_json
from segnas.runtime.workspace import BEST, RunFolder


def fit_architecture(arch: Architecture, plan: Plan, width: int | None = None) -> Architecture:
    """`arch` for this dataset: its dims, input channels and classes (transfer), optionally wider."""
    changes: dict[str, Any] = {"dims": plan.dims, "in_channels": plan.in_channels, "num_classes": plan.num_classes}
    if width is not None:
        changes["channels"] = width
    return arch.with_settings(**changes)


def check_architecture(arch: Architecture, where: str | Path) -> Architecture:
    """A loaded architecture checked against its space (a baseline: against its settings)."""
    if arch.space in BASELINES:
        return check_baseline(arch, str(where))
    return get_space(arch.space, where).check(arch, str(where))


def build_network(arch: Architecture, where: str = "the architecture") -> nn.Module:
    """The network of an architecture (found or baseline); impossible settings are an error naming `where`."""
    try:
        if arch.space in BASELINES:
            return build_baseline(arch, where)
        return get_space(arch.space, where).network(arch, where)
    except ValueError as e:  # e.g. a width the cells cannot split
        raise SegnasError(f"{where}: {e}") from None


def patch_multiples(settings: dict[str, Any]) -> list[int]:
    """Per axis, what a patch size must be a multiple of: 2^depth × the stem's stride, or the product of a baseline's strides."""
    if "strides" in settings:
        return [math.prod(s[i] for s in settings["strides"]) for i in range(settings["dims"])]
    return [2 ** settings["depth"] * settings.get("stem_stride", 1)] * settings["dims"]


def check_patch(patch: list[int], settings: dict[str, Any], space: str) -> None:
    """A patch must have `dims` sizes, each a multiple of what the network halves it by."""
    multiples = patch_multiples(settings)
    what = f"{space} (depth {settings['depth']}" + (f", stem stride {settings['stem_stride']})" if settings.get("stem_stride", 1) > 1 else ")")
    if len(patch) != settings["dims"] or any(p % m for p, m in zip(patch, multiples)):
        raise SegnasError(f"patch {patch} must have {settings['dims']} sizes, multiples of {multiples}, for this {what}")
    if math.prod(p // m for p, m in zip(patch, multiples)) == 1:
        raise SegnasError(f"patch {patch} is too small for this {what}: its deepest level "
                          f"would be a single voxel, which instance normalisation cannot train on; use at least twice "
                          f"{multiples[0]} along one axis")


def memory_format(dims: int, channels_last: bool) -> torch.memory_format:
    """channels_last_3d for 3D networks when asked, else the default layout."""
    return torch.channels_last_3d if channels_last and dims == 3 else torch.contiguous_format


def to_device(net: nn.Module, device: torch.device, layout: torch.memory_format) -> nn.Module:
    """`net` on `device` in `layout` (torch's stubs leave `memory_format` out of `Module.to`, which accepts it)."""
    return net.to(device, memory_format=layout)  # type: ignore[call-overload]


@dataclass
class Model:
    """A trained network ready to predict: (B, in_channels, *S) → logits (B, num_classes, *S)."""

    net: nn.Module
    arch: Architecture
    plan: Plan
    patch_size: list[int]
    mode: str  # default inference mode: sliding or whole
    device: torch.device
    layout: torch.memory_format
    run: Path

    @property
    def multiples(self) -> list[int]:
        """Per spatial axis, what the network's input sizes must be multiples of (`patch_multiples`)."""
        return patch_multiples(self.arch.settings)


def load_model(run: str | Path, which: str = "best", device: str = "auto") -> Model:
    """The model in a training run folder: `best` (the selected weights, see `TrainConfig.select`) or `last`."""
    run = Path(run)
    if not (RunFolder(run).arch).is_file():
        raise SegnasError(f"{run}: not a training run folder (no arch.json); train one with `segnas train`")
    arch = load_architecture(RunFolder(run).arch)
    plan = check_plan(read_json(RunFolder(run).plan), RunFolder(run).plan)
    cfg = read_json(RunFolder(run).config)
    if which not in ("best", "last"):
        raise SegnasError(f"--checkpoint must be best or last, not {which!r}")
    path = RunFolder(run).best if which == "best" and (RunFolder(run).best).is_file() else RunFolder(run).checkpoint
    state = load_checkpoint(path, "model" if path.name == BEST else "train")
    net = build_network(arch, str(RunFolder(run).arch))
    try:
        net.load_state_dict(state["net"])
    except RuntimeError as e:
        raise SegnasError(f"{path}: weights do not fit {run / 'arch.json'} ({str(e).splitlines()[0]})") from None
    dev = device_for(Group(), device)
    layout = memory_format(arch.settings["dims"], bool(cfg.get("channels_last", True)))
    net = to_device(net, dev, layout).eval()
    return Model(net, arch, plan, list(cfg.get("patch_size") or plan.patch_size), cfg.get("val_mode", "sliding"), dev, layout, run)
