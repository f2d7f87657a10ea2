"""What a long run shares: the JSONL log that survives kills, optional TensorBoard, the progress bar,
a config check on resume, opening a run folder, and the weight optimiser."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from segnas.checkpoint import load_checkpoint
from segnas.errors import SegnasError
from segnas.io import atomic_path, remove_partials
from segnas.staleness import FREE_SETTINGS

log = logging.getLogger(__name__)


class RunLog:
    """`log.jsonl` of a run, a record per epoch; on resume, records past the checkpoint are dropped."""

    def __init__(self, path: Path, start_epoch: int, write: bool = True) -> None:
        self.path, self.write = path, write
        self.records = [r for r in _read(path) if r.get("epoch", 10**9) < start_epoch]
        if write:
            with atomic_path(path) as tmp:
                tmp.write_text("".join(json.dumps(r) + "\n" for r in self.records))
        self.tensorboard = _tensorboard(path.parent) if write else None

    def append(self, record: dict[str, Any]) -> None:
        """Add an epoch's record (a line flushed at once: a kill loses at most the line being written)."""
        self.records.append(record)
        if not self.write:  # another rank writes the log
            return
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tensorboard is not None:
            for k, v in record.items():
                if isinstance(v, float):
                    self.tensorboard.add_scalar(k, v, record["epoch"])
            self.tensorboard.flush()  # visible in TensorBoard while the run goes on, and kept if it is killed


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
    return out


def _tensorboard(run: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard not installed: optional
        return None
    return SummaryWriter(str(run / "tensorboard"))




def check_resumable(saved: dict[str, Any], current: dict[str, Any], path: Path) -> None:
    """Refuse to resume a run under other settings than it was started with."""
    changed = sorted(k for k in saved if k not in FREE_SETTINGS and saved[k] != current.get(k))
    if changed:
        raise SegnasError(f"{path}: was made with other settings ({', '.join(changed)}); "
                          "resume with the same ones or start a new run")


def open_run(run: Path, kind: str, resume: bool, restore: Callable[[dict[str, Any]], int], main: bool) -> int:
    """The epoch a run starts at: after its checkpoint when resuming (0 if none was written yet); the main
    rank gets the folder, cleared of a killed writer's temporary files."""
    ckpt = run / "checkpoint.pt"
    if resume and not ckpt.is_file():
        log.info("%s: no checkpoint yet; starting from the beginning", run)
    start = restore(load_checkpoint(ckpt, kind)) if resume and ckpt.is_file() else 0
    if main:
        run.mkdir(parents=True, exist_ok=True)
        remove_partials(run)
    return start


def weight_optimizer(params: Any, cfg: Any) -> torch.optim.Optimizer:
    """Adam or SGD for the network weights, as a search or training config says."""
    if cfg.weight_optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.weight_lr, betas=tuple(cfg.weight_betas), weight_decay=cfg.weight_decay)
    if cfg.weight_optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.weight_lr, momentum=cfg.weight_momentum, weight_decay=cfg.weight_decay)
    raise SegnasError(f"unknown weight_optimizer {cfg.weight_optimizer!r}; known: adam, sgd")


class Precision:
    """Mixed precision on CUDA (bf16 where supported, else fp16 with loss scaling); a no-op on CPU."""

    def __init__(self, device: torch.device, enabled: bool, allow_fp16: bool = True) -> None:
        cuda = device.type == "cuda"
        self.enabled = enabled and cuda and (allow_fp16 or torch.cuda.is_bf16_supported())
        self.dtype = torch.bfloat16 if self.enabled and torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.enabled and self.dtype == torch.float16)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The forward pass's autocast context."""
        return torch.autocast("cuda", dtype=self.dtype) if self.enabled else contextlib.nullcontext()

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, sync: Callable[[], None] = lambda: None) -> None:
        """Backward, `sync` (average gradients over ranks), optimiser step (scaled in fp16)."""
        self.scaler.scale(loss).backward()
        sync()
        self.scaler.step(optimizer)
        self.scaler.update()


def speed_up(device: torch.device) -> None:
    """Let cuDNN pick the fastest convolution algorithms for the fixed patch size (no-op on CPU)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def main_output(out: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The full-resolution logits of a network that may also return deep-supervision outputs."""
    return out[0] if isinstance(out, tuple) else out
