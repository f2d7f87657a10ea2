"""A trained model as files in its run folder, and the network of an architecture fitted to a dataset.

RUN/arch.json   the trained architecture (settings as trained: width, channels, classes)
RUN/plan.json   the plan its inputs were preprocessed with (so RUN alone can predict new cases)
RUN/config.json the training config
RUN/best.pt     weights of the epoch with the best validation Dice
RUN/checkpoint.pt  everything of the last epoch (weights, optimiser, schedules, RNG) for --resume
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from segnas.arch import Architecture, load_architecture
from segnas.checkpoint import load_checkpoint
from segnas.distributed import Group, device_for
from segnas.errors import SegnasError
from segnas.io import read_json
from segnas.plan import check_plan
from segnas.spaces import get_space


def fit_architecture(arch: Architecture, plan: dict[str, Any], width: int | None = None) -> Architecture:
    """`arch` for this dataset: its dims, input channels and classes (transfer), optionally wider."""
    changes: dict[str, Any] = {"dims": plan["dims"], "in_channels": plan["in_channels"], "num_classes": plan["num_classes"]}
    if width is not None:
        changes["channels"] = width
    return arch.with_settings(**changes)


def build_network(arch: Architecture, where: str = "arch.json") -> nn.Module:
    """The network of an architecture; impossible settings are an error naming `where`."""
    try:
        return get_space(arch.space, where).network(arch, where)
    except ValueError as e:  # e.g. a width the cells cannot split
        raise SegnasError(f"{where}: {e}") from None


def check_patch(patch: list[int], dims: int, space: str, depth: int) -> None:
    """A patch must have `dims` sizes, each divisible by 2^depth (the network halves it `depth` times)."""
    divisor = 2**depth
    if len(patch) != dims or any(p % divisor for p in patch):
        raise SegnasError(f"patch {patch} must have {dims} sizes divisible by {divisor} for a {space} of depth {depth}")


def memory_format(dims: int, channels_last: bool) -> torch.memory_format:
    """channels_last_3d for 3D networks when asked, else the default layout."""
    return torch.channels_last_3d if channels_last and dims == 3 else torch.contiguous_format


@dataclass
class Model:
    """A trained network ready to predict: (B, in_channels, *S) → logits (B, num_classes, *S)."""

    net: nn.Module
    arch: Architecture
    plan: dict[str, Any]
    patch_size: list[int]
    mode: str  # default inference mode: sliding or whole
    device: torch.device
    layout: torch.memory_format
    run: Path

    @property
    def divisor(self) -> int:
        """Spatial sizes the network accepts are multiples of this."""
        return int(2 ** self.arch.settings["depth"])


def load_model(run: str | Path, which: str = "best", device: str = "auto") -> Model:
    """The model in a training run folder: `best` (best validation Dice) or `last` weights."""
    run = Path(run)
    if not (run / "arch.json").is_file():
        raise SegnasError(f"{run}: not a training run folder (no arch.json); train one with `segnas train`")
    arch = load_architecture(run / "arch.json")
    plan = check_plan(read_json(run / "plan.json"), run / "plan.json")
    cfg = read_json(run / "config.json")
    if which not in ("best", "last"):
        raise SegnasError(f"--checkpoint must be best or last, not {which!r}")
    path = run / "best.pt" if which == "best" and (run / "best.pt").is_file() else run / "checkpoint.pt"
    state = load_checkpoint(path, "model" if path.name == "best.pt" else "train")
    net = build_network(arch, str(run / "arch.json"))
    try:
        net.load_state_dict(state["net"])
    except RuntimeError as e:
        raise SegnasError(f"{path}: weights do not fit {run / 'arch.json'} ({str(e).splitlines()[0]})") from None
    dev = device_for(Group(), device)
    layout = memory_format(arch.settings["dims"], bool(cfg.get("channels_last", True)))
    net = net.to(dev, memory_format=layout).eval()
    return Model(net, arch, plan, list(cfg.get("patch_size") or plan["patch_size"]), cfg.get("val_mode", "sliding"), dev, layout, run)
