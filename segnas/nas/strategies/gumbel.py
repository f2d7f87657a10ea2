"""`gumbel2`: SCNAS's stochastic bi-level optimisation (Algorithm 1): two ops per edge from a Gumbel-softmax.

Per edge: z̄ = softmax((α + ε) / τ), ε ~ Gumbel(0, 1); a pair {o1, o2} is drawn with probability
(z̄_o1 + z̄_o2) / (|O| − 1) — the same as drawing o1 with probability z̄_o1 and o2 uniformly among
the others; the pair's weights are z̄ renormalised to sum to one, all others zero. Gradients reach
α through z̄. τ is annealed, so the pair's second weight fades: once it is negligible, only one op
is computed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from segnas.nas.arch import Choice, Pick, Selection, module_key
from segnas.nas.strategies.base import LogitStrategy

NEGLIGIBLE = 1e-3


def sample_pair(zbar: torch.Tensor, generator: torch.Generator | None = None) -> tuple[int, int]:
    """Draw {o1, o2} with probability (z̄_o1 + z̄_o2) / (n − 1); returned sorted."""
    n = zbar.numel()
    first = int(torch.multinomial(zbar.detach(), 1, generator=generator))
    other = int(torch.randint(n - 1, (1,), generator=generator))
    second = other + (other >= first)
    return (first, second) if first < second else (second, first)


def pair_probability(zbar: Sequence[float], pair: tuple[int, int]) -> float:
    """The formula of Algorithm 1, for tests."""
    return (zbar[pair[0]] + zbar[pair[1]]) / (len(zbar) - 1)


def two_op_pick(alpha: torch.Tensor, tau: float, detach: bool) -> Pick:
    """Algorithm 1 for one edge."""
    u = torch.rand_like(alpha).clamp_(1e-10, 1 - 1e-10)
    zbar = torch.softmax((alpha - torch.log(-torch.log(u))) / tau, 0)
    pair = sample_pair(zbar)
    w = zbar[list(pair)]
    w = w / w.sum()
    if detach:
        w = w.detach()
    keep = [i for i in range(2) if float(w[i].detach()) >= NEGLIGIBLE]
    if len(keep) == 1:  # τ annealed: the second op no longer matters, do not compute it
        return Pick([pair[keep[0]]], w[keep])
    return Pick(list(pair), w)


class Gumbel2(LogitStrategy):
    """Logits α per edge; two sampled ops per edge per step; τ annealed exponentially over the epochs."""

    name = "gumbel2"

    def __init__(self, choices: Sequence[Choice], lr: float = 3e-3, betas: tuple[float, float] = (0.5, 0.999),
                 weight_decay: float = 0.0, tau_start: float = 1.0, tau_end: float = 0.1, decisiveness: float = 0.0) -> None:
        super().__init__(choices, lr, betas, weight_decay, decisiveness)
        self.tau_start, self.tau_end = tau_start, tau_end
        self.tau = tau_start

    def selection(self, for_weights: bool) -> Selection:
        return {c.label: two_op_pick(self.alpha[module_key(c.label)], self.tau, for_weights) for c in self.ops}

    def end_epoch(self, epoch: int, epochs: int) -> dict[str, float]:
        """τ after epoch `epoch` (0-based) of `epochs`: exponential from tau_start to tau_end."""
        frac = min(1.0, (epoch + 1) / max(1, epochs - 1))
        self.tau = self.tau_start * math.exp(frac * math.log(self.tau_end / self.tau_start))
        return {"tau": self.tau}

    def status(self) -> str:
        return f"τ {self.tau:.2f}"

    def extra_state(self) -> dict[str, Any]:
        return {"tau": self.tau}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.tau = state["tau"]
