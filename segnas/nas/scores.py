"""Op decisions scored through the trained supernet's shared weights, instead of read from the size of α.

Differentiable search reads an op's strength from its architecture parameter, which on the budgets of a CPU
stays at noise level (BENCHMARKS.md, issue 21). Here each candidate of a decision runs alone on its edges inside
the same draws of the rest of the supernet (common random numbers: the strategy's weight-training selection,
drawn once per draw and kept for every candidate) and is scored on the same validation batches, so two
candidates' scores differ only by what the candidate does.
A decision is *clear* when its best candidate beats the runner-up on average by more than twice the standard
error of their paired differences. This is the idea of perturbation-based selection (Wang et al., "Rethinking
architecture selection in differentiable NAS", ICLR 2021) in its simplest form; no torch here.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from segnas.nas.arch import ZERO, Choice, OpChoice, Pick, Selection

CLEAR_SE = 2.0  # a decision is clear when best − runner-up > this many standard errors of their paired differences


def score_decisions(choices: Sequence[Choice], draw: Callable[[int], Selection], score: Callable[[Selection, int], float],
                    draws: int = 8) -> dict[str, dict[str, list[float]]]:
    """Per op decision, per candidate (but `zero`), its score in each of `draws` selections `draw(i)` in which the
    decision runs that candidate alone; `score(selection, i)` scores draw i, the same way for every candidate."""
    base = [draw(i) for i in range(draws)]
    scores: dict[str, dict[str, list[float]]] = {}
    for c in choices:
        if isinstance(c, OpChoice):
            scores[c.label] = {name: [score({**base[i], c.label: Pick([k])}, i) for i in range(draws)]
                               for k, name in enumerate(c.candidates) if name != ZERO}
    return scores


def judge(per_candidate: Mapping[str, Sequence[float]]) -> dict[str, Any]:
    """One decision's best candidate, its lead over the runner-up (mean of paired differences), that lead's
    standard error, and whether it is clear."""
    ranked = sorted(per_candidate, key=lambda n: -statistics.fmean(per_candidate[n]))
    best = ranked[0]
    if len(ranked) == 1:
        return {"best": best, "lead": math.inf, "se": 0.0, "clear": True}
    diffs = [a - b for a, b in zip(per_candidate[best], per_candidate[ranked[1]])]
    lead = statistics.fmean(diffs)
    se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else math.inf
    return {"best": best, "runner_up": ranked[1], "lead": lead, "se": se, "clear": bool(lead > CLEAR_SE * se)}


def decide(scores: Mapping[str, Mapping[str, Sequence[float]]]) -> tuple[dict[str, str], dict[str, Any]]:
    """The best candidate of every scored decision, and a summary: the share of clear decisions and each judgement."""
    judged = {label: judge(per) for label, per in scores.items()}
    clear = sum(j["clear"] for j in judged.values())
    return ({label: j["best"] for label, j in judged.items()},
            {"clear_share": clear / len(judged) if judged else float("nan"), "op_decisions": len(judged),
             "judged": {label: {k: (round(v, 5) if isinstance(v, float) and math.isfinite(v) else v) for k, v in j.items()}
                        for label, j in judged.items()}})
