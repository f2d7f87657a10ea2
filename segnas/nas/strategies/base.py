"""What every strategy is: it owns the architecture parameters and their optimiser (so they live in
its checkpoint), picks what the supernet runs each step, learns from an architecture step, and
exports the found Architecture. Strategies know decisions (labels, candidates), never a space.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

import torch
from torch import nn

from segnas.nas.arch import Architecture, Choice, InputChoice, OpChoice, Selection, derive, module_key


class Evaluation(NamedTuple):
    """The supernet's result on an architecture-validation batch: loss (scalar) and Dice per sample (B,)."""

    loss: torch.Tensor
    dice: torch.Tensor


Evaluate = Callable[[Selection, bool], Evaluation]  # (selection, with_grad) → Evaluation


class Cost(Protocol):
    """What a strategy needs of a cost model (`segnas.nas.cost.SpaceCost`): strategies never see a space."""

    def expected_ms(self, probabilities: dict[str, torch.Tensor]) -> torch.Tensor:
        """Expected training-step milliseconds under per-decision candidate probabilities (differentiable)."""
        ...

    def predict(self, values: dict[str, Any]) -> tuple[float, int]:
        """(milliseconds, bytes) of a training step of the architecture with these values."""
        ...


def logit_table(choices: Sequence[Choice]) -> nn.ParameterDict:
    """Near-uniform logits, 1e-3 · N(0, 1) per candidate, for each decision (keyed by `module_key(label)`)."""
    return nn.ParameterDict({module_key(c.label): nn.Parameter(1e-3 * torch.randn(len(c.candidates))) for c in choices})


class Strategy(nn.Module):
    """Base of the one-shot strategies: parameters, optimiser, the differentiable architecture step."""

    name = "base"
    partial_channels = 1  # PC-DARTS asks the supernet to route 1/K of the channels through the ops

    def __init__(self, choices: Sequence[Choice], lr: float = 3e-4, betas: tuple[float, float] = (0.5, 0.999),
                 weight_decay: float = 1e-3, decisiveness: float = 0.0) -> None:
        super().__init__()
        self.decisiveness = decisiveness  # weight of the decisions' mean normalised entropy in the architecture loss (DiNTS)
        self.choices = list(choices)
        self.ops = [c for c in self.choices if isinstance(c, OpChoice)]
        self.inputs = [c for c in self.choices if isinstance(c, InputChoice)]
        self.hparams: dict[str, Any] = {"lr": lr, "betas": tuple(betas), "weight_decay": weight_decay}
        self._optimizer: torch.optim.Optimizer | None = None
        self.cost: Cost | None = None
        self.cost_target_ms, self.cost_weight = math.inf, 0.0
        self.connect()

    def set_cost(self, cost: Cost, target_ms: float, weight: float) -> None:
        """Steer towards architectures whose training step takes at most `target_ms` on this device: the
        architecture loss gains `weight` × max(0, expected ms / target − 1) (ProxylessNAS's expected latency)."""
        self.cost, self.cost_target_ms, self.cost_weight = cost, target_ms, weight

    def op_probabilities(self) -> dict[str, torch.Tensor]:
        """Per op decision, the candidates' probabilities, differentiable (empty for strategies without logits)."""
        return {}

    def cost_penalty(self) -> torch.Tensor | None:
        """weight × max(0, E[step ms] / target − 1) under the current distribution; None without a cost model."""
        probs = self.op_probabilities()
        if self.cost is None or not self.cost_weight or not probs:
            return None
        return self.cost_weight * torch.relu(self.cost.expected_ms(probs) / self.cost_target_ms - 1)

    def connect(self, broadcast: Callable[[Any], Any] = lambda obj: obj, mean: Callable[[float], float] = lambda v: v,
                sync_gradients: Callable[[], None] = lambda: None) -> None:
        """Hooks for data parallelism (identity in one process): rank 0's sample to every rank, the mean of
        a number over ranks, and averaging this strategy's gradients before its optimiser steps."""
        self.broadcast, self.mean, self.sync_gradients = broadcast, mean, sync_gradients

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """Adam over this strategy's parameters (made on first use, after subclasses add them)."""
        if self._optimizer is None:
            self._optimizer = torch.optim.Adam(self.parameters(), **self.hparams)
        return self._optimizer

    def selection(self, for_weights: bool) -> Selection:
        """What the supernet runs in the next step; weights detached when the step trains weights."""
        raise NotImplementedError

    def probabilities(self) -> dict[str, list[float]]:
        """Current probability of each candidate, per decision (for derive and plots)."""
        raise NotImplementedError

    def logits(self) -> list[torch.Tensor]:
        """The architecture logits, one vector per decision (differentiable strategies)."""
        return []

    def entropy(self) -> torch.Tensor:
        """Mean normalised entropy of the decisions' softmax (1: uniform, 0: decided); differentiable."""
        terms = [-(torch.softmax(a, 0) * torch.log_softmax(a, 0)).sum() / math.log(a.numel()) for a in self.logits() if a.numel() > 1]
        return torch.stack(terms).mean() if terms else torch.zeros(())

    def arch_step(self, evaluate: Evaluate) -> dict[str, float]:
        """One step on the architecture parameters: first-order, through the validation loss (plus
        `decisiveness` × the decisions' entropy, which pushes each towards one candidate)."""
        self.optimizer.zero_grad(set_to_none=True)
        ev = evaluate(self.selection(for_weights=False), True)
        loss = ev.loss + self.decisiveness * self.entropy().to(ev.loss.device) if self.decisiveness else ev.loss
        penalty = self.cost_penalty()
        if penalty is not None:
            loss = loss + penalty.to(ev.loss.device)
        loss.backward()
        self.sync_gradients()
        self.optimizer.step()
        out = {"arch_loss": float(ev.loss.detach()), "arch_dice": float(ev.dice.mean())}
        if penalty is not None:
            out["cost_penalty"] = float(penalty.detach())
        return out

    def end_epoch(self, epoch: int, epochs: int) -> dict[str, float]:
        """Schedules that move once an architecture epoch (temperature); returns what to log."""
        return {}

    def status(self) -> str:
        """A few words on the strategy's state for the progress line (e.g. its temperature); '' if none."""
        return ""

    def export(self, space: str, settings: dict[str, Any], evaluate_all: Callable[[Selection], float] | None = None) -> Architecture:
        """The found architecture."""
        return derive(space, settings, self.choices, self.probabilities())

    def checkpoint(self) -> dict[str, Any]:
        """Everything needed to continue exactly: parameters, optimiser state, schedules."""
        return {"params": self.state_dict(), "optimizer": self.optimizer.state_dict(), "extra": self.extra_state()}

    def restore(self, state: dict[str, Any]) -> None:
        """Inverse of `checkpoint`."""
        self.load_state_dict(state["params"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.load_extra_state(state["extra"])

    def extra_state(self) -> dict[str, Any]:
        """Non-parameter state (temperature, baseline)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Inverse of `extra_state`."""


class LogitStrategy(Strategy):
    """A strategy with logits α over every op decision (gumbel2, darts, pcdarts)."""

    def __init__(self, choices: Sequence[Choice], lr: float, betas: tuple[float, float], weight_decay: float,
                 decisiveness: float = 0.0) -> None:
        super().__init__(choices, lr, betas, weight_decay, decisiveness)
        self.alpha = logit_table(self.ops)

    def softmax(self, label: str) -> torch.Tensor:
        """The candidates' weights of an op decision (carrying gradients to α)."""
        return torch.softmax(self.alpha[module_key(label)], 0)

    def logits(self) -> list[torch.Tensor]:
        return list(self.alpha.values())

    def op_probabilities(self) -> dict[str, torch.Tensor]:
        return {c.label: self.softmax(c.label) for c in self.ops}

    def probabilities(self) -> dict[str, list[float]]:
        with torch.no_grad():
            return {c.label: self.softmax(c.label).tolist() for c in self.ops}
