"""What a race's rung table says: its rows read from Optuna's trials, the winner (a network of the space only when it
leads the best hand-designed one beyond the noise of the inner cases: `held_back`), and the lines that tell it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from segnas.networks.baselines import BASELINES
from segnas.runtime.files import write_json
from segnas.runtime.plots import plot_race
from segnas.runtime.workspace import RaceFolder
from segnas.selection.study import ETA

if TYPE_CHECKING:
    from segnas.selection.race import RaceConfig


def units_line(summary: dict[str, Any]) -> str:
    """A line on what a race trained, and in which order its candidates were queued (drawn: `entry_order`)."""
    order = f"; queued in the order {', '.join(summary['order'])}" if summary.get("order") else ""
    return f"{summary['units_trained']} of the {summary['units_planned']} units planned trained{order}"


def winner_line(summary: dict[str, Any]) -> str:
    """A line naming a finished race's winner, its inner Dice, and its lead over the next that ran every rung."""
    margin = summary["margin_over_next"]
    lead = "the only candidate to run every rung" if margin is None else f"{margin:+.3f} over the next"
    kind = "searched space" if summary["winner_is_searched"] else "a baseline"
    line = f"winner: {summary['winner']} ({kind}), inner Dice {summary['winner_dice']:.3f}, {lead}"
    if guard := summary.get("held_back"):
        se = "no standard error from one case" if guard["se"] is None else f"a standard error of {guard['se']:.3f}"
        line += (f" ({guard['candidate']} led it by {guard['lead']:+.3f} on {guard['cases']} inner case(s), within "
                 f"{se}: held back, the hand-designed network is kept)")
    return line


def summarize(study: Any, candidates: dict[str, Path], folder: Path, cfg: RaceConfig) -> dict[str, Any]:
    """The rung table (inner Dice per candidate per rung), the winner and its margin → `summary.json`."""
    import optuna

    rows: dict[str, dict[str, Any]] = {}
    trials = study.get_trials(deepcopy=False)
    for t in trials:
        name = t.params.get("candidate")
        if name is None or t.user_attrs.get("spare") or t.state not in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED):
            continue
        state = "budget" if t.user_attrs.get("budget") else t.state.name.lower()  # stopped to keep the race's units
        rows[name] = {"state": state, "rungs": {str(k): round(v, 4) for k, v in sorted(t.intermediate_values.items())},
                      "step_ms": t.user_attrs.get("step_ms"), "validation_s": t.user_attrs.get("validation_s"),
                      "validated_s": [t.user_attrs[k] for k in (f"validated_s_{ETA ** r}" for r in range(cfg.rungs)) if k in t.user_attrs],
                      "unit_epochs": t.user_attrs.get("unit_epochs"), "cases": t.user_attrs.get("cases"),
                      "steps_per_epoch": t.user_attrs.get("steps_per_epoch"),
                      # Optuna gives a stopped trial its last rung's score as value: only one that ran every rung has a final
                      "final": round(t.value, 4) if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None else None}
    summary: dict[str, Any] = {"candidates": rows, "rungs": cfg.rungs, "unit_seconds": cfg.unit_seconds,
                               "units_planned": cfg.rungs * len(candidates),
                               "units_trained": sum(max((int(k) for k in r["rungs"]), default=0) for r in rows.values()),
                               "order": list(dict.fromkeys(t.user_attrs["candidate"] for t in trials if "candidate" in t.user_attrs)),
                               "scored_on": "the fold's inner split (search_val), held out of the race's trainings"}
    if len(rows) == len(candidates) and rows:
        # the best of those that trained furthest: every rung, unless the halving and the budget stopped them all
        furthest = max(len(r["rungs"]) for r in rows.values())
        ranked = [name for name, r in ranked_rows(summary) if len(r["rungs"]) == furthest]
        guard = held_back(rows, ranked)
        winner = guard["by"] if guard else ranked[0]
        dice = last_score(rows[winner])
        others = [last_score(rows[name]) for name in ranked if name != winner]
        summary.update(winner=winner, winner_dice=dice, winner_is_searched=winner not in BASELINES,
                       margin_over_next=round(dice - max(others), 4) if others else None,
                       winner_run=str(RaceFolder(folder).runs / winner), winner_arch=str(candidates[winner]),
                       **({"held_back": guard} if guard else {}))
        write_json(RaceFolder(folder).summary, summary)
        plot_race(summary, set(BASELINES), RaceFolder(folder).figure)
    return summary


def held_back(rows: dict[str, dict[str, Any]], ranked: list[str]) -> dict[str, Any] | None:
    """When the best of `ranked` (those that ran furthest, best first) is not hand-designed but leads the best
    hand-designed one by no more than one standard error of their paired per-case differences on the inner cases
    (the one-standard-error rule of model selection, Breiman et al. 1984): {candidate, by (that baseline), lead, se,
    cases}; the race hands over the baseline, as a user who never ran segnas would have had it. A lead of a few inner
    cases' noise is no reason to swap a known network for an unknown one. None otherwise (or without per-case scores:
    races run before they were kept)."""
    top, baselines = ranked[0], [name for name in ranked if name in BASELINES]
    if top in BASELINES or not baselines or not rows[top].get("cases") or not rows[baselines[0]].get("cases"):
        return None
    one, other = rows[top]["cases"], rows[baselines[0]]["cases"]
    d = np.array([one[c] - other[c] for c in one if c in other])
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("inf")  # one case cannot show a lead
    if not len(d) or d.mean() > se:
        return None
    return {"candidate": top, "by": baselines[0], "lead": round(float(d.mean()), 4),
            "se": round(se, 4) if np.isfinite(se) else None, "cases": len(d)}


def last_score(row: dict[str, Any]) -> float:
    """A rung table row's inner Dice at the last rung it ran (0 before any)."""
    return list(row["rungs"].values())[-1] if row["rungs"] else 0.0


def ranked_rows(summary: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The rung table's rows, best first: by the rungs a candidate ran, then by its last rung's inner Dice."""
    return sorted(summary["candidates"].items(), key=lambda item: (-len(item[1]["rungs"]), -last_score(item[1])))
