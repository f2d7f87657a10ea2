"""Every space × 2D/3D × two widths: supernets run what selections list; networks build from architectures."""

from __future__ import annotations

import random

import pytest
import torch

from segnas.errors import SegnasError
from segnas.nas.arch import OpChoice
from segnas.nas.spaces import SPACES
from segnas.nas.spaces.cell import Cell
from segnas.nas.spaces.mixed import MixedEdge, Pick
from segnas.networks.model import check_patch, patch_multiples

WIDTHS = {"unet": (8, 12), "nested": (4, 8)}
CASES = [(name, dims, width) for name in sorted(SPACES) for dims in (2, 3) for width in WIDTHS[name]]


def _size(dims: int, name: str = "unet") -> tuple[int, ...]:
    """Smallest input that keeps ≥ 2 voxels per axis at the deepest level (depth 3 in 3D, the default in 2D)."""
    return (32,) * dims if dims == 2 else (16,) * dims


def _settings(name: str, dims: int, **kw: int) -> dict:
    """Test settings: nested 3D at depth 3 so that 16³ inputs suffice (its default depth 4 runs in 2D)."""
    return dict(dims=dims, **({"depth": 3} if name == "nested" and dims == 3 else {}), **kw)


def random_selection(choices: list, how: str, rng: random.Random) -> dict[str, Pick]:
    """1, 2 or all candidates per op choice, with softmax weights that carry gradients."""
    sel = {}
    for c in choices:
        n = len(c.candidates)
        if isinstance(c, OpChoice):
            k = {"one": 1, "two": 2, "all": n}[how]
            idx = sorted(rng.sample(range(n), k))
            sel[c.label] = Pick(idx, torch.softmax(torch.randn(k), 0).requires_grad_() if how != "one" else None)
        elif how == "one":  # ENAS-style: k sampled inputs, weight 1
            sel[c.label] = Pick(sorted(rng.sample(range(n), c.k)))
    return sel


@pytest.mark.parametrize("name, dims, width", CASES)
@pytest.mark.parametrize("how", ["one", "two", "all"])
def test_supernet_forward_backward(name: str, dims: int, width: int, how: str) -> None:
    space = SPACES[name]
    settings = _settings(name, dims, channels=width, in_channels=2, num_classes=3)
    torch.manual_seed(0)
    net = space.supernet(**settings)
    sel = random_selection(space.choices(**settings), how, random.Random(1))
    x = torch.randn(1, 2, *_size(dims, name))
    y = net(x, sel)
    assert y.shape == (1, 3, *_size(dims, name))
    y.square().mean().backward()
    weighted = [p.weights for p in sel.values() if p.weights is not None]
    assert all(w.grad is not None for w in weighted)  # weights reach back to the strategy
    assert any(w.grad.abs().sum() > 0 for w in weighted) or how == "one"


@pytest.mark.parametrize("name, dims, width", CASES)
def test_random_architecture_builds_a_smaller_network(name: str, dims: int, width: int) -> None:
    space = SPACES[name]
    settings = _settings(name, dims, channels=width, in_channels=3, num_classes=4)
    arch = space.random(seed=width, **settings)
    net = space.network(arch)
    x = torch.randn(2, 3, *_size(dims, name))
    assert net(x).shape == (2, 4, *_size(dims, name))
    n_net = sum(p.numel() for p in net.parameters())
    n_super = sum(p.numel() for p in space.supernet(**settings).parameters())
    assert 0 < n_net < n_super


@pytest.mark.parametrize("name, dims, width", CASES)
@pytest.mark.parametrize("ops", ["drawn", "conv3"])
def test_a_found_network_running_each_states_edges_together_computes_what_it_does_edge_by_edge(
        name: str, dims: int, width: int, ops: str) -> None:
    """`Cell.fuse`: one activation per state and its `conv3` edges as one convolution give the same outputs and
    gradients as the edges run one by one (up to float rounding), for drawn networks and for every op a `conv3`."""
    space = SPACES[name]
    settings = _settings(name, dims, channels=width, in_channels=2, num_classes=3)
    arch = space.random(seed=width, **settings)
    if ops == "conv3":
        arch.values.update({c.label: "conv3" for c in space.choices(**settings) if isinstance(c, OpChoice)})
    torch.manual_seed(0)
    net = space.network(arch)
    cells = [m for m in net.modules() if isinstance(m, Cell)]
    x = torch.randn(2, 2, *_size(dims, name))
    results = []
    for fuse in (True, False):
        for cell in cells:
            cell.fuse = fuse
        net.zero_grad()
        y = net(x)
        (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
        results.append((y.detach(), [p.grad.clone() for p in net.parameters()]))
    (fused, fused_grads), (apart, apart_grads) = results
    assert torch.allclose(fused, apart, atol=1e-5)
    assert all(torch.allclose(a, b, rtol=1e-3, atol=1e-5 * float(b.abs().max()) + 1e-8) for a, b in zip(fused_grads, apart_grads))


def test_mixed_edge_runs_only_what_is_picked() -> None:
    edge = MixedEdge("e", ("conv3", "max_pool3", "identity", "zero"), 4, 3, 1)
    calls = []
    for i, op in enumerate(edge.ops):
        op.register_forward_hook(lambda m, a, o, i=i: calls.append(i))
    x = torch.randn(1, 4, 8, 8, 8)
    edge(x, Pick([1, 2], torch.tensor([0.5, 0.5])))
    assert calls == [1, 2]
    assert edge(x, Pick([3])) is None


@pytest.mark.parametrize("stride", [1, 2])
def test_partial_channels_keep_the_shape(stride: int) -> None:
    edge = MixedEdge("e", ("conv3", "identity"), 8, 3, stride, partial=4)
    assert edge.ops[0][0].in_channels == 2  # ops see C/K channels
    y = edge(torch.randn(1, 8, 8, 8, 8), Pick([0, 1], torch.tensor([0.5, 0.5])))
    assert y.shape == (1, 8, *(8 // stride,) * 3)


def test_ronasmis_options_deep_supervision_and_conv_skips() -> None:
    space = SPACES["unet"]
    arch = space.random(0, dims=3, channels=8, skip="conv", deep_supervision=True, num_classes=2)
    net = space.network(arch).train()
    outs = net(torch.randn(1, 1, 16, 16, 16))
    assert [o.shape[-1] for o in outs] == [16, 8, 4]  # full, 1/2, 1/4
    assert net.eval()(torch.randn(1, 1, 16, 16, 16)).shape == (1, 2, 16, 16, 16)
    assert any("skips" in n and "weight" in n for n, _ in net.named_parameters())


def test_every_op_in_every_position() -> None:
    """Each candidate, forced on every edge of both spaces, builds and runs (2D, small)."""
    for name, space in SPACES.items():
        ops = next(c for c in space.choices() if isinstance(c, OpChoice)).candidates
        for op in ops:
            if op == "zero":
                continue
            arch = space.random(0, dims=2, channels=8)
            for c in space.choices(dims=2, channels=8):
                if isinstance(c, OpChoice):
                    arch.values[c.label] = op
            assert space.network(arch)(torch.randn(1, 1, 32, 32)).shape == (1, 2, 32, 32), (name, op)


@pytest.mark.parametrize("name", sorted(SPACES))
@pytest.mark.parametrize("tie", ["node", "cell"])
def test_tied_ops_one_decision_for_many_edges_and_every_source_read(name: str, tie: str) -> None:
    from segnas.nas.arch import InputChoice
    from segnas.nas.spaces.mixed import FixedEdge

    space = SPACES[name]
    settings = _settings(name, 2, channels=8, tie=tie)
    untied = space.choices(**_settings(name, 2, channels=8))
    choices = space.choices(**settings)
    assert not any(isinstance(c, InputChoice) for c in choices)  # every node reads all its sources
    assert 0 < len(choices) < sum(isinstance(c, OpChoice) for c in untied)
    arch = space.random(seed=0, **settings)
    net = space.network(arch)
    edges = [m for m in net.modules() if isinstance(m, FixedEdge)]
    assert {e.label for e in edges} == set(arch.values)  # each decision covers edges …
    assert all(e.name == arch.values[e.label] for e in edges)  # … and they all run its op
    untied_net = space.network(space.random(seed=0, **_settings(name, 2, channels=8)))
    assert len(edges) > sum(isinstance(m, FixedEdge) for m in untied_net.modules())  # no inputs dropped
    x = torch.randn(1, 1, *_size(2, name))
    assert net(x).shape == (1, 2, *_size(2, name))
    kinds = {label.split("/")[0] for label in arch.values}
    assert len(choices) == len(kinds) * (1 if tie == "cell" else settings.get("nodes", space.defaults["nodes"]))


def test_an_architecture_from_before_ties_reads_as_untied() -> None:
    from segnas.nas.arch import Architecture

    arch = SPACES["unet"].random(seed=0, dims=2, channels=8)
    old = Architecture("unet", {k: v for k, v in arch.settings.items() if k != "tie"}, arch.values)
    assert SPACES["unet"].check(old).settings["tie"] == "edge"


@pytest.mark.parametrize("name", sorted(SPACES))
@pytest.mark.parametrize("dims", [2, 3])
def test_a_strided_stem_runs_every_cell_on_half_the_grid_and_returns_full_resolution_logits(name: str, dims: int) -> None:
    space = SPACES[name]
    settings = _settings(name, dims, channels=WIDTHS[name][0], stem_stride=2)
    size = tuple(2 * n for n in _size(dims, name))  # the stem halves it: the deepest level keeps 2 voxels per axis
    torch.manual_seed(0)
    x = torch.randn(1, 1, *size)
    assert space.supernet(**settings)(x, random_selection(space.choices(**settings), "two", random.Random(0))).shape == (1, 2, *size)
    net = space.network(space.random(seed=0, **settings))
    seen: list[tuple[int, ...]] = []
    net.stem.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape[2:])))
    assert net(x).shape == (1, 2, *size)
    assert seen == [tuple(n // 2 for n in size)]
    plain = {k: v for k, v in settings.items() if k != "stem_stride"}
    depth = space.settings(**plain)["depth"]
    assert patch_multiples(space.settings(**settings)) == [2 ** (depth + 1)] * dims
    assert patch_multiples(space.settings(**plain)) == [2**depth] * dims
    with pytest.raises(SegnasError, match="stem stride 2"):
        check_patch([2**depth * 3] * dims, space.settings(**settings), name)
