"""One full search step (architecture step + weight step) per strategy, and MONAI DiNTS, side by side.

    python benchmarks/search_step.py [--patch 64] [--channels 16] [--device cpu|cuda] [--repeats 2]

Each row runs in its own process on the same `unet` supernet (3D, 4 input channels, 4 classes,
batch 1, Dice + CE loss); DiNTS (`TopologySearch` + `DiNTS`, channel_mul 0.5 → 16…128 channels
like `--channels 16`, 6 blocks, depth 3) steps both of its parameter groups on the same patch.
Memory is what the first step adds (as in supernet_memory.py); time is the median of later steps.
Both segnas and DiNTS run in channels-last memory layout, as `segnas search` does for 3D.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import header, measure, run_isolated  # noqa: E402

from segnas.inference.metrics import dice_per_sample  # noqa: E402
from segnas.nas.spaces import SPACES  # noqa: E402
from segnas.nas.strategies import STRATEGIES, Evaluation  # noqa: E402
from segnas.training.losses import segmentation_loss  # noqa: E402

ROWS = ["gumbel2", "darts", "pcdarts", "enas", "dints"]
LAYOUT = torch.channels_last_3d  # as `segnas search` runs 3D networks; DiNTS gets the same


def segnas_step(strategy: str, patch: int, channels: int, device: str, repeats: int) -> dict[str, float]:
    torch.manual_seed(0)
    space = SPACES["unet"]
    settings = space.settings(dims=3, channels=channels, in_channels=4, num_classes=4)
    s = STRATEGIES[strategy](space.choices(**settings)).to(device)
    net = space.supernet(partial_channels=s.partial_channels, **settings).to(device, memory_format=LAYOUT)
    opt = torch.optim.Adam(net.parameters(), 3e-4)
    loss_fn = segmentation_loss("dice_ce")
    x = torch.randn(1, 4, patch, patch, patch, device=device).to(memory_format=LAYOUT)
    y = torch.randint(0, 4, (1, 1, patch, patch, patch), device=device)

    def evaluate(sel, grad):
        with torch.set_grad_enabled(grad):
            out = net(x, sel)
            loss = loss_fn(out, y)
        return Evaluation(loss, dice_per_sample(out.detach(), y, 4))

    def step() -> None:
        s.arch_step(evaluate)
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x, s.selection(for_weights=True)), y).backward()
        opt.step()

    row = measure(step, device, repeats)
    return {**row, "supernet_parameters": sum(p.numel() for p in net.parameters())}


def dints_step(patch: int, channels: int, device: str, repeats: int) -> dict[str, float]:
    from monai.networks.nets import DiNTS, TopologySearch

    torch.manual_seed(0)
    space = TopologySearch(channel_mul=channels / 32, num_blocks=6, num_depths=3, use_downsample=True, device=device)
    net = DiNTS(space, in_channels=4, num_classes=4, use_downsample=True).to(device, memory_format=LAYOUT)
    w_opt = torch.optim.Adam(net.weight_parameters(), 3e-4)
    a_opt = torch.optim.Adam([space.log_alpha_a, space.log_alpha_c], 3e-3)
    loss_fn = segmentation_loss("dice_ce")
    x = torch.randn(1, 4, patch, patch, patch, device=device).to(memory_format=LAYOUT)
    y = torch.randint(0, 4, (1, 1, patch, patch, patch), device=device)

    def step() -> None:
        a_opt.zero_grad(set_to_none=True)
        probs_a, _ = space.get_prob_a(child=True)
        loss = loss_fn(net(x), y) + 1e-3 * space.get_topology_entropy(probs_a)
        loss.backward()
        a_opt.step()
        w_opt.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        w_opt.step()

    row = measure(step, device, repeats)
    return {**row, "supernet_parameters": sum(p.numel() for p in net.weight_parameters())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--row", choices=ROWS, help=argparse.SUPPRESS)  # child process
    args = ap.parse_args()
    if args.row:
        run = dints_step if args.row == "dints" else lambda *a: segnas_step(args.row, *a)
        print(json.dumps({"row": args.row, **run(args.patch, args.channels, args.device, args.repeats)}))
        return
    print(header("search step"))
    dev = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"one architecture step + one weight step, 3D patch {args.patch}³, {args.channels} stem channels, "
          f"4 input channels, batch 1, device {dev}")
    common = ["--patch", str(args.patch), "--channels", str(args.channels), "--device", args.device, "--repeats", str(args.repeats)]
    rows = {r: run_isolated(__file__, ["--row", r, *common]) for r in ROWS}
    d = rows["darts"]
    print(f"{'row':<10}{'params M':>10}{'added MB':>10}{'× darts':>9}{'s/step':>9}{'× darts':>9}")
    for name, r in rows.items():
        print(f"{name:<10}{r['supernet_parameters'] / 1e6:>10.2f}{r['added_mb']:>10.0f}{r['added_mb'] / d['added_mb']:>9.2f}"
              f"{r['seconds']:>9.2f}{r['seconds'] / d['seconds']:>9.2f}")
    g, m = rows["gumbel2"], rows["dints"]
    print(f"gumbel2 vs DiNTS: memory {g['added_mb'] / m['added_mb']:.2f}×, time {g['seconds'] / m['seconds']:.2f}×")


if __name__ == "__main__":
    main()
