"""What a search by training's trials say, in words: which decisions are clear of shuffled scores, the verdict, and
how many minutes would give enough trials (at the first round, and at the end)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from segnas.nas.decisions import DECIDED_SHARE, STABLE_SHARE, decided

SHUFFLED_ALPHA = 0.05  # a decision counts as clear only when shuffled scores make its top candidate this rarely as probable


def cleared(probabilities: dict[str, list[float]], shuffled: dict[str, float]) -> dict[str, bool]:
    """label → whether the decision clears 2× uniform *and* shuffled scores rarely make its top candidate as probable."""
    return {k: decided(p) and float(shuffled[k]) < SHUFFLED_ALPHA for k, p in probabilities.items()}


def clear_of_shuffled(probabilities: dict[str, list[float]], shuffled: dict[str, float]) -> dict[str, float]:
    """The share and number of op decisions that are `cleared`."""
    clear = sum(cleared(probabilities, shuffled).values())
    return {"clear_share": clear / max(len(probabilities), 1), "clear": clear}


def judge(summary: dict[str, Any], tied: bool = False) -> tuple[str, str]:
    """(verdict, words): decided when most op decisions clear 2× uniform beyond what shuffled scores give. With a
    few trials per candidate, 2× uniform alone is often reached on noise (on LA, 4 of 4 decisions with
    permutation p 0.24–1.0). `tied`: the ops are tied per cell type already (no fewer decisions to suggest)."""
    n, share = int(summary["op_decisions"]), summary["decided_share"]
    counted = (f"{round(share * n)} of {n} op decisions have a clear favourite (probability of being best ≥ 2× uniform), "
               f"{summary['clear']} of them beyond what the same trials with shuffled scores give (p < {SHUFFLED_ALPHA})")
    stake = ""
    if "trial_dice" in summary:  # how far the choices moved the score, beside what the model cannot explain
        low, mid, high = summary["trial_dice"]
        stake = (f" Its trials' inner Dice spanned {low:.3f}–{high:.3f} (median {mid:.3f}, sd {summary['trial_dice_sd']:.3f}); "
                 f"the additive model puts their noise at σ ≈ {summary['noise_sd']:.3f}.")
        if outliers := summary.get("outliers"):
            stake += (f" {len(outliers)} trial(s) scored far from what their ops predict (trial {', '.join(map(str, outliers))}): "
                      "read as trainings that went wrong, they count for less.")
    if summary["clear_share"] >= DECIDED_SHARE and summary.get("changed_share", 0.0) <= STABLE_SHARE:
        return "decided", (f"the search by training decided: {counted}.{stake} Its trials are short, so this also "
                           f"rewards networks that merely learn fast (on LA a search on shuffled labels decided too).")
    fewer = "" if tied else ", or fewer decisions (tie the ops per cell type: space_settings.tie=cell)"
    return "undecided", (f"the search by training did NOT decide: {counted}; {summary['trials_per_candidate']:.1f} trials "
                         f"per candidate do not yet tell them apart. Give it {more_minutes(summary)}{fewer}, before trusting "
                         f"its decisions.{stake}")


def stakes_words(stakes: dict[str, dict[str, Any]]) -> str:
    """One sentence: what each decision's choice gains over its runner-up, which candidates it does not beat, and
    for how many decisions the runner-up may be as good."""
    def one(label: str, s: dict[str, Any]) -> str:
        also = ", ".join(s["plausible"][1:]) or "none"
        return (f"{label} {s['top']} {s['gap']:+.3f} over {s['runner_up']} ({s['interval'][0]:+.3f} to {s['interval'][1]:+.3f}; "
                f"not beaten: {also})")

    open_ = [label for label, s in stakes.items() if s["interval"][0] <= 0]
    tail = (f"; for {len(open_)} of {len(stakes)} ({', '.join(open_)}) the runner-up may be as good, so another search could "
            "well choose it" if open_ else "")
    return (f"What each decision's best candidate (posterior mean) gains over its runner-up (score, 90 % interval), and "
            f"the candidates it does not beat: {'; '.join(one(k, s) for k, s in stakes.items())}{tail}.")


ENOUGH_PER_CANDIDATE = 5  # LA searches with ~5 trials per candidate decided or nearly, and beat random draws; with 2 their pick did not


def more_minutes(summary: dict[str, Any]) -> str:
    """'about N --minutes': what ENOUGH_PER_CANDIDATE trials per candidate take at this search's median trial time,
    `side_by_side` at once."""
    per, seconds, done = summary["trials_per_candidate"], summary.get("trial_seconds"), summary.get("trials")
    if not seconds or not done or per >= ENOUGH_PER_CANDIDATE:
        return "more --minutes"
    trials, at_once = math.ceil(done * ENOUGH_PER_CANDIDATE / per), int(summary.get("side_by_side", 1))
    pace = f"{trials} trials of {seconds:.0f} s here" + (f", {at_once} at a time" if at_once > 1 else "")
    return f"about {math.ceil(math.ceil(trials / at_once) * seconds / 60)} --minutes ({pace}, {ENOUGH_PER_CANDIDATE} per candidate)"


def outlook(trial_seconds: float, budget_s: float, decisions: dict[str, tuple[str, ...]], side_by_side: int = 1) -> str | None:
    """After the first round: a warning when the budget, at that round's pace (`side_by_side` trials each
    `trial_seconds`), gives fewer than ENOUGH_PER_CANDIDATE trials per candidate (the verdict would be undecided),
    with the minutes that would give enough; else None."""
    if not math.isfinite(budget_s) or trial_seconds <= 0:
        return None
    trials = max(int(budget_s // trial_seconds), 1) * side_by_side
    per = trials / float(np.mean([len(c) for c in decisions.values()]))
    if per >= ENOUGH_PER_CANDIDATE:
        return None
    need = more_minutes({"trials_per_candidate": per, "trial_seconds": trial_seconds, "trials": trials, "side_by_side": side_by_side})
    at_once = f", {side_by_side} at a time" if side_by_side > 1 else ""
    return (f"at {trial_seconds:.0f} s per trial{at_once}, {budget_s / 60:g} minutes give about {trials} trials, {per:.1f} per candidate: "
            f"too few to decide ({ENOUGH_PER_CANDIDATE} per candidate are). Stop it and give it {need}, or let it run "
            "and export its best trial.")
