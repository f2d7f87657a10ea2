"""Does a budgeted search decide, and is what it decides better than a random draw? (issue 21)

Three pieces of evidence on fold 0 of a real dataset, each reusing what an earlier call finished:

- `search`: budgeted searches (`--minutes`) with several seeds, and with `--placebo` the same search on labels
  shuffled across cases. Each search runs in its own work folder (the preprocessed cases are shared), so several
  can run side by side.
- `train`: the searched networks and `--random N` random architectures of the same space and width, all
  trained with segnas's default recipe for `--train-steps` steps (last weights, nothing selected on any case),
  with each `--train-seeds` seed (a finished placebo search's network is `placebo…`); then fold 0's validation
  cases are predicted and scored in their original geometry. `--only NAME …` trains a subset (one lane per
  process; each network trains in its own work folder).
- `rescore`: every finished search's op decisions scored through its trained supernet (`derive=scores`, after
  the fact, from its last checkpoint): how many are clear, and whether seeds agree on the scored values.
- `race`: each search's pick raced (`segnas.selection.race`, equal steps: `--unit-epochs` epochs of 50 steps a
  unit, `--rungs` rungs of successive halving, scored on the fold's inner cases) against `--race-random` random
  draws of its space that are not the `--random` draws the report compares with (the race's draws: seeds
  1000 + 100·(seed + 1) + 20·round + i, `--race-round` another race); no baselines. The winner is
  `raced…_seed<S>[_round<R>]` for `train` and `report`: selection by short trainings instead of by α.
- `report`: how decided each search ended, seed agreement on op decisions against chance (binomial p), the
  placebo beside the real searches, and the searched networks' percentile among the random draws with a paired
  per-case Wilcoxon against the random draws' mean.

    cd benchmarks
    OMP_NUM_THREADS=1 ../.venv/bin/python search_signal.py search --dataset isbi --out OUT --preset scnas --minutes 20 --seeds 0
    OMP_NUM_THREADS=1 ../.venv/bin/python search_signal.py search --dataset isbi --out OUT --preset scnas --minutes 20 --seeds 1
    OMP_NUM_THREADS=1 ../.venv/bin/python search_signal.py search --dataset isbi --out OUT --preset scnas --minutes 20 --placebo
    OMP_NUM_THREADS=1 ../.venv/bin/python search_signal.py train --dataset isbi --out OUT --preset scnas --random 5 --train-steps 300
    OMP_NUM_THREADS=1 ../.venv/bin/python search_signal.py race --dataset isbi --out OUT --preset scnas --seeds 0 --race-random 7
    ../.venv/bin/python search_signal.py report --dataset isbi --out OUT --preset scnas --random 5 --train-steps 300
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from _common import header
from real_data import DATASETS, case_dice, prepare
from rich.console import Console
from scipy.stats import binomtest, wilcoxon

from segnas.app.pipeline import predict_stage
from segnas.config import TrainConfig, make_config
from segnas.data.plan import load_plan
from segnas.data.splits import load_fold
from segnas.nas.arch import OpChoice, load_architecture
from segnas.nas.search import run_folder
from segnas.nas.spaces import get_space
from segnas.runtime.files import read_json, write_json
from segnas.runtime.workspace import Workspace
from segnas.selection.placebo import shuffle_labels
from segnas.selection.rungs import ranked_rows
from segnas.selection.searches import search
from segnas.training.train import train


def work_copy(base: Workspace, dst: Path, placebo_seed: int | None = None) -> Workspace:
    """A work folder with `base`'s plan and splits; its preprocessed cases linked, or for a placebo copied with
    the labels permuted across cases (each label centre-cropped or padded onto its new case's grid when the cases'
    shapes differ, and its foreground samples drawn again)."""
    if (dst / "plan.json").is_file():
        return Workspace(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("plan.json", "splits.json", "fingerprint.json"):
        if (base.root / name).is_file():
            shutil.copy(base.root / name, dst / name)
    if placebo_seed is None:
        os.symlink(base.preprocessed.resolve(), dst / "preprocessed")
        return Workspace(dst)
    shutil.copytree(base.preprocessed, dst / "preprocessed")
    cases = sorted(p.name[: -len("_seg.npy")] for p in base.preprocessed.glob("*_seg.npy"))
    shuffle_labels(base.preprocessed, dst / "preprocessed", cases, placebo_seed)
    return Workspace(dst)


def search_name(preset: str, seed: int, placebo: bool, tag: str = "") -> str:
    """Folder name of one search (`tag`: other search settings)."""
    return f"search_{preset}{tag and '_' + tag}_seed{seed}" + ("_placebo" if placebo else "")


def run_search(base: Workspace, out: Path, preset: str, seed: int, minutes: float, placebo: bool, workers: int,
               tag: str = "", sets: dict[str, str] | None = None) -> Path:
    """One budgeted search (reused when finished) → its arch.json."""
    ws = work_copy(base, out / search_name(preset, seed, placebo, tag), placebo_seed=seed if placebo else None)
    cfg = make_config(preset, {"minutes": minutes, "seed": seed, "fold": 0, "workers": workers, **(sets or {})})
    run = run_folder(ws.root, cfg)
    if not (run / "arch.json").is_file():
        search(ws.root, cfg, resume=(run / "checkpoint.pt").is_file() or (run / "log.jsonl").is_file())  # a search by training has no checkpoint.pt
    return run / "arch.json"


def searched_label(tag: str = "") -> str:
    """How the searched networks of a tag are named in the trainings (e.g. `searched_cost1`)."""
    return f"searched{tag and '_' + tag}"


def random_label(i: int, tag: str = "") -> str:
    """How the i-th random draw of a tag's space is named (the draws of a tagged space, e.g. tied ops, are its own)."""
    return f"random{tag and '_' + tag}{i}"


def networks(out: Path, preset: str, seeds: list[int], random: int, tag: str = "") -> dict[str, Path]:
    """name → arch.json of the finished searches, their placebos (`placebo…`) and `random` draws of their space."""
    found = {f"{searched_label(tag)}_seed{s}": out / search_name(preset, s, False, tag) for s in seeds}
    placebos = {f"{searched_label(tag).replace('searched', 'placebo', 1)}_seed{s}": out / search_name(preset, s, True, tag) for s in seeds}
    archs = {}
    for name, folder in {**found, **placebos}.items():
        hits = sorted(folder.glob("runs/search_*/arch.json"))
        if hits:
            archs[name] = hits[0]
    if not set(archs) & set(found):
        raise SystemExit(f"no finished search of {preset} under {out}")
    archs.update(raced(out, tag))
    for name, folder in found.items():  # a search by training's best-scoring trial (a network it trained, not a combination)
        for log_file in sorted(folder.glob("runs/search_*/log.jsonl"))[:1]:
            trials = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
            if trials and "trial" in trials[0]:
                best = max(trials, key=lambda r: r["score"])
                archs[name.replace("searched", "besttrial", 1)] = log_file.parent / "trials" / f"trial{best['trial']:03d}.json"
    for name, folder in found.items():  # what derive=scores makes of the same search (`rescore`), when scored
        for kept in sorted(folder.glob("runs/search_*/rescore_d*_b*.json"))[:1]:
            path = kept.parent / "arch_scored.json"
            if not path.is_file():
                arch = load_architecture(kept.parent / "arch.json")
                arch.values.update(read_json(kept)["values"])
                arch.save(path)
            archs[name.replace("searched", "scored", 1)] = path
    template = load_architecture(next(archs[n] for n in found if n in archs))
    for i in range(random):
        path = out / "random" / f"{preset}{tag and '_' + tag}_{i}.json"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            get_space(template.space).random(seed=1000 + i, **template.settings).save(path)
        archs[random_label(i, tag)] = path
    return archs


SPE = 50  # steps per epoch of every training here


def recipe(steps: int, seed: int, width: int, workers: int, minutes: float | None = None,
           patch: list[int] | None = None, fold: int = 0) -> TrainConfig:
    """The default recipe for `steps` steps (with `minutes`: at most `steps` within that wall clock; `patch`: another
    patch than the plan's) on `fold`, last weights, nothing scored during training."""
    return make_config(None, {"width": width, "epochs": -(-steps // SPE), "steps_per_epoch": SPE, "val_every": 0,
                              "seed": seed, "workers": workers, "fold": fold, "init": "scratch", "max_minutes": minutes,
                              "patch_size": patch}, TrainConfig)


def race_name(tag: str, seed: int, round_: int = 0) -> str:
    """Folder of the race of search `seed`'s pick (round > 0: another race of it, against other draws)."""
    return f"race{tag and '_' + tag}_seed{seed}" + (f"_round{round_}" if round_ else "")


def raced(out: Path, tag: str) -> dict[str, Path]:
    """`raced…` network name → arch.json of every finished race's winner (named after its race's folder)."""
    found = {}
    for folder in sorted(out.glob(f"race{tag and '_' + tag}_seed*")):
        summary = folder / "race" / "fold0" / "summary.json"
        if summary.is_file():
            found["raced" + folder.name[len("race"):]] = Path(read_json(summary)["winner_arch"])
    return found


def run_race(base: Workspace, out: Path, preset: str, seed: int, tag: str, args: argparse.Namespace) -> dict[str, Any]:
    """The race of one search's pick against fresh random draws of its space (reused when finished) → its summary."""
    from segnas.selection.race import RaceConfig, race

    hits = sorted((out / search_name(preset, seed, False, tag)).glob("runs/search_*/arch.json"))
    if not hits:
        raise SystemExit(f"no finished search {search_name(preset, seed, False, tag)} under {out}")
    ws = work_copy(base, out / race_name(tag, seed, args.race_round))
    cfg = RaceConfig(rungs=args.rungs, samples=0, random=args.race_random, baselines=(), unit_epochs=args.unit_epochs,
                     seed=100 * (seed + 1) + 20 * args.race_round)
    return race(ws.root, hits[0].parent, recipe(SPE, seed, args.width, args.workers), cfg)


def run_training(base: Workspace, out: Path, name: str, arch: Path, steps: int, seed: int, width: int, workers: int,
                 minutes: float | None = None, patch: list[int] | None = None, fold: int = 0) -> dict[str, Any]:
    """Train `arch` with the default recipe for `steps` steps (with `minutes`: as many as that wall clock allows;
    reused when finished) on `fold`'s training cases, then score its validation cases."""
    ws = work_copy(base, training_folder(out, name, seed, fold))  # a work folder each: lanes may train side by side
    cfg = recipe(steps, seed, width, workers, minutes, patch, fold)
    budget = budget_name(steps, minutes, fold)
    run = ws.root / "runs" / budget
    if not (run / "summary.json").is_file():
        train(ws.root, arch, cfg, run, resume=(run / "checkpoint.pt").is_file())
    preds = ws.root / "predictions" / budget
    if (preds / "metrics.json").is_file():
        return read_json(preds / "metrics.json")
    return predict_stage(ws, load_plan(ws), run, load_fold(ws, fold).val, preds, "predict", Console(stderr=True))


def training_folder(out: Path, name: str, seed: int, fold: int = 0) -> Path:
    """The work folder of a network's training with one seed on one fold (fold 0's without a suffix)."""
    return out / "train" / (f"{name}_seed{seed}" + (f"_fold{fold}" if fold else ""))


def budget_name(steps: int, minutes: float | None, fold: int = 0) -> str:
    """The run and predictions folder of a training: `1000steps`, `12min`, `60min_fold1` (fold 0's without a suffix)."""
    return (f"{steps}steps" if minutes is None else f"{minutes:g}min") + (f"_fold{fold}" if fold else "")


def decisions_of(arch_path: Path) -> dict[str, Any]:
    """The op decisions of an arch.json and its search's verdict."""
    arch = load_architecture(arch_path)
    ops = {c.label for c in get_space(arch.space).choices(**arch.settings) if isinstance(c, OpChoice)}
    return {"values": {k: v for k, v in arch.values.items() if k in ops}, "provenance": arch.provenance,
            "candidates": {c.label: len(c.candidates) for c in get_space(arch.space).choices(**arch.settings)
                           if isinstance(c, OpChoice)}}


def agreement(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    """Share of op decisions two searches made alike, chance (1 / non-zero candidates) and a one-sided binomial p."""
    labels = sorted(a["values"])
    same = sum(a["values"][k] == b["values"][k] for k in labels)
    chance = float(np.mean([1 / (a["candidates"][k] - 1) for k in labels]))  # derive never picks zero
    p = binomtest(same, len(labels), chance, alternative="greater").pvalue
    return {"same": same, "decisions": len(labels), "share": same / len(labels), "chance": chance,
            "ratio": same / len(labels) / chance, "p": float(p)}


def pooled(pairs: list[dict[str, float]]) -> dict[str, float]:
    """Agreement summed over seed pairs, with a binomial p as if the pairs were independent (they share searches,
    so it is optimistic; issue 21 asks ≥ 3× chance with p < 0.01, which one pair of four decisions can only reach
    with all four alike)."""
    same, n = sum(int(a["same"]) for a in pairs), sum(int(a["decisions"]) for a in pairs)
    chance = float(np.mean([a["chance"] for a in pairs]))
    return {"same": same, "decisions": n, "chance": chance, "ratio": same / n / chance,
            "p": float(binomtest(same, n, chance, alternative="greater").pvalue)}


def disjoint(names: list[str]) -> list[tuple[str, str]]:
    """Pairs of searches that share none, fixed before any result: the first with the second, the third with the
    fourth, and so on (an odd last one left out). Their agreements are independent, so their pooled p is exact."""
    return list(zip(names[0::2], names[1::2]))


def unanimous(searches: list[dict[str, Any]]) -> dict[str, float]:
    """Op decisions that every search made alike, and the binomial chance of at least that many if each search
    picked uniformly among the non-zero candidates: a decision is unanimous by chance with probability m^(1−n)."""
    labels = sorted(searches[0]["values"])
    same = sum(len({s["values"][k] for s in searches}) == 1 for k in labels)
    chance = float(np.mean([(searches[0]["candidates"][k] - 1) ** (1 - len(searches)) for k in labels]))
    return {"same": same, "decisions": len(labels), "searches": len(searches), "chance": chance,
            "p": float(binomtest(same, len(labels), chance, alternative="greater").pvalue)}


def rescored(out: Path, preset: str, seeds: list[int], tag: str, draws: int, batches: int) -> dict[str, Any]:
    """Each finished search's op decisions scored through its supernet (`segnas.nas.rescore.rescore`, kept as
    `rescore_d<D>_b<B>.json` in its run folder); prints clear shares and the seeds' agreement on the scored values."""
    from segnas.nas.rescore import rescore

    found: dict[str, dict[str, Any]] = {}
    for s, placebo in itertools.product(sorted(set(seeds)), (False, True)):
        name = search_name(preset, s, placebo, tag)
        for run in sorted((out / name).glob("runs/search_*")):
            if not (run / "arch.json").is_file():
                continue
            kept = run / f"rescore_d{draws}_b{batches}.json"
            if not kept.is_file():
                write_json(kept, rescore(out / name, run, draws, batches))
            found[name] = read_json(kept)
    print("\n| search | scored decisions | clear | values |\n|---|---:|---:|---|")
    for name, r in found.items():
        print(f"| {name} | {r['summary']['op_decisions']} | {r['summary']['clear_share']:.0%} | "
              f"{', '.join(f'{k}: {v}' for k, v in sorted(r['values'].items())[:8])} |")
    real = [n for n in found if not n.endswith("_placebo")]
    pairs = []
    for a, b in itertools.combinations(found, 2):
        arch = load_architecture(next((out / a).glob("runs/search_*/arch.json")))
        candidates = {c.label: len(c.candidates) for c in get_space(arch.space).choices(**arch.settings) if isinstance(c, OpChoice)}
        ag = agreement({"values": found[a]["values"], "candidates": candidates}, {"values": found[b]["values"], "candidates": candidates})
        pairs.append({"a": a, "b": b, **ag})
        print(f"scored values alike, {a} vs {b}{' (both real)' if a in real and b in real else ''}: {ag['same']}/{ag['decisions']}, "
              f"{ag['ratio']:.1f}× chance, binomial p = {ag['p']:.2g}")
    return {"draws": draws, "batches": batches, "searches": {n: r["summary"] for n, r in found.items()}, "agreement": pairs}


def report(out: Path, preset: str, seeds: list[int], random: int, steps: int | None, train_seeds: list[int],
           tag: str = "", random_tag: str | None = None) -> dict[str, Any]:
    """Print and return every figure of what is finished; `random_tag`: compare with another tag's random draws
    (a tied space's search against the draws of the untied space it ties)."""
    print(header(f"search signal: {preset} {tag} on {out.name}"))
    found = {}
    for s, placebo in itertools.product(sorted(set(seeds)), (False, True)):
        hits = sorted((out / search_name(preset, s, placebo, tag)).glob("runs/search_*/arch.json"))
        if hits:
            found[search_name(preset, s, placebo, tag)] = decisions_of(hits[0])
    summary: dict[str, Any] = {"searches": {}, "agreement": [], "training": {}}
    print("\n| search | proxy | architecture steps | decided op decisions | mean entropy | verdict |\n|---|---|---:|---:|---:|---|")
    for name, d in found.items():
        prov = d["provenance"]
        b, dec = prov.get("budget", {}), prov.get("decisions", {})
        summary["searches"][name] = {"budget": b, "decisions": dec, "verdict": prov.get("verdict"), "values": d["values"]}
        proxy, clear = f"{b.get('channels')} ch, {'×'.join(map(str, b.get('patch_size', [])))}", ""
        if prov.get("strategy") == "trained":  # no proxy plan: its trials are its steps; its verdict also asks for shuffled-score p
            proxy, b = f"{prov.get('trials')} trials of {prov.get('trial_steps')} steps", {"arch_steps": prov.get("trials")}
            clear = f", {dec.get('clear')} clear of shuffled"
        print(f"| {name} | {proxy} | {b.get('arch_steps')} | {dec.get('decided_share', float('nan')):.0%} of {dec.get('op_decisions')}{clear} | "
              f"{dec.get('mean_entropy', float('nan')):.3f} | {prov.get('verdict')} |")
    real = [n for n in found if not n.endswith("_placebo")]
    for a, b in itertools.combinations(real, 2):
        ag = agreement(found[a], found[b])
        summary["agreement"].append({"a": a, "b": b, **ag})
        print(f"\nseed agreement {a} vs {b}: {ag['same']}/{ag['decisions']} op decisions alike ({ag['share']:.0%}), chance "
              f"{ag['chance']:.0%}, {ag['ratio']:.1f}× chance, binomial p = {ag['p']:.2g}")
    if len(real) > 2:
        pool, all_alike = pooled(summary["agreement"]), unanimous([found[n] for n in real])
        summary.update(pooled_agreement=pool, unanimous=all_alike)
        print(f"\npooled over the {len(summary['agreement'])} pairs: {pool['same']}/{pool['decisions']} alike, {pool['ratio']:.1f}× "
              f"chance, binomial p = {pool['p']:.2g} (the pairs share searches: not independent); all {len(real)} searches alike "
              f"on {all_alike['same']}/{all_alike['decisions']} decisions (chance {all_alike['chance']:.3f} each, p = {all_alike['p']:.2g})")
    if len(real) > 3:
        apart = disjoint(real)
        alone = pooled([a for a in summary["agreement"] if (a["a"], a["b"]) in apart])
        summary["disjoint_agreement"] = {"pairs": apart, **alone}
        print(f"over the pairs that share no search ({', '.join(f'{a} vs {b}' for a, b in apart)}): {alone['same']}/"
              f"{alone['decisions']} alike, {alone['ratio']:.1f}× chance, binomial p = {alone['p']:.2g} (independent)")
    if steps is None:
        return summary
    rows: dict[str, dict[str, float]] = {}
    searched = [f"{searched_label(tag)}_seed{s}" for s in seeds]
    kinds = ("scored", "placebo", "besttrial")
    for name in [*searched, *(n.replace("searched", k, 1) for k in kinds for n in searched), *raced(out, tag),
                 *(random_label(i, tag if random_tag is None else random_tag) for i in range(random))]:
        for ts in train_seeds:
            m = out / "train" / f"{name}_seed{ts}" / "predictions" / f"{steps}steps" / "metrics.json"
            if m.is_file():
                rows[f"{name}_seed{ts}"] = case_dice(read_json(m))
    if not rows:
        return summary
    print(f"\n{steps} training steps per network, default recipe, fold 0 validation cases\n\n| network | mean Dice | sd |\n|---|---:|---:|")
    for name, cases in rows.items():
        v = np.array(list(cases.values()))
        print(f"| {name} | {v.mean():.4f} | {v.std(ddof=1):.4f} |")
    summary["training"] = {"steps": steps, "per_case": rows}
    for ts in train_seeds:  # each training against the random draws trained with the same seed
        compare_with_random({k: v for k, v in rows.items() if k.endswith(f"_seed{ts}")}, summary["training"], "")
    if len(train_seeds) > 1:  # each architecture as the per-case mean of its trainings, where every seed finished
        names = dict.fromkeys(k.rsplit("_seed", 1)[0] for k in rows)
        archs = {n: {c: float(np.mean([rows[f"{n}_seed{ts}"][c] for ts in train_seeds])) for c in rows[f"{n}_seed{train_seeds[0]}"]}
                 for n in names if all(f"{n}_seed{ts}" in rows for ts in train_seeds)}
        print(f"\nper architecture, the mean of its trainings with seeds {', '.join(map(str, train_seeds))}:")
        summary["training"]["per_architecture"] = archs
        compare_with_random(archs, summary["training"], "architecture ")
    return summary


def compare_with_random(rows: dict[str, dict[str, float]], into: dict[str, Any], what: str) -> None:
    """Each searched, scored or placebo row's percentile among the random rows, and a paired per-case Wilcoxon
    against the random rows' mean (printed, and kept in `into` under `what` + the row's name)."""
    randoms = {k: v for k, v in rows.items() if k.startswith("random")}
    if randoms:
        cases = sorted(next(iter(randoms.values())))
        random_mean = {c: float(np.mean([r[c] for r in randoms.values()])) for c in cases}
        draws = sorted(float(np.mean(list(r.values()))) for r in randoms.values())
        for k, v in rows.items():
            if not k.startswith(("searched", "scored", "placebo", "raced", "besttrial")):
                continue
            mean = float(np.mean([v[c] for c in cases]))
            pct = 100.0 * sum(d < mean for d in draws) / len(draws)
            diff = [v[c] - random_mean[c] for c in cases]
            p = float(wilcoxon(diff).pvalue) if any(diff) else 1.0
            into[what + k] = {"mean": mean, "percentile_among_random": pct, "vs_random_mean": float(np.mean(diff)), "p": p}
            print(f"\n{what}{k}: mean Dice {mean:.4f}; above {pct:.0f} % of the {len(draws)} random draws "
                  f"(their means {', '.join(f'{d:.3f}' for d in draws)}); vs the random draws' mean per case "
                  f"{np.mean(diff):+.4f}, Wilcoxon p = {p:.2g}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["search", "race", "train", "report", "rescore"])
    ap.add_argument("--dataset", choices=list(DATASETS), default="isbi")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--preset", default="scnas")
    ap.add_argument("--minutes", type=float, default=20.0, help="budget of each search")
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1], help="search seeds")
    ap.add_argument("--placebo", action="store_true", help="search on labels shuffled across cases (seed: the first of --seeds)")
    ap.add_argument("--random", type=int, default=5, help="random architectures of the searched space")
    ap.add_argument("--train-steps", type=int, default=300)
    ap.add_argument("--train-seeds", type=int, nargs="*", default=[0])
    ap.add_argument("--width", type=int, default=16, help="stem channels of every trained network")
    ap.add_argument("--only", nargs="*", help="train only these networks (searched_seed0, random3, …)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--set", nargs="*", default=[], help="search settings KEY=VALUE (e.g. budget_travel=24)")
    ap.add_argument("--tag", default="", help="names searches made with --set apart (e.g. travel24)")
    ap.add_argument("--random-tag", help="report: compare with the random draws of this tag instead (e.g. cost1_stem2)")
    ap.add_argument("--draws", type=int, default=8, help="rescore: seeded draws of the supernet each candidate runs in")
    ap.add_argument("--batches", type=int, default=2, help="rescore: validation batches per draw")
    ap.add_argument("--race-random", type=int, default=7, help="race: random draws beside the search's pick")
    ap.add_argument("--rungs", type=int, default=3, help="race: successive-halving rungs (η = 2)")
    ap.add_argument("--race-round", type=int, default=0, help="race: another race of the same pick against other draws")
    ap.add_argument("--unit-epochs", type=int, default=3, help="race: epochs of 50 steps in a unit (rung r: 2^r units)")
    args = ap.parse_args()
    sets = dict(kv.split("=", 1) for kv in args.set)
    out = args.out / args.dataset
    # a report only reads: it must not take the work folder's lock from the searches and trainings beside it
    base = Workspace(out / "work") if args.what == "report" else prepare(args.dataset, args.out)
    if args.what == "search":
        for seed in args.seeds[:1] if args.placebo else args.seeds:
            arch = run_search(base, out, args.preset, seed, args.minutes, args.placebo, args.workers, args.tag, sets)
            print(arch, json.dumps(load_architecture(arch).provenance.get("decisions")))
    elif args.what == "race":
        for seed in args.seeds:
            r = run_race(base, out, args.preset, seed, args.tag, args)
            print(f"race of seed {seed}: winner {r.get('winner')}; " + ", ".join(
                f"{n} {row['rungs']}" for n, row in ranked_rows(r)))
        return
    elif args.what == "rescore":
        write_json(out / f"rescore_{args.preset}{args.tag and '_' + args.tag}.json",
                   rescored(out, args.preset, args.seeds, args.tag, args.draws, args.batches))
        return
    elif args.what == "train":
        for name, arch in networks(out, args.preset, args.seeds, args.random, args.tag).items():
            if args.only and name not in args.only:
                continue
            for ts in args.train_seeds:
                run_training(base, out, name, arch, args.train_steps, ts, args.width, args.workers)
    summary = report(out, args.preset, args.seeds, args.random, args.train_steps if args.what != "search" else None,
                     args.train_seeds, args.tag, args.random_tag)
    write_json(out / f"signal_{args.preset}{args.tag and '_' + args.tag}.json", summary)


if __name__ == "__main__":
    main()
