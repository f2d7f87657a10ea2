"""Two finished trainings of the benchmarks compared per case, and their steps timed beside MONAI UNet's (issue 23).

Each name is a training folder under `OUT/DATASET/train/` as `search_signal.py train` and `macro.py` make them
(one recipe: segnas's default, `--steps` steps, last weights, fold 0's validation cases scored in their original
geometry). Reported: each network's mean Dice, the paired per-case difference with its Wilcoxon p, seconds per
step read from each training's log, and with `--time` one training step of each trained architecture and of
MONAI UNet timed in isolated processes on random data at the trainings' patch (`train_step.py`), as ratios.

    cd benchmarks
    OMP_NUM_THREADS=1 ../.venv/bin/python versus.py --out OUT/la --one scnas_1122_seed0 --two searched_cost1_stem2_seed0 \
        --steps 1000 --time
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from _common import header, paired, run_isolated
from macro import step_seconds
from real_data import case_dice

from segnas.runtime.files import read_json, write_json


def trained(out: Path, name: str, steps: int) -> tuple[Path, dict[str, float]]:
    """The run folder of a finished training and its per-case Dice."""
    folder = out / "train" / name
    metrics = folder / "predictions" / f"{steps}steps" / "metrics.json"
    if not metrics.is_file():
        raise SystemExit(f"{metrics}: not there — train {name} for {steps} steps first")
    return folder / "runs" / f"{steps}steps", case_dice(read_json(metrics))


def step_ratios(runs: dict[str, Path], repeats: int) -> dict[str, dict[str, Any]]:
    """One training step of each run's architecture and of MONAI UNet at the runs' patch, each in its own process."""
    script = str(Path(__file__).with_name("train_step.py"))
    run = next(iter(runs.values()))
    patch = [str(p) for p in read_json(run / "config.json")["patch_size"] or read_json(run / "plan.json")["patch_size"]]
    common = ["--patch", *patch, "--repeats", str(repeats), "--threads", "1", "--device", "cpu"]
    rows = {"monai_unet": "monai_unet", **{name: str(run / "arch.json") for name, run in runs.items()}}
    timed = {name: run_isolated(script, ["--row", row, *common]) for name, row in rows.items()}
    base = timed["monai_unet"]["seconds"]
    return {name: {**v, "ratio": v["seconds"] / base} for name, v in timed.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="a dataset's folder of the benchmarks (OUT/la)")
    ap.add_argument("--one", required=True, help="the training compared against")
    ap.add_argument("--two", required=True, help="the training compared")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--two-steps", type=int, help="steps of the compared training, if other (e.g. at equal time)")
    ap.add_argument("--time", action="store_true", help="also time one step of each beside MONAI UNet")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    steps2 = args.two_steps or args.steps
    (run1, one), (run2, two) = trained(args.out, args.one, args.steps), trained(args.out, args.two, steps2)
    pair = paired(one, two)
    print(header(f"{args.two} ({steps2} steps) vs {args.one} ({args.steps} steps) on {args.out.name}"))
    secs = {args.one: step_seconds(run1), args.two: step_seconds(run2)}
    print(f"\n| network | mean Dice | s/step (training log) |\n|---|---:|---:|\n"
          f"| {args.one} | {pair['dice'][0]:.3f} | {secs[args.one]:.2f} |\n| {args.two} | {pair['dice'][1]:.3f} | {secs[args.two]:.2f} |")
    print(f"\n{args.two} − {args.one}: {pair['delta']:+.4f} Dice per case, higher on {pair['wins']}/{pair['cases']} cases, "
          f"Wilcoxon p = {pair['p']:.2g}")
    summary: dict[str, Any] = {"steps": args.steps, "two_steps": steps2, "one": args.one, "two": args.two, **pair,
                               "seconds_per_step": secs, "per_case": {args.one: one, args.two: two}}
    if args.time:
        summary["timed"] = timed = step_ratios({args.one: run1, args.two: run2}, args.repeats)
        print("\n| network | params M | s/step (isolated) | × UNet |\n|---|---:|---:|---:|")
        for name, v in timed.items():
            print(f"| {name} | {v['parameters'] / 1e6:.2f} | {v['seconds']:.3f} | {v['ratio']:.2f} |")
    steps = f"{args.steps}steps" if steps2 == args.steps else f"{steps2}vs{args.steps}steps"
    write_json(args.out / f"versus_{args.two}_vs_{args.one}_{steps}.json", summary)


if __name__ == "__main__":
    main()
