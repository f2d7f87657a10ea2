"""Losses of the presets: Jaccard distance (SCNAS), Dice + cross-entropy (Thrifty, RONASMIS), and
deep supervision over several outputs. Targets are label maps (B, 1, *S)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from monai.losses import DiceCELoss, DiceLoss

from segnas.errors import SegnasError

Loss = Callable[[torch.Tensor | Sequence[torch.Tensor], torch.Tensor], torch.Tensor]


def base_loss(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """`jaccard` or `dice_ce` on logits (B, K, *S) against labels (B, 1, *S)."""
    if name == "jaccard":
        return DiceLoss(to_onehot_y=True, softmax=True, jaccard=True, smooth_nr=1e-5, smooth_dr=1e-5)
    if name == "dice_ce":
        return DiceCELoss(to_onehot_y=True, softmax=True, smooth_nr=1e-5, smooth_dr=1e-5)
    raise SegnasError(f"unknown loss {name!r}; known: jaccard, dice_ce")


def segmentation_loss(name: str) -> Loss:
    """The loss, accepting one output or a tuple (main, auxiliary …) for deep supervision.

    Auxiliary outputs at a coarser grid get the labels resampled by nearest neighbour; weights halve
    with each auxiliary output and are normalised to sum to one (nnU-Net's scheme).
    """
    fn = base_loss(name)

    def loss(outputs: torch.Tensor | Sequence[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        if isinstance(outputs, torch.Tensor):
            return fn(outputs, target)
        weights = [0.5**i for i in range(len(outputs))]
        total = torch.zeros((), device=target.device)
        for w, out in zip(weights, outputs):
            t = target if out.shape[2:] == target.shape[2:] else F.interpolate(target.float(), size=out.shape[2:], mode="nearest")
            total = total + w * fn(out, t)
        return total / sum(weights)

    return loss


def main_output(out: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The full-resolution logits of a network that may also return deep-supervision outputs."""
    return out[0] if isinstance(out, tuple) else out
