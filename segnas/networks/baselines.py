"""Hand-designed networks to compare searched ones against, as architectures with no decisions.

An `Architecture` whose space is a key of BASELINES has empty `values`; its settings say how to build
it, so it trains, predicts and exports through the same code as a found network.

- `monai_unet`: MONAI's residual UNet, 16…256 channels, 2 residual units per level.
- `monai_dynunet`: MONAI's DynUNet with kernels, strides and filters chosen the way nnU-Net does it
  for the plan's patch and spacing (pool an axis while it is not much coarser than the finest one and
  at least 8 (even) voxels long; 3×3×3 kernels once an axis is within 2× of the finest spacing, else 1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from segnas.data.plan import Plan
from segnas.errors import SegnasError, short_repr
from segnas.nas.arch import COMMON_LIMITS, Architecture, check_settings

REQUIRED = ("dims", "in_channels", "num_classes", "depth")
UNET_CHANNELS = 16  # MONAI UNet's first level; each level below doubles it


def _unet(s: dict[str, Any]) -> nn.Module:
    from monai.networks.nets import UNet
    channels = [s.get("channels", 16) * 2**i for i in range(s["depth"] + 1)]
    return UNet(s["dims"], s["in_channels"], s["num_classes"], channels=channels, strides=[2] * s["depth"],
                num_res_units=s.get("res_units", 2))


def _dynunet(s: dict[str, Any]) -> nn.Module:
    from monai.networks.nets import DynUNet
    return DynUNet(s["dims"], s["in_channels"], s["num_classes"], kernel_size=s["kernels"], strides=s["strides"],
                   upsample_kernel_size=s["strides"][1:], filters=s["filters"], norm_name=("instance", {"affine": True}),
                   act_name=("leakyrelu", {"inplace": True, "negative_slope": 0.01}), res_block=False)


BASELINES: dict[str, Callable[[dict[str, Any]], nn.Module]] = {"monai_unet": _unet, "monai_dynunet": _dynunet}


def nnunet_topology(patch: list[int], spacing: list[float], max_pools: int = 5,
                    max_filters: int = 320) -> dict[str, Any]:
    """nnU-Net's rule for kernels and strides per level from a patch and its spacing (one entry per axis)."""
    size, sp = list(patch), list(spacing)
    kernels = [[3 if s <= 2 * min(sp) else 1 for s in sp]]
    strides: list[list[int]] = [[1] * len(patch)]
    while len(strides) <= max_pools:
        finest = min(sp)
        pool = [2 if n >= 8 and n % 2 == 0 and s <= 2 * finest else 1 for n, s in zip(size, sp)]
        if max(pool) == 1:
            break
        size = [n // p for n, p in zip(size, pool)]
        sp = [s * p for s, p in zip(sp, pool)]
        strides.append(pool)
        kernels.append([3 if s <= 2 * min(sp) else 1 for s in sp])
    filters = [min(32 * 2**i, max_filters) for i in range(len(strides))]
    return {"kernels": kernels, "strides": strides, "filters": filters}


def baseline_architecture(name: str, plan: Plan, patch: list[int] | None = None) -> Architecture:
    """The baseline `name` configured for a plan (and its patch size)."""
    if name not in BASELINES:
        raise SegnasError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    patch = list(patch or plan.patch_size)
    settings: dict[str, Any] = {"dims": plan.dims, "in_channels": plan.in_channels, "num_classes": plan.num_classes}
    if name == "monai_unet":
        settings.update(depth=4, channels=UNET_CHANNELS, res_units=2)
    else:
        spacing = list(plan.target_spacing)
        if plan.dims == 2:
            spacing = [s for i, s in enumerate(spacing) if i != plan.slice_axis]
        topo = nnunet_topology(patch, spacing, 5 if plan.dims == 3 else 6, 320 if plan.dims == 3 else 512)
        depth = max(sum(1 for st in topo["strides"] if st[i] == 2) for i in range(len(patch)))
        settings.update(depth=depth, **topo)
    return Architecture(name, settings, {})


LIMITS: dict[str, Any] = {"depth": range(1, 8), "channels": range(1, 1025), "res_units": range(0, 9)}


def _check_topology(s: dict[str, Any], where: str) -> None:
    """DynUNet's per-level kernels, strides and filters: lists of equal length, sizes per axis in range."""
    for key in ("kernels", "strides", "filters"):
        if not isinstance(s.get(key), list) or not 1 <= len(s[key]) <= 8:
            raise SegnasError(f"{where}: baseline monai_dynunet needs {key!r} as a list of 1 to 8 levels")
    if not len(s["kernels"]) == len(s["strides"]) == len(s["filters"]):
        raise SegnasError(f"{where}: 'kernels', 'strides' and 'filters' must have one entry per level each")
    for key, allowed in (("kernels", (1, 3, 5, 7)), ("strides", (1, 2))):
        for level in s[key]:
            if (not isinstance(level, list) or len(level) != s["dims"]
                    or not all(type(v) is int and v in allowed for v in level)):
                raise SegnasError(f"{where}: each entry of {key!r} must be {s['dims']} of {allowed}, found {short_repr(level)}")
    if not all(type(f) is int and 1 <= f <= 1024 for f in s["filters"]):
        raise SegnasError(f"{where}: 'filters' must be integers from 1 to 1024, found {short_repr(s['filters'])}")


def check_baseline(arch: Architecture, where: str) -> Architecture:
    """A baseline architecture with the settings it needs, each in range, and no decisions; else an error naming `where`."""
    missing = [k for k in REQUIRED if k not in arch.settings]
    if missing:
        raise SegnasError(f"{where}: baseline {arch.space} needs setting(s) {', '.join(missing)}")
    if arch.values:
        raise SegnasError(f"{where}: baseline {arch.space} has no decisions, found {', '.join(sorted(arch.values))}")
    check_settings(arch.settings, {**COMMON_LIMITS, **LIMITS}, f"{where}: baseline {arch.space}")
    if arch.space == "monai_dynunet":
        _check_topology(arch.settings, where)
    return arch


def build_baseline(arch: Architecture, where: str) -> nn.Module:
    """The network of a baseline architecture: (B, in_channels, *S) → logits (B, num_classes, *S)."""
    return BASELINES[check_baseline(arch, where).space](arch.settings)
