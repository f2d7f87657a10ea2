"""`darts`: first-order DARTS, softmax over all candidates — the baseline. `pcdarts`: PC-DARTS, the
same with partial channels (K) and edge-normalisation weights β on the inputs of each node."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from segnas.nas.arch import Choice, Pick, Selection, module_key
from segnas.nas.strategies.base import LogitStrategy, logit_table


class Darts(LogitStrategy):
    """Softmax weights α over every candidate of every edge."""

    name = "darts"

    def __init__(self, choices: Sequence[Choice], lr: float = 3e-4, betas: tuple[float, float] = (0.5, 0.999),
                 weight_decay: float = 1e-3, decisiveness: float = 0.0) -> None:
        super().__init__(choices, lr, betas, weight_decay, decisiveness)

    def selection(self, for_weights: bool) -> Selection:
        sel: Selection = {}
        for c in self.ops:
            w = self.softmax(c.label)
            sel[c.label] = Pick(range(len(c.candidates)), w.detach() if for_weights else w)
        return sel


class PCDarts(Darts):
    """PC-DARTS: DARTS on a 1/K channel slice, plus β over each node's inputs; export keeps the top-k inputs."""

    name = "pcdarts"

    def __init__(self, choices: Sequence[Choice], lr: float = 6e-4, betas: tuple[float, float] = (0.5, 0.999),
                 weight_decay: float = 1e-3, partial_channels: int = 4, decisiveness: float = 0.0) -> None:
        super().__init__(choices, lr, betas, weight_decay, decisiveness)
        self.partial_channels = partial_channels
        self.beta = logit_table(self.inputs)

    def selection(self, for_weights: bool) -> Selection:
        sel = super().selection(for_weights)
        for c in self.inputs:
            w = torch.softmax(self.beta[module_key(c.label)], 0)
            sel[c.label] = Pick(range(len(c.candidates)), w.detach() if for_weights else w)
        return sel

    def logits(self) -> list[torch.Tensor]:
        return super().logits() + list(self.beta.values())

    def probabilities(self) -> dict[str, list[float]]:
        probs = super().probabilities()
        with torch.no_grad():
            probs.update({c.label: torch.softmax(self.beta[module_key(c.label)], 0).tolist() for c in self.inputs})
        return probs
