"""Does a short training rank architectures as the full one does? For every finished training under a folder
(`NAME_seedS/runs/<steps>steps/log.jsonl` and `NAME_seedS/predictions/<steps>steps/metrics.json`, as
`search_signal.py train` writes them), the training loss after each epoch is set beside the final validation Dice,
per architecture (the mean over its seeds), with Kendall's τ at each epoch (issue 21: the race's short units).

    ../.venv/bin/python early_rank.py OUT/la/train --steps 1000 --exclude monai_unet --json early.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from _common import header, read_log
from real_data import case_dice
from scipy.stats import kendalltau


def collect(folder: Path, steps: int, exclude: list[str]) -> tuple[dict[str, float], dict[str, list[float]], int]:
    """(architecture → mean final Dice, architecture → mean training loss per epoch, epoch length in steps), over
    the trainings that finished; a training reached through a link to another is counted once."""
    dice: dict[str, list[float]] = defaultdict(list)
    losses: dict[str, list[list[float]]] = defaultdict(list)
    seen: set[Path] = set()
    epoch_steps = 0
    for metrics in sorted(folder.glob(f"*_seed*/predictions/{steps}steps/metrics.json")):
        training = metrics.parents[2]
        name = training.name.rsplit("_seed", 1)[0]
        log = training / "runs" / f"{steps}steps" / "log.jsonl"
        if name in exclude or training.resolve() in seen or not log.is_file():
            continue
        seen.add(training.resolve())
        dice[name].append(statistics.fmean(case_dice(json.loads(metrics.read_text())).values()))
        losses[name].append([r["train_loss"] for r in read_log(log) if "train_loss" in r])
        epoch_steps = json.loads((log.parent / "config.json").read_text())["steps_per_epoch"]
    epochs = min((len(run) for runs in losses.values() for run in runs), default=0)
    return ({n: statistics.fmean(d) for n, d in dice.items()},
            {n: [statistics.fmean(run[e] for run in runs) for e in range(epochs)] for n, runs in losses.items()}, epoch_steps)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="folder of trainings NAME_seedS")
    p.add_argument("--steps", type=int, default=1000, help="the trainings' full length (their folder names)")
    p.add_argument("--exclude", nargs="*", default=[], help="architectures left out (e.g. networks not of the space)")
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    dice, losses, epoch_steps = collect(a.folder, a.steps, a.exclude)
    names = sorted(dice, key=lambda n: -dice[n])
    if len(names) < 3:
        raise SystemExit(f"{a.folder}: {len(names)} finished trainings of {a.steps} steps; at least 3 are needed")
    print(header(f"early rank: {a.folder}, {len(names)} architectures"))
    epochs = len(losses[names[0]])
    rows: list[dict[str, Any]] = []
    print("\n| after steps | Kendall τ (−training loss vs final Dice) | p | best by loss (its final Dice) |\n|---:|---:|---:|---|")
    for e in range(epochs):
        t = kendalltau([-losses[n][e] for n in names], [dice[n] for n in names])
        best = min(names, key=lambda n: losses[n][e])
        rows.append({"steps": (e + 1) * epoch_steps, "tau": float(t.statistic), "p": float(t.pvalue), "best": best})
        print(f"| {(e + 1) * epoch_steps} | {t.statistic:.2f} | {t.pvalue:.2g} | {best} ({dice[best]:.3f}) |")
    print(f"\nfinal Dice: {', '.join(f'{n} {dice[n]:.3f}' for n in names)}")
    if a.json:
        a.json.write_text(json.dumps({"dice": dice, "losses": losses, "epochs": rows}, indent=1))


if __name__ == "__main__":
    main()
