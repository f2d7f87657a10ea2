"""A search task built so that one candidate is clearly better: the label marks where the image's second
difference along x (left + right neighbour − 2 × the pixel) is large — unchanged by the training's flips.
The `probe` space has three parallel edges between 1×1 convolutions (their
outputs summed); only `conv3` can weigh neighbours with opposite signs (pooling only averages or takes a
maximum, identity sees no neighbour), so a search that works ranks `conv3` first on every edge. (Trained alone: three
`conv3` edges reach Dice ≈ 0.9 on it in 600 steps, the other candidates ≈ 0.)"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from segnas.data.io import write_nifti
from segnas.nas.arch import Choice, OpChoice, Value
from segnas.nas.spaces import Space
from segnas.nas.spaces.mixed import FixedEdge, MixedEdge, Selection
from segnas.runtime.files import write_json

CANDIDATES = ("identity", "avg_pool3", "max_pool3", "conv3")
BEST = "conv3"


def choices(settings: Mapping[str, Any]) -> list[Choice]:
    """One op decision per edge of the chain."""
    return [OpChoice(f"probe/edge{i}", CANDIDATES) for i in range(settings["edges"])]


class Probe(nn.Module):
    """(B, in_channels, *S) → (B, num_classes, *S): 1×1 conv, the parallel edges summed, 1×1 conv."""

    def __init__(self, settings: Mapping[str, Any], fixed: Mapping[str, Value] | None = None, partial: int = 1) -> None:
        super().__init__()
        c, d = settings["channels"], settings["dims"]
        conv = nn.Conv2d if d == 2 else nn.Conv3d
        self.stem = conv(settings["in_channels"], c, 1)
        self.labels = [ch.label for ch in choices(settings)]
        self.edges = nn.ModuleList(MixedEdge(lb, CANDIDATES, c, d, 1, partial) if fixed is None
                                   else FixedEdge(lb, str(fixed[lb]), c, d, 1) for lb in self.labels)
        self.head = conv(c, settings["num_classes"], 1)

    def forward(self, x: torch.Tensor, selection: Selection | None = None) -> torch.Tensor:
        x = self.stem(x)
        outs = [edge(x, selection[label]) if selection is not None else edge(x) for label, edge in zip(self.labels, self.edges)]
        return self.head(sum(o for o in outs if o is not None))


SPACE = Space("probe", "test space: parallel edges where conv3 is the one candidate that can solve the task",
              {"dims": 2, "in_channels": 1, "num_classes": 2, "channels": 8, "depth": 1, "edges": 3}, choices, Probe)


def second_difference(image: np.ndarray, axis: int = 0) -> np.ndarray:
    """left + right neighbour − 2 × the pixel along `axis` (wrapping at the border)."""
    return np.roll(image, 1, axis) + np.roll(image, -1, axis) - 2 * image


def make_probe_dataset(out: Path, cases: int = 10, size: int = 48, seed: int = 0) -> Path:
    """2D MSD dataset: Gaussian noise images; label = second difference along x above 2.5 (about 15 % of pixels)."""
    rng = np.random.default_rng(seed)
    entries = []
    for i in range(cases):
        image = rng.normal(size=(size, size, 1)).astype(np.float32)
        label = (second_difference(image) > 2.5).astype(np.uint8)
        name = f"probe_{i:03d}.nii.gz"
        write_nifti(out / "imagesTr" / name, image, np.eye(4))
        write_nifti(out / "labelsTr" / name, label, np.eye(4))
        entries.append({"image": f"./imagesTr/{name}", "label": f"./labelsTr/{name}"})
    write_json(out / "dataset.json", {"name": "Probe", "tensorImageSize": "2D", "modality": {"0": "noise"},
                                      "labels": {"0": "background", "1": "shifted"}, "numTraining": cases,
                                      "numTest": 0, "training": entries, "test": []})
    return out
