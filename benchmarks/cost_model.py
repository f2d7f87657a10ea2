"""How well the cost model predicts a training step on this machine (issue 23's "within 25 %").

    python benchmarks/cost_model.py [--patch 64 64 32] [--width 16] [--archs 10] [--threads 1] [--device cpu]
    python benchmarks/cost_model.py --every conv3 --set tie=cell stem_stride=2 ...   # and every-conv3 networks, tied

For each preset's space (scnas → unet, thrifty → nested) with the preset's settings at `--width` stem channels,
3D, 1 channel in, 2 classes, batch 2: every op of every edge is timed (`segnas.nas.timing`), the fixed part is
calibrated on 4 random architectures (seeds 0–3: step = fixed + scale × Σ ops), and then `--archs` other random architectures (seeds 100…) are
built and timed for a whole training step (forward, cross-entropy, backward, Adam). Prints predicted and measured
milliseconds per architecture, the relative errors, and MONAI UNet's step beside them; `--json` writes the rows.
`--every OP` also times each random architecture with every op decision set to OP (a found network runs a state's
`conv3` edges as one convolution, which ops timed one edge at a time do not see); `--set` changes the presets'
space settings (e.g. the tied, half-grid space the search by training uses on LA).
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
from _common import every_op, header  # noqa: E402

from segnas.config import PRESETS, parse_overrides, parse_value  # noqa: E402
from segnas.data.plan import Plan  # noqa: E402
from segnas.nas.cost import calibrate, predicted_vs_measured, reference_ms, relative_error, space_cost  # noqa: E402
from segnas.nas.spaces import get_space  # noqa: E402
from segnas.nas.timing import CostTable  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patch", type=int, nargs="+", default=[64, 64, 32])
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--archs", type=int, default=10)
    ap.add_argument("--presets", nargs="+", default=["scnas", "thrifty"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--every", nargs="*", default=[], metavar="OP", help="also each architecture with every op set to OP")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="space settings of the presets' spaces")
    ap.add_argument("--json", type=Path, help="write every row here")
    args = ap.parse_args()
    space_set = {k: parse_value(v) for k, v in parse_overrides(args.set).items()}
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
                                     "channels": args.width, **space_set})
        t0 = time.perf_counter()
        table = CostTable(None, device)
        cost, calibration = calibrate(space_cost(table, p["space"], settings, args.patch, 2), p["space"], settings, args.patch, 2, device)
        seconds = time.perf_counter() - t0
        print(f"\n{preset} ({p['space']}): {table.measured} op costs measured and {len(calibration)} calibration steps in "
              f"{seconds:.0f} s; step = {cost.fixed_ms:.0f} ms + {cost.scale:.2f} × the ops' sum")
        rows = []
        for op in [None, *args.every]:
            for i in range(args.archs):
                arch = space.random(seed=100 + i, **settings)
                if op:
                    arch = every_op(arch, op)
                predicted, measured = predicted_vs_measured(cost, arch, args.patch, 2, device)
                rows.append({"seed": 100 + i, "every": op, "predicted_ms": round(predicted, 1), "measured_ms": round(measured, 1),
                             "error": round(relative_error(predicted, measured), 3), "measured_vs_unet": round(measured / unet, 2)})
                print(f"  seed {100 + i}{f', every op {op}' if op else ''}: predicted {predicted:7.0f} ms, measured "
                      f"{measured:7.0f} ms, error {rows[-1]['error']:.0%}, {measured / unet:.1f}× UNet")
            errors = [r["error"] for r in rows if r["every"] == op]
            within = sum(e <= 0.25 for e in errors)
            print(f"  {f'every op {op}: ' if op else ''}{within}/{len(errors)} within 25 %; median error "
                  f"{statistics.median(errors):.0%}, largest {max(errors):.0%}")
        spaces[preset] = {"settings": settings, "calibration": calibration, "fixed_ms": cost.fixed_ms, "scale": cost.scale,
                          "setup_seconds": seconds, "rows": rows}
    if args.json:
        out = {"patch": args.patch, "width": args.width, "threads": args.threads, "set": space_set, "monai_unet_ms": unet,
               "spaces": spaces}
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
