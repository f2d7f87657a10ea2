"""The cost model: edges found with their shapes in every space, op costs measured once and cached per device, a
step predicted from the chosen ops, and every strategy steered away from an expensive op by the cost alone."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
import torch

from segnas.nas.arch import InputChoice, OpChoice
from segnas.nas.cost import Fusion, SpaceCost, calibrate, predicted_vs_measured, relative_error, sites, space_cost
from segnas.nas.spaces import SPACES, get_space
from segnas.nas.spaces.mixed import MixedEdge
from segnas.nas.strategies import STRATEGIES, Evaluation, get_strategy
from segnas.nas.timing import CostTable, device_info

CPU = torch.device("cpu")
PATCH = {2: [32, 32], 3: [16, 16, 16]}


def small(space: str, dims: int) -> dict:
    sp = get_space(space)
    extra = {"channels": 8, "depth": 2} if space == "unet" else {"channels": 8, "depth": 2}
    return sp.settings(dims=dims, in_channels=1, num_classes=2, **extra)


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("space", sorted(SPACES))
def test_every_edge_of_every_space_is_found_with_the_shape_it_reads(space: str, dims: int) -> None:
    settings = small(space, dims)
    found = sites(space, settings, PATCH[dims], batch=2)
    edges = [m for m in get_space(space).supernet(**settings).modules() if isinstance(m, MixedEdge)]
    assert len(found) == len(edges) and {s.label for s in found} == {e.label for e in edges}
    ops = {c.label for c in get_space(space).choices(**settings) if isinstance(c, OpChoice)}
    assert {s.label for s in found} == ops
    assert all(len(s.shape) == dims + 2 and s.shape[0] == 2 and s.stride in (1, 2) for s in found)


@pytest.mark.parametrize("tie", ["edge", "cell"])
def test_edges_that_read_one_state_are_found_together_and_what_their_conv3s_save_is_measured(tie: str) -> None:
    settings = get_space("unet").settings(dims=2, in_channels=1, num_classes=2, channels=6, depth=1, nodes=3, tie=tie)
    found = sites("unet", settings, [16, 16], batch=2)
    by_source: dict[int, list] = {}
    for s in found:
        by_source.setdefault(s.source, []).append(s)
    # each cell's inputs feed every node (3 edges), node0 feeds nodes 1 and 2, node1 feeds node 2, node2 none
    cells = len(found) // 9
    assert sorted(len(v) for v in by_source.values()) == sorted([3, 3, 2, 1] * cells)
    assert all(len({(s.shape, s.stride) for s in v}) == 1 for v in by_source.values())
    cost = space_cost(CostTable(None, CPU, repeats=1), "unet", settings, [16, 16], 2)
    assert sorted(len(f.labels) for f in cost.fusion) == sorted([3, 3, 2] * cells)
    assert all(len(f.saving_ms) == len(f.labels) - 1 for f in cost.fusion)


def test_a_step_is_predicted_with_what_a_states_conv3_edges_save_when_two_or_more_run_together() -> None:
    choices = (OpChoice("n/e0", ("conv3", "b", "zero")), OpChoice("n/e1", ("conv3", "b", "zero")),
               OpChoice("n/e2", ("conv3", "b", "zero")), InputChoice("n/inputs", ("in0", "in1", "node0"), 2, ("n/e0", "n/e1", "n/e2")))
    ops = {label: [(4.0, 0), (1.0, 0), (0.0, 0)] for label in ("n/e0", "n/e1", "n/e2")}
    cost = SpaceCost(choices, ops, fixed_ms=10.0, scale=2.0, fusion=(Fusion(("n/e0", "n/e1", "n/e2"), (3.0, 5.0)),))
    kept = ["in0", "in1"]
    assert cost.predict({"n/e0": "conv3", "n/e1": "b", "n/e2": "conv3", "n/inputs": kept})[0] == 10.0 + 2 * 5.0  # one conv3 kept
    assert cost.predict({"n/e0": "conv3", "n/e1": "conv3", "n/e2": "conv3", "n/inputs": kept})[0] == 10.0 + 2 * (8.0 - 3.0)
    everything = ["in0", "in1", "node0"]  # (an input choice of k = 3 keeps them all)
    assert cost.predict({"n/e0": "conv3", "n/e1": "conv3", "n/e2": "conv3", "n/inputs": everything})[0] == 10.0 + 2 * (12.0 - 5.0)
    # expected: each edge kept 2/3 of the time, independently; 2 of 3 kept w.p. 3·(2/3)²·(1/3), 3 of 3 w.p. (2/3)³
    p = {label: torch.tensor([1.0, 0.0, 0.0], requires_grad=True) for label in ops}
    expected = cost.expected_ms(p)
    assert float(expected.detach()) == pytest.approx(10.0 + 2 * (3 * 2 / 3 * 4.0 - (4 / 9 * 3.0 + 8 / 27 * 5.0)))
    expected.backward()
    assert all(q.grad is not None for q in p.values())


def test_the_expected_step_of_a_tied_decision_counts_its_edges_fused_all_together() -> None:
    ops = {"c/op": [(12.0, 0), (3.0, 0)]}  # three edges of one cell type, 4 ms each as conv3
    cost = SpaceCost((OpChoice("c/op", ("conv3", "b")),), ops, fixed_ms=10.0, scale=2.0,
                     fusion=(Fusion(("c/op", "c/op", "c/op"), (3.0, 5.0)),))
    assert cost.predict({"c/op": "conv3"})[0] == 10.0 + 2 * (12.0 - 5.0)
    assert float(cost.expected_ms({"c/op": torch.tensor([1.0, 0.0])})) == pytest.approx(10.0 + 2 * (12.0 - 5.0))
    assert float(cost.expected_ms({"c/op": torch.tensor([0.5, 0.5])})) == pytest.approx(10.0 + 2 * (7.5 - 2.5))


def test_the_table_measures_each_op_once_and_keeps_it_per_device(tmp_path: Path) -> None:
    table = CostTable(tmp_path, CPU, repeats=1)
    a = table.get("conv3", (1, 4, 8, 8), 1)
    assert table.get("conv3", (1, 4, 8, 8), 1) == a and table.measured == 1
    assert table.get("zero", (1, 4, 8, 8), 1) == (0.0, 0) and table.measured == 1
    assert a[0] > 0 and a[1] >= 4 * 8 * 8 * 4  # at least the output, float32
    table.save()
    again = CostTable(tmp_path, CPU, repeats=1)
    assert again.get("conv3", (1, 4, 8, 8), 1) == a and again.measured == 0
    saved = json.loads(again.path.read_text())
    saved["info"] = {**device_info(CPU), "device": "cpu:another machine"}
    again.path.write_text(json.dumps(saved))
    assert CostTable(tmp_path, CPU).entries == {}  # another device's figures are not used


def hand_made() -> SpaceCost:
    """Two op decisions feeding a node that keeps one of its two sources; op b is expensive."""
    choices = (OpChoice("n/e0", ("a", "b", "zero")), OpChoice("n/e1", ("a", "b", "zero")),
               InputChoice("n/inputs", ("in0", "in1"), 1, ("n/e0", "n/e1")))
    ops = {"n/e0": [(1.0, 10), (9.0, 90), (0.0, 0)], "n/e1": [(2.0, 20), (18.0, 180), (0.0, 0)]}
    return SpaceCost(choices, ops, fixed_ms=5.0, fixed_bytes=7)


def test_a_step_is_predicted_from_the_ops_the_architecture_keeps() -> None:
    cost = hand_made()
    assert cost.predict({"n/e0": "b", "n/e1": "a", "n/inputs": ["in0"]}) == (14.0, 97)
    assert cost.predict({"n/e0": "b", "n/e1": "a", "n/inputs": ["in1"]}) == (7.0, 27)  # e0's edge is not built
    assert cost.predict({"n/e0": "zero", "n/e1": "a", "n/inputs": ["in0"]}) == (5.0, 7)
    p = {"n/e0": torch.tensor([0.5, 0.5, 0.0]), "n/e1": torch.tensor([0.0, 1.0, 0.0])}
    assert float(cost.expected_ms(p)) == pytest.approx(5.0 + 0.5 * (5.0 + 18.0))  # each edge kept half the time


def test_a_target_the_space_cannot_reach_is_raised_halfway_to_its_average() -> None:
    cost = hand_made()  # each edge kept half the time; zero is never the cheapest pick (derivation skips it)
    assert cost.bound_ms(min) == pytest.approx(5.0 + 0.5 * (1.0 + 2.0))
    assert cost.bound_ms(statistics.fmean) == pytest.approx(5.0 + 0.5 * (5.0 + 10.0))
    assert cost.target_ms(5.0) == pytest.approx((6.5 + 12.5) / 2)  # 5 ms: below the cheapest architecture
    assert cost.target_ms(20.0) == 20.0  # reachable: kept


class Indifferent:
    """An architecture-validation result that does not depend on the architecture: only the cost can steer."""

    def __call__(self, selection: dict, with_grad: bool) -> Evaluation:
        loss = sum((p.weights.sum() * 0.0 for p in selection.values() if p.weights is not None), torch.zeros(()))
        return Evaluation(loss + 0.5, torch.full((2,), 0.5))


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_moves_away_from_an_expensive_op_by_the_cost_alone(strategy: str) -> None:
    torch.manual_seed(0)
    cost = hand_made()
    s = get_strategy(strategy)(list(cost.choices), lr=0.05, betas=(0.5, 0.999), weight_decay=0.0)
    s.set_cost(cost, target_ms=5.0, weight=1.0)
    before = s.probabilities()
    for _ in range(60):
        s.arch_step(Indifferent())
    after = s.probabilities()
    assert after["n/e1"][1] < before["n/e1"][1] - 0.05, (before, after)  # the expensive candidate of the dearer edge


@pytest.mark.slow
def test_predicted_step_times_follow_measured_ones_on_this_machine() -> None:
    """Within 3× (a shared, loaded CI machine is noisy at these millisecond steps): a bug that drops or double-counts
    edges is caught here; the 25 % target is checked by benchmarks/cost_model.py on a quiet machine."""
    space, settings = "nested", small("nested", 2)
    cost, rows = calibrate(space_cost(CostTable(None, CPU), space, settings, PATCH[2], 2), space, settings, PATCH[2], 2, CPU)
    assert cost.fixed_ms >= 0 and 0.5 <= cost.scale <= 2 and len(rows) == 4
    errors = [relative_error(*predicted_vs_measured(cost, get_space(space).random(seed=10 + i, **settings), PATCH[2], 2, CPU))
              for i in range(3)]
    assert sorted(errors)[1] < 2.0, errors


@pytest.mark.slow
def test_a_cost_aware_search_records_its_model_and_resumes_on_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from segnas.config import make_config
    from segnas.nas.search import search
    from tests.conftest import planned
    from tests.probe import SPACE, make_probe_dataset

    monkeypatch.setitem(SPACES, "probe", SPACE)
    work = planned(make_probe_dataset(tmp_path / "probe"), tmp_path / "work", folds=2)
    cfg = make_config(None, {"space": "probe", "strategy": "gumbel2", "epochs": 3, "steps_per_epoch": 2, "patch_size": [32, 32],
                             "batch_size": 2, "workers": 0, "cost_weight": 1.0})
    run = search(work, cfg, show_progress=False, stop_after=2)
    record = json.loads((run / "cost.json").read_text())
    assert record["reference"] == "monai_unet" and record["target_ms"] == pytest.approx(2.0 * record["reference_ms"], rel=1e-3)
    assert set(record["ops"]) == {c.label for c in SPACE.choices(dims=2, in_channels=1, num_classes=2) if isinstance(c, OpChoice)}
    assert list((work / "cost").glob("cost_*.json"))  # the op costs are cached for the next search on this device
    (run / "cost.json").write_text(json.dumps({**record, "target_ms": 1e9}))  # resumed: steers by the kept record
    search(work, cfg, show_progress=False, resume=True)
    arch = json.loads((run / "arch.json").read_text())
    assert arch["provenance"]["cost"]["target_step_ms"] == 1e9 and arch["provenance"]["cost"]["predicted_step_ms"] > 0
    logs = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert all("cost_penalty" in r for r in logs[:2]) and logs[2].get("cost_penalty", 0.0) == 0.0  # under the new target


def test_calibration_fits_a_line_and_falls_back_without_spread() -> None:
    from segnas.nas.cost import fit_line
    assert fit_line([100, 200, 300, 400], [150, 230, 310, 390]) == pytest.approx((70.0, 0.8))
    assert fit_line([100, 100, 101], [150, 160, 155]) == (pytest.approx(54.0), 1.0)  # no spread: the median difference
    assert fit_line([100, 200, 300], [1000, 100, 2000])[1] in (0.5, 2.0)  # clamped
