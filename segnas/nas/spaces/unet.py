"""`unet` — the SCNAS space (and, with options, the RONASMIS base network).

stem → [reduction, encoder-normal] × depth → inter-cell (a copy of encoder-normal) →
[expansion, decoder-normal] × depth → out. Every cell reads the outputs of the previous two cells;
all cells of one type share one structure; reduction doubles and expansion halves the channels.
The output of each expansion cell is summed with the encoder output of its level (through a
LeakyReLU-Conv1×1-IN when `skip="conv"`: RONASMIS's DeepLabV3+-style decoder skip).
With `deep_supervision`, training also returns 1×1 heads on the coarser decoder cells.
With `stem_stride` 2 the stem halves the input and the output is a transposed conv back onto the input's grid, as
in MONAI's UNet: every cell then runs on an eighth of the voxels (3D), which is what brings a cell network's
training step near the UNet's (BENCHMARKS.md, "Cells on half the grid").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from torch import nn

from segnas.nas.arch import TIES, Choice, Value
from segnas.nas.spaces.cell import Cell, cell_choices
from segnas.nas.spaces.mixed import Selection
from segnas.nas.spaces.ops import SCNAS_OPS, ActConvNorm, conv_nd, head, stem

DEFAULTS: dict[str, Any] = {"dims": 3, "in_channels": 1, "num_classes": 2, "channels": 48, "depth": 3, "nodes": 4,
                            "skip": "sum", "deep_supervision": False, "tie": "edge", "stem_stride": 1}
LIMITS: dict[str, Any] = {"channels": range(1, 1025), "depth": range(1, 7), "nodes": range(1, 9), "skip": ("sum", "conv"),
                          "deep_supervision": (False, True), "tie": TIES, "stem_stride": (1, 2)}
KINDS = ("red", "enc", "exp", "dec")


def rule(settings: Mapping[str, Any]) -> str | None:
    """A cell's nodes split its channels evenly."""
    if settings["channels"] % settings["nodes"]:
        return f"'channels' ({settings['channels']}) must be a multiple of nodes ({settings['nodes']})"
    return None


def choices(settings: Mapping[str, Any]) -> list[Choice]:
    """The decisions of the four cell types."""
    return [c for kind in KINDS for c in cell_choices(kind, settings["nodes"], SCNAS_OPS, tie=settings["tie"])]


class Spec(NamedTuple):
    kind: str  # red, enc, inter, exp, dec
    level: int  # output level: 0 is full resolution, each level halves it


def layout(depth: int) -> list[Spec]:
    """The cells in order."""
    down = [Spec(k, level) for level in range(1, depth + 1) for k in ("red", "enc")]
    up = [Spec(k, level) for level in range(depth - 1, -1, -1) for k in ("exp", "dec")]
    return down + [Spec("inter", depth)] + up


class UNet(nn.Module):
    """Supernet (`fixed=None`) or found network: (B, in_channels, *S) → (B, num_classes, *S); S divisible by
    2^depth × stem_stride."""

    def __init__(self, settings: Mapping[str, Any], fixed: Mapping[str, Value] | None = None, partial: int = 1) -> None:
        super().__init__()
        s = dict(settings)
        dims, c, nodes, depth = s["dims"], s["channels"], s["nodes"], s["depth"]
        if c % nodes:
            raise ValueError(f"channels ({c}) must be a multiple of nodes ({nodes})")
        self.depth, self.deep_supervision = depth, s["deep_supervision"]
        self.specs = layout(depth)
        self.stem = stem(s["in_channels"], c, dims, s["stem_stride"])

        def width(level: int) -> int:
            return int(c * 2**level)  # channels at a level

        states = [(c, 0), (c, 0)]  # (channels, level) of the two latest outputs
        self.cells = nn.ModuleList()
        self.skips = nn.ModuleDict()
        for spec in self.specs:
            kind = "enc" if spec.kind == "inter" else spec.kind
            grid = spec.level - 1 if kind == "red" else spec.level  # where the edges read their inputs
            (c0, l0), (c1, l1) = states[-2:]
            cell = Cell(kind, (c0, c1), (2.0 ** (l0 - grid), 2.0 ** (l1 - grid)), width(spec.level) // nodes, nodes, dims,
                        SCNAS_OPS, stride=2 if kind == "red" else 1, fixed=fixed, partial=partial, tie=s["tie"])
            self.cells.append(cell)
            if kind == "exp":
                self.skips[str(spec.level)] = ActConvNorm(width(spec.level), width(spec.level), dims) if s["skip"] == "conv" else nn.Identity()
            states.append((cell.out_channels, spec.level))
        self.out = nn.Sequential(nn.LeakyReLU(0.01), head(c, s["num_classes"], dims, s["stem_stride"]))
        levels = range(1, depth) if self.deep_supervision else range(0)
        self.heads = nn.ModuleList(conv_nd(dims)(width(level), s["num_classes"], 1) for level in levels)

    def forward(self, x: torch.Tensor, selection: Selection | None = None) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """Logits; in training with deep supervision, (logits, coarser logits …) finest first."""
        stem = self.stem(x)
        prev2, prev = stem, stem
        encoder = {0: stem}
        aux = []
        for spec, cell in zip(self.specs, self.cells):
            y = cell(prev2, prev, selection)
            if spec.kind == "enc":
                encoder[spec.level] = y
            elif spec.kind == "exp":
                y = y + self.skips[str(spec.level)](encoder[spec.level])
            elif spec.kind == "dec" and 0 < spec.level and self.heads:
                aux.append(self.heads[spec.level - 1](y))
            prev2, prev = prev, y
        logits = self.out(prev)
        if self.training and self.deep_supervision:
            return (logits, *reversed(aux))
        return logits
