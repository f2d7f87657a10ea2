"""What each decision of finished searches by training is worth, and whether seeds disagree where it is worth little
(issue 21).

For each search's run folder (`log.jsonl`, `config.json`, `arch.json`; the trials are not run again) the posterior of
its trials is fitted with today's model (empirical-Bayes scales, t noise; searches before them ran with others) and
its own cost term, and each decision's stake printed: the posterior's choice, its runner-up,
the mean score gain and its 90 % interval (`Posterior.stakes`). Then, for the given pairs of searches, each decision's
agreement beside whether both searches had it *firm* (interval above 0) or not: if seeds disagree only where the
posterior itself allowed that the runner-up may be as good, the disagreement is what the trials' noise leaves open, not
a search contradicting itself. With `--fastest`, each search's fastest network its trials do not rank below its
export jointly (what a race enters as `fastest`), its predicted step beside the export's and what it may lose.

    ../.venv/bin/python stakes.py RUN0 RUN1 RUN2 RUN3 … --pairs 0-1 2-3 … [--fastest]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from _common import header

from segnas.config import SearchConfig, make_config
from segnas.nas.arch import load_architecture
from segnas.runtime.files import read_json
from segnas.selection import posterior, trained


def beliefs_of(run: Path) -> tuple[Any, Any, SearchConfig, list[dict[str, Any]]]:
    """(posterior, step model, config, trials) of one finished search by training, read as `trained.export` reads them now."""
    if missing := [name for name in ("log.jsonl", "config.json", "arch.json") if not (run / name).is_file()]:
        raise SystemExit(f"{run}: not a finished search by training's run folder (no {', '.join(missing)})")
    records = [r for r in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if "dice" in r]
    saved = read_json(run / "config.json")
    cfg = make_config(None, {k: v for k, v in saved.items() if k in SearchConfig.__dataclass_fields__}, SearchConfig)
    model = {k: trained.DEFAULTS[k] for k in ("noise_sd", "effect_sd", "noise_dof")}  # today's posterior, for every search
    opts = {**trained.DEFAULTS, **saved.get(trained.RESOLVED, saved.get("strategy_options", {})), **model}
    unet_ms = read_json(run / "reference.json")["monai_unet_step_ms"] if (run / "reference.json").is_file() else None
    post, steps = trained.beliefs(candidates_of(run), records, opts, trained.cost_terms(cfg, unet_ms))
    return post, steps, cfg, records


def stakes_of(run: Path) -> dict[str, dict[str, Any]]:
    """The stakes of one finished search by training, read from its trials as `trained.export` reads them now."""
    post, steps, cfg, records = beliefs_of(run)
    return post.stakes(np.random.default_rng([cfg.seed, len(records), 3]), cost=steps)


def fastest_of(run: Path) -> dict[str, Any]:
    """The fastest network one finished search by training's trials do not rank below its export, jointly (as
    `trained.export` finds it now: `posterior.fastest_plausible`)."""
    post, steps, cfg, records = beliefs_of(run)
    export = load_architecture(run / "arch.json").values
    return posterior.fastest_plausible(post, records, export, np.random.default_rng([cfg.seed, len(records), 4]), cost=steps)


def poisson_binomial_tail(probabilities: list[float], k: int) -> float:
    """P(at least k successes) of independent trials with these success probabilities (exact)."""
    dist = np.zeros(len(probabilities) + 1)
    dist[0] = 1.0
    for p in probabilities:
        dist[1:] = dist[1:] * (1 - p) + dist[:-1] * p
        dist[0] *= 1 - p
    return float(dist[k:].sum())


def main() -> None:
    """Print each search's stakes; for the pairs, agreement split by firm and open decisions, and how often each
    search's choice is one the other's trials did not rule out, against chance."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", type=Path, nargs="+", help="run folders of searches by training")
    ap.add_argument("--pairs", nargs="*", default=[], help="pairs of searches by position, e.g. 0-1 2-3")
    ap.add_argument("--fastest", action="store_true", help="also each search's fastest network not ruled out jointly")
    args = ap.parse_args()
    print(header("stakes of searches by training"))
    found = [stakes_of(run) for run in args.runs]
    labels = list(found[0])
    m = {k: len(trained_candidates) for k, trained_candidates in candidates_of(args.runs[0]).items()}
    print("\n| search | " + " | ".join(labels) + " |\n|---|" + "---|" * len(labels))
    for i, (run, s) in enumerate(zip(args.runs, found)):
        cells = [f"{s[k]['top']} {s[k]['gap']:+.3f} over {s[k]['runner_up']} ({s[k]['interval'][0]:+.3f}, {s[k]['interval'][1]:+.3f}); "
                 f"{len(s[k]['plausible'])} of {m[k]} not ruled out" for k in labels]
        print(f"| {i}: {run.parent.parent.name if run.parent.name == 'runs' else run.name} | " + " | ".join(cells) + " |")
    if args.fastest:
        print("\n| search | fastest network not ruled out jointly: its changes | predicted step, ms (export's) | ratio | "
              "what it may lose, mean (90 % interval) |\n|---|---|---:|---:|---|")
        for i, run in enumerate(args.runs):
            quick, export = fastest_of(run), load_architecture(run / "arch.json").values
            changes = ", ".join(f"{k} {v}" for k, v in quick["values"].items() if v != export[k]) or "none"
            mean, (lo, hi) = quick["shortfall"]
            print(f"| {i} | {changes} | {quick['step_ms']:.0f} ({quick['export_step_ms']:.0f}) | "
                  f"{quick['step_ms'] / quick['export_step_ms']:.2f} | {mean:+.3f} ({lo:+.3f}, {hi:+.3f}) |")
    every = [st[k] for st in found for k in labels]
    firm = sum(st["interval"][0] > 0 for st in every)
    print(f"\n{len(every)} decisions: {firm} firm (the choice beats its runner-up: interval above 0); gain over the "
          f"runner-up median {np.median([st['gap'] for st in every]):+.3f}, largest {max(st['gap'] for st in every):+.3f}; "
          f"candidates not ruled out median {np.median([len(st['plausible']) for st in every]):g} of "
          f"{np.median([m[k] for k in labels]):g}")
    tally = {"firm": [0, 0], "open": [0, 0]}  # [alike, decisions]
    hits, chances = 0, []
    for pair in args.pairs:
        a, b = (found[int(i)] for i in pair.split("-"))
        words = []
        for k in labels:
            kind = "firm" if a[k]["interval"][0] > 0 and b[k]["interval"][0] > 0 else "open"
            tally[kind][0] += a[k]["top"] == b[k]["top"]
            tally[kind][1] += 1
            inside = (b[k]["top"] in a[k]["plausible"]) + (a[k]["top"] in b[k]["plausible"])
            hits += inside
            chances += [len(a[k]["plausible"]) / m[k], len(b[k]["plausible"]) / m[k]]
            words.append(f"{k} {'alike' if a[k]['top'] == b[k]['top'] else 'differ'} ({kind}; {inside} of 2 choices inside the other's set)")
        print(f"pair {pair}: " + ", ".join(words))
    for kind, (alike, n) in tally.items():
        if n:
            print(f"{kind} in both searches of a pair: {alike} of {n} alike")
    if chances:
        print(f"a search's choice among the candidates the other search did not rule out: {hits} of {len(chances)}, "
              f"{sum(chances):.1f} expected if the choices were drawn at random, p = {poisson_binomial_tail(chances, hits):.2g}")


def candidates_of(run: Path) -> dict[str, tuple[str, ...]]:
    """The op decisions of a search's space (without `zero`)."""
    arch = load_architecture(run / "arch.json")
    return trained.op_decisions(arch.space, arch.settings)


if __name__ == "__main__":
    main()
