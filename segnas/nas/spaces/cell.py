"""One cell class for search and for found networks: two inputs, N nodes, a DAG of edges.

Node j sums the edges from its sources (`in0`, `in1`, `node0` … `node{j-1}`). In a supernet every
edge is a MixedEdge and the selection says which candidates run; in a found network only the edges
from the chosen inputs exist, each with its one op. The cell's output is the concatenation of its
nodes (SCNAS) or that concatenation filtered back to C channels by a 1×1 conv (Thrifty NAS).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from segnas.nas.arch import ZERO, Choice, InputChoice, OpChoice, Value, edge_label, inputs_label, module_key, op_label
from segnas.nas.spaces.mixed import FixedEdge, MixedEdge, Selection
from segnas.nas.spaces.ops import FUSED, SLOPE, ActConvNorm, ConvNorm, conv_norms, resize


def node_sources(j: int) -> list[str]:
    """Names of the states node j may read."""
    return ["in0", "in1"] + [f"node{i}" for i in range(j)]


def cell_choices(kind: str, nodes: int, candidates: Sequence[str], k: int = 2, tie: str = "edge") -> list[Choice]:
    """The labelled decisions of one cell type: an op per edge, and k inputs per node with more than k sources.
    With ops tied over a node's or the cell's edges (`tie`), every node reads all its sources (no input choice)."""
    out: list[Choice] = []
    for j in range(nodes):
        sources = node_sources(j)
        if tie != "edge":
            out += [OpChoice(label, tuple(candidates)) for label in dict.fromkeys(op_label(kind, j, i, tie) for i in range(len(sources)))
                    if all(label != c.label for c in out)]
            continue
        edges = tuple(edge_label(kind, j, i) for i in range(len(sources)))
        out += [OpChoice(e, tuple(candidates)) for e in edges]
        if len(sources) > k:
            out.append(InputChoice(inputs_label(kind, j), tuple(sources), k, edges))
    return out


class InputAdapter(nn.Module):
    """Bring one cell input to the cell's grid (resize by `factor`) and width (LeakyReLU-Conv1×1-IN).

    The 1×1 projection runs on the coarser grid: after downsampling, before upsampling.
    """

    def __init__(self, c_in: int, c_out: int, dims: int, factor: float) -> None:
        super().__init__()
        self.factor = factor
        self.proj = ActConvNorm(c_in, c_out, dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.factor > 1:
            return resize(self.proj(x), self.factor)
        return self.proj(resize(x, self.factor))


class Cell(nn.Module):
    """A cell of type `kind`; `forward(s0, s1, selection)` → (B, out_channels, *S).

    `factors` resize the two inputs onto the grid the edges read; edges from the inputs run at
    `stride` (2 in reduction cells). `fixed` holds a found architecture's values (None: supernet).
    """

    def __init__(self, kind: str, in_channels: tuple[int, int], factors: tuple[float, float], width: int, nodes: int,
                 dims: int, candidates: Sequence[str], stride: int = 1, output: str = "concat", out_channels: int | None = None,
                 fixed: Mapping[str, Value] | None = None, partial: int = 1, tie: str = "edge") -> None:
        super().__init__()
        self.kind, self.nodes, self.output, self.stride = kind, nodes, output, stride
        self.pre = nn.ModuleList(InputAdapter(c, width, dims, f) for c, f in zip(in_channels, factors))
        self.choices = cell_choices(kind, nodes, candidates, tie=tie)
        self.input_labels = {c.label: c for c in self.choices if isinstance(c, InputChoice)}
        self.edges = nn.ModuleDict()
        self.active: dict[int, list[int]] = {}  # node → indices of its sources that have an edge
        for j in range(nodes):
            sources = node_sources(j)
            chosen: Sequence[int] = range(len(sources))
            if fixed is not None and inputs_label(kind, j) in fixed:
                picked = fixed[inputs_label(kind, j)]  # an input decision's value is a list of sources (check_values)
                chosen = [sources.index(s) for s in (picked if isinstance(picked, list) else [picked])]
            self.active[j] = []
            for i in chosen:
                key, label = module_key(edge_label(kind, j, i)), op_label(kind, j, i, tie)  # the edge's place, its decision
                s = stride if sources[i].startswith("in") else 1
                if fixed is None:
                    self.edges[key] = MixedEdge(label, candidates, width, dims, s, partial)
                elif fixed[label] != ZERO:
                    self.edges[key] = FixedEdge(label, str(fixed[label]), width, dims, s)
                else:
                    continue
                self.active[j].append(i)
        # a found network runs each state's edges together once it is computed (`fused`): source → [(node, edge key)]
        self.leaving: dict[str, list[tuple[int, str]]] | None = None
        if fixed is not None:
            self.leaving = {}
            for j in range(nodes):
                for i in self.active[j]:
                    self.leaving.setdefault(node_sources(j)[i], []).append((j, module_key(edge_label(kind, j, i))))
        self.fuse = True  # False: edge by edge, as a supernet runs (the reference `fused` is tested against)
        self.out_channels = width * nodes if output == "concat" else int(out_channels or width)
        self.post = ActConvNorm(width * nodes, self.out_channels, dims) if output == "conv" else None

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, selection: Selection | None = None) -> torch.Tensor:
        """Inputs on their own grids → output on the cell's grid."""
        states = {"in0": self.pre[0](s0), "in1": self.pre[1](s1)}
        if selection is None and self.fuse and self.leaving is not None:
            return self._output(self.fused(states))
        ref: torch.Tensor | None = None
        for j in range(self.nodes):
            sources = node_sources(j)
            label = inputs_label(self.kind, j)
            pick = selection.get(label) if selection is not None else None
            indices = [i for i in (pick.indices if pick is not None else self.active[j]) if i in self.active[j]]
            acc = None
            for n, i in enumerate(indices):
                edge = self.edges[module_key(edge_label(self.kind, j, i))]
                pick_of_edge = None
                if isinstance(edge, MixedEdge):
                    if selection is None or edge.label not in selection:
                        raise ValueError(f"the selection has no pick for {edge.label!r}: a supernet runs only what it is told")
                    pick_of_edge = selection[edge.label]
                y = edge(states[sources[i]], pick_of_edge)
                if y is None:
                    continue
                if pick is not None and pick.weights is not None:
                    y = y * pick.weights[n]
                acc = y if acc is None else acc + y
            if acc is None:  # every edge into this node is `zero`
                acc = self._zeros(states, ref)
            ref = acc
            states[f"node{j}"] = acc
        return self._output(states)

    def fused(self, states: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A found network's nodes, each state's edges run together as soon as it is computed: one activation per
        state, and its `conv3` edges as one convolution (`conv_norms`). The same sums as edge by edge."""
        assert self.leaving is not None
        leaving = self.leaving
        arriving: dict[int, list[torch.Tensor]] = {j: [] for j in range(self.nodes)}

        def leave(source: str) -> None:
            x, edges = states[source], [(j, cast(FixedEdge, self.edges[key])) for j, key in leaving.get(source, [])]
            act = F.leaky_relu(x, SLOPE) if any(edge.op.preact for _, edge in edges) else x
            stacked = [(j, edge) for j, edge in edges if edge.name == FUSED]
            stacked = stacked if len(stacked) > 1 else []
            for (j, _), y in zip(stacked, conv_norms([cast(ConvNorm, edge.op) for _, edge in stacked], act) if stacked else []):
                arriving[j].append(y)
            for j, edge in edges:
                if (j, edge) not in stacked:
                    arriving[j].append(edge.op(act if edge.op.preact else x))

        leave("in0")
        leave("in1")
        ref: torch.Tensor | None = None
        for j in range(self.nodes):
            # every edge into this node is `zero` when nothing arrives
            ref = states[f"node{j}"] = sum(arriving[j][1:], arriving[j][0]) if arriving[j] else self._zeros(states, ref)
            leave(f"node{j}")
        return states

    def _zeros(self, states: dict[str, torch.Tensor], ref: torch.Tensor | None) -> torch.Tensor:
        """The value of a node whose every edge is `zero`: zeros shaped as the node before it, or as the cell's grid."""
        if ref is not None:
            return torch.zeros_like(ref)
        x = states["in1"]
        return x.new_zeros(x.shape[:2] + tuple(-(-n // self.stride) for n in x.shape[2:]))

    def _output(self, states: dict[str, torch.Tensor]) -> torch.Tensor:
        """The nodes concatenated, filtered by the 1×1 conv when the cell has one."""
        out = torch.cat([states[f"node{j}"] for j in range(self.nodes)], 1)
        return self.post(out) if self.post is not None else out

