"""`enas`: an LSTM controller trained with REINFORCE on validation Dice (ENAS, as RONASMIS uses it).

The controller knows only the decisions — a label, a number of candidates, and k for input
choices — and samples them one after another, each choice fed back as the next input. Children
share the supernet's weights and are trained continuously. Reward: mean per-case Dice of the
sampled child on an architecture-validation batch; REINFORCE with a moving-average baseline and an
entropy bonus. Export samples N children and keeps the best on the validation cases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from segnas.nas.arch import Architecture, Choice, InputChoice, Pick, Selection, Value
from segnas.nas.strategies.base import Evaluate, Strategy


class Enas(Strategy):
    """LSTM controller over the decisions; one sampled child per step."""

    name = "enas"

    def __init__(self, choices: Sequence[Choice], lr: float = 3.5e-4, betas: tuple[float, float] = (0.0, 0.999),
                 weight_decay: float = 0.0, hidden: int = 64, entropy_weight: float = 1e-4, baseline_decay: float = 0.95,
                 tanh_constant: float = 2.5, temperature: float = 5.0, export_samples: int = 20) -> None:
        super().__init__(choices, lr, betas, weight_decay)
        width = max(len(c.candidates) for c in self.choices)
        self.start = nn.Parameter(torch.zeros(1, hidden))
        self.lstm = nn.LSTMCell(hidden, hidden)
        self.embed = nn.Embedding(width, hidden)
        self.heads = nn.ModuleDict({str(n): nn.Linear(hidden, n) for n in sorted({len(c.candidates) for c in self.choices})})
        self.entropy_weight, self.baseline_decay = entropy_weight, baseline_decay
        self.tanh_constant, self.temperature = tanh_constant, temperature
        self.export_samples = export_samples
        self.baseline: float | None = None

    def _logits(self, h: torch.Tensor, n: int) -> torch.Tensor:
        return self.tanh_constant * torch.tanh(self.heads[str(n)](h)[0] / self.temperature)

    def sample(self, greedy: bool = False, given: dict[str, list[int]] | None = None) -> tuple[dict[str, list[int]], torch.Tensor, torch.Tensor]:
        """Walk the decisions → ({label: chosen indices in the order drawn}, Σ log-prob, Σ entropy);
        with `given`, score those choices instead of drawing."""
        dev = self.start.device  # the controller may live on a GPU: every index tensor goes there too
        h = c = torch.zeros_like(self.start)
        x = self.start
        chosen: dict[str, list[int]] = {}
        log_prob = entropy = self.start.new_zeros(())
        for choice in self.choices:
            n, k = len(choice.candidates), choice.k if isinstance(choice, InputChoice) else 1
            picks: list[int] = []
            for _ in range(k):
                h, c = self.lstm(x, (h, c))
                logits = self._logits(h, n)
                if picks:  # inputs are chosen without replacement
                    logits = logits.masked_fill(torch.tensor([i in picks for i in range(n)], device=dev), float("-inf"))
                dist = torch.distributions.Categorical(logits=logits, validate_args=False)  # no host sync per draw
                if given is not None:
                    i = given[choice.label][len(picks)]
                else:
                    i = int(torch.argmax(logits)) if greedy else int(dist.sample())
                log_prob = log_prob + dist.log_prob(torch.tensor(i, device=dev))
                entropy = entropy + dist.entropy()
                picks.append(i)
                x = self.embed(torch.tensor([i], device=dev))
            chosen[choice.label] = picks
        return chosen, log_prob, entropy

    def draw(self) -> dict[str, list[int]]:
        """A child drawn on rank 0 and broadcast to every rank."""
        with torch.no_grad():
            return self.broadcast(self.sample()[0])

    @staticmethod
    def to_selection(chosen: dict[str, list[int]]) -> Selection:
        """Sampled indices → a selection with weight 1 for each."""
        return {label: Pick(sorted(idx)) for label, idx in chosen.items()}

    def to_values(self, chosen: dict[str, list[int]]) -> dict[str, Value]:
        """Sampled indices → architecture values."""
        out: dict[str, Value] = {}
        for choice in self.choices:
            idx = sorted(chosen[choice.label])
            out[choice.label] = [choice.candidates[i] for i in idx] if isinstance(choice, InputChoice) else choice.candidates[idx[0]]
        return out

    def selection(self, for_weights: bool) -> Selection:
        return self.to_selection(self.draw())

    def arch_step(self, evaluate: Evaluate) -> dict[str, float]:
        """REINFORCE: reward = mean per-case Dice of one sampled child on a validation batch."""
        chosen, log_prob, entropy = self.sample(given=self.draw())
        with torch.no_grad():
            ev = evaluate(self.to_selection(chosen), False)
        reward = self.mean(float(ev.dice.mean()))  # every rank's validation batch counts
        if self.cost is not None and self.cost_weight:  # the child's predicted step time beyond the target costs reward
            reward -= self.cost_weight * max(0.0, self.cost.predict(self.to_values(chosen))[0] / self.cost_target_ms - 1)
        self.baseline = reward if self.baseline is None else self.baseline_decay * self.baseline + (1 - self.baseline_decay) * reward
        loss = -(reward - self.baseline) * log_prob - self.entropy_weight * entropy
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.sync_gradients()
        self.optimizer.step()
        return {"arch_loss": float(ev.loss), "arch_dice": reward, "reward_baseline": self.baseline, "entropy": float(entropy.detach())}

    def probabilities(self) -> dict[str, list[float]]:
        """Candidate probabilities along the greedy path (the controller's choices are conditional)."""
        probs: dict[str, list[float]] = {}
        with torch.no_grad():
            h = c = torch.zeros_like(self.start)
            x = self.start
            for choice in self.choices:
                h, c = self.lstm(x, (h, c))
                p = torch.softmax(self._logits(h, len(choice.candidates)), 0)
                probs[choice.label] = p.tolist()
                x = self.embed(torch.argmax(p).view(1))
        return probs

    def export(self, space: str, settings: dict[str, Any], evaluate_all: Callable[[Selection], float] | None = None) -> Architecture:
        """Sample `export_samples` children (the greedy one first) and keep the best on validation."""
        with torch.no_grad():
            candidates = [self.sample(greedy=True)[0]] + [self.sample()[0] for _ in range(self.export_samples - 1)]
        if evaluate_all is None:
            best = candidates[0]
        else:
            best = max(candidates, key=lambda ch: evaluate_all(self.to_selection(ch)))
        return Architecture(space, dict(settings), self.to_values(best))

    def extra_state(self) -> dict[str, Any]:
        return {"baseline": self.baseline}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.baseline = state["baseline"]
