"""How well the cost model predicts a training step on this machine (issue 23's "within 25 %").

    python benchmarks/cost_model.py [--patch 64 64 32] [--width 16] [--archs 10] [--threads 1] [--device cpu]

For each preset's space (scnas → unet, thrifty → nested) with the preset's settings at `--width` stem channels,
3D, 1 channel in, 2 classes, batch 2: every op of every edge is timed (`segnas.nas.cost`), the fixed part is
calibrated on 4 random architectures (seeds 0–3: step = fixed + scale × Σ ops), and then `--archs` other random architectures (seeds 100…) are
built and timed for a whole training step (forward, cross-entropy, backward, Adam). Prints predicted and measured
milliseconds per architecture, the relative errors, and MONAI UNet's step beside them; `--json` writes the rows.
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
from _common import header  # noqa: E402

from segnas.config import PRESETS  # noqa: E402
from segnas.data.plan import Plan  # noqa: E402
from segnas.nas.cost import CostTable, calibrate, predicted_vs_measured, reference_ms, relative_error, space_cost  # noqa: E402
from segnas.nas.spaces import get_space  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patch", type=int, nargs="+", default=[64, 64, 32])
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--archs", type=int, default=10)
    ap.add_argument("--presets", nargs="+", default=["scnas", "thrifty"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", type=Path, help="write every row here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(header("cost model: predicted vs measured training step"))
    plan = Plan.of(len(args.patch), 1, 2, args.patch)
    unet = reference_ms(plan, args.patch, 2, device)
    print(f"MONAI UNet (16…256, 2 residual units), batch 2, patch {args.patch}: {unet:.0f} ms per step")
    spaces: dict[str, object] = {}
    for preset in args.presets:
        p = PRESETS[preset]
        space = get_space(p["space"])
        settings = space.settings(**{**p["space_settings"], "dims": len(args.patch), "in_channels": 1, "num_classes": 2,
                                     "channels": args.width})
        t0 = time.perf_counter()
        table = CostTable(None, device)
        cost, calibration = calibrate(space_cost(table, p["space"], settings, args.patch, 2), p["space"], settings, args.patch, 2, device)
        seconds = time.perf_counter() - t0
        print(f"\n{preset} ({p['space']}): {table.measured} op costs measured and {len(calibration)} calibration steps in "
              f"{seconds:.0f} s; step = {cost.fixed_ms:.0f} ms + {cost.scale:.2f} × the ops' sum")
        rows = []
        for i in range(args.archs):
            arch = space.random(seed=100 + i, **settings)
            predicted, measured = predicted_vs_measured(cost, arch, args.patch, 2, device)
            rows.append({"seed": 100 + i, "predicted_ms": round(predicted, 1), "measured_ms": round(measured, 1),
                         "error": round(relative_error(predicted, measured), 3), "measured_vs_unet": round(measured / unet, 2)})
            print(f"  seed {100 + i}: predicted {predicted:7.0f} ms, measured {measured:7.0f} ms, error {rows[-1]['error']:.0%}, "
                  f"{measured / unet:.1f}× UNet")
        errors = [r["error"] for r in rows]
        within = sum(e <= 0.25 for e in errors)
        print(f"  {within}/{len(rows)} within 25 %; median error {statistics.median(errors):.0%}, largest {max(errors):.0%}")
        spaces[preset] = {"settings": settings, "calibration": calibration, "fixed_ms": cost.fixed_ms, "scale": cost.scale,
                          "setup_seconds": seconds, "rows": rows}
    if args.json:
        out = {"patch": args.patch, "width": args.width, "threads": args.threads, "monai_unet_ms": unet, "spaces": spaces}
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
