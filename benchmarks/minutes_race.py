"""`segnas run --preset scnas --minutes M` against MONAI's UNet trained for the same M minutes (issue 23).

Two sides per dataset, each its own process (run them side by side so that they share the machine alike):

    python minutes_race.py --dataset la --side race --minutes 60 --out OUT
    python minutes_race.py --dataset la --side unet --minutes 60 --out OUT
    python minutes_race.py --dataset la --report --out OUT

`race` is the user's command: a budgeted, hardware-aware search, the race at equal wall clock and the winner's
training until M minutes are used, then its prediction of fold 0's validation cases. `unet` plans the same folds,
trains MONAI's UNet with the same recipe for M minutes on all of the fold's training cases (its last weights:
nothing selected on any case) and predicts the same cases. Both are scored in the cases' original geometry;
`--report` gives per-case Dice, the paired Wilcoxon p and the race's rung table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from _common import SHARED_DATA, header, read_log
from real_data import case_dice
from scipy.stats import wilcoxon

DATASETS: dict[str, dict[str, Any]] = {
    "la": {"folder": "LA2018_down2", "patch": [80, 64, 32], "group": None},
    "acdc": {"folder": "ACDC_subset", "patch": [128, 128, 16], "group": r"(patient\d+)"},
    "isbi": {"folder": "ISBI2012_membrane_2D", "patch": [256, 256], "group": None},  # 2D: a CPU affords its race
}
WIDTH = 16  # stem channels of every trained network (CPU-sized; the cost model is measured at it too)


def recipe(patch: list[int]) -> dict[str, Any]:
    """The one training recipe of both sides (issue 20's defaults at a CPU batch and patch)."""
    return {"batch_size": 2, "patch_size": patch, "width": WIDTH, "loss": "dice_ce", "weight_lr": 1e-3, "workers": 0}


def run_race(ds: str, out: Path, minutes: float, min_unit_steps: int | None = None, seed: int = 0) -> None:
    """The user's command, as a user types it (`min_unit_steps`: its `--min-unit-steps`, else segnas's default;
    `seed`: the training seed of every network it trains)."""
    spec = DATASETS[ds]
    args = [sys.executable, "-m", "segnas", "run", str(SHARED_DATA / spec["folder"]), "--work", str(out / ds / "race"),
            "--preset", "scnas", "--fold", "0", "--num-folds", "5", "--minutes", str(minutes), "--workers", "1",
            "--search-set", "workers=0", "--search-set", f"cost_width={WIDTH}"]
    if spec["group"]:
        args += ["--group", spec["group"]]
    if min_unit_steps is not None:
        args += ["--min-unit-steps", str(min_unit_steps)]
    for k, v in {**recipe(spec["patch"]), "seed": seed}.items():
        args += ["--train-set", f"{k}={json.dumps(v)}"]
    subprocess.run(args, check=True)


def run_unet(ds: str, out: Path, minutes: float, seed: int = 0) -> None:
    """MONAI's UNet, the same folds and recipe, M minutes of training, last weights, fold 0's validation cases."""
    from rich.console import Console

    from segnas.app.pipeline import predict_stage
    from segnas.config import TrainConfig, make_config
    from segnas.data.plan import load_plan, plan_dataset
    from segnas.data.preprocess import preprocess_dataset
    from segnas.data.splits import load_fold
    from segnas.runtime.workspace import Workspace
    from segnas.training.train import baseline_file, train

    spec = DATASETS[ds]
    ws = Workspace(out / ds / "unet")
    if not ws.plan.is_file():
        plan_dataset(SHARED_DATA / spec["folder"], ws.root, workers=1, folds=5, seed=0, group_pattern=spec["group"])
    preprocess_dataset(ws.root, workers=1)
    cfg = make_config("scnas", {**recipe(spec["patch"]), "epochs": 10**5, "steps_per_epoch": 50, "max_minutes": minutes, "select": "last",
                                "val_every": 0, "fold": 0, "seed": seed}, TrainConfig)
    run = ws.root / "runs" / "monai_unet"
    if not (run / "summary.json").is_file():
        arch = baseline_file(ws, "monai_unet", spec["patch"])  # as the race configures it: at the training patch
        train(ws.root, arch, cfg, run, resume=(run / "checkpoint.pt").is_file())
    out_dir = ws.root / "predictions" / "monai_unet" / "fold0"
    if not (out_dir / "metrics.json").is_file():
        predict_stage(ws, load_plan(ws), run, load_fold(ws, 0).val, out_dir, None, Console(stderr=True))


def report(ds: str, out: Path) -> dict[str, Any]:
    """Per-case Dice of both sides, the paired Wilcoxon, the race's split and rung table → OUT/<ds>/report.json."""
    race_dir, unet_dir = out / ds / "race", out / ds / "unet"
    a = case_dice(json.loads((race_dir / "predictions" / "scnas" / "fold0" / "metrics.json").read_text()))
    b = case_dice(json.loads((unet_dir / "predictions" / "monai_unet" / "fold0" / "metrics.json").read_text()))
    if set(a) != set(b):
        sys.exit(f"{ds}: the two sides predicted other cases ({sorted(set(a) ^ set(b))}): their plans differ")
    cases = sorted(a)
    diff = np.array([a[c] - b[c] for c in cases])
    split = json.loads((race_dir / "race" / "fold0" / "split.json").read_text())
    if split.get("fallback"):  # no search and no race: the run trained this baseline for all its minutes
        summary = {"winner": split["fallback"], "winner_is_searched": False, "candidates": {}}
    else:
        summary = json.loads((race_dir / "race" / "fold0" / "summary.json").read_text())
    unet_log = read_log(unet_dir / "runs" / "monai_unet" / "log.jsonl")
    fallback_log = race_dir / "runs" / f"minutes_{split['fallback']}_fold0" / "log.jsonl" if split.get("fallback") else None
    race_log = read_log(fallback_log) if fallback_log is not None and fallback_log.is_file() else []
    result = {"dataset": ds, "cases": cases, "race": [a[c] for c in cases], "unet": [b[c] for c in cases],
              "race_mean": float(np.mean([a[c] for c in cases])), "unet_mean": float(np.mean([b[c] for c in cases])),
              "race_better_cases": int((diff > 0).sum()), "wilcoxon_p": float(wilcoxon(diff).pvalue) if diff.any() else 1.0,
              "winner": summary["winner"], "winner_is_searched": summary["winner_is_searched"], "split": split,
              "rungs": {n: r["rungs"] for n, r in summary["candidates"].items()},
              "step_ms": {n: r["step_ms"] for n, r in summary["candidates"].items()},
              "unet_epochs": len(unet_log), "unet_steps": len(unet_log) * steps_per_epoch(unet_dir / "runs" / "monai_unet"),
              "unet_train_minutes": sum(r.get("seconds", 0.0) for r in unet_log) / 60,
              "fallback_steps": len(race_log) * steps_per_epoch(fallback_log.parent) if fallback_log and race_log else 0,
              "fallback_train_minutes": sum(r.get("seconds", 0.0) for r in race_log) / 60}
    (out / ds / "report.json").write_text(json.dumps(result, indent=1))
    print(header(f"minutes_race {ds}"))
    print(f"{ds}: race winner {result['winner']} ({'searched space' if result['winner_is_searched'] else 'baseline'}) "
          f"{result['race_mean']:.4f} vs MONAI UNet {result['unet_mean']:.4f}; race better on {result['race_better_cases']}/"
          f"{len(cases)} cases, Wilcoxon p = {result['wilcoxon_p']:.3g}")
    print("split:", json.dumps(split))
    if race_log:
        print(f"  the race side trained {split['fallback']} for {result['fallback_steps']} steps, {result['fallback_train_minutes']:.1f} min; "
              f"the UNet side {result['unet_steps']} steps, {result['unet_train_minutes']:.1f} min")
    for n, r in sorted(result["rungs"].items()):
        print(f"  {n:14s} {result['step_ms'][n]:>8} ms/step  " + "  ".join(f"{k}: {v:.3f}" for k, v in r.items()))
    return result


def steps_per_epoch(run: Path) -> int:
    """A training run's steps per epoch, from its config.json."""
    return int(json.loads((run / "config.json").read_text())["steps_per_epoch"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=sorted(DATASETS), required=True)
    p.add_argument("--side", choices=["race", "unet"])
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--min-unit-steps", type=int, help="the race side's `segnas run --min-unit-steps` (default: segnas's)")
    p.add_argument("--seed", type=int, default=0, help="training seed of both sides (the folds are planned with seed 0)")
    p.add_argument("--report", action="store_true")
    a = p.parse_args()
    if not (SHARED_DATA / DATASETS[a.dataset]["folder"]).is_dir():
        sys.exit(f"{SHARED_DATA / DATASETS[a.dataset]['folder']}: not found")
    if a.report:
        report(a.dataset, a.out)
    elif a.side == "race":
        run_race(a.dataset, a.out, a.minutes, a.min_unit_steps, a.seed)
    elif a.side == "unet":
        run_unet(a.dataset, a.out, a.minutes, a.seed)
    else:
        p.error("give --side race|unet or --report")


if __name__ == "__main__":
    main()
