"""Searched networks against hand-designed baselines and random architectures on real, labelled data.

Every network gets the same training: loop, augmentation, loss (Dice + CE), optimiser, patch, batch and
budget (wall-clock minutes, or training steps with `--train-steps`, which compares architectures apart
from how fast their ops run on this machine); then its validation cases are predicted from their original files and scored there (Dice,
HD95). Searches use only the fold's training cases (their own 80/20 search split). Finished searches,
trainings and predictions are reused, so an interrupted run continues where it stopped.

    python benchmarks/real_data.py --dataset la --train-minutes 30 --random-archs 3
    python benchmarks/real_data.py --dataset la --train-steps 300 --networks monai_unet monai_dynunet
    python benchmarks/real_data.py --dataset all --train-minutes 2 --search-epochs 1 --random-archs 1   # smoke

Writes OUT/<dataset>/<budget>/cases.csv (per case and class), OUT/<dataset>/<budget>/summary.json (budget:
e.g. `30min` or `300steps`; runs and predictions are kept per budget under OUT/<dataset>/work) and prints a Markdown table
with a paired Wilcoxon signed-rank test of each searched network against the best baseline.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import SHARED_DATA, header, when_free
from rich.console import Console
from scipy.stats import wilcoxon

from segnas.app.pipeline import predict_stage
from segnas.app.show import count_parameters, gflops
from segnas.config import PRESETS, TrainConfig, make_config
from segnas.data.plan import load_plan, plan_dataset
from segnas.data.preprocess import preprocess_dataset
from segnas.data.splits import load_fold
from segnas.nas.arch import Architecture, load_architecture
from segnas.nas.search import run_folder as search_folder
from segnas.nas.search import search
from segnas.nas.spaces import get_space
from segnas.networks.baselines import BASELINES, baseline_architecture
from segnas.networks.model import build_network, fit_architecture
from segnas.runtime.files import atomic_path, read_json, write_json
from segnas.runtime.workspace import Workspace
from segnas.training.train import train

# One fold of 5 by (patient) group: LA 64/16 cases, ACDC 80/20 % by patient, ISBI 19/5 slices.
DATASETS: dict[str, dict[str, Any]] = {
    "la": {"folder": "LA2018_down2", "presets": ["scnas", "ronasmis", "thrifty"], "patch": [80, 64, 32], "group": None},
    "acdc": {"folder": "ACDC_subset", "presets": ["scnas", "ronasmis", "thrifty"], "patch": [128, 128, 16], "group": r"(patient\d+)"},
    "isbi": {"folder": "ISBI2012_membrane_2D", "presets": ["thrifty"], "patch": [256, 256], "group": None},
}


def prepare(name: str, out: Path) -> Workspace:
    """Plan and preprocess the dataset once (5 folds, seed 0; fold 0 is used)."""
    spec = DATASETS[name]
    ws = Workspace(out / name / "work")

    def plan_once() -> None:
        if not ws.plan.is_file():
            plan_dataset(SHARED_DATA / spec["folder"], ws.root, workers=2, folds=5, seed=0, group_pattern=spec["group"])

    when_free(plan_once)  # a lane beside this one may be preparing the same folder: wait for it
    when_free(preprocess_dataset, ws.root, workers=2)
    return ws


def searched(ws: Workspace, preset: str, args: argparse.Namespace, patch: list[int]) -> tuple[Path, float]:
    """The preset's search on fold 0 (resumed or reused) → (arch.json, search seconds)."""
    over: dict[str, Any] = {"epochs": args.search_epochs, "steps_per_epoch": args.search_steps, "fold": 0,
                            "workers": args.workers, "patch_size": patch, "batch_size": 2}
    if args.search_width:
        over["space_settings.channels"] = args.search_width
    if preset == "thrifty":
        over["warmup_epochs"] = min(PRESETS["thrifty"].get("warmup_epochs", 0), args.search_epochs // 3)
    cfg = make_config(preset, over)
    run = search_folder(ws.root, cfg)
    if not (run / "arch.json").is_file():
        search(ws.root, cfg, resume=(run / "checkpoint.pt").is_file())
    seconds = sum(json.loads(line).get("seconds", 0.0) for line in (run / "log.jsonl").read_text().splitlines())
    return run / "arch.json", seconds


def random_arch(ws: Workspace, found: Path, preset: str, i: int) -> Path:
    """The i-th random architecture of the space that `found` came from, with its settings (per preset: RONASMIS's
    U-Net has 1×1 skips and deep supervision, SCNAS's does not)."""
    arch = load_architecture(found)
    out = ws.root / "random" / f"{preset}_{i}.json"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        get_space(arch.space).random(seed=1000 + i, **arch.settings).save(out)
    return out


def budget(args: argparse.Namespace) -> str:
    """The training budget as a folder name: `300steps` or `30min`, and `--tag` after it (`150steps_w80`)."""
    base = f"{args.train_steps}steps" if args.train_steps else f"{args.train_minutes:g}min"
    return f"{base}_{args.tag}" if args.tag else base


def trained(ws: Workspace, name: str, arch_path: Path, args: argparse.Namespace, patch: list[int], init: str = "scratch",
            width: int | None = None) -> Path:
    """Train with the shared recipe and budget (resumed or reused) → the run folder."""
    epochs = -(-args.train_steps // args.steps) if args.train_steps else 10**5
    cfg = make_config("darts", {"width": width, "loss": "dice_ce", "weight_lr": args.lr, "epochs": epochs, "steps_per_epoch": args.steps,
                                "batch_size": 2, "patch_size": patch, "fg_fraction": 1 / 3, "schedule": "plateau",
                                "plateau_patience": 10**5, "val_every": 0,  # scored by `scored`; the budget is training alone
                                "max_minutes": None if args.train_steps else args.train_minutes,
                                "workers": args.workers, "init": init, "fold": 0}, TrainConfig)
    run = ws.root / "runs" / budget(args) / f"net_{name}"
    if (run / "arch.json").is_file():  # a run is reused only for the very network asked for
        wanted = fit_architecture(load_architecture(arch_path), load_plan(ws), width)
        if load_architecture(run / "arch.json") != wanted:
            sys.exit(f"{run}: trained another architecture than {arch_path} (at width {width}); remove the run folder")
    if not (run / "summary.json").is_file():
        train(ws.root, arch_path, cfg, run, resume=(run / "checkpoint.pt").is_file())
    return run


def scored(ws: Workspace, name: str, run: Path, tag: str) -> dict[str, Any]:
    """Predict the fold's validation cases from their original files and score them there."""
    out = ws.root / "predictions" / tag / name
    if (out / "metrics.json").is_file() and (run / "summary.json").stat().st_mtime < (out / "metrics.json").stat().st_mtime:
        return read_json(out / "metrics.json")
    plan = load_plan(ws)
    return predict_stage(ws, plan, run, load_fold(ws, 0).val, out, "predict", Console(stderr=True))


def size(arch: Architecture, patch: list[int]) -> tuple[int, float]:
    """Parameters and forward GFLOPs at the patch."""
    import torch
    with torch.device("meta"):
        net = build_network(arch)
    return count_parameters(net), gflops(net, arch.settings["in_channels"], patch)


def case_dice(metrics: dict[str, Any]) -> dict[str, float]:
    """Mean foreground Dice per case."""
    return {c["case"]: float(np.mean([m["dice"] for m in c["classes"].values()])) for c in metrics["cases"]}


def run_dataset(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Every network on one dataset → the summary (also written to OUT/<name>/<budget>/summary.json)."""
    presets = [p for p in DATASETS[name]["presets"] if not args.presets or p in args.presets]
    if args.networks:  # searches only where a searched or random network of theirs is asked for
        known = [*BASELINES, *(n for p in presets for n in [p, *(f"{p}_random{i}" for i in range(args.random_archs))])]
        if unknown := [n for n in args.networks if n not in known]:
            sys.exit(f"--networks: no {', '.join(unknown)} on {name}; known: {', '.join(known)}")
        presets = [p for p in presets if any(n == p or n.startswith(f"{p}_random") for n in args.networks)]
    ws = prepare(name, args.out)
    patch = DATASETS[name]["patch"]
    networks: dict[str, dict[str, Any]] = {}  # name → {arch, kind, search_seconds}
    for preset in presets:
        arch_path, secs = searched(ws, preset, args, patch)
        networks[preset] = {"arch": arch_path, "kind": "searched", "search_seconds": secs,
                            "init": "search" if preset == "ronasmis" else "scratch"}
        for i in range(args.random_archs):
            networks[f"{preset}_random{i}"] = {"arch": random_arch(ws, arch_path, preset, i), "kind": f"random:{preset}",
                                               "search_seconds": 0.0, "init": "scratch"}
    plan = load_plan(ws)
    for b in BASELINES:
        path = ws.root / "baselines" / f"{b}.json"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            baseline_architecture(b, plan, patch).save(path)
        networks[b] = {"arch": path, "kind": "baseline", "search_seconds": 0.0, "init": "scratch"}
    if args.networks:
        networks = {n: info for n, info in networks.items() if n in args.networks}
    tag, rows, results = budget(args), [], {}
    for net_name, info in networks.items():
        width = args.width if info["kind"] != "baseline" and info["init"] == "scratch" else None
        run = trained(ws, net_name, info["arch"], args, patch, info["init"], width)
        metrics = scored(ws, net_name, run, tag)
        arch = load_architecture(run / "arch.json")
        params, flops = size(arch, patch)
        summary = read_json(run / "summary.json")
        results[net_name] = {"kind": info["kind"], "parameters": params, "gflops": flops,
                             "search_seconds": info["search_seconds"], "train_seconds": summary["seconds_total"],
                             "epochs": summary["epochs_run"], "per_class": metrics["mean"],
                             "mean_dice": metrics["mean_foreground_dice"],
                             "mean_hd95": float(np.mean([m["hd95"] for m in metrics["mean"].values()])),
                             "case_dice": case_dice(metrics)}
        for c in metrics["cases"]:
            for cls, m in c["classes"].items():
                rows.append({"network": net_name, "case": c["case"], "class": metrics["labels"][cls], "dice": m["dice"], "hd95": m["hd95"]})
        print(f"{name} {net_name}: mean Dice {results[net_name]['mean_dice']:.4f}", flush=True)
    best = max((n for n, r in results.items() if r["kind"] == "baseline"), key=lambda n: results[n]["mean_dice"], default=None)
    for net_name, r in results.items():
        if r["kind"] != "baseline" and best is not None:
            a, b = r["case_dice"], results[best]["case_dice"]
            diff = [a[c] - b[c] for c in a]
            r["wilcoxon_vs_best_baseline"] = {"baseline": best, "p": float(wilcoxon(diff).pvalue) if any(diff) else 1.0,
                                              "mean_difference": float(np.mean(diff))}
        randoms = [x["mean_dice"] for x in results.values() if x["kind"] == f"random:{net_name}"]
        if randoms:
            r["random_mean_dice"] = float(np.mean(randoms))
    with atomic_path(args.out / name / tag / "cases.csv") as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["network", "case", "class", "dice", "hd95"])
        w.writeheader()
        w.writerows(rows)
    summary = {"dataset": DATASETS[name]["folder"], "patch": patch, "best_baseline": best,
               "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "networks": results}
    write_json(args.out / name / tag / "summary.json", summary)
    return summary


def table(s: dict[str, Any]) -> str:
    """Markdown table of one dataset's summary."""
    classes = list(next(iter(s["networks"].values()))["per_class"])
    head = (["network", "kind", "params (M)", "GFLOPs", "search min", "train min", "steps"] + classes
            + ["mean Dice", "mean HD95 mm", "vs best baseline (p)"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n, r in s["networks"].items():
        w = r.get("wilcoxon_vs_best_baseline")
        cells = [n, r["kind"], f"{r['parameters'] / 1e6:.2f}", f"{r['gflops']:.1f}", f"{r['search_seconds'] / 60:.1f}",
                 f"{r['train_seconds'] / 60:.1f}", str(r["epochs"] * s["arguments"]["steps"])] + [f"{r['per_class'][c]['dice']:.3f}" for c in classes]
        cells += [f"**{r['mean_dice']:.3f}**", f"{r['mean_hd95']:.2f}",
                  f"{w['mean_difference']:+.3f} ({w['p']:.3g})" if w else "—"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def print_summary(s: dict[str, Any]) -> None:
    """A dataset's heading and table."""
    a = s["arguments"]
    per_net = f"{a['train_steps']} training steps" if a.get("train_steps") else f"{a['train_minutes']:g} min training"
    print(f"\n## {s['dataset']} — patch {'×'.join(map(str, s['patch']))}, {per_net} per network "
          f"(torch threads: {a['threads'] or 'all'}), search {a['search_epochs']}×{a['search_steps']} steps"
          f"{', width ' + str(a['width']) if a.get('width') else ''}\n")
    print(table(s))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=[*DATASETS, "all"], default="la")
    ap.add_argument("--out", type=Path, default=Path("results/real_data"))
    ap.add_argument("--train-minutes", type=float, default=30.0, help="training budget per network (wall clock)")
    ap.add_argument("--train-steps", type=int, help="training budget per network in steps instead of minutes "
                    "(equal work for every network, however fast its ops run here)")
    ap.add_argument("--steps", type=int, default=50, help="steps per training epoch")
    ap.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate of every training")
    ap.add_argument("--search-epochs", type=int, default=20)
    ap.add_argument("--search-steps", type=int, default=20)
    ap.add_argument("--random-archs", type=int, default=3)
    ap.add_argument("--presets", nargs="*", help="only these presets (default: all of the dataset's)")
    ap.add_argument("--networks", nargs="*", help="only these networks, e.g. monai_unet scnas scnas_random0 (default: all)")
    ap.add_argument("--width", type=int, help="stem channels of searched and random networks trained from scratch "
                    "(default: as searched; SCNAS's paper retrains at 68)")
    ap.add_argument("--search-width", type=int, help="stem channels while searching (default: the preset's; SCNAS searches at 48)")
    ap.add_argument("--tag", help="suffix of the budget folder, keeping runs with other settings apart (e.g. w80)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--report", action="store_true", help="only print the tables of finished datasets")
    ap.add_argument("--prepare", action="store_true",
                    help="only plan and preprocess the dataset, then print the budget folder's name (e.g. 300steps)")
    ap.add_argument("--threads", type=int, help="torch CPU threads (two runs side by side on 2 cores: 1 each)")
    args = ap.parse_args()
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    names = list(DATASETS) if args.dataset == "all" else [args.dataset]
    if args.report:
        for n in names:
            for found in sorted((args.out / n).glob("*/summary.json")):
                print_summary(read_json(found))
        return
    missing = [n for n in names if not (SHARED_DATA / DATASETS[n]["folder"] / "dataset.json").is_file()]
    if missing:
        sys.exit(f"{', '.join(missing)}: not found under {SHARED_DATA} (this benchmark needs the real datasets)")
    if args.prepare:
        for n in names:
            prepare(n, args.out)
        print(budget(args))
        return
    print(header("real data"))
    t0 = time.perf_counter()
    for n in names:
        print_summary(run_dataset(n, args))
    print(f"\ntotal {(time.perf_counter() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
