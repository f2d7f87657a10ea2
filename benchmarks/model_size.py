"""Parameters and GFLOPs of found networks near the papers' configurations (meta device: no memory, seconds).

    python benchmarks/model_size.py [--archs 20]

- SCNAS (`unet`) at 68 stem channels on a 4-channel 128³ input, 4 classes (MSD brain tumour);
  the paper reports 424.76 GFLOPs (its 3D U-ResNet baseline: 419.59).
- Thrifty NAS (`nested`, 2D, 256², 2 classes) at several widths; the paper reports 0.61 M parameters.
Figures are over random architectures of each space (min / median / max), and for the two extremes
"every edge conv3" and "every edge identity", because the found cells decide the cost.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import header  # noqa: E402

from segnas.app.show import summarize  # noqa: E402
from segnas.nas.arch import OpChoice  # noqa: E402
from segnas.nas.spaces import SPACES  # noqa: E402


def uniform(space: str, op: str, **settings: object):
    """An architecture with `op` on every edge (inputs as a random architecture chose them)."""
    arch = SPACES[space].random(0, **settings)
    for c in SPACES[space].choices(**settings):
        if isinstance(c, OpChoice):
            arch.values[c.label] = op
    return arch


def spread(values: list[float], fmt: str) -> str:
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", type=int, default=20)
    args = ap.parse_args()
    print(header("model size"))
    s = dict(dims=3, channels=68, in_channels=4, num_classes=4)
    patch = (128, 128, 128)
    rows = [summarize(SPACES["unet"].random(i, **s), patch) for i in range(args.archs)]
    print(f"\nSCNAS unet, 68 stem channels, 4×128³ input, {args.archs} random architectures (min / median / max):")
    print(f"  parameters (M): {spread([r['parameters'] / 1e6 for r in rows], '{:.2f}')}")
    print(f"  GFLOPs (2 per multiply-add): {spread([r['gflops'] for r in rows], '{:.1f}')}   (paper: 424.76)")
    for op in ("conv3", "identity"):
        r = summarize(uniform("unet", op, **s), patch)
        print(f"  every edge {op}: {r['parameters'] / 1e6:.2f} M parameters, {r['gflops']:.1f} GFLOPs")
    r48 = summarize(SPACES["unet"].random(0, **{**s, "channels": 48}), patch)
    print(f"  search width 48 (random arch 0): {r48['parameters'] / 1e6:.2f} M parameters, {r48['gflops']:.1f} GFLOPs; "
          f"supernet {r48['supernet_parameters'] / 1e6:.1f} M parameters")
    print("\nThrifty nested, 2D, 256², 1 input channel, 2 classes:")
    for c in (16, 32, 48, 64, 80):
        t = dict(dims=2, channels=c, in_channels=1, num_classes=2)
        rows = [summarize(SPACES["nested"].random(i, **t), (256, 256)) for i in range(args.archs)]
        conv = summarize(uniform("nested", "conv3", **t), (256, 256))
        print(f"  C={c:>3}: parameters (M) {spread([r['parameters'] / 1e6 for r in rows], '{:.3f}')}, "
              f"GFLOPs {spread([r['gflops'] for r in rows], '{:.2f}')}; every edge conv3: {conv['parameters'] / 1e6:.3f} M   (paper: 0.61 M)")


if __name__ == "__main__":
    main()
