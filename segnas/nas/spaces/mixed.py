"""Edges: a mixed edge that runs only the candidates a selection lists, and a fixed one-op edge."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from segnas.errors import SegnasError
from segnas.nas.arch import Pick, Selection
from segnas.nas.spaces.ops import OPS, SLOPE

__all__ = ["FixedEdge", "MixedEdge", "Pick", "Selection", "channel_shuffle"]


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave `groups` channel groups (PC-DARTS), so every channel is searched in turn."""
    b, c = x.shape[:2]
    return x.view(b, groups, c // groups, *x.shape[2:]).transpose(1, 2).reshape(x.shape)


def _run(ops: Sequence[nn.Module], x: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Σ w_i op_i(x), with one shared LeakyReLU for the ops that start with it."""
    act = F.leaky_relu(x, SLOPE) if any(op.preact for op in ops) else None
    out: torch.Tensor | None = None
    for i, op in enumerate(ops):
        y = op(act if op.preact else x)
        if weights is not None:
            y = y * weights[i]
        out = y if out is None else out + y
    assert out is not None, "a mixed edge has at least one op"
    return out


class MixedEdge(nn.Module):
    """All candidate ops of one edge; `forward(x, pick)` computes only the picked ones, weighted.

    With `partial` = K > 1 (PC-DARTS) the ops see only the first C/K channels; the rest bypass them
    (max-pooled on strided edges) and the channels are shuffled afterwards.
    """

    def __init__(self, label: str, candidates: Sequence[str], channels: int, dims: int, stride: int, partial: int = 1) -> None:
        super().__init__()
        if channels % partial:
            raise SegnasError(f"{label}: its {channels} channels cannot be split into {partial} partial-channel groups; "
                              "use a width whose cells' channels are multiples of the partial-channel count")
        self.label, self.candidates = label, tuple(candidates)
        self.stride, self.partial, self.dims = stride, partial, dims
        self.ops = nn.ModuleList(OPS[name](channels // partial, dims, stride) for name in self.candidates)

    def forward(self, x: torch.Tensor, pick: Pick) -> torch.Tensor | None:
        """(B, C, *S) → (B, C, *S / stride), or None when only `zero` was picked."""
        keep = [(i, n) for n, i in enumerate(pick.indices) if self.candidates[i] != "zero"]
        if not keep:
            return None
        weights = pick.weights[[n for _, n in keep]] if pick.weights is not None else None
        ops = [self.ops[i] for i, _ in keep]
        if self.partial == 1:
            return _run(ops, x, weights)
        c = x.shape[1] // self.partial
        y = _run(ops, x[:, :c], weights)
        rest = x[:, c:]
        if self.stride > 1:
            rest = (F.max_pool2d if self.dims == 2 else F.max_pool3d)(rest, 2, 2)
        return channel_shuffle(torch.cat([y, rest], 1), self.partial)


class FixedEdge(nn.Module):
    """The one op a found architecture chose for an edge."""

    def __init__(self, label: str, op: str, channels: int, dims: int, stride: int) -> None:
        super().__init__()
        self.label, self.name = label, op
        self.op = OPS[op](channels, dims, stride)

    def forward(self, x: torch.Tensor, pick: Pick | None = None) -> torch.Tensor:
        """(B, C, *S) → (B, C, *S / stride)."""
        return _run([self.op], x, None)
