"""Speed and memory on one device: search steps per strategy vs MONAI DiNTS, training throughput with
and without mixed precision, and sliding-window inference — the figures issue 6 asks for.

    python benchmarks/gpu.py                       # on a GPU: patches 64, 96, 128, 48 stem channels (fits in 10 min)
    python benchmarks/gpu.py --patches 32 48 --channels 16 --train-patch 48 --volume 96   # a CPU-sized run

Search rows run in their own processes (as search_step.py: one architecture step + one weight step,
4 input channels, batch 1, channels-last); a row that runs out of memory is reported as such.
Training: a random architecture of the `unet` space at `--width` stem channels, batch 2, Adam,
Dice + CE, fp32 vs autocast (bf16 where supported; CUDA only). Inference: MONAI's sliding window
(50 % overlap, Gaussian, 4 windows per batch) over one `--volume`³ case.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import header, run_isolated  # noqa: E402
from search_step import dints_step, segnas_step  # noqa: E402

from segnas.inference.predict import sliding_window  # noqa: E402
from segnas.nas.spaces import get_space  # noqa: E402
from segnas.networks.model import build_network  # noqa: E402
from segnas.runtime.precision import Precision  # noqa: E402
from segnas.training.losses import segmentation_loss  # noqa: E402

STRATEGIES = ["gumbel2", "darts", "pcdarts", "dints"]
LAYOUT = torch.channels_last_3d


def search_row(row: str, patch: int, channels: int, device: str) -> dict:
    """One strategy at one patch, or {'oom': True}."""
    try:
        if row == "dints":
            return dints_step(patch, channels, device, 2)
        return segnas_step(row, patch, channels, device, 2)
    except torch.cuda.OutOfMemoryError:
        return {"oom": True}
    except RuntimeError as e:  # CPU allocators raise plain RuntimeErrors
        if "memory" in str(e).lower():
            return {"oom": True}
        raise


def _network(width: int, device: str) -> torch.nn.Module:
    arch = get_space("unet").random(seed=0, dims=3, in_channels=4, num_classes=4, channels=width)
    return build_network(arch).to(device, memory_format=LAYOUT)


def _timed(fn, device: str, repeats: int) -> float:
    fn()  # warm-up (cuDNN autotuning, allocator)
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def train_row(width: int, patch: int, device: str, amp: bool, repeats: int) -> dict:
    """Training voxels per second of a found network (batch 2)."""
    torch.manual_seed(0)
    net = _network(width, device)
    opt = torch.optim.Adam(net.parameters(), 3e-4)
    loss_fn = segmentation_loss("dice_ce")
    x = torch.randn(2, 4, patch, patch, patch, device=device).to(memory_format=LAYOUT)
    y = torch.randint(0, 4, (2, 1, patch, patch, patch), device=device)
    precision = Precision(torch.device(device), amp)  # as `segnas train` runs it

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with precision.autocast():
            loss = loss_fn(net(x), y)
        precision.step(loss, opt)

    s = _timed(step, device, repeats)
    return {"seconds": s, "voxels_per_second": 2 * patch**3 / s}


def infer_row(width: int, patch: int, volume: int, device: str, amp: bool) -> dict:
    """Seconds for one volume³ case by sliding window."""
    net = _network(width, device).eval()
    x = torch.randn(1, 4, volume, volume, volume, device=device).to(memory_format=LAYOUT)

    def run() -> None:
        with torch.inference_mode(), Precision(torch.device(device), amp).autocast():
            sliding_window(net, x, [patch] * 3)

    return {"seconds": _timed(run, device, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    gpu = torch.cuda.is_available()
    ap.add_argument("--device", default="cuda" if gpu else "cpu")
    ap.add_argument("--patches", type=int, nargs="+", default=[64, 96, 128])
    ap.add_argument("--channels", type=int, default=48, help="stem channels during search")
    ap.add_argument("--width", type=int, default=68, help="stem channels of the trained network")
    ap.add_argument("--train-patch", type=int, default=128)
    ap.add_argument("--volume", type=int, default=192, help="edge of the cubic case for inference")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--row", help=argparse.SUPPRESS)  # child process: STRATEGY:PATCH
    args = ap.parse_args()
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
    if args.row:
        name, patch = args.row.split(":")
        print(json.dumps(search_row(name, int(patch), args.channels, args.device)))
        return
    dev = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(header(f"device benchmark on {dev}"))
    print(f"search step: {args.channels} stem channels, 4 input channels, batch 1; patches {args.patches}")
    print(f"{'strategy':<10}{'patch':>7}{'added MB':>10}{'× darts':>9}{'s/step':>9}")
    fits: dict[str, int] = {}
    for p in args.patches:
        rows = {s: run_isolated(__file__, ["--row", f"{s}:{p}", "--channels", str(args.channels), "--device", args.device])
                for s in STRATEGIES}
        d = rows["darts"]
        for s, r in rows.items():
            if r.get("oom"):
                print(f"{s:<10}{p:>7}{'out of memory':>28}")
                continue
            fits[s] = p
            ratio = f"{r['added_mb'] / d['added_mb']:.2f}" if not d.get("oom") else "—"
            print(f"{s:<10}{p:>7}{r['added_mb']:>10.0f}{ratio:>9}{r['seconds']:>9.2f}")
    print("largest tested patch that fits: " + ", ".join(f"{s} {fits.get(s, 'none')}" for s in STRATEGIES))
    print(f"training a found network at {args.width} stem channels, batch 2 of {args.train_patch}³:")
    fp32 = train_row(args.width, args.train_patch, args.device, False, args.repeats)
    print(f"  fp32: {fp32['voxels_per_second'] / 1e6:.2f} M voxels/s ({fp32['seconds']:.2f} s/step)")
    if args.device == "cuda":
        amp = train_row(args.width, args.train_patch, args.device, True, args.repeats)
        print(f"  mixed precision: {amp['voxels_per_second'] / 1e6:.2f} M voxels/s ({amp['seconds']:.2f} s/step), "
              f"{fp32['seconds'] / amp['seconds']:.2f}× fp32")
    else:
        print("  mixed precision: CUDA only (segnas trains in fp32 on CPU)")
    inf = infer_row(args.width, args.train_patch, args.volume, args.device, args.device == "cuda")
    print(f"sliding-window inference, {args.volume}³ case, {args.train_patch}³ windows: {inf['seconds']:.1f} s per case")


if __name__ == "__main__":
    main()
