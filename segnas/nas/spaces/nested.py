"""`nested` — the Thrifty NAS space: a UNet++-like grid of DN and UP cells, C channels everywhere.

X^{0,0} is the stem; X^{0,j} (j = 1…depth) are DN cells whose inputs are X^{0,j-2} and X^{0,j-1}
(the stem twice for j = 1). UP cell X^{k,j} (k ≥ 1) reads in0 = concat(X^{0,j} … X^{k-1,j}) and
in1 = X^{k-1,j+1}, upsampled. Cells have 2 nodes whose outputs a 1×1 conv filters back to C
channels. The output is X^{depth,0} (with `stem_stride` 2 the stem halves the input and a transposed conv brings
the logits back onto its grid); deep supervision adds heads on X^{k,0}, k < depth.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from segnas.nas.arch import TIES, Choice, Value
from segnas.nas.spaces.cell import Cell, cell_choices
from segnas.nas.spaces.mixed import Selection
from segnas.nas.spaces.ops import THRIFTY_OPS, conv_nd, head, stem

DEFAULTS: dict[str, Any] = {"dims": 2, "in_channels": 1, "num_classes": 2, "channels": 16, "depth": 4, "nodes": 2,
                            "deep_supervision": False, "tie": "edge", "stem_stride": 1}
LIMITS: dict[str, Any] = {"channels": range(1, 1025), "depth": range(1, 7), "nodes": range(1, 9), "deep_supervision": (False, True),
                          "tie": TIES, "stem_stride": (1, 2)}


def choices(settings: Mapping[str, Any]) -> list[Choice]:
    """The decisions of the DN and UP cell types."""
    return [c for kind in ("dn", "up") for c in cell_choices(kind, settings["nodes"], THRIFTY_OPS, tie=settings["tie"])]


class Nested(nn.Module):
    """Supernet (`fixed=None`) or found network: (B, in_channels, *S) → (B, num_classes, *S); S divisible by
    2^depth × stem_stride."""

    def __init__(self, settings: Mapping[str, Any], fixed: Mapping[str, Value] | None = None, partial: int = 1) -> None:
        super().__init__()
        s = dict(settings)
        dims, c, depth, nodes = s["dims"], s["channels"], s["depth"], s["nodes"]
        self.depth, self.deep_supervision = depth, s["deep_supervision"]
        self.stem = stem(s["in_channels"], c, dims, s["stem_stride"])
        def cell(kind: str, cin0: int, factors: tuple[float, float], stride: int) -> Cell:
            return Cell(kind, (cin0, c), factors, c, nodes, dims, THRIFTY_OPS, stride, "conv", c, fixed, partial, s["tie"])

        self.down = nn.ModuleList(cell("dn", c, (0.5 if j >= 2 else 1.0, 1.0), 2) for j in range(1, depth + 1))
        self.up = nn.ModuleDict({f"{k}_{j}": cell("up", k * c, (1.0, 2.0), 1) for k in range(1, depth + 1) for j in range(depth - k + 1)})
        self.out = head(c, s["num_classes"], dims, s["stem_stride"])
        self.heads = nn.ModuleList(conv_nd(dims)(c, s["num_classes"], 1) for _ in range(1, depth)) if self.deep_supervision else nn.ModuleList()

    def forward(self, x: torch.Tensor, selection: Selection | None = None) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """Logits; in training with deep supervision, (logits, X^{depth-1,0} logits, …)."""
        grid: dict[tuple[int, int], torch.Tensor] = {(0, 0): self.stem(x)}
        for j in range(1, self.depth + 1):
            grid[0, j] = self.down[j - 1](grid[0, max(j - 2, 0)], grid[0, j - 1], selection)
        for k in range(1, self.depth + 1):
            for j in range(self.depth - k + 1):
                dense = torch.cat([grid[m, j] for m in range(k)], 1)
                grid[k, j] = self.up[f"{k}_{j}"](dense, grid[k - 1, j + 1], selection)
        logits = self.out(grid[self.depth, 0])
        if self.training and self.deep_supervision:
            return (logits, *(h(grid[k, 0]) for k, h in reversed(list(enumerate(self.heads, 1)))))
        return logits
