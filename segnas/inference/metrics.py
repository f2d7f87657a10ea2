"""Metrics as small pure functions.

Conventions (stated once, tested in tests/test_metrics.py):
- Dice of a class absent from both prediction and reference is 1 (nothing to find, nothing found);
  present in only one of them, 0.
- HD95 follows MONAI's `compute_hausdorff_distance(percentile=95)`: surface voxels are a mask minus its
  erosion (scipy's default cross structure, border counts as outside); distances in mm from every
  surface voxel of one mask to the nearest surface voxel of the other; the 95th percentile (linear
  interpolation) of each direction; the larger of the two.
- HD95 when both masks are empty is 0; when exactly one is empty it is the diagonal of the image in mm
  (the worst possible distance), so that means stay finite and a missed structure is penalised.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy import ndimage


def dice_per_sample(logits: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Mean foreground Dice of each sample: logits (B, K, *S), labels (B, 1, *S) → (B,)."""
    pred = logits.argmax(1)
    ref = target[:, 0].long()
    scores = []
    for c in range(1, num_classes):
        p, r = pred == c, ref == c
        inter = (p & r).flatten(1).sum(1).float()
        total = (p.flatten(1).sum(1) + r.flatten(1).sum(1)).float()
        scores.append(torch.where(total > 0, 2 * inter / total.clamp(min=1), torch.ones_like(total)))
    return torch.stack(scores, 1).mean(1)


def dice(pred: np.ndarray, ref: np.ndarray) -> float:
    """Dice of two boolean masks of one shape (1 when both are empty)."""
    total = int(pred.sum()) + int(ref.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(pred, ref).sum()) / total


def surface(mask: np.ndarray) -> np.ndarray:
    """Surface voxels of a boolean mask: the mask minus its erosion."""
    return mask ^ ndimage.binary_erosion(mask)


def hd95(pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float]) -> float:
    """95th-percentile symmetric Hausdorff distance in mm between two boolean masks (see module doc)."""
    if not pred.any() and not ref.any():
        return 0.0
    if not pred.any() or not ref.any():
        return float(np.linalg.norm(np.array(pred.shape) * np.asarray(spacing, float)))
    box = tuple(slice(max(lo - 1, 0), hi + 2) for lo, hi in _bounds(pred | ref))
    p, r = surface(pred[box]), surface(ref[box])
    to_ref = ndimage.distance_transform_edt(~r, sampling=spacing)[p]
    to_pred = ndimage.distance_transform_edt(~p, sampling=spacing)[r]
    return float(max(np.percentile(to_ref, 95), np.percentile(to_pred, 95)))


def _bounds(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive index range of the true voxels along each axis."""
    idx = np.nonzero(mask)
    return [(int(i.min()), int(i.max())) for i in idx]


def majority_dice(ref: np.ndarray, classes: Sequence[int]) -> dict[int, float]:
    """Dice of each class for the trivial prediction "the reference's most frequent label everywhere": the floor
    a score must clear to mean anything (on ISBI's membranes it is 0.86-0.89)."""
    counts = np.bincount(ref.ravel().astype(np.int64))
    majority, total = int(counts.argmax()), ref.size
    out = {}
    for c in classes:
        n = int(counts[c]) if c < len(counts) else 0
        out[c] = 2 * n / (n + total) if c == majority else (1.0 if n == 0 else 0.0)
    return out


def case_metrics(pred: np.ndarray, ref: np.ndarray, classes: Sequence[int], spacing: Sequence[float]) -> dict[int, dict[str, float]]:
    """Dice and HD95 of each class between two label maps of one shape: {class: {dice, hd95, ref_voxels, pred_voxels}}."""
    out = {}
    for c in classes:
        p, r = pred == c, ref == c
        out[int(c)] = {"dice": dice(p, r), "hd95": hd95(p, r, spacing), "ref_voxels": int(r.sum()), "pred_voxels": int(p.sum())}
    return out
