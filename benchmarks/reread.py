"""Finished searches by training read again with the current posterior, and how well it predicts their trials (issue 21)

For each search folder (a `search_signal.py search` work folder, or any work folder holding one search by training
under `runs/`): the trials are not run again. Two things are printed:

- leave-one-out: each trial's inner Dice predicted from the others by the additive posterior with fixed scales
  (σ 0.05, effects 0.1: before), with both chosen from the trials (empirical Bayes) under normal noise and under
  Student-t noise (the default now), and by a Gaussian process whose kernel adds pairwise interactions of the decisions (hyperparameters by marginal
  likelihood over a grid): RMSE and Spearman ρ against the trials' Dice, beside the trials' sd (what predicting their
  mean would score);
- the verdict the current code gives the same trials (`segnas.selection.trained.export` on a copy of the run folder
  under `--out`) with normal and with t noise, beside the one the search wrote.

A folder is a work folder holding one search by training under `runs/` (a `search_signal.py search` folder), or a
search's run folder itself (records keep those; `--plan` then names the plan it ran on).

    ../.venv/bin/python reread.py OUT/la/search_scnas_trained_v2_seed0 … --out REREAD [--plan WORK/plan.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from _common import header
from scipy.stats import spearmanr

from segnas.config import SearchConfig, make_config
from segnas.nas.spaces import get_space
from segnas.runtime.files import read_json, write_json
from segnas.selection import posterior, trained

GP_GRID = (0.0005, 0.002, 0.008, 0.03)  # variances of the additive and the pairwise part
GP_NOISE = (0.0002, 0.0005, 0.001, 0.002, 0.004)


def left_out(decisions: dict[str, tuple[str, ...]], rows: list[dict[str, str]], y: np.ndarray, noise_sd: float | None,
             effect_sd: float | None, noise_dof: float | None = None) -> np.ndarray:
    """Each trial's Dice predicted by the additive posterior fitted to the other trials (None: scales chosen from them)."""
    out = []
    for i in range(len(y)):
        kept = [j for j in range(len(y)) if j != i]
        post = posterior.fit(decisions, [rows[j] for j in kept], y[kept], noise_sd, effect_sd, noise_dof=noise_dof)
        out.append(float((posterior.design(decisions, [rows[i]]) @ post.mean)[0]))
    return np.array(out)


def kernel(rows: list[dict[str, str]], labels: list[str], w1: float, w2: float) -> np.ndarray:
    """w1 × share of decisions alike + w2 × share of decision pairs alike (n, n)."""
    a = np.array([[r[k] for k in labels] for r in rows])
    same = (a[:, None, :] == a[None, :, :]).astype(float)
    pairs = [same[..., i] * same[..., j] for i, j in itertools.combinations(range(len(labels)), 2)]
    return w1 * same.mean(-1) + (w2 * np.mean(pairs, axis=0) if pairs else 0.0)


def gp_left_out(rows: list[dict[str, str]], labels: list[str], y: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Leave-one-out means of the pairwise-kernel GP (closed form), at the grid point of highest marginal likelihood."""
    d = y - y.mean()

    def evidence(w1: float, w2: float, noise: float) -> float:
        chol = np.linalg.cholesky(kernel(rows, labels, w1, w2) + noise * np.eye(len(y)))
        alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, d))
        return float(-0.5 * d @ alpha - np.log(np.diag(chol)).sum())

    w1, w2, noise = max(itertools.product(GP_GRID, (0.0, *GP_GRID), GP_NOISE), key=lambda h: evidence(*h))
    inverse = np.linalg.inv(kernel(rows, labels, w1, w2) + noise * np.eye(len(y)))
    return y - inverse @ d / np.diag(inverse), {"additive": w1, "pairwise": w2, "noise": noise}


def tops(probabilities: dict[str, list[float]], decisions: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Each decision's most probable best candidate."""
    return {k: decisions[k][int(np.argmax(v))] for k, v in probabilities.items()}


MODELS = {"normal": None, "t": posterior.NOISE_DOF}  # the noise of the posterior, by its ν
FITS = ("fixed", "empirical", "t", "pairwise")


def reread(folder: Path, out: Path, plan_path: Path | None = None) -> dict[str, Any]:
    """The leave-one-out figures and the current verdict of the search by training under `folder`."""
    run = folder if (folder / "log.jsonl").is_file() else next(folder.glob("runs/search_*_trained_fold*"))
    saved = read_json(run / "config.json")
    fields = {f.name for f in dataclasses.fields(SearchConfig)}
    cfg = make_config(None, {k: v for k, v in saved.items() if k in fields and k != "strategy_options"})
    ran_with = saved.get(trained.RESOLVED, saved.get("strategy_options", {}))
    opts = {**trained.DEFAULTS, **{k: v for k, v in ran_with.items() if k not in ("noise_sd", "effect_sd")}}
    plan = read_json(plan_path or folder / "plan.json")
    settings = get_space(cfg.space).settings(**{**cfg.space_settings, "dims": plan["dims"], "in_channels": plan["in_channels"],
                                                "num_classes": plan["num_classes"]})
    decisions = trained.op_decisions(cfg.space, settings)
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]
    rows = [{k: r["values"][k] for k in decisions} for r in records]
    y = np.array([r["dice"] for r in records])
    fits = {"fixed": left_out(decisions, rows, y, posterior.PRIOR_NOISE_SD, posterior.PRIOR_EFFECT_SD),
            "empirical": left_out(decisions, rows, y, None, None), "t": left_out(decisions, rows, y, None, None, posterior.NOISE_DOF)}
    fits["pairwise"], hyper = gp_left_out(rows, list(decisions), y)
    unet_ms = read_json(run / "reference.json")["monai_unet_step_ms"] if (run / "reference.json").is_file() and cfg.cost_weight > 0 else None
    now = {}
    for model, dof in MODELS.items():
        copy = out / model / folder.name
        shutil.rmtree(copy, ignore_errors=True)
        copy.mkdir(parents=True)
        for name in ("log.jsonl", "config.json", "reference.json"):
            if (run / name).is_file():
                shutil.copy(run / name, copy / name)
        trained.export(copy, cfg, settings, decisions, records, {**opts, "noise_dof": dof}, unet_ms)
        arch = read_json(copy / "arch.json")
        now[model] = {**{k: arch["provenance"][k] for k in ("verdict", "exported", "shuffled_p", "decisions")},
                      "values": {k: arch["values"][k] for k in decisions}, "tops": tops(arch["provenance"]["probabilities"], decisions)}
    before = read_json(run / "arch.json")
    return {"trials": len(y), "sd": float(y.std(ddof=1)), "pairwise_hyper": hyper,
            "left_out": {k: {"rmse": float(np.sqrt(np.mean((p - y) ** 2))), "rho": float(spearmanr(p, y)[0])} for k, p in fits.items()},
            "now": now,
            "before": {"verdict": before["provenance"]["verdict"], "clear": before["provenance"]["decisions"].get("clear"),
                       "values": {k: before["values"][k] for k in decisions}}}


def main() -> None:
    """Print both tables for every search folder given; write them to OUT/reread.json."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--plan", type=Path, help="the plan.json the searches ran on (default: each folder's)")
    args = ap.parse_args()
    results = {f"{f.parent.name}/{f.name}": reread(f, args.out, args.plan) for f in args.folders}
    print(header("re-read searches by training") + "\n\n| search | trials | sd of Dice | fixed (σ 0.05, effects 0.1): RMSE, ρ | empirical Bayes | "
          "t noise (now) | pairwise GP |\n|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        cells = " | ".join(f"{r['left_out'][k]['rmse']:.3f}, {r['left_out'][k]['rho']:+.2f}" for k in FITS)
        print(f"| {name} | {r['trials']} | {r['sd']:.3f} | {cells} |")
    for model in MODELS:
        print(f"\n{model} noise:\n\n| search | effect sd chosen | ≥ 2× uniform | clear of shuffled (p) | verdict (decisions the last trial "
              "changed) | as it ran: clear, verdict | the posterior's tops | exported |\n|---|---:|---:|---|---|---|---|---|")
        for name, r in results.items():
            now = r["now"][model]
            d, p = now["decisions"], now["shuffled_p"]
            print(f"| {name} | {d['effect_sd']:.3f} | {round(d['decided_share'] * d['op_decisions'])} of {d['op_decisions']} | {d['clear']} "
                  f"({', '.join(f'{v:.3f}' for v in p.values())}) | {now['verdict']} ({d['changed']}) | {r['before']['clear']}, "
                  f"{r['before']['verdict']} | {' / '.join(now['tops'].values())} | {' / '.join(now['values'].values())} |")
    write_json(args.out / "reread.json", results)


if __name__ == "__main__":
    main()
