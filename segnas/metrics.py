"""Metrics as small pure functions."""

from __future__ import annotations

import torch


def dice_per_sample(logits: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Mean foreground Dice of each sample: logits (B, K, *S), labels (B, 1, *S) → (B,).

    A class absent from both prediction and reference scores 1 (nothing to find, nothing found).
    """
    pred = logits.argmax(1)
    ref = target[:, 0].long()
    scores = []
    for c in range(1, num_classes):
        p, r = pred == c, ref == c
        inter = (p & r).flatten(1).sum(1).float()
        total = (p.flatten(1).sum(1) + r.flatten(1).sum(1)).float()
        scores.append(torch.where(total > 0, 2 * inter / total.clamp(min=1), torch.ones_like(total)))
    return torch.stack(scores, 1).mean(1)
