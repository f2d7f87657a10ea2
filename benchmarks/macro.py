"""What the `unet` space's fixed part costs and buys: the same architectures with `stem_stride` 1 and 2 (issue 23).

With `stem_stride` 2 the stem convolution halves the input and a transposed convolution brings the logits back
to full resolution, as MONAI's UNet does, so every cell runs on an eighth of the voxels (3D). Each architecture
(`--random N` draws of a preset's space, as `search_signal.py` draws them, and any `--arch` files) is trained
twice with one recipe for `--train-steps` steps — once as drawn, once with `stem_stride` 2 — and fold 0's
validation cases are predicted and scored in their original geometry. Reported: each pair's mean Dice and
seconds per step (from the training's log), and a paired per-case Wilcoxon per pair and over all pairs.

    cd benchmarks
    OMP_NUM_THREADS=1 ../.venv/bin/python macro.py --dataset la --out OUT --set tie=cell --tag tiecell --random 5 --train-steps 150 --width 8
    OMP_NUM_THREADS=1 ../.venv/bin/python macro.py … --train-steps 600 --stride1-steps 150   # ≤ stride 1's time

Trainings are named as `search_signal.py` names them (`random_tiecell0_seed0`, and `…_stem2_seed0`), so with
the same `--out` a training already finished there is reused rather than run again.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from _common import header, paired, read_log
from real_data import DATASETS, case_dice, prepare
from scipy.stats import wilcoxon
from search_signal import random_label, run_training

from segnas.config import PRESETS, parse_overrides, parse_value
from segnas.nas.arch import Architecture, load_architecture
from segnas.nas.spaces import get_space
from segnas.runtime.files import read_json, write_json


def variants(out: Path, preset: str, random: int, tag: str, sets: dict[str, Any], extra: list[Path]) -> dict[str, Path]:
    """name → arch.json of every architecture as drawn (or given) and with `stem_stride` 2 (`NAME_stem2`)."""
    folder = out / "random"
    folder.mkdir(parents=True, exist_ok=True)
    archs: dict[str, Path] = {}
    p = PRESETS[preset]
    for i in range(random):
        path = folder / f"{preset}{tag and '_' + tag}_{i}.json"
        if not path.is_file():  # the plan's dims and channels are set at training; the draw needs only the space's settings
            get_space(p["space"]).random(seed=1000 + i, **{**p["space_settings"], **sets}).save(path)
        archs[random_label(i, tag)] = path
    for path in extra:
        archs[path.stem] = path
    for name, path in list(archs.items()):
        arch = load_architecture(path)
        strided = folder / f"{name}_stem2.json"
        if not strided.is_file():
            Architecture(arch.space, {**arch.settings, "stem_stride": 2}, dict(arch.values)).save(strided)
        archs[f"{name}_stem2"] = strided
    return archs


def step_seconds(run: Path) -> float:
    """Median seconds per training step of a finished training (its log's epoch times over its steps per epoch)."""
    steps = read_json(run / "config.json")["steps_per_epoch"]
    rows = read_log(run / "log.jsonl")
    return float(np.median([r["seconds"] / steps for r in rows if r.get("seconds")]))


def report(out: Path, names: list[str], steps: int, seeds: list[int], steps1: int | None = None) -> dict[str, Any]:
    """Print and return each pair's figures and the pooled paired test (stride 1 trained `steps1` steps, if other)."""
    steps1 = steps1 or steps
    print(header(f"stem stride 1 ({steps1} training steps) vs 2 ({steps}) on {out.name}"))
    print("\n| architecture | seed | Dice, stride 1 | Dice, stride 2 | Δ | wins (2 > 1) | Wilcoxon p | s/step 1 | s/step 2 | step ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    summary: dict[str, Any] = {"steps": steps, "stride1_steps": steps1, "pairs": {}}
    pooled: list[float] = []
    for name in names:
        for ts in seeds:
            folders = [out / "train" / f"{n}_seed{ts}" for n in (name, f"{name}_stem2")]
            runs = [f"{steps1}steps", f"{steps}steps"]
            metrics = [f / "predictions" / r / "metrics.json" for f, r in zip(folders, runs)]
            if not all(m.is_file() for m in metrics):
                continue
            one, two = (case_dice(read_json(m)) for m in metrics)
            pair = paired(one, two)
            pooled += pair.pop("diff")
            secs = [step_seconds(f / "runs" / r) for f, r in zip(folders, runs)]
            row = {**pair, "seconds_per_step": secs, "per_case": {"stride1": one, "stride2": two}}
            summary["pairs"][f"{name}_seed{ts}"] = row
            print(f"| {name} | {ts} | {row['dice'][0]:.3f} | {row['dice'][1]:.3f} | {row['dice'][1] - row['dice'][0]:+.3f} | "
                  f"{row['wins']}/{row['cases']} | {row['p']:.2g} | {secs[0]:.2f} | {secs[1]:.2f} | {secs[0] / secs[1]:.1f}× |")
    if pooled:
        p = float(wilcoxon(pooled).pvalue) if any(pooled) else 1.0
        summary["pooled"] = {"mean_delta": float(np.mean(pooled)), "pairs_of_cases": len(pooled), "p": p}
        print(f"\nall pairs: stride 2 − stride 1 = {np.mean(pooled):+.4f} Dice per case over {len(pooled)} paired cases, "
              f"Wilcoxon p = {p:.2g}")
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=list(DATASETS), default="la")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--preset", default="scnas")
    ap.add_argument("--set", nargs="*", default=[], help="space settings of the draws, KEY=VALUE (e.g. tie=cell)")
    ap.add_argument("--tag", default="", help="names the draws of a space drawn with --set (as search_signal.py does)")
    ap.add_argument("--random", type=int, default=5, help="random architectures of the preset's space")
    ap.add_argument("--arch", type=Path, nargs="*", default=[], help="arch.json files to compare as well")
    ap.add_argument("--train-steps", type=int, default=150)
    ap.add_argument("--stride1-steps", type=int, help="compare with stride-1 trainings of this many steps (default: as many)")
    ap.add_argument("--train-seeds", type=int, nargs="*", default=[0])
    ap.add_argument("--width", type=int, default=8, help="stem channels of every trained network")
    ap.add_argument("--only", nargs="*", help="train only these networks (random_tiecell0_stem2, …)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--report", action="store_true", help="report what is finished; train nothing")
    args = ap.parse_args()
    out = args.out / args.dataset
    sets = {k: parse_value(v) for k, v in parse_overrides(args.set).items()}
    archs = variants(out, args.preset, args.random, args.tag, sets, args.arch)
    if not args.report:
        base = prepare(args.dataset, args.out)
        for name, arch in archs.items():
            if args.only and name not in args.only:
                continue
            steps = args.train_steps if name.endswith("_stem2") else args.stride1_steps or args.train_steps
            for ts in args.train_seeds:
                run_training(base, out, name, arch, steps, ts, args.width, args.workers)
    names = [n for n in archs if not n.endswith("_stem2")]
    steps1 = args.stride1_steps or args.train_steps
    write_json(out / f"macro_{args.preset}{args.tag and '_' + args.tag}_{steps1}vs{args.train_steps}steps.json",
               report(out, names, args.train_steps, args.train_seeds, steps1))


if __name__ == "__main__":
    main()
