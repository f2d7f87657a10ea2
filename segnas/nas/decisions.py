"""How decided a search is, from its probability tables alone (pure functions, no torch).

A decision is *decided* when its most probable candidate has at least twice the uniform probability
(2 / n for n candidates). The figures per epoch: each decision's normalised entropy (1 = uniform,
0 = certain), its top-1/top-2 margin, the share of op decisions that are decided, and how many
values of the derived architecture changed since the previous epoch. A search counts as decided when most op
decisions are and the derived architecture has settled: on ISBI a search whose learning rate forced 95 % of
its decisions still changed 18 % of them in its last epoch, and two seeds agreed on fewer than chance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

DECIDED_FACTOR = 2.0  # top probability ≥ this × uniform
DECIDED_SHARE = 0.6  # a search whose share of decided op decisions is below this ends "undecided"
STABLE_SHARE = 0.1  # … and so does one whose derived architecture still changed this share of its values in its last epoch


def entropy(p: Sequence[float]) -> float:
    """Entropy of `p` divided by log n: 1 for uniform, 0 for one certain candidate."""
    n = len(p)
    if n < 2:
        return 0.0
    return -sum(x * math.log(x) for x in p if x > 0) / math.log(n)


def margin(p: Sequence[float]) -> float:
    """Top probability minus the second."""
    top = sorted(p, reverse=True)
    return top[0] - top[1] if len(top) > 1 else 1.0


def decided(p: Sequence[float], factor: float = DECIDED_FACTOR) -> bool:
    """Whether the top candidate has at least `factor` × the uniform probability."""
    return max(p) >= factor / len(p) - 1e-12


def changed(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> int:
    """How many decisions of a derived architecture differ between two epochs (0 without a previous one)."""
    if before is None:
        return 0
    return sum(before.get(label) != value for label, value in after.items())


def summarize(probabilities: Mapping[str, Sequence[float]], op_labels: Iterable[str]) -> dict[str, float]:
    """Mean entropy and margin over every decision, and the share of op decisions that are decided."""
    ops = [label for label in op_labels if label in probabilities]
    tables = list(probabilities.values())
    if not tables:
        return {"mean_entropy": float("nan"), "mean_margin": float("nan"), "decided_share": float("nan"), "op_decisions": 0}
    return {"mean_entropy": sum(map(entropy, tables)) / len(tables),
            "mean_margin": sum(map(margin, tables)) / len(tables),
            "decided_share": sum(decided(probabilities[label]) for label in ops) / len(ops) if ops else float("nan"),
            "op_decisions": len(ops)}


def verdict(summary: Mapping[str, float], threshold: float = DECIDED_SHARE) -> str:
    """'decided' when at least `threshold` of the op decisions are and the derived architecture has settled
    (at most STABLE_SHARE of its values changed in the last epoch), else 'undecided'."""
    share = summary.get("decided_share", float("nan"))
    settled = summary.get("changed_share", 0.0) <= STABLE_SHARE
    return "decided" if share == share and share >= threshold and settled else "undecided"


def describe(summary: Mapping[str, float], threshold: float = DECIDED_SHARE) -> str:
    """The end of a search in plain words."""
    n = int(summary.get("op_decisions", 0))
    share = summary.get("decided_share", float("nan"))
    if share != share:
        return "no op decision to judge"
    counted = f"{round(share * n)} of {n} op decisions ({share:.0%}) have a clear favourite (top probability ≥ 2× uniform)"
    if verdict(summary, threshold) == "decided":
        return f"the search decided: {counted}"
    if share >= threshold:  # leaning, but still moving
        return (f"the search did NOT settle: {counted}, but {summary.get('changed_share', 0.0):.0%} of the derived "
                "architecture's decisions still changed in its last epoch, so which candidate leads is not yet "
                "reliable. Give it more time (--minutes) before trusting it.")
    return (f"the search did NOT decide: only {counted}; the exported architecture is close to a random draw of "
            "the space. Give it more time (--minutes) or fewer candidates before trusting it, or let `segnas race` "
            "choose by training its picks beside random draws and MONAI's UNet (`--no-baselines`: draws of the space "
            "only). On LA its supernets ranked trained networks no better than chance, while such races chose networks "
            "above every reference draw in 3 of 4 tries (BENCHMARKS.md).")


def describe_scores(clear_share: float, n: int, threshold: float = DECIDED_SHARE) -> tuple[str, str]:
    """(verdict, words) of a search whose op decisions were scored through its supernet (`segnas.nas.scores`)."""
    counted = (f"{round(clear_share * n)} of {n} op decisions ({clear_share:.0%}) have a best candidate that leads the "
               "runner-up by more than twice its standard error, scored through the supernet")
    if clear_share >= threshold:
        return "decided", f"the search decided: {counted}"
    return "undecided", (f"the search did NOT decide: only {counted}; the other decisions are as good as a random pick "
                         "to the supernet. Give it more time (--minutes) or more score_draws before trusting them.")

