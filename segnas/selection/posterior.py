"""What short trainings say about each decision: a Bayesian additive model of a network's score.

score = intercept + Σ_d effect[d, value_d] + noise, with one effect per candidate of every op decision d. The
prior is conjugate (normal-inverse-gamma): effects ~ N(0, σ² / λ), σ² ~ InvGamma(a0, b0), the intercept nearly
free. With the defaults, σ ≈ 0.05 Dice and a candidate's effect about 2σ a priori (on LA after 150 steps, measured
since: a network's Dice varies by 0.01–0.02 over training seeds, 0.11 for one that trains erratically, and the
additive model leaves 0.03–0.05 unexplained; random draws of SCNAS's space spread over 30 points). From the
posterior: the probability that each candidate is its decision's best (the table a trained search reports and
judges "decided" on) and Thompson draws (what it trains next). Pure numpy.

The noise is Student-t (ν = NOISE_DOF), not normal: a short training now and then fails (on LA a network scored
0.29, 0.46 and 0.50 with three seeds, where others vary by 0.01–0.02), and the left-out residuals of 14 LA
searches' trials have kurtosis 23, with 6 % beyond 2.5 σ against 1 % for a normal (BENCHMARKS.md). A normal model
lets such a trial drag its candidates down and swell σ for every decision; the t model reads it as an outlier. It
is fitted as a scale mixture of normals: each trial gets a weight w = (ν + 1) / (ν + r² / σ²) from its residual r,
and the conjugate update is the weighted one, iterated to a fixed point (EM for the t's weights, Lange, Little &
Taylor 1989) with the scales chosen again at each fixed point until they stay.

A hardware-aware search scores a network by its Dice minus a penalty for its step time. The step is not noisy and
is nearly additive in the candidates (a fixed part plus each op's cost), so it gets its own model (`Cost`, fitted to
the trials' measured steps) instead of being folded into the noisy score, where its hinge (no penalty below the
target) would read as noise to the additive model; "best" is then the combination with the highest Dice effects
minus the predicted penalty, found by coordinate ascent over the decisions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# The prior's scales: σ, the score's noise, and the sd of a candidate's effect. None (the default): the pair of
# NOISE_GRID × RATIO_GRID under which the scores are likeliest (empirical Bayes). Fixed scales (σ 0.05, effects 0.1)
# overfitted on LA: they predicted a left-out trial worse than the trials' mean in five of six searches (RMSE
# 0.069–0.199 against sds of 0.043–0.106); chosen from the trials, 0.042–0.107, and on ISBI as well (BENCHMARKS.md).
NOISE_SD: float | None = None
EFFECT_SD: float | None = None
NOISE_GRID = tuple(float(n) for n in np.geomspace(0.005, 0.1, 9))
RATIO_GRID = tuple(float(r) for r in np.geomspace(0.05, 30, 15))  # effect sd / σ
PRIOR_NOISE_SD, PRIOR_EFFECT_SD = 0.05, 0.1  # before any score, where the evidence cannot choose
NOISE_DOF: float | None = 4.0  # the t noise's degrees of freedom (Lange et al.'s default); None: normal noise
REWEIGHTS = 20  # at most this many weightings of the trials (they settle in 5–10)


@dataclass(frozen=True)
class Posterior:
    """The normal-inverse-gamma posterior of the additive model: effects' mean, precision, and σ²'s (a, b)."""

    decisions: dict[str, tuple[str, ...]]
    mean: np.ndarray  # (1 + Σ candidates,): intercept, then each decision's candidates in order
    precision: np.ndarray  # (P, P)
    a: float
    b: float
    effect_sd: float = PRIOR_EFFECT_SD  # the prior's effect scale it was fitted with
    log_evidence: float = 0.0  # log p(scores) under that prior
    weights: tuple[float, ...] = ()  # each score's weight in the fit: 1 with normal noise, below 1 for an outlier

    def draws(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, P) coefficient vectors drawn from the posterior."""
        sigma2 = self.b / rng.gamma(self.a, 1.0, size=n)  # σ² ~ InvGamma(a, b)
        chol = np.linalg.cholesky(np.linalg.inv(self.precision))
        z = rng.standard_normal((n, len(self.mean)))
        return self.mean + np.sqrt(sigma2)[:, None] * z @ chol.T

    def choose(self, coefficients: np.ndarray, cost: Cost | None = None, passes: int = 3) -> np.ndarray:
        """(n, decisions) index of each decision's chosen candidate per row of (n, P) coefficients: the largest
        effect, or with `cost` the combination maximising effects − predicted penalty (coordinate ascent)."""
        blocks = list(_blocks(self.decisions).values())
        choice = np.stack([np.argmax(coefficients[:, lo:hi], axis=1) for lo, hi in blocks], axis=1)
        if cost is None or cost.weight <= 0:
            return choice
        for _ in range(passes):
            for d in range(len(blocks)):
                choice[:, d] = np.argmax(_priced(coefficients, blocks, d, choice, cost), axis=1)
        return choice

    def best(self, coefficients: np.ndarray, cost: Cost | None = None) -> list[dict[str, str]]:
        """Per row of (n, P) coefficients, each decision's chosen candidate (`choose`) by name."""
        labels = list(self.decisions)
        return [{label: self.decisions[label][i] for label, i in zip(labels, row)} for row in self.choose(coefficients, cost)]

    def p_best(self, rng: np.random.Generator, n: int = 4000, cost: Cost | None = None) -> dict[str, list[float]]:
        """Per decision, each candidate's posterior probability of being chosen in the best network (Monte Carlo)."""
        choice = self.choose(self.draws(n, rng), cost)
        return {label: [round(float(c) / n, 4) for c in np.bincount(choice[:, d], minlength=len(self.decisions[label]))]
                for d, label in enumerate(self.decisions)}

    def stakes(self, rng: np.random.Generator, n: int = 4000, cost: Cost | None = None,
               level: float = 0.9) -> dict[str, dict[str, object]]:
        """Per decision, what its choice is worth in the score: the chosen candidate of `mean_best` against the
        runner-up (the next-best posterior mean, the other decisions held at their choice), the posterior mean of the
        difference and its central `level` interval, and the `plausible` candidates: the choice and every one it does
        not beat at that level (its gain's lower bound ≤ 0). A probability of being best says how sure; this, by how
        much, and which candidates the trials rule out."""
        chosen = self.choose(self.mean[None, :], cost)[0]
        coefficients = self.draws(n, rng)
        blocks = list(_blocks(self.decisions).values())
        out: dict[str, dict[str, object]] = {}
        for d, label in enumerate(self.decisions):
            totals = _priced(coefficients, blocks, d, chosen[None, :], cost)
            top = int(chosen[d])
            means = totals.mean(axis=0)
            means[top] = -np.inf
            second = int(np.argmax(means))
            gaps = totals[:, [top]] - totals  # (n, candidates): the choice's gain over each candidate
            lows = np.quantile(gaps, (1 - level) / 2, axis=0)
            high = np.quantile(gaps[:, second], (1 + level) / 2)
            names = self.decisions[label]
            out[label] = {"top": names[top], "runner_up": names[second], "gap": round(float(gaps[:, second].mean()), 4),
                          "interval": [round(float(lows[second]), 4), round(float(high), 4)],
                          "plausible": [names[top]] + [names[i] for i in np.argsort(-means, kind="stable") if i != top and lows[i] <= 0]}
        return out

    def shortfall(self, coefficients: np.ndarray, reference: Mapping[str, str], others: Sequence[Mapping[str, str]],
                  cost: Cost | None = None) -> np.ndarray:
        """(n, len(others)): per row of (n, P) `coefficients`, the score of the network `reference` less each of
        `others`' (every decision's effect summed, and with `cost` less its predicted step's penalty): what `reference`
        gains over each, jointly over the decisions they differ in."""
        x = design(self.decisions, [reference, *others])
        scores = coefficients @ x.T
        if cost is not None and cost.weight > 0:
            scores = scores - cost.penalty(x @ cost.coef)[None, :]
        return scores[:, :1] - scores[:, 1:]

    def noise_sd(self) -> float:
        """The posterior mean of σ, what the additive model leaves unexplained (≈ √(b / (a − 1)))."""
        return float(np.sqrt(self.b / max(self.a - 1.0, 1e-9)))

    def mean_best(self, cost: Cost | None = None) -> dict[str, str]:
        """The best network under the posterior mean effects."""
        return self.best(self.mean[None, :], cost)[0]


@dataclass(frozen=True)
class Cost:
    """A network's step (ms) as an additive function of its candidates, and what it costs a score:
    weight × max(0, step / target − 1)."""

    coef: np.ndarray  # (1 + Σ candidates,): the fixed part's ms, then each candidate's, in `design`'s order
    weight: float
    target_ms: float

    def penalty(self, ms: np.ndarray) -> np.ndarray:
        """The score's penalty for steps of `ms` milliseconds (any shape)."""
        return penalty(ms, self.weight, self.target_ms)


def penalty(ms: np.ndarray | float, weight: float, target_ms: float) -> np.ndarray:
    """What a step of `ms` milliseconds costs a score: weight × max(0, ms / target − 1) (ENAS's reward, issue 23)."""
    return weight * np.maximum(0.0, np.asarray(ms) / target_ms - 1.0)


def fit_cost(decisions: Mapping[str, Sequence[str]], rows: Sequence[Mapping[str, str]], step_ms: Sequence[float],
             target_ms: float, weight: float, ridge: float = 1e-3) -> Cost:
    """Least squares (a touch of ridge: before every candidate was timed the design is short of rank) of the
    measured steps of `rows` on their candidates."""
    x, y = design({k: tuple(v) for k, v in decisions.items()}, rows), np.asarray(step_ms, dtype=float)
    shrink = np.full(x.shape[1], ridge)
    shrink[0] = 0.0 if len(y) else ridge
    coef = np.linalg.solve(x.T @ x + np.diag(shrink), x.T @ y)
    return Cost(coef, weight, target_ms)


def step_table(decisions: Mapping[str, Sequence[str]], cost: Cost) -> dict[str, dict[str, float]]:
    """label → candidate → its milliseconds in `cost`'s additive model (the fixed part, `cost.coef[0]`, left out)."""
    return {label: {name: float(cost.coef[lo + i]) for i, name in enumerate(decisions[label])}
            for label, (lo, _) in _blocks(decisions).items()}


def fastest_plausible(post: Posterior, records: Sequence[Mapping[str, Any]], values: Mapping[str, Any],
                      rng: np.random.Generator, cost: Cost | None = None, level: float = 0.9,
                      n: int = 4000) -> dict[str, Any]:
    """The fastest network, by an additive model of the trials' measured steps, that the trials do not rank below
    `values` (the export) jointly: `values`' gain over it in the posterior's score has a central-`level` interval that
    reaches 0. Greedy from `values`: the swap of one op decision to a quicker candidate that saves most while the
    whole network stays not ruled out, until none does (only candidates some trial ran: an untimed one has no step to
    go by). Joint, not per decision: four losses each too small to rule out add up to one that is not (on ISBI,
    networks of each decision's quickest not-ruled-out candidate scored 0.4–2.4 points below the export, 6 of 6).
    {values: label → op, step_ms, export_step_ms (both predicted), shortfall: [mean, interval] of the export's gain}."""
    decisions = post.decisions
    fitted = fit_cost(decisions, [r["values"] for r in records], [r["step_ms"] for r in records], 1.0, 0.0)
    table = step_table(decisions, fitted)
    tried = {label: sorted({r["values"][label] for r in records}) for label in decisions}
    reference = {label: values[label] for label in decisions}
    draws = post.draws(n, rng)
    low, high = (1 - level) / 2, (1 + level) / 2

    def admitted(network: Mapping[str, str]) -> bool:
        return float(np.quantile(post.shortfall(draws, reference, [network], cost)[:, 0], low)) <= 0

    quick = dict(reference)
    while True:
        swaps = sorted(((table[label][quick[label]] - table[label][c], label, c) for label in decisions for c in tried[label]
                        if table[label][c] < table[label][quick[label]]), key=lambda s: (-s[0], s[1], s[2]))
        step = next(({**quick, label: c} for _, label, c in swaps if admitted({**quick, label: c})), None)
        if step is None:
            break
        quick = step
    gains = post.shortfall(draws, reference, [quick], cost)[:, 0]

    def predict(chosen: Mapping[str, Any]) -> float:
        return float(fitted.coef[0]) + sum(table[k][chosen[k]] for k in decisions)

    return {"values": quick, "step_ms": round(predict(quick), 1), "export_step_ms": round(predict(values), 1),
            "shortfall": [round(float(gains.mean()), 4), [round(float(q), 4) for q in np.quantile(gains, [low, high])]]}


def _priced(coefficients: np.ndarray, blocks: list[tuple[int, int]], d: int, choice: np.ndarray, cost: Cost | None) -> np.ndarray:
    """(n, candidates of decision `d`): their effects in each row of (n, P) `coefficients`, less, with `cost`, the step
    penalty of the network whose other decisions take `choice` ((n or 1, decisions) candidate indices)."""
    lo, hi = blocks[d]
    if cost is None or cost.weight <= 0:
        return coefficients[:, lo:hi]
    others = cost.coef[0] + sum(cost.coef[b + choice[:, e]] for e, (b, _) in enumerate(blocks) if e != d)
    return coefficients[:, lo:hi] - cost.penalty(np.asarray(others)[:, None] + cost.coef[None, lo:hi])


def _blocks(decisions: Mapping[str, Sequence[str]]) -> dict[str, tuple[int, int]]:
    """label → (first, end) column of its candidates in the design (column 0 is the intercept)."""
    out, start = {}, 1
    for label, candidates in decisions.items():
        out[label] = (start, start + len(candidates))
        start += len(candidates)
    return out


def design(decisions: Mapping[str, Sequence[str]], rows: Sequence[Mapping[str, str]]) -> np.ndarray:
    """(n, 1 + Σ candidates) one-hot design of `rows` (each: label → chosen candidate), intercept first."""
    blocks = _blocks(decisions)
    x = np.zeros((len(rows), 1 + sum(len(c) for c in decisions.values())))
    x[:, 0] = 1.0
    for i, row in enumerate(rows):
        for label, (lo, _) in blocks.items():
            x[i, lo + list(decisions[label]).index(row[label])] = 1.0
    return x


def fit(decisions: Mapping[str, Sequence[str]], rows: Sequence[Mapping[str, str]], scores: Sequence[float],
        noise_sd: float | None = NOISE_SD, effect_sd: float | None = EFFECT_SD, prior_dof: float = 4.0,
        noise_dof: float | None = NOISE_DOF) -> Posterior:
    """The posterior after observing `scores` of the architectures `rows` (none: the prior); a scale given as None
    is the one of its grid that gives the scores the highest marginal likelihood. With `noise_dof` the noise is
    Student-t: the scores are reweighted by their residuals until the weights settle."""
    table = {k: tuple(v) for k, v in decisions.items()}
    x, y = design(table, rows), np.asarray(scores, dtype=float)
    w = np.ones(len(y))
    if not len(y):
        return _conjugate(table, x, y, w, noise_sd or PRIOR_NOISE_SD, effect_sd or PRIOR_EFFECT_SD, prior_dof)
    noises = (noise_sd,) if noise_sd is not None else NOISE_GRID
    pairs = [(n, e) for n in noises for e in ((effect_sd,) if effect_sd is not None else tuple(r * n for r in RATIO_GRID))]
    chosen = None
    for _ in range(REWEIGHTS if noise_dof else 1):  # the scales chosen, the weights settled at them, … until the scales stay
        scales = _likeliest(x, y, w, pairs, prior_dof)
        post = _conjugate(table, x, y, w, *scales, prior_dof)
        if scales == chosen or not noise_dof:
            break
        chosen = scales
        for _ in range(REWEIGHTS):
            z2 = (y - x @ post.mean) ** 2 / post.noise_sd() ** 2
            w, before = (noise_dof + 1.0) / (noise_dof + z2), w
            post = _conjugate(table, x, y, w, *scales, prior_dof)
            if np.max(np.abs(w - before)) < 1e-3:
                break
    return post


def _solve(x: np.ndarray, y: np.ndarray, w: np.ndarray, shrink: float) -> tuple[np.ndarray, np.ndarray, float, float, float]:
    """(mean, precision, log |prior|, log |precision|, residual) of the weighted update at shrinkage (σ / effect sd)²."""
    prior = np.full(x.shape[1], shrink)
    prior[0] = 1e-6  # the intercept: nearly flat
    precision = x.T @ (w[:, None] * x) + np.diag(prior)
    mean = np.linalg.solve(precision, x.T @ (w * y)) if len(y) else np.zeros(x.shape[1])
    residual = max(float(y @ (w * y) - mean @ precision @ mean), 0.0) if len(y) else 0.0
    return mean, precision, float(np.log(prior).sum()), float(np.linalg.slogdet(precision)[1]), residual


def _evidence(solved: tuple[np.ndarray, np.ndarray, float, float, float], w: np.ndarray, noise_sd: np.ndarray,
              prior_dof: float) -> tuple[float, np.ndarray, np.ndarray]:
    """(a, b, log p(y)) of σ²'s posterior for each of the priors' noise scales `noise_sd` (an array)."""
    _, _, log_prior, log_precision, residual = solved
    a0, n = prior_dof / 2, len(w)
    b0 = a0 * noise_sd**2  # σ²'s prior mode near noise_sd²
    a, b = a0 + n / 2, b0 + residual / 2
    evidence = (0.5 * (log_prior - log_precision + float(np.log(w).sum())) + a0 * np.log(b0) - a * np.log(b) + math.lgamma(a)
                - math.lgamma(a0) - n / 2 * np.log(2 * np.pi))
    return a, b, evidence


def _likeliest(x: np.ndarray, y: np.ndarray, w: np.ndarray, pairs: Sequence[tuple[float, float]], prior_dof: float) -> tuple[float, float]:
    """The (noise sd, effect sd) of `pairs` under which the weighted scores are likeliest (one solve per shrinkage)."""
    by_shrink: dict[float, list[tuple[float, float]]] = {}
    for n, e in pairs:
        by_shrink.setdefault((n / e) ** 2, []).append((n, e))
    best, best_evidence = pairs[0], -np.inf
    for shrink, group in by_shrink.items():
        evidence = _evidence(_solve(x, y, w, shrink), w, np.array([n for n, _ in group]), prior_dof)[2]
        i = int(np.argmax(evidence))
        if evidence[i] > best_evidence:
            best, best_evidence = group[i], float(evidence[i])
    return best


def _conjugate(table: dict[str, tuple[str, ...]], x: np.ndarray, y: np.ndarray, w: np.ndarray, noise_sd: float,
               effect_sd: float, prior_dof: float) -> Posterior:
    """The normal-inverse-gamma update of one prior with the scores weighted by `w` (score i's variance σ² / w_i),
    with the log marginal likelihood of `y` under it."""
    solved = _solve(x, y, w, (noise_sd / effect_sd) ** 2)
    a, b, evidence = _evidence(solved, w, np.array([noise_sd]), prior_dof)
    return Posterior(table, solved[0], solved[1], float(a), float(b[0]), effect_sd, float(evidence[0]), tuple(float(v) for v in w))


def balanced(decisions: Mapping[str, Sequence[str]], n: int, rng: np.random.Generator) -> list[dict[str, str]]:
    """`n` architectures in which every candidate of every decision appears as evenly as possible: rounds of a
    fresh random permutation per decision (a repeated one would pair the same candidates of different decisions
    in every round, and their effects could not be told apart)."""
    out: list[dict[str, str]] = []
    while len(out) < n:
        orders = {label: rng.permutation(len(c)) for label, c in decisions.items()}
        rounds = max(len(c) for c in decisions.values())
        out += [{label: decisions[label][orders[label][t % len(c)]] for label, c in decisions.items()} for t in range(rounds)]
    return out[:n]


def shuffled_p(decisions: Mapping[str, Sequence[str]], rows: Sequence[Mapping[str, str]], scores: Sequence[float],
               rng: np.random.Generator, shuffles: int = 200, draws: int = 1000, cost: Cost | None = None,
               noise_sd: float | None = NOISE_SD, effect_sd: float | None = EFFECT_SD,
               noise_dof: float | None = NOISE_DOF) -> dict[str, float]:
    """Per decision, how often scores shuffled across the same trials give its top candidate's probability of being
    best a value at least as high as the real scores do (a permutation p-value): a decision can clear 2× uniform on
    noise alone when each candidate was tried only a few times. The cost model, not noisy, is not shuffled."""
    def tops(ys: Sequence[float]) -> dict[str, float]:
        return {k: max(v) for k, v in fit(decisions, rows, ys, noise_sd, effect_sd, noise_dof=noise_dof).p_best(rng, draws, cost).items()}

    real = tops(scores)
    higher = dict.fromkeys(real, 0)
    for _ in range(shuffles):
        for k, v in tops(rng.permutation(np.asarray(scores, dtype=float)).tolist()).items():
            higher[k] += v >= real[k]
    return {k: round((higher[k] + 1) / (shuffles + 1), 4) for k in real}
