"""A trained model with its preprocessing, as one TorchScript module that needs torch alone: crop to the
non-zero box, normalise as the plan says, resample to the plan's spacing, Gaussian sliding window, and the
probabilities back onto the input's grid. Images are resampled (bi/tri)linearly here where segnas's pipeline
uses cubic splines; with linear resampling on both sides the labels match `segnas predict`'s.

    m = torch.jit.load("model_full.ts")
    img = nibabel.load("case.nii.gz")
    x = torch.from_numpy(img.get_fdata(dtype="float32"))          # (X, Y, Z) or (X, Y, Z, C) as stored
    labels = m(x, torch.tensor(img.header.get_zooms()[:3]))       # (X, Y, Z) int64 on the input's grid
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from segnas.data.plan import Plan

SCHEMES = {"none": 0, "zscore": 1, "ct": 2}


class Standalone(nn.Module):
    """(X, Y, Z[, C]) image as stored in NIfTI and its voxel size (3,) in mm → (X, Y, Z) label map."""

    if TYPE_CHECKING:  # the buffers registered below, for type checkers only (TorchScript reads class annotations)
        target: torch.Tensor
        scheme: torch.Tensor
        masked: torch.Tensor
        clip: torch.Tensor
        mean: torch.Tensor
        std: torch.Tensor
        weights: torch.Tensor

    def __init__(self, net: nn.Module, plan: Plan, patch: list[int]) -> None:
        super().__init__()
        self.net = net
        self.dims = int(plan.dims)
        self.slice_axis = int(plan.slice_axis or 0)
        self.patch = [int(p) for p in patch]
        self.channels = int(plan.in_channels)
        norm = plan.normalization
        self.register_buffer("target", torch.tensor(plan.target_spacing, dtype=torch.float64))
        self.register_buffer("scheme", torch.tensor([SCHEMES.get(s["scheme"], 0) for s in norm]))
        self.register_buffer("masked", torch.tensor([bool(s.get("use_nonzero_mask", False)) for s in norm]))
        self.register_buffer("clip", torch.tensor([s.get("clip", [0.0, 0.0]) for s in norm], dtype=torch.float32))
        self.register_buffer("mean", torch.tensor([float(s.get("mean", 0.0)) for s in norm]))
        self.register_buffer("std", torch.tensor([float(s.get("std", 1.0)) for s in norm]))
        self.register_buffer("weights", importance(self.patch))

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """(C, *S) → normalised per channel (z-score inside the non-zero mask where the plan says so)."""
        mask = (x != 0).any(0)
        out = []
        for c in range(x.shape[0]):
            v = x[c]
            if int(self.scheme[c]) == 2:
                v = (v.clamp(float(self.clip[c, 0]), float(self.clip[c, 1])) - self.mean[c]) / self.std[c]
            elif int(self.scheme[c]) == 1:
                use = bool(self.masked[c]) and bool(mask.any())
                vals = v[mask] if use else v.flatten()
                v = (v - vals.mean()) / vals.std(unbiased=False).clamp_min(1e-8)
                if use:
                    v = v * mask
            out.append(v)
        return torch.stack(out)

    def window(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, K, *S) of (B, C, *S) by Gaussian-weighted windows at half-patch steps (zero-padded up to the
        patch), as MONAI's sliding-window inferer places and weights them."""
        size = x.shape[2:]
        pads: list[int] = []
        for i in range(len(size) - 1, -1, -1):
            extra = max(self.patch[i] - size[i], 0)
            pads += [extra // 2, extra - extra // 2]
        x = F.pad(x, pads)
        padded = x.shape[2:]
        starts: list[list[int]] = []
        for i in range(len(padded)):  # MONAI's positions: every half patch, the last one moved back inside
            n, p = padded[i], self.patch[i]
            step = max(p // 2, 1) if n > p else p
            count = -(-(n - p) // step) + 1
            axis: list[int] = []
            for k in range(count):
                axis.append(min(k * step, n - p))
            starts.append(axis)
        total = torch.zeros(0)
        norm = torch.zeros(padded, dtype=x.dtype)
        for pos in _product(starts):
            sl = x
            for i in range(len(pos)):
                sl = sl.narrow(2 + i, pos[i], self.patch[i])
            out = self.net(sl) * self.weights
            if total.numel() == 0:
                total = torch.zeros([x.shape[0], out.shape[1]] + list(padded), dtype=out.dtype)
            region, w = total, norm
            for i in range(len(pos)):
                region = region.narrow(2 + i, pos[i], self.patch[i])
                w = w.narrow(i, pos[i], self.patch[i])
            region += out
            w += self.weights
        total = total / norm
        for i in range(len(size)):
            total = total.narrow(2 + i, pads[2 * (len(size) - 1 - i)], size[i])
        return total

    def forward(self, image: torch.Tensor, spacing: torch.Tensor) -> torch.Tensor:
        """Label map (X, Y, Z), int64, on the grid of `image` ((X, Y, Z) or (X, Y, Z, C), NIfTI's order)."""
        x = image.float()
        x = x.unsqueeze(0) if x.dim() == 3 else x.permute(3, 0, 1, 2)
        if x.shape[0] != self.channels:
            raise ValueError("the image has " + str(x.shape[0]) + " channel(s); the model expects " + str(self.channels))
        full = x.shape[1:]
        found = torch.nonzero((x != 0).any(0))
        lo = torch.zeros(3, dtype=torch.long)
        hi = torch.tensor(full)
        if found.shape[0] > 0:
            lo = found.min(0)[0]
            hi = found.max(0)[0] + 1
        crop = x[:, int(lo[0]):int(hi[0]), int(lo[1]):int(hi[1]), int(lo[2]):int(hi[2])]
        crop = self.normalise(crop)
        cropped = crop.shape[1:]
        shape: list[int] = []
        for i in range(3):
            shape.append(max(1, int(round(float(cropped[i]) * float(spacing[i]) / float(self.target[i])))))
        if self.dims == 2:
            shape[self.slice_axis] = cropped[self.slice_axis]
            moved = crop.movedim(1 + self.slice_axis, 0)  # (N, C, H, W): the slices as a batch
            size2: list[int] = []
            back: list[int] = []
            for i in range(3):
                if i != self.slice_axis:
                    size2.append(shape[i])
                    back.append(cropped[i])
            moved = F.interpolate(moved, size=size2, mode="bilinear", align_corners=False)
            probs = torch.softmax(self.window(moved), 1)
            probs = F.interpolate(probs, size=back, mode="bilinear", align_corners=False)
            probs = probs.movedim(0, 1 + self.slice_axis)  # (K, X, Y, Z)
        else:
            resampled = F.interpolate(crop[None], size=shape, mode="trilinear", align_corners=False)
            probs = torch.softmax(self.window(resampled), 1)
            probs = F.interpolate(probs, size=list(cropped), mode="trilinear", align_corners=False)[0]
        labels = torch.zeros(full, dtype=torch.long)
        labels[int(lo[0]):int(hi[0]), int(lo[1]):int(hi[1]), int(lo[2]):int(hi[2])] = probs.argmax(0)
        return labels


def _product(starts: list[list[int]]) -> list[list[int]]:
    """Every combination of one start per axis."""
    empty: list[int] = []
    out: list[list[int]] = [empty]
    for axis in starts:
        longer: list[list[int]] = []
        for p in out:
            for s in axis:
                longer.append(p + [s])
        out = longer
    return out


def importance(patch: list[int]) -> torch.Tensor:
    """Weight of each voxel of a window: MONAI's Gaussian importance map (σ = patch/8), as segnas predicts with."""
    from monai.data.utils import compute_importance_map
    return compute_importance_map(tuple(patch), mode="gaussian", sigma_scale=0.125).float()
