"""Search strategies. `STRATEGIES` is the single list of what exists; any strategy runs on any space."""

from __future__ import annotations

from segnas.errors import SegnasError
from segnas.nas.strategies.base import Evaluate, Evaluation, Strategy
from segnas.nas.strategies.darts import Darts, PCDarts
from segnas.nas.strategies.enas import Enas
from segnas.nas.strategies.gumbel import Gumbel2

STRATEGIES: dict[str, type[Strategy]] = {"gumbel2": Gumbel2, "darts": Darts, "pcdarts": PCDarts, "enas": Enas}


def get_strategy(name: str) -> type[Strategy]:
    """The registered strategy class called `name`."""
    if name not in STRATEGIES:
        raise SegnasError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}")
    return STRATEGIES[name]


__all__ = ["STRATEGIES", "Evaluate", "Evaluation", "Strategy", "get_strategy"]
