"""Strategies: SCNAS Algorithm 1 exactly, gradients to the architecture parameters, REINFORCE that learns,
and every strategy × every space × 2D/3D taking a step and exporting a valid architecture."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest
import torch
from torch.overrides import TorchFunctionMode

from segnas.nas.arch import TIES, OpChoice
from segnas.nas.spaces import SPACES
from segnas.nas.strategies import STRATEGIES, Evaluation
from segnas.nas.strategies.enas import Enas
from segnas.nas.strategies.gumbel import Gumbel2, pair_probability, sample_pair, two_op_pick


def test_pair_distribution_matches_algorithm_1() -> None:
    zbar = torch.tensor([0.4, 0.25, 0.15, 0.1, 0.06, 0.03, 0.01, 0.0])
    g = torch.Generator().manual_seed(0)
    n = 40_000
    counts = Counter(sample_pair(zbar, g) for _ in range(n))
    for pair in itertools.combinations(range(8), 2):
        expected = pair_probability(zbar.tolist(), pair)
        observed = counts[pair] / n
        assert abs(observed - expected) < 4 * math.sqrt(expected * (1 - expected) / n) + 1e-4, (pair, observed, expected)
    assert sum(pair_probability(zbar.tolist(), p) for p in itertools.combinations(range(8), 2)) == pytest.approx(1.0)


def test_pair_weights_renormalised_and_alpha_gets_gradients() -> None:
    torch.manual_seed(0)
    alpha = torch.nn.Parameter(torch.randn(8))
    pick = two_op_pick(alpha, tau=1.0, detach=False)
    assert len(pick.indices) == 2 and float(pick.weights.detach().sum()) == pytest.approx(1.0)
    (pick.weights * torch.tensor([1.0, 3.0])).sum().backward()
    assert alpha.grad is not None and alpha.grad.abs().sum() > 0


def test_negligible_second_op_is_not_computed() -> None:
    torch.manual_seed(0)
    alpha = torch.tensor([20.0, 0, 0, 0, 0, 0, 0, 0])
    picks = [two_op_pick(alpha, tau=0.1, detach=True) for _ in range(50)]
    assert all(len(p.indices) == 1 and p.indices[0] == 0 for p in picks)


def test_temperature_anneals_to_its_end() -> None:
    s = Gumbel2([OpChoice("e", ("a", "b"))], tau_start=1.0, tau_end=0.1)
    taus = [s.end_epoch(e, 10)["tau"] for e in range(10)]
    assert taus == sorted(taus, reverse=True) and taus[-1] == pytest.approx(0.1) and taus[0] < 1.0


def test_enas_learns_a_rewarded_choice() -> None:
    choices = [OpChoice(f"c/e{i}", ("conv3", "identity", "max_pool3")) for i in range(3)]
    torch.manual_seed(0)
    s = Enas(choices, lr=0.05, entropy_weight=0.0)
    before = s.probabilities()["c/e1"][2]

    def evaluate(sel, grad):
        reward = 1.0 if list(sel["c/e1"].indices) == [2] else 0.0
        return Evaluation(torch.tensor(0.0), torch.tensor([reward]))

    for _ in range(150):
        s.arch_step(evaluate)
    assert s.probabilities()["c/e1"][2] > max(0.8, before + 0.3)


CASES = [(strategy, space, dims, "edge") for strategy in sorted(STRATEGIES) for space in sorted(SPACES) for dims in (2, 3)]
TIED = [(strategy, space, 2, tie) for strategy in sorted(STRATEGIES) for space in sorted(SPACES) for tie in TIES if tie != "edge"]


@pytest.mark.slow
@pytest.mark.parametrize("strategy, space, dims, tie", CASES + TIED)
def test_every_strategy_on_every_space(strategy: str, space: str, dims: int, tie: str) -> None:
    torch.manual_seed(0)
    sp = SPACES[space]
    settings = sp.settings(dims=dims, channels=16 if space == "unet" else 8, tie=tie, **({"depth": 3} if space == "nested" else {}))
    s = STRATEGIES[strategy](sp.choices(**settings))
    net = sp.supernet(partial_channels=s.partial_channels, **settings)
    x = torch.randn(2, 1, *(16,) * dims)
    y = torch.randint(0, 2, (2, 1, *(16,) * dims))
    before = [p.detach().clone() for p in s.parameters()]

    def evaluate(sel, grad):
        with torch.set_grad_enabled(grad):
            out = net(x, sel)
            loss = torch.nn.functional.cross_entropy(out, y[:, 0])
        return Evaluation(loss, (out.argmax(1) == y[:, 0]).float().flatten(1).mean(1))

    stats = s.arch_step(evaluate)
    assert math.isfinite(stats["arch_loss"])
    assert any(not torch.equal(a, b.detach()) for a, b in zip(before, s.parameters()))  # the step moved something
    s.optimizer.zero_grad(set_to_none=True)
    out = net(x, s.selection(for_weights=True))
    out.mean().backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in s.parameters())  # weight steps never reach α
    arch = sp.check(s.export(space, settings, lambda sel: float(evaluate(sel, False).dice.mean())))
    assert sp.network(arch)(x).shape == (2, 2, *(16,) * dims)
    state = s.checkpoint()
    twin = STRATEGIES[strategy](sp.choices(**settings))
    twin.restore(state)
    assert twin.probabilities() == s.probabilities()


class _OneDevice(TorchFunctionMode):
    """Fails any torch call whose tensor arguments sit on different devices (as CUDA would; CPU and meta mix)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        flat = [*args, *kwargs.values()]
        devices = {a.device.type for a in flat if isinstance(a, torch.Tensor)}
        assert len(devices) <= 1, f"{func} got tensors on {devices}"
        return func(*args, **kwargs)


def test_enas_controller_keeps_its_tensors_on_its_device() -> None:
    # The controller on "meta" stands for a GPU: an index tensor made on the CPU inside sample() stopped
    # the LA search on an H100 at its first step.
    choices = [OpChoice(f"c/e{i}", ("conv3", "identity", "max_pool3")) for i in range(3)]
    s = Enas(choices)
    given = s.sample()[0]
    s.to("meta")
    with _OneDevice():
        _, log_prob, entropy = s.sample(given=given)
    assert log_prob.device.type == entropy.device.type == "meta"
