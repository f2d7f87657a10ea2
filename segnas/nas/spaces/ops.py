"""Candidate operations, dimension-agnostic: `OPS[name](channels, dims, stride) -> nn.Module`.

Convolutions are LeakyReLU-Conv-InstanceNorm (SCNAS). The leading LeakyReLU is *not* inside the
op: ops with `preact = True` expect an activated input, which the edge computes once and shares
among all its convolution candidates (one activation stored per edge instead of one per op).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

SLOPE = 0.01
# Bumped when an op's implementation changes what it costs: op costs cached under another revision are not reused.
REVISION = 3


def keep_layout(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """`y` in `x`'s memory layout: some CPU kernels (average pooling) return a channels-last input contiguous."""
    if x.dim() == 5 and x.is_contiguous(memory_format=torch.channels_last_3d) and not x.is_contiguous():
        return y.contiguous(memory_format=torch.channels_last_3d)
    return y


class Conv3d(nn.Conv3d):
    """nn.Conv3d whose output keeps a channels-last input's layout.

    For small inputs and, single-threaded, for 1×1×1 kernels, PyTorch's CPU convolution takes a
    native kernel that returns a contiguous tensor, which takes every op after it off the fast
    channels-last path; 1×1×1 convolutions of channels-last inputs run as one matrix product instead.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, *S) → (B, C_out, *S')."""
        if not (x.is_contiguous(memory_format=torch.channels_last_3d) and not x.is_contiguous()):
            return super().forward(x)
        if self.kernel_size == (1, 1, 1) and self.stride == (1, 1, 1) and self.groups == 1:
            return F.linear(x.permute(0, 2, 3, 4, 1), self.weight.flatten(1), self.bias).permute(0, 4, 1, 2, 3)
        return keep_layout(super().forward(x), x)


def conv_nd(dims: int) -> type[nn.Module]:
    """nn.Conv2d or segnas's Conv3d."""
    return {2: nn.Conv2d, 3: Conv3d}[dims]


def norm_nd(dims: int, channels: int) -> nn.Module:
    """Affine instance norm for 2D or 3D feature maps.

    GroupNorm with one group per channel is instance norm (same parameters, same output) and,
    unlike nn.InstanceNorm3d, keeps a channels-last input channels-last.
    """
    return nn.GroupNorm(channels, channels)


class ConvNorm(nn.Sequential):
    """Conv-InstanceNorm (after an activation applied by the caller)."""

    preact = True

    def __init__(self, c_in: int, c_out: int, dims: int, kernel: int = 3, stride: int = 1, dilation: int = 1) -> None:
        super().__init__(conv_nd(dims)(c_in, c_out, kernel, stride, dilation * (kernel // 2), dilation, bias=False),
                         norm_nd(dims, c_out))


FUSED = "conv3"  # the op whose edges out of one state a found network runs as one convolution (`conv_norms`)


def conv_norms(ops: list[ConvNorm], x: torch.Tensor) -> list[torch.Tensor]:
    """Each of `ops` (ConvNorms of one input shape, kernel, stride and dilation) applied to the same activated `x`,
    as one convolution of their weights stacked and one norm (instance norm is per channel: stacking changes nothing
    but the kernel launches). On a 2-core CPU a cell's narrow full-grid convolutions ran 1.3–1.5× faster so
    (BENCHMARKS.md, "One convolution per state"). Outputs in `x`'s memory layout."""
    convs, norms = [cast(nn.Conv2d, op[0]) for op in ops], [cast(nn.GroupNorm, op[1]) for op in ops]
    conv, norm = convs[0], norms[0]
    weight = torch.cat([c.weight for c in convs])
    y = (F.conv2d if x.dim() == 4 else F.conv3d)(x, weight, None, conv.stride, conv.padding, conv.dilation)
    y = F.group_norm(keep_layout(y, x), norm.num_groups * len(ops), torch.cat([n.weight for n in norms]),
                     torch.cat([n.bias for n in norms]), norm.eps)
    layout = torch.channels_last if x.dim() == 4 else torch.channels_last_3d
    last = x.is_contiguous(memory_format=layout) and not x.is_contiguous()
    return [part.contiguous(memory_format=layout) if last else part.contiguous() for part in y.split(conv.out_channels, 1)]


class SepConv(nn.Sequential):
    """Depthwise (optionally dilated) conv, pointwise conv, InstanceNorm; `repeat` = 2 stacks it twice (DARTS sep_conv)."""

    preact = True

    def __init__(self, channels: int, dims: int, kernel: int, stride: int, dilation: int = 1, repeat: int = 1) -> None:
        conv = conv_nd(dims)
        layers: list[nn.Module] = []
        for r in range(repeat):
            if r:
                layers.append(nn.LeakyReLU(SLOPE, inplace=True))  # safe: acts on this op's own tensor
            layers += [conv(channels, channels, kernel, stride if r == 0 else 1, dilation * (kernel // 2), dilation,
                            groups=channels, bias=False),
                       conv(channels, channels, 1, bias=False), norm_nd(dims, channels)]
        super().__init__(*layers)


def box_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum over each voxel's 3×3(×3) neighbourhood inside the volume, one axis at a time: (B, C, *S) → (B, C, *S)."""
    dims = x.dim() - 2
    for axis in range(2, 2 + dims):
        n, pads = x.shape[axis], [0, 0] * dims
        k = 1 + dims - axis  # F.pad lists the last axis first
        pads[2 * k:2 * k + 2] = [1, 1]
        padded = F.pad(x, pads)
        x = padded.narrow(axis, 0, n) + padded.narrow(axis, 1, n) + padded.narrow(axis, 2, n)
    return x


def box_mean(x: torch.Tensor) -> torch.Tensor:
    """3×3(×3) average pooling, stride 1, padded voxels not counted: (B, C, *S) → (B, C, *S). The separable sums
    keep the layout and take a third to a seventh of the time of torch's CPU pool, forward and backward
    (`benchmarks/pool_step.py`)."""
    return box_sum(x) / box_sum(x.new_ones((1, 1, *x.shape[2:])))


class Pool(nn.Module):
    """3×3(×3) max or average pooling, stride 1 or 2, shape-preserving padding."""

    preact = False

    def __init__(self, kind: str, dims: int, stride: int) -> None:
        super().__init__()
        self.kind, self.dims, self.stride = kind, dims, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "max":
            return (F.max_pool2d if self.dims == 2 else F.max_pool3d)(x, 3, self.stride, 1)
        if self.stride == 2 and min(x.shape[2:]) >= 3:  # torch's strided pool is the faster one here
            pool = F.avg_pool2d if self.dims == 2 else F.avg_pool3d
            return keep_layout(pool(x, 3, 2, 1, count_include_pad=False), x)
        # stride 1, or an input smaller than the kernel (which torch's CPU pool refuses even when padded)
        return keep_layout(box_mean(x)[(slice(None), slice(None), *[slice(None, None, self.stride)] * self.dims)], x)


class FactorizedReduce(nn.Module):
    """Identity at stride 2 (DARTS): two strided 1×1 convs on offset grids, concatenated, then InstanceNorm."""

    preact = True

    def __init__(self, c_in: int, c_out: int, dims: int) -> None:
        super().__init__()
        conv = conv_nd(dims)
        # one output channel (PC-DARTS's slice of a narrow edge): the unshifted conv alone
        self.a = conv(c_in, max(1, c_out // 2), 1, 2, bias=False)
        self.b = conv(c_in, c_out - c_out // 2, 1, 2, bias=False) if c_out > 1 else None
        self.norm = norm_nd(dims, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.a(x)
        if self.b is None:
            return self.norm(a)
        shifted = x[(slice(None), slice(None)) + (slice(1, None),) * (x.dim() - 2)]
        b = self.b(F.pad(shifted, [0, 1] * (x.dim() - 2)))
        return self.norm(torch.cat([a, b[(slice(None), slice(None)) + tuple(slice(0, n) for n in a.shape[2:])]], 1))


class Identity(nn.Module):
    """Skip connection."""

    preact = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _identity(c: int, dims: int, stride: int) -> nn.Module:
    return Identity() if stride == 1 else FactorizedReduce(c, c, dims)


OpFactory = Callable[[int, int, int], nn.Module]

OPS: dict[str, OpFactory] = {
    "zero": lambda c, d, s: Identity(),  # never run: a mixed edge skips it, a network does not build it
    "identity": _identity,
    "conv3": lambda c, d, s: ConvNorm(c, c, d, 3, s),
    "sep_conv3_d2": lambda c, d, s: SepConv(c, d, 3, s, dilation=2),
    "sep_conv3_d3": lambda c, d, s: SepConv(c, d, 3, s, dilation=3),
    "sep_conv3_d4": lambda c, d, s: SepConv(c, d, 3, s, dilation=4),
    "max_pool3": lambda c, d, s: Pool("max", d, s),
    "avg_pool3": lambda c, d, s: Pool("avg", d, s),
    "sep_conv3": lambda c, d, s: SepConv(c, d, 3, s, repeat=2),
    "sep_conv5": lambda c, d, s: SepConv(c, d, 5, s, repeat=2),
    "dil_conv3": lambda c, d, s: SepConv(c, d, 3, s, dilation=2),
    "dil_conv5": lambda c, d, s: SepConv(c, d, 5, s, dilation=2),
}

# SCNAS: 3×3×3 conv; depthwise-separable dilated 3×3×3 conv, rates 2, 3, 4; max and average pool; identity; zero.
SCNAS_OPS = ("conv3", "sep_conv3_d2", "sep_conv3_d3", "sep_conv3_d4", "max_pool3", "avg_pool3", "identity", "zero")
# Thrifty NAS (PC-DARTS's set plus a plain conv): conv, separable and dilated convs, pooling, skip, none.
THRIFTY_OPS = ("conv3", "sep_conv3", "sep_conv5", "dil_conv3", "dil_conv5", "max_pool3", "avg_pool3", "identity", "zero")


class ActConvNorm(nn.Sequential):
    """LeakyReLU-Conv-InstanceNorm as one block (stems, input adapters, cell outputs)."""

    def __init__(self, c_in: int, c_out: int, dims: int, kernel: int = 1, stride: int = 1) -> None:
        super().__init__(nn.LeakyReLU(SLOPE), *ConvNorm(c_in, c_out, dims, kernel, stride))


def stem(c_in: int, c_out: int, dims: int, stride: int) -> ConvNorm:
    """The first Conv-InstanceNorm; with `stride` 2 it halves the input, so that every cell runs on a coarser grid."""
    return ConvNorm(c_in, c_out, dims, 3, stride)


def head(c_in: int, num_classes: int, dims: int, stride: int) -> nn.Module:
    """Logits from the finest features: a 1×1 conv, or after a `stride` 2 stem a transposed 3×3 conv back onto the
    input's grid (MONAI's UNet ends so; a 2×2 one trained worse on LA at 150 steps, BENCHMARKS.md "Cells on half the grid")."""
    if stride == 1:
        return conv_nd(dims)(c_in, num_classes, 1)
    return {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[dims](c_in, num_classes, 3, stride, 1, output_padding=stride - 1)


def resize(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Upsample (factor > 1, linear) or downsample (factor < 1, average pooling) the spatial axes."""
    if factor == 1:
        return x
    if factor > 1:
        return F.interpolate(x, scale_factor=factor, mode="bilinear" if x.dim() == 4 else "trilinear", align_corners=False)
    k = int(round(1 / factor))
    return keep_layout((F.avg_pool2d if x.dim() == 4 else F.avg_pool3d)(x, k, k, ceil_mode=True), x)
