"""Memory and time of one supernet forward+backward: all candidates vs two sampled vs partial channels.

    python benchmarks/supernet_memory.py [--patch 64] [--channels 16] [--device cpu|cuda]

Each mode runs in its own process. Memory is what the step adds: on CPU, peak RSS minus RSS just
before the step (the kernel's peak counter is reset first); on a GPU, max_memory_allocated minus
memory_allocated before the step. Time is the median of `--repeats` further steps (the first one warms up).
  (a) all 8 candidates on every edge, softmax weights (DARTS)
  (b) two sampled candidates per edge, renormalised weights (SCNAS Gumbel two-op sampling)
  (c) partial channels K=4, all candidates on the C/K slice (PC-DARTS)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import header, measure, run_isolated  # noqa: E402

from segnas.nas.arch import OpChoice  # noqa: E402
from segnas.nas.spaces import SPACES  # noqa: E402
from segnas.nas.spaces.mixed import Pick  # noqa: E402

MODES = {"a": "all candidates", "b": "two sampled", "c": "partial channels K=4"}


def selection(choices: list, mode: str, rng: random.Random, device: str) -> dict[str, Pick]:
    sel = {}
    for c in choices:
        if not isinstance(c, OpChoice):
            continue
        n = len(c.candidates)
        alpha = torch.randn(n, device=device, requires_grad=True)
        if mode == "b":
            idx = sorted(rng.sample(range(n), 2))
            w = torch.softmax(alpha, 0)[idx]
            sel[c.label] = Pick(idx, w / w.sum())
        else:
            sel[c.label] = Pick(list(range(n)), torch.softmax(alpha, 0))
    return sel


def run_mode(mode: str, patch: int, channels: int, device: str, repeats: int) -> dict[str, float]:
    """One mode, in this process."""
    torch.manual_seed(0)
    space = SPACES["unet"]
    settings = dict(dims=3, channels=channels, in_channels=4, num_classes=4)
    net = space.supernet(partial_channels=4 if mode == "c" else 1, **settings).to(device)
    choices = space.choices(**settings)
    x = torch.randn(1, 4, patch, patch, patch, device=device)
    rng = random.Random(0)

    def step() -> None:
        net.zero_grad(set_to_none=True)
        out = net(x, selection(choices, mode, rng, device))
        out.float().square().mean().backward()
        if device == "cuda":
            torch.cuda.synchronize()

    return {"mode": mode, **measure(step, device, repeats)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--mode", choices=sorted(MODES), help=argparse.SUPPRESS)  # child process
    args = ap.parse_args()
    if args.mode:
        print(json.dumps(run_mode(args.mode, args.patch, args.channels, args.device, args.repeats)))
        return
    print(header("supernet memory"))
    dev = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"unet supernet, 3D, patch {args.patch}³, {args.channels} stem channels, 4 input channels, batch 1, device {dev}")
    common = ["--patch", str(args.patch), "--channels", str(args.channels), "--device", args.device, "--repeats", str(args.repeats)]
    rows = [run_isolated(__file__, ["--mode", mode, *common]) for mode in MODES]
    a = rows[0]
    print(f"{'mode':<26}{'added MB':>10}{'× (a)':>8}{'seconds':>10}{'× (a)':>8}")
    for r in rows:
        print(f"({r['mode']}) {MODES[r['mode']]:<22}{r['added_mb']:>10.0f}{r['added_mb'] / a['added_mb']:>8.2f}"
              f"{r['seconds']:>10.2f}{r['seconds'] / a['seconds']:>8.2f}")


if __name__ == "__main__":
    main()
