"""One training step (forward, Dice + CE backward, Adam) of each preset's networks and of the MONAI baselines.

    python benchmarks/train_step.py [--patch 80 64 32] [--width 16] [--threads 1] [--device cpu|cuda] [--repeats 3]
    python benchmarks/train_step.py --arch runs/train_x/arch.json ...   # time these architectures instead
    python benchmarks/train_step.py --profile 8 ...   # and where each step goes: its 8 costliest kernels
    python benchmarks/train_step.py --unfused ...     # and each searched row again, its cells run edge by edge

Each row runs in its own process: a random architecture drawn from each preset's space with the preset's
settings (3D, 1 input channel, 2 classes, `--width` stem channels; seed 1000 as real_data.py draws them),
MONAI UNet and DynUNet as `baselines.py` configures them (1 mm spacing), batch 2, channels-last on 3D as
`segnas train` runs them. Prints median seconds per step and the ratio to MONAI UNet measured in the same
run; run it from another checkout (PYTHONPATH=that/checkout) to compare versions of the ops.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import every_op, header, measure, run_isolated  # noqa: E402

from segnas.config import PRESETS, parse_overrides, parse_value  # noqa: E402
from segnas.data.plan import Plan  # noqa: E402
from segnas.nas.arch import Architecture, load_architecture  # noqa: E402
from segnas.nas.spaces import get_space  # noqa: E402
from segnas.nas.spaces.cell import Cell  # noqa: E402
from segnas.networks.baselines import BASELINES, baseline_architecture  # noqa: E402
from segnas.networks.model import build_network, memory_format  # noqa: E402
from segnas.training.losses import segmentation_loss  # noqa: E402

SEARCHED = ("scnas", "ronasmis", "thrifty")
UNFUSED = "@unfused"  # a row's suffix: its cells run edge by edge (`Cell.fuse` off)


def architecture(row: str, patch: list[int], width: int, space_set: dict[str, Any] | None = None) -> Architecture:
    """The network of a row: a baseline, a preset's random draw, `PRESET:OP` (the draw with every op decision set
    to OP: `scnas:identity` is what the space costs besides its ops), or an arch.json path."""
    if row in BASELINES:
        return baseline_architecture(row, Plan.of(len(patch), 1, 2, patch), patch)
    name, _, op = row.partition(":")
    if name in PRESETS:
        preset = PRESETS[name]
        settings = {**preset["space_settings"], "dims": len(patch), "in_channels": 1, "num_classes": 2, "channels": width,
                    **(space_set or {})}
        arch = get_space(preset["space"]).random(seed=1000, **settings)
        return every_op(arch, op) if op else arch
    return load_architecture(row)


def step_time(row: str, patch: list[int], width: int, device: str, repeats: int, profile: int = 0,
              space_set: dict[str, Any] | None = None) -> dict[str, Any]:
    """Median seconds of one training step on random data; with `profile` > 0, also the step's costliest kernels
    (torch.profiler's self time, one more step)."""
    torch.manual_seed(0)
    row, unfused = row.removesuffix(UNFUSED), row.endswith(UNFUSED)
    arch = architecture(row, patch, width, space_set)
    layout = memory_format(len(patch), True)
    net = build_network(arch).to(device, memory_format=layout).train()
    for cell in (m for m in net.modules() if isinstance(m, Cell)):
        cell.fuse = not unfused  # edge by edge, as cells ran before a state's edges ran together
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    loss_fn = segmentation_loss("dice_ce")
    c, k = arch.settings["in_channels"], arch.settings["num_classes"]
    x = torch.randn(2, c, *patch, device=device).to(memory_format=layout)
    y = torch.randint(0, k, (2, 1, *patch), device=device)

    def step() -> None:
        out = net(x)
        loss = loss_fn(out[0] if isinstance(out, tuple) else out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    out: dict[str, Any] = {**measure(step, device, repeats), "parameters": sum(p.numel() for p in net.parameters())}
    if profile:
        with torch.profiler.profile() as prof:
            step()
        kernels = [e for e in prof.key_averages() if e.key.startswith("aten::")]
        total = sum(e.self_cpu_time_total for e in kernels)
        out["kernels"] = [(e.key, e.self_cpu_time_total / 1000, e.self_cpu_time_total / total, e.count)
                          for e in sorted(kernels, key=lambda e: -e.self_cpu_time_total)[:profile]]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patch", type=int, nargs="+", default=[80, 64, 32])
    ap.add_argument("--width", type=int, default=16, help="stem channels of the presets' networks")
    ap.add_argument("--arch", nargs="*", help="arch.json files to time instead of the presets' random draws")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads per row")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--profile", type=int, default=0, metavar="K", help="also print each row's K costliest kernels")
    ap.add_argument("--unfused", action="store_true", help="also time each searched row with its cells run edge by edge")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="space settings for the presets' rows (e.g. stem_stride=2)")
    ap.add_argument("--row", help=argparse.SUPPRESS)  # child process
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    space_set = {k: parse_value(v) for k, v in parse_overrides(args.set).items()}
    if args.row:
        print(json.dumps(step_time(args.row, args.patch, args.width, args.device, args.repeats, args.profile, space_set)))
        return
    print(header("training step"))
    print(f"batch 2 of {'×'.join(map(str, args.patch))}, width {args.width}, device {args.device}, "
          f"{args.threads} thread(s), median of {args.repeats}" + (f", presets' spaces with {' '.join(args.set)}" if args.set else ""))
    common = ["--patch", *map(str, args.patch), "--width", str(args.width), "--device", args.device,
              "--repeats", str(args.repeats), "--threads", str(args.threads), "--profile", str(args.profile),
              "--set", *args.set]
    searched = list(args.arch or SEARCHED)
    rows = ["monai_unet", "monai_dynunet", *searched, *([r + UNFUSED for r in searched] if args.unfused else [])]
    results = {r: run_isolated(__file__, ["--row", r, *common]) for r in rows}
    base = results["monai_unet"]["seconds"]
    print(f"{'network':<40}{'params M':>10}{'s/step':>9}{'× UNet':>8}{'added MB':>10}")
    for r, v in results.items():
        print(f"{r[-40:]:<40}{v['parameters'] / 1e6:>10.2f}{v['seconds']:>9.3f}{v['seconds'] / base:>8.2f}{v['added_mb']:>10.0f}")
    if args.unfused:
        print("edge by edge / a state's edges together: " + ", ".join(
            f"{Path(r).stem} {results[r + UNFUSED]['seconds'] / results[r]['seconds']:.2f}" for r in searched))
    for r, v in results.items():
        if v.get("kernels"):
            print(f"{r}: " + ", ".join(f"{k.removeprefix('aten::')} {ms:.0f} ms ({share:.0%}, {n}×)" for k, ms, share, n in v["kernels"]))


if __name__ == "__main__":
    main()
