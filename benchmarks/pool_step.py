"""Average pooling (3×3(×3), stride 1, padded voxels not counted): segnas's separable `box_mean` against torch's pool.

    OMP_NUM_THREADS=1 python benchmarks/pool_step.py [--repeats 10]

Forward and backward of each on random channels-last (3D) or contiguous (2D) inputs of the sizes cells see,
median seconds, and the ratio torch / segnas measured side by side in one process.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from _common import header, measure  # noqa: E402

from segnas.nas.spaces.ops import box_mean  # noqa: E402

SHAPES = [(2, 16, 48, 40, 24), (2, 32, 24, 20, 12), (4, 8, 16, 16, 16), (8, 16, 128, 128)]


def torch_mean(x: torch.Tensor) -> torch.Tensor:
    """torch's own average pool with the same semantics."""
    pool = F.avg_pool2d if x.dim() == 4 else F.avg_pool3d
    return pool(x, 3, 1, 1, count_include_pad=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    print(header("average pool 3, stride 1: torch vs separable box sums (forward + backward)"))
    print("| input (B, C, *S) | torch ms | segnas ms | torch / segnas |\n|---|---:|---:|---:|")
    for shape in SHAPES:
        x = torch.randn(*shape)
        if x.dim() == 5:
            x = x.contiguous(memory_format=torch.channels_last_3d)
        x.requires_grad_(True)
        times = {}
        for name, fn in (("torch", torch_mean), ("segnas", box_mean)):
            times[name] = measure(lambda fn=fn: fn(x).sum().backward(), "cpu", args.repeats)["seconds"] * 1000
        print(f"| {'×'.join(map(str, shape))} | {times['torch']:.2f} | {times['segnas']:.2f} | {times['torch'] / times['segnas']:.1f}× |")


if __name__ == "__main__":
    main()
