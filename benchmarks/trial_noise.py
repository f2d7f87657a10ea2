"""Where does a search-by-training trial's noise come from? (issue 21)

A finished search by training (`segnas search --strategy trained`) is undecided when its trials' scores scatter as
widely as its candidates differ. This trains `--archs` of its trials again, each with every one of `--seeds`
training seeds (a crossed design: in replicate r every network trains with the same seed, so with the same
initial random stream and the same patches), with the trials' recipe, and scores them on the search's inner
cases. A two-way decomposition of the scores splits the noise into a part common to all networks of a replicate
(the seed's main effect: cancelled when every trial trains with one seed, common random numbers) and the
network × seed interaction (not cancelled), beside the spread between the networks themselves.

    OMP_NUM_THREADS=1 ../.venv/bin/python trial_noise.py WORK/runs/search_… --work WORK --out OUT --archs 5 --seeds 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
from _common import header, read_log
from scipy.stats import kendalltau

from segnas.config import SearchConfig, make_config
from segnas.data.splits import load_fold
from segnas.nas.arch import load_architecture
from segnas.networks.model import load_model
from segnas.runtime.files import read_json, write_json
from segnas.runtime.workspace import Workspace
from segnas.selection.trained import options, recipe
from segnas.training.train import train, validate


def pick_trials(records: list[dict[str, Any]], k: int) -> list[int]:
    """`k` trials evenly spread over the search's range of inner Dice (lowest to highest)."""
    order = sorted(records, key=lambda r: r["dice"])
    return [int(order[round(i * (len(order) - 1) / max(k - 1, 1))]["trial"]) for i in range(k)]


def decompose(scores: np.ndarray) -> dict[str, float]:
    """Standard deviations of a networks × seeds table: between networks, the seed's main effect, the interaction."""
    a, r = scores.shape
    grand = scores.mean()
    arch_eff, seed_eff = scores.mean(1) - grand, scores.mean(0) - grand
    resid = scores - grand - arch_eff[:, None] - seed_eff[None, :]
    ms_inter = float((resid ** 2).sum() / max((a - 1) * (r - 1), 1))
    ms_seed = float(a * (seed_eff ** 2).sum() / max(r - 1, 1))
    ms_arch = float(r * (arch_eff ** 2).sum() / max(a - 1, 1))
    return {"sd_between_networks": float(np.sqrt(max(ms_arch - ms_inter, 0.0) / r)),
            "sd_seed_common": float(np.sqrt(max(ms_seed - ms_inter, 0.0) / a)),
            "sd_interaction": float(np.sqrt(ms_inter)),
            "sd_trial_independent_seeds": float(np.sqrt(max(ms_seed - ms_inter, 0.0) / a + ms_inter)),
            "sd_trial_common_seed": float(np.sqrt(ms_inter))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path, help="a finished search by training (its run folder)")
    p.add_argument("--work", type=Path, required=True, help="the search's work folder")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--archs", type=int, default=5)
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args()
    print(header("trial noise of a search by training"))
    saved = read_json(args.run / "config.json")
    cfg = make_config(None, {k: v for k, v in saved.items() if k in {f.name for f in dataclasses.fields(SearchConfig)}})
    opts = options(cfg)
    ws = Workspace(args.work)
    inner = list(load_fold(ws, cfg.fold).search_val)[:opts["score_cases"]]
    records = read_log(args.run / "log.jsonl")
    trials = pick_trials(records, args.archs)
    seeds = [9000 + r for r in range(args.seeds)]
    table = np.zeros((len(trials), len(seeds)))
    for i, t in enumerate(trials):
        for j, s in enumerate(seeds):
            run = args.out / f"trial{t:03d}_seed{s}"
            done = run / "inner.json"
            if not done.is_file():
                train_cfg = dataclasses.replace(recipe(cfg, opts, t), seed=s)
                arch = load_architecture(args.run / "trials" / f"trial{t:03d}.json")
                arch_path = args.out / f"trial{t:03d}.json"
                arch.save(arch_path)
                train(args.work, arch_path, train_cfg, run=run, resume=True, show_progress=False)
                scores = validate(load_model(run, "last", "cpu"), ws, inner)
                write_json(done, {"dice": float(np.mean(list(scores.values())))})
            table[i, j] = read_json(done)["dice"]
            print(f"trial {t:3d} seed {s}: {table[i, j]:.4f}  (in the search: {records[t]['dice']:.4f})", flush=True)
    parts = decompose(table)
    taus = [float(kendalltau(table[:, a], table[:, b])[0]) for a in range(len(seeds)) for b in range(a + 1, len(seeds))]
    result = {"run": str(args.run), "trials": trials, "seeds": seeds, "dice": table.round(4).tolist(),
              "in_search": [records[t]["dice"] for t in trials], **{k: round(v, 4) for k, v in parts.items()},
              "kendall_tau_between_replicates": [round(t, 3) for t in taus]}
    write_json(args.out / "trial_noise.json", result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
