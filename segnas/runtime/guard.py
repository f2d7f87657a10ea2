"""What a long run does when numbers stop being numbers: NaN or Inf in a loss or in parameters.

A step whose loss is not finite (on any rank) is skipped on every rank; after an epoch with such steps
the learning rates are halved and, when parameters are no longer finite, the last good checkpoint is
restored; `MAX_BAD_EPOCHS` bad epochs in a row stop the run with an error naming that checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from segnas.errors import SegnasError
from segnas.runtime.checkpoint import load_checkpoint
from segnas.runtime.distributed import Group, average_gradients, mean
from segnas.runtime.precision import Precision
from segnas.runtime.workspace import RunFolder

log = logging.getLogger(__name__)

MAX_BAD_EPOCHS = 3  # epochs in a row with mostly non-finite steps before a run gives up


def all_finite(tensors: Iterable[torch.Tensor]) -> bool:
    """True when no tensor holds a NaN or an Inf."""
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def finite_on_every_rank(value: torch.Tensor, group: Group) -> bool:
    """True when `value` is finite on every rank of the group (so every rank skips a step together)."""
    return mean(float(torch.isfinite(value.detach()).all()), group, value.device) == 1.0


def guarded_step(optimizer: torch.optim.Optimizer, precision: Precision, net: torch.nn.Module, group: Group,
                 compute: Callable[[], tuple[torch.Tensor, Any]]) -> tuple[torch.Tensor, Any] | None:
    """One weight step of search or training: `compute()` → (loss, output) under autocast; when the loss is not
    finite on some rank every rank skips the step (→ None), else backward, gradients averaged over ranks, step."""
    optimizer.zero_grad(set_to_none=True)
    with precision.autocast():
        loss, out = compute()
    if not finite_on_every_rank(loss, group):
        return None
    precision.step(loss, optimizer, lambda: average_gradients(net.parameters(), group))
    return loss.detach(), out


@dataclass
class Guard:
    """Counts bad epochs of one run and recovers after each (see the module docstring)."""

    run: Path
    what: str  # "training" or "search", for messages
    kind: str  # of the run's checkpoint: "train" or "search"
    bad_epochs: int = 0

    def recover(self, skipped: int, steps: int, params: Sequence[torch.Tensor], optimizers: Sequence[torch.optim.Optimizer],
                restore: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """After an epoch with `skipped` non-finite steps (and `steps` good ones) → the event to log.

        `restore(state)` puts the weights and optimiser states of the run's last checkpoint back.
        """
        ckpt = RunFolder(self.run).checkpoint
        self.bad_epochs = self.bad_epochs + 1 if skipped > steps else 0
        if self.bad_epochs >= MAX_BAD_EPOCHS:
            raise SegnasError(f"{self.run}: NaN or Inf in most steps of {MAX_BAD_EPOCHS} epochs in a row even at a lower "
                              f"learning rate; the {self.what} stopped. The last good checkpoint is intact"
                              + (f": {ckpt}" if ckpt.is_file() else " (none was written yet)"))
        event: dict[str, Any] = {"nonfinite_steps": skipped}
        if not all_finite(params):
            if not ckpt.is_file():
                raise SegnasError(f"{self.run}: parameters became NaN or Inf before any good checkpoint was written; "
                                  "lower the learning rate (--set …_lr=…) and start again")
            state = load_checkpoint(ckpt, self.kind)
            restore(state)
            event["restored_epoch"] = int(state["epoch"])
        for opt in optimizers:
            for g in opt.param_groups:
                g["lr"] *= 0.5
        event["lr_halved"] = True
        log.warning("%s: %d non-finite step(s); learning rate halved%s", self.what, skipped,
                    f", parameters restored from epoch {event['restored_epoch'] + 1}" if "restored_epoch" in event else "")
        return event
