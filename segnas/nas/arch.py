"""Architecture as data: labelled decisions, the found architecture, and `arch.json` (no torch here).

A space declares its decisions as labelled choices:
- `OpChoice("enc/node2/edge1", ("conv3", ..., "zero"))`: which operation an edge runs;
- `InputChoice("enc/node2/inputs", ("in0", "in1", "node0", "node1"), k=2)`: which earlier nodes feed a node.

A found architecture is the space name, the space's settings and a flat `{label: value}` dict, where a
value is an op name (op choice) or a list of k input names (input choice).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Union

from segnas.errors import SegnasError, short_repr

FORMAT_VERSION = 1
ZERO = "zero"


@dataclass(frozen=True)
class OpChoice:
    """Pick one operation for an edge."""

    label: str
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class InputChoice:
    """Pick `k` of the candidate inputs of a node; each input reaches it through the edge labelled `edges[i]`."""

    label: str
    candidates: tuple[str, ...]
    k: int
    edges: tuple[str, ...] = ()


Choice = Union[OpChoice, InputChoice]


# The label grammar of cell decisions, in one place: the op on edge i into node j of a cell type, and the
# inputs node j keeps.
def edge_label(kind: str, node: int, edge: int) -> str:
    """`{kind}/node{j}/edge{i}`: which op the edge from node j's i-th source runs."""
    return f"{kind}/node{node}/edge{edge}"


TIES = ("edge", "node", "cell")  # how many edges one op decision covers: one, a node's, a cell type's


def op_label(kind: str, node: int, edge: int, tie: str = "edge") -> str:
    """The op decision edge i into node j follows: its own (`edge_label`), its node's (`{kind}/node{j}/op`) or
    its cell type's (`{kind}/op`). Tied decisions gather the evidence of several edges into one."""
    if tie == "node":
        return f"{kind}/node{node}/op"
    return f"{kind}/op" if tie == "cell" else edge_label(kind, node, edge)


def inputs_label(kind: str, node: int) -> str:
    """`{kind}/node{j}/inputs`: which of its sources node j keeps."""
    return f"{kind}/node{node}/inputs"


def module_key(label: str) -> str:
    """A label as a ModuleDict/ParameterDict key (those may not contain '/' or '.')."""
    return label.replace("/", "__")


Value = Union[str, list[str]]


class Pick(NamedTuple):
    """What a strategy picks for one decision in one step: candidate indices and their weights.

    `weights` is a tensor of len(indices) that may carry gradients back to the strategy's
    parameters, or None for weight 1 each (ENAS). A selection is {label: Pick}.
    """

    indices: Sequence[int]
    weights: Any = None


Selection = dict[str, Pick]


@dataclass
class Architecture:
    """A found architecture: space name, space settings (dims, channels, …) and {label: value}; `provenance`
    says how it was found (the search's budget, proxy and how decided it ended), for readers only."""

    space: str
    settings: dict[str, Any]
    values: dict[str, Value] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"{self.space}({', '.join(f'{k}={v}' for k, v in self.settings.items())})"]
        lines += [f"  {label}: {', '.join(v) if isinstance(v, list) else v}" for label, v in sorted(self.values.items())]
        return "\n".join(lines)

    def with_settings(self, **changes: Any) -> Architecture:
        """The same decisions with other settings (wider, other channels/classes: transfer)."""
        return Architecture(self.space, {**self.settings, **changes}, dict(self.values), dict(self.provenance))

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form, with the format version."""
        out = {"format_version": FORMAT_VERSION, "space": self.space, "settings": self.settings, "values": self.values}
        return {**out, "provenance": self.provenance} if self.provenance else out

    def save(self, path: str | Path) -> None:
        """Write `arch.json` atomically."""
        from segnas.runtime.files import write_json

        write_json(path, self.to_json())


# Sane ranges of the settings every network shares; an int range is inclusive, a tuple of values is a set.
COMMON_LIMITS: dict[str, Any] = {"dims": (2, 3), "in_channels": range(1, 65), "num_classes": range(2, 1025)}


def check_settings(settings: Mapping[str, Any], limits: Mapping[str, Any], where: str) -> None:
    """Each setting named in `limits` within its range (a `range`) or among its values (a tuple); else an error."""
    for key, allowed in limits.items():
        if key not in settings:
            continue
        v = settings[key]
        if isinstance(allowed, range):
            if not isinstance(v, int) or isinstance(v, bool) or v not in allowed:
                raise SegnasError(f"{where}: setting {key!r} must be an integer from {allowed.start} to {allowed.stop - 1}, "
                                  f"found {short_repr(v)}")
        elif not any(v == a and type(v) is type(a) for a in allowed):
            raise SegnasError(f"{where}: setting {key!r} must be one of {', '.join(map(repr, allowed))}, found {short_repr(v)}")


def check_values(values: Mapping[str, Any], choices: Sequence[Choice], where: str) -> dict[str, Value]:
    """Check that `values` decides exactly the space's choices with allowed values; errors name the label."""
    by_label = {c.label: c for c in choices}
    unknown = sorted(set(values) - set(by_label))
    if unknown:
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise SegnasError(f"{where}: label {unknown[0]!r} is not a decision of this space{more}")
    missing = sorted(set(by_label) - set(values))
    if missing:
        raise SegnasError(f"{where}: label {missing[0]!r} has no value" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    out: dict[str, Value] = {}
    for label, choice in by_label.items():
        v = values[label]
        if isinstance(choice, OpChoice):
            if not isinstance(v, str) or v not in choice.candidates:
                raise SegnasError(f"{where}: label {label!r} has {v!r}; expected one of {', '.join(choice.candidates)}")
            out[label] = v
        else:
            if (not isinstance(v, list) or len(v) != choice.k or len(set(v)) != choice.k
                    or not all(isinstance(x, str) and x in choice.candidates for x in v)):
                raise SegnasError(f"{where}: label {label!r} has {v!r}; expected {choice.k} different of {', '.join(choice.candidates)}")
            out[label] = sorted(v, key=choice.candidates.index)
    return out


def load_architecture(path: str | Path) -> Architecture:
    """Read `arch.json`; the format is checked here, the labels against the space by `spaces.check`."""
    from segnas.runtime.files import read_json

    d = read_json(path)
    if not isinstance(d, dict):
        raise SegnasError(f"{path}: must be a JSON object")
    version = d.get("format_version")
    if version != FORMAT_VERSION:
        raise SegnasError(f"{path}: 'format_version' is {version!r}, this segnas reads {FORMAT_VERSION}")
    for key, typ in (("space", str), ("settings", dict), ("values", dict)):
        if not isinstance(d.get(key), typ):
            raise SegnasError(f"{path}: '{key}' must be a {typ.__name__}")
    provenance = d.get("provenance", {})
    if not isinstance(provenance, dict):
        raise SegnasError(f"{path}: 'provenance' must be a dict")
    return Architecture(d["space"], d["settings"], d["values"], provenance)


def edge_strength(probs: Sequence[float], candidates: Sequence[str]) -> float:
    """How strongly an edge is used: its largest non-zero operation probability (DARTS)."""
    return max(p for p, name in zip(probs, candidates) if name != ZERO)


def derive(space: str, settings: dict[str, Any], choices: Sequence[Choice],
           probabilities: Mapping[str, Sequence[float]]) -> Architecture:
    """Strategy probabilities → Architecture.

    Op choices: the most probable candidate other than `zero`. Input choices: the top-k inputs by
    their own probabilities when given (PC-DARTS edge weights, which are multiplied with the edge
    strength), else by edge strength alone (DARTS).
    """
    ops = {c.label: c for c in choices if isinstance(c, OpChoice)}
    values: dict[str, Value] = {}
    for label, op in ops.items():
        p = probabilities[label]
        values[label] = max((name for name in op.candidates if name != ZERO), key=lambda n: p[op.candidates.index(n)])
    for c in choices:
        if isinstance(c, InputChoice):
            strength = [edge_strength(probabilities[e], ops[e].candidates) for e in c.edges]
            if c.label in probabilities:
                strength = [s * w for s, w in zip(strength, probabilities[c.label])]
            ranked = sorted(range(len(c.candidates)), key=lambda i: -strength[i])[: c.k]
            values[c.label] = [c.candidates[i] for i in sorted(ranked)]
    return Architecture(space, dict(settings), values)


def sample_values(choices: Sequence[Choice], rng: Any) -> dict[str, Value]:
    """A uniformly random architecture (`rng`: a `random.Random`), never `zero` on an op choice."""
    values: dict[str, Value] = {}
    for c in choices:
        if isinstance(c, OpChoice):
            values[c.label] = rng.choice([n for n in c.candidates if n != ZERO])
        else:
            values[c.label] = sorted(rng.sample(list(c.candidates), c.k), key=c.candidates.index)
    return values
