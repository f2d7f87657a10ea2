"""Op decisions scored through a supernet: the same random architectures for every candidate, and a lead
that counts only when it is larger than its noise."""

from __future__ import annotations

import random

from segnas.nas.arch import InputChoice, OpChoice, Pick
from segnas.nas.scores import decide, judge, score_decisions

CHOICES = [OpChoice("c/e0", ("conv3", "identity", "zero")), OpChoice("c/e1", ("conv3", "identity", "zero")),
           InputChoice("c/inputs", ("in0", "in1", "node0"), 2, ("c/e0", "c/e1", "c/e1"))]


def test_every_candidate_runs_alone_in_the_same_draws_and_zero_never() -> None:
    seen: list[tuple] = []

    def draw(i: int) -> dict:
        return {c.label: Pick([i % len(c.candidates)]) for c in CHOICES}

    def score(sel: dict, i: int) -> float:
        seen.append((i, {k: tuple(v.indices) for k, v in sel.items()}))
        return 0.0

    scores = score_decisions(CHOICES, draw, score, draws=3)
    assert set(scores) == {"c/e0", "c/e1"} and all(set(s) == {"conv3", "identity"} for s in scores.values())
    e0 = seen[:6]  # c/e0 runs conv3 in draws 0-2, then identity in the same draws; the rest of each draw unchanged
    assert [i for i, _ in e0] == [0, 1, 2, 0, 1, 2] and [s["c/e0"] for _, s in e0] == [(0,)] * 3 + [(1,)] * 3
    assert all(s["c/e1"] == tuple(draw(i)["c/e1"].indices) for i, s in e0)


def test_a_consistent_lead_is_clear_and_noise_is_not() -> None:
    rng = random.Random(0)
    base = [rng.gauss(0.8, 0.05) for _ in range(8)]  # architectures differ a lot; the candidate adds a little, always
    clear = judge({"a": [b + 0.01 for b in base], "b": base})
    assert clear["best"] == "a" and clear["clear"] and abs(clear["lead"] - 0.01) < 1e-9
    noisy = judge({"a": [b + rng.gauss(0, 0.05) for b in base], "b": [b + rng.gauss(0, 0.05) for b in base]})
    assert not noisy["clear"]
    values, summary = decide({"x": {"a": [b + 0.01 for b in base], "b": base}, "y": {"a": base, "b": base}})
    assert values == {"x": "a", "y": "a"} and summary["clear_share"] == 0.5 and summary["op_decisions"] == 2
