"""Search strategies. `STRATEGIES` is the single list of what exists; any strategy runs on any space."""

from __future__ import annotations

import inspect
from typing import Any

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


FROM_CONFIG = ("choices", "lr", "betas", "weight_decay")  # given from the space and the arch_* settings, not strategy_options


def options(name: str) -> list[str]:
    """The `strategy_options` strategy `name` takes: its constructor's other keyword arguments."""
    return [p for p in inspect.signature(get_strategy(name)).parameters if p not in FROM_CONFIG]


def check_options(name: str, given: dict[str, Any]) -> None:
    """An error naming an option of `given` that strategy `name` does not take, and the ones it does."""
    if unknown := sorted(set(given) - set(options(name))):
        raise SegnasError(f"strategy_options.{unknown[0]}: strategy {name!r} has no such option; its options: "
                          f"{', '.join(options(name))}")


__all__ = ["STRATEGIES", "Evaluate", "Evaluation", "Strategy", "check_options", "get_strategy", "options"]
