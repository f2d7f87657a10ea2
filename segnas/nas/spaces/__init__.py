"""Search spaces. `SPACES` is the single list of what exists; tests loop over it.

Each space declares its decisions (`choices`), builds a supernet whose `forward(x, selection)` runs
only what the selection lists, and builds the network of a found architecture (`forward(x)`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from segnas.errors import SegnasError, short_repr
from segnas.nas.arch import COMMON_LIMITS, Architecture, Choice, Value, check_settings, check_values, sample_values
from segnas.nas.spaces import nested, unet
from segnas.nas.spaces.mixed import FixedEdge, MixedEdge


@dataclass(frozen=True)
class Space:
    """A named search space: default settings, its decisions, and one builder for supernet and network."""

    name: str
    summary: str
    defaults: Mapping[str, Any]
    decisions: Callable[[Mapping[str, Any]], list[Choice]]
    builder: Callable[[Mapping[str, Any], Mapping[str, Value] | None, int], nn.Module]
    limits: Mapping[str, Any] = field(default_factory=dict)  # setting → range or allowed values (arch.check_settings)
    rule: Callable[[Mapping[str, Any]], str | None] | None = None  # what settings must satisfy together

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """Defaults with `overrides`; an unknown, mistyped or out-of-range setting is an error naming it."""
        unknown = sorted(set(overrides) - set(self.defaults))
        if unknown:
            raise SegnasError(f"space {self.name!r} has no setting {unknown[0]!r} (it has: {', '.join(self.defaults)})")
        out = {**self.defaults, **overrides}
        for key, default in self.defaults.items():
            if type(out[key]) is not type(default):
                raise SegnasError(f"space {self.name!r}: setting {key!r} must be {type(default).__name__}, found {short_repr(out[key])}")
        check_settings(out, {**COMMON_LIMITS, **self.limits}, f"space {self.name!r}")
        broken = self.rule(out) if self.rule is not None else None
        if broken:
            raise SegnasError(f"space {self.name!r}: {broken}")
        return out

    def choices(self, **overrides: Any) -> list[Choice]:
        """The labelled decisions of this space."""
        return self.decisions(self.settings(**overrides))

    def supernet(self, partial_channels: int = 1, **overrides: Any) -> nn.Module:
        """All candidates on every edge; `forward(x, selection)`."""
        return self.builder(self.settings(**overrides), None, partial_channels)

    def check(self, arch: Architecture, where: str = "the architecture") -> Architecture:
        """`arch` with its settings and values checked against this space."""
        if arch.space != self.name:
            raise SegnasError(f"{where}: architecture is for space {arch.space!r}, not {self.name!r}")
        try:
            settings = self.settings(**arch.settings)
        except SegnasError as e:
            raise SegnasError(f"{where}: {e}") from None
        return Architecture(self.name, settings, check_values(arch.values, self.decisions(settings), where), dict(arch.provenance))

    def network(self, arch: Architecture, where: str = "the architecture") -> nn.Module:
        """The found network: one op per edge; `forward(x)`."""
        arch = self.check(arch, where)
        return self.builder(arch.settings, arch.values, 1)

    def random(self, seed: int = 0, **overrides: Any) -> Architecture:
        """A uniformly random architecture of this space."""
        settings = self.settings(**overrides)
        return Architecture(self.name, settings, sample_values(self.decisions(settings), random.Random(seed)))


SPACES: dict[str, Space] = {
    "unet": Space("unet", "SCNAS U-Net cell space (4 cell types); RONASMIS base with skip='conv', deep_supervision=True",
                  unet.DEFAULTS, unet.choices, unet.UNet, unet.LIMITS, unet.rule),
    "nested": Space("nested", "Thrifty NAS UNet++-like nested DN/UP cells, constant channels", nested.DEFAULTS,
                    nested.choices, nested.Nested, nested.LIMITS),
}


def get_space(name: str, where: str | Path | None = None) -> Space:
    """The registered space called `name` (`where`: the file that named it, for the error)."""
    if name not in SPACES:
        raise SegnasError(f"{where}: " * (where is not None) + f"unknown space {name!r}; known: {', '.join(SPACES)}")
    return SPACES[name]


def inherit_weights(net: nn.Module, supernet: nn.Module) -> None:
    """Load a found network with its supernet's shared weights (RONASMIS: the child is not retrained).

    Every module but the edges has the same name in both; a fixed edge takes the weights of the op it
    chose among its mixed edge's candidates. The two must have been built with the same settings.
    """
    src = supernet.state_dict()
    edges = {name: m for name, m in net.named_modules() if isinstance(m, FixedEdge)}
    mapped = {}
    for key in net.state_dict():
        prefix, _, rest = key.partition(".op.")
        name = key
        if prefix in edges:
            mixed = supernet.get_submodule(prefix)
            assert isinstance(mixed, MixedEdge), prefix
            name = f"{prefix}.ops.{mixed.candidates.index(edges[prefix].name)}.{rest}"
        if name not in src or src[name].shape != net.state_dict()[key].shape:
            raise SegnasError(f"the supernet has no weights matching {key!r}: was it built with other settings?")
        mapped[key] = src[name]
    net.load_state_dict(mapped)
