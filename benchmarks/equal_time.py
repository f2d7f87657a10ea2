"""Networks trained for the same wall clock on this machine, scored on a fold's validation cases (issue 23).

Each network (`--arch` files, named by their file's stem, and MONAI's UNet, `monai_unet`) trains with the recipe
of search_signal.py (Dice + CE, Adam 1e-3, batch 2, the plan's patch, plateau schedule, `--width` stem channels,
last weights, nothing selected on any case) for `--minutes` of wall clock — it stops before the 50-step epoch that
would cross them — once per `--train-seeds` seed and `--folds` fold (default 0); each fold's validation cases are then predicted from
their original files and scored there. Run the networks in lanes side by side (`--only NAME`, one torch thread each) so that each
meets the machine as the others do; `--report` prints each network's steps, minutes and Dice, and its paired
per-case Wilcoxon against the UNet per training seed and over the seeds' mean per case, and draws each network's
cases against the UNet's (`equal_time_{M}min[_foldsF…].png`).

    cd benchmarks
    OMP_NUM_THREADS=1 ../.venv/bin/python equal_time.py --dataset la --out OUT --minutes 15 --arch A.json --only monai_unet &
    OMP_NUM_THREADS=1 ../.venv/bin/python equal_time.py --dataset la --out OUT --minutes 15 --arch A.json --only A
    ../.venv/bin/python equal_time.py --dataset la --out OUT --minutes 15 --arch A.json --report
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from _common import header, paired, read_log
from real_data import DATASETS, case_dice, prepare
from search_signal import budget_name, run_training, training_folder

from segnas.inference.compare import by_group, paired_panel
from segnas.runtime.files import read_json, write_json
from segnas.runtime.plots import plot_paired
from segnas.runtime.workspace import Workspace
from segnas.training.train import baseline_file

BASELINE = "monai_unet"


def networks(out: Path, archs: list[Path]) -> dict[str, Path]:
    """name → arch.json: MONAI's UNet for the plan, then each `--arch` file by its stem."""
    return {BASELINE: baseline_file(Workspace(out / "work"), BASELINE), **{a.stem: a for a in archs}}


def trained(out: Path, name: str, seed: int, minutes: float, fold: int = 0) -> dict[str, Any] | None:
    """A finished training's steps, training minutes, seconds per step and per-case Dice (None: not finished)."""
    folder, budget = training_folder(out, name, seed, fold), budget_name(0, minutes, fold)
    run, metrics = folder / "runs" / budget, folder / "predictions" / budget / "metrics.json"
    if not metrics.is_file():
        return None
    log = read_log(run / "log.jsonl")
    steps = len(log) * read_json(run / "config.json")["steps_per_epoch"]
    seconds = sum(r["seconds"] for r in log)
    return {"steps": steps, "minutes": seconds / 60, "s_per_step": seconds / steps, "cases": case_dice(read_json(metrics))}


def report(out: Path, names: list[str], seeds: list[int], minutes: float, folds: list[int] | None = None,
           group: str | None = None, figure: Path | None = None) -> dict[str, Any]:
    """Every finished network beside the UNet: per fold and seed, over the seeds' mean per case, and with several
    `folds` over all their validation cases (and per `group`, a regex naming the patient, the mean of its cases);
    with `figure`, each network's cases against the UNet's drawn there."""
    folds = folds or [0]
    summary: dict[str, Any] = {f"fold{f}": fold_report(out, names, seeds, minutes, f) for f in folds}
    if figure is not None:
        plot_cases({f: summary[f"fold{f}"]["networks"] for f in folds}, minutes, figure)
    if len(folds) == 1:
        return summary["fold0"] if folds == [0] else summary
    summary["over_folds"] = {}
    for name in names[1:]:
        pairs = [summary[f"fold{f}"]["networks"][name].get("cases") for f in folds]
        if not all(pairs):
            continue
        base = {c: v for p in pairs for c, v in p[0].items()}
        mine = {c: v for p in pairs for c, v in p[1].items()}
        entry = {"cases": strip(paired(base, mine))}
        line = f"{name[-28:]}: {len(mine)} cases of folds {', '.join(map(str, folds))}: {describe(entry['cases'])}"
        if group:
            entry["groups"] = strip(paired(by_group(base, group), by_group(mine, group)))
            line += f"; per patient ({entry['groups']['cases']}) {describe(entry['groups'])}"
        summary["over_folds"][name] = entry
        print(line)
    return summary


def plot_cases(by_fold: dict[int, dict[str, Any]], minutes: float, path: Path) -> Path | None:
    """Each network's Dice per case (over its seeds' mean) against the UNet's, a panel per network, a colour per
    fold. None when no network has finished cases."""
    names = [n for n in next(iter(by_fold.values())) if n != BASELINE and all(f[n].get("cases") for f in by_fold.values())]
    panels = []
    for name in names:
        base = {c: v for f in by_fold.values() for c, v in f[name]["cases"][0].items()}
        mine = {c: v for f in by_fold.values() for c, v in f[name]["cases"][1].items()}
        folds = {c: f"fold {fold}" for fold, f in by_fold.items() for c in f[name]["cases"][1]}
        panels.append(paired_panel(base, mine, (f"{BASELINE} Dice", f"{name[-28:]} Dice"), folds, f"{minutes:g} min each: "))
    return plot_paired(panels, path) if panels else None


def strip(vs: dict[str, Any]) -> dict[str, Any]:
    """A paired comparison without its list of differences."""
    return {k: v for k, v in vs.items() if k != "diff"}


def describe(vs: dict[str, Any]) -> str:
    """`0.406 → 0.589, +0.182, 6/10 higher, p = 0.19`."""
    return f"{vs['dice'][0]:.3f} → {vs['dice'][1]:.3f}, {vs['delta']:+.3f}, {vs['wins']}/{vs['cases']} higher, p = {vs['p']:.2g}"


def fold_report(out: Path, names: list[str], seeds: list[int], minutes: float, fold: int) -> dict[str, Any]:
    """One fold's networks beside the UNet: per seed, and over the seeds' mean per case (`cases`: both means)."""
    rows = {n: {s: r for s in seeds if (r := trained(out, n, s, minutes, fold))} for n in names}
    print(header(f"equal wall clock: {minutes:g} min of training each, fold {fold}"))
    print(f"{'network':<28}{'seed':>5}{'steps':>7}{'min':>6}{'s/step':>8}{'Dice':>7}   vs {BASELINE} per case")
    summary: dict[str, Any] = {"minutes": minutes, "networks": {}}
    for name, by_seed in rows.items():
        entry: dict[str, Any] = {"seeds": {}}
        for s, r in by_seed.items():
            line = f"{name[-28:]:<28}{s:>5}{r['steps']:>7}{r['minutes']:>6.1f}{r['s_per_step']:>8.3f}{np.mean(list(r['cases'].values())):>7.3f}"
            vs = paired(rows[BASELINE][s]["cases"], r["cases"]) if name != BASELINE and s in rows[BASELINE] else None
            if vs:
                line += f"   {vs['delta']:+.3f}, {vs['wins']}/{vs['cases']} higher, p = {vs['p']:.2g}"
            print(line)
            entry["seeds"][s] = {**r, "vs_unet": vs and strip(vs)}
        both = [s for s in by_seed if s in rows[BASELINE]]
        if name != BASELINE and both:  # per case, the mean over the seeds both trained (one seed: its figures)
            mean = {c: float(np.mean([by_seed[s]["cases"][c] for s in both])) for c in by_seed[both[0]]["cases"]}
            base = {c: float(np.mean([rows[BASELINE][s]["cases"][c] for s in both])) for c in mean}
            entry["cases"] = (base, mean)
        if name != BASELINE and len(both) > 1:
            vs = paired(base, mean)
            entry["over_seeds"] = strip(vs)
            print(f"{name[-28:]:<28}{'mean':>5}{'':>21}{vs['dice'][1]:>7.3f}   {vs['delta']:+.3f}, {vs['wins']}/{vs['cases']} "
                  f"higher, p = {vs['p']:.2g} (seeds {', '.join(map(str, both))}; the UNet {vs['dice'][0]:.3f})")
        summary["networks"][name] = entry
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=list(DATASETS), default="la")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--minutes", type=float, required=True, help="wall clock of training per network")
    ap.add_argument("--arch", type=Path, nargs="*", default=[], help="arch.json files to train beside the UNet")
    ap.add_argument("--train-seeds", type=int, nargs="*", default=[0])
    ap.add_argument("--folds", type=int, nargs="*", default=[0], help="train on each fold, score its validation cases")
    ap.add_argument("--width", type=int, default=16, help="stem channels of every trained network")
    ap.add_argument("--patch", type=int, nargs="*", help="training patch (default: the plan's)")
    ap.add_argument("--only", nargs="*", help="train only these networks (one lane)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--report", action="store_true", help="report what is finished; train nothing")
    args = ap.parse_args()
    out = args.out / args.dataset
    if not args.report:
        base = prepare(args.dataset, args.out)
        for name, arch in networks(out, args.arch).items():
            if args.only and name not in args.only:
                continue
            for fold in args.folds:
                for seed in args.train_seeds:
                    run_training(base, out, name, arch, 10**6, seed, args.width, args.workers, args.minutes, args.patch, fold)
    names = list(networks(out, args.arch))
    folds = "" if args.folds == [0] else "_folds" + "".join(map(str, args.folds))
    stem = f"equal_time_{args.minutes:g}min{folds}"  # no with_suffix: `12.5min` has a dot of its own
    found = report(out, names, args.train_seeds, args.minutes, args.folds, DATASETS[args.dataset]["group"], out / f"{stem}.png")
    write_json(out / f"{stem}.json", found)


if __name__ == "__main__":
    main()
