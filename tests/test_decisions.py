"""Decision diagnostics on hand-made tables, the budget's plan, and a budgeted search that must find the
one candidate that solves a task built for it."""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import pytest

from segnas.config import SearchConfig, make_config
from segnas.nas import budget as budgets
from segnas.nas.decisions import changed, decided, describe, entropy, margin, summarize, verdict
from tests.conftest import a_plan, planned
from tests.probe import BEST, SPACE, make_probe_dataset


def test_entropy_and_margin_of_hand_made_tables() -> None:
    assert entropy([0.25] * 4) == pytest.approx(1.0)
    assert entropy([1.0, 0.0, 0.0]) == pytest.approx(0.0)
    assert entropy([0.5, 0.5, 0.0, 0.0]) == pytest.approx(0.5)  # log 2 / log 4
    assert margin([0.1, 0.6, 0.3]) == pytest.approx(0.3)
    assert margin([0.5, 0.5]) == pytest.approx(0.0)


def test_decided_is_twice_uniform() -> None:
    assert decided([0.25, 0.25, 0.25, 0.25]) is False
    assert decided([0.5, 0.2, 0.2, 0.1]) is True  # 0.5 = 2 × 1/4
    assert decided([0.49, 0.21, 0.2, 0.1]) is False
    assert decided([2 / 3, 1 / 6, 1 / 6]) is True
    assert decided([0.6, 0.2, 0.2]) is False


def test_summary_counts_op_decisions_only_and_the_verdict() -> None:
    probs = {"a": [0.7, 0.1, 0.1, 0.1], "b": [0.25] * 4, "c": [0.6, 0.2, 0.1, 0.1], "in": [0.9, 0.1]}
    s = summarize(probs, ["a", "b", "c"])
    assert s["decided_share"] == pytest.approx(2 / 3)
    assert s["op_decisions"] == 3
    assert s["mean_entropy"] == pytest.approx(sum(map(entropy, probs.values())) / 4)
    assert verdict(s) == "decided"
    assert "2 of 3" in describe(s)
    assert verdict({**s, "changed_share": 0.2}) == "undecided"  # leaning but still moving
    assert "NOT settle" in describe({**s, "changed_share": 0.2})
    s_low = summarize({"a": [0.3, 0.3, 0.2, 0.2], "b": [0.25] * 4}, ["a", "b"])
    assert verdict(s_low) == "undecided"
    assert "NOT decide" in describe(s_low)


def test_changed_counts_differing_values() -> None:
    assert changed(None, {"a": "x"}) == 0
    assert changed({"a": "x", "b": ["in0", "in1"]}, {"a": "y", "b": ["in0", "in1"]}) == 1


def test_schedule_fills_the_time_and_ties_the_rate_to_the_steps() -> None:
    cfg = make_config("scnas", {"budget_travel": 8.0, "budget_warmup": 0.2})
    sched = budgets.schedule(600.0, weight_step=0.5, step=1.0, cfg=cfg)
    steps = sched["epochs"] * sched["steps_per_epoch"]
    warm = sched["warmup_epochs"] * sched["steps_per_epoch"]
    seconds = warm * 0.5 + (steps - warm) * 1.0
    assert 0.9 * 600 <= seconds <= 600
    assert sched["arch_steps"] == steps - warm
    assert sched["arch_lr"] == pytest.approx(8.0 / sched["arch_steps"])
    assert budgets.schedule(60.0, 0.5, 1.0, cfg)["arch_lr"] == pytest.approx(8.0 / cfg.budget_arch_steps)  # too short to decide: no faster
    assert "arch_lr" not in budgets.schedule(600.0, 0.5, 1.0, make_config("ronasmis"))  # ENAS keeps its rate


def test_proxies_go_from_largest_to_smallest_and_fit_the_network() -> None:
    plan = a_plan(patch_size=(80, 64, 32))
    found = budgets.proxies(make_config("scnas"), plan)
    assert found[0] == (48, [80, 64, 32])
    assert [w for w, _ in found[:4]] == [48, 16, 12, 8]
    cost = [w * math.prod(p) for w, p in found]
    assert cost == sorted(cost, reverse=True)
    assert all(all(p % 8 == 0 for p in patch) for _, patch in found)
    thrifty = budgets.proxies(make_config("thrifty"), plan)
    assert all(w % 4 == 0 for w, _ in thrifty)  # partial channels K = 4


def test_a_budget_keeps_the_time_scoring_the_decisions_will_take() -> None:
    plan = a_plan(patch_size=(80, 64, 32))
    assert budgets.scoring_seconds(make_config("scnas"), plan, 0.3) == 0.0  # α: nothing after the last epoch
    scored = make_config("scnas", {"derive": "scores", "score_draws": 8, "score_batches": 2})
    untied = budgets.scoring_seconds(scored, plan, 0.3)
    assert untied == pytest.approx(56 * 7 * 8 * 2 * 0.3 / 3)  # 56 decisions × 7 non-zero candidates, a forward each
    tied = make_config("scnas", {"derive": "scores", "score_draws": 8, "score_batches": 2, "space_settings.tie": "cell"})
    assert budgets.scoring_seconds(tied, plan, 0.3) == pytest.approx(untied * 4 / 56)
    assert untied > 600  # 56 untied decisions would take a 10-minute budget's whole time on this step: tie them first


@pytest.fixture
def probe_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The probe task planned, with the probe space registered."""
    from segnas.nas import spaces
    monkeypatch.setitem(spaces.SPACES, "probe", SPACE)
    return planned(make_probe_dataset(tmp_path / "probe"), tmp_path / "work", folds=2)


def kept_plan(work: Path, cfg: SearchConfig, chosen: dict) -> None:
    """Write `chosen` as the run's budget.json, so that a resumed search runs this plan whatever the machine's load."""
    from segnas.nas.search import run_folder

    run = run_folder(work, cfg)
    run.mkdir(parents=True, exist_ok=True)
    (run / "budget.json").write_text(json.dumps({"minutes": cfg.minutes, "planning_seconds": 0.0, "chosen": chosen, "timed": [chosen]}))


# the plan a budget of 0.5 min gets on an idle 2-core machine (952 steps, 752 of them architecture steps)
IDLE_PLAN = {"channels": 8, "patch_size": [32, 32], "weight_step_seconds": 0.018, "step_seconds": 0.028, "epochs": 20,
             "steps_per_epoch": 47, "warmup_epochs": 4, "arch_steps": 752, "arch_lr": 8.0 / 752}


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["gumbel2", "darts"])
def test_the_budgets_schedule_finds_the_candidate_that_solves_the_task(probe_work: Path, strategy: str) -> None:
    """Run on a kept plan (a timed one depends on the machine's load: under CI's, the same 30 s buy fewer steps)."""
    from segnas.nas.search import search

    cfg = make_config(None, {"space": "probe", "strategy": strategy, "minutes": 10.0, "patch_size": [32, 32],
                             "batch_size": 4, "workers": 0, "weight_lr": 3e-3})
    kept_plan(probe_work, cfg, IDLE_PLAN)
    run = search(probe_work, cfg, show_progress=False, resume=True)
    arch = json.loads((run / "arch.json").read_text())
    assert set(arch["values"].values()) == {BEST}, arch["values"]
    assert arch["provenance"]["epochs_run"] == 20 and arch["provenance"]["verdict"] == "decided", arch["provenance"]


@pytest.mark.slow
def test_a_budgeted_search_keeps_its_time_and_says_what_it_planned(probe_work: Path) -> None:
    from segnas.nas.search import search

    cfg = make_config(None, {"space": "probe", "strategy": "gumbel2", "minutes": 0.5, "patch_size": [32, 32],
                             "batch_size": 4, "workers": 0, "weight_lr": 3e-3, "budget_arch_steps": 150})
    t0 = time.perf_counter()
    run = search(probe_work, cfg, show_progress=False)
    seconds = time.perf_counter() - t0
    arch = json.loads((run / "arch.json").read_text())
    prov = arch["provenance"]
    assert prov["verdict"] in ("decided", "undecided") and prov["in_words"]
    assert prov["budget"]["arch_steps"] >= 150
    assert 0.5 * 30 <= seconds <= 1.15 * 30  # the budget (0.5 min) used, and kept within 15 %
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert len(records) == prov["epochs_run"] <= prov["epochs_planned"]
    assert all({"mean_entropy", "mean_margin", "decided_share", "changed"} <= set(r["decisions"]) for r in records)
    assert (run / "decisions.png").is_file() and (run / "budget.json").is_file()
    assert json.loads((run / "config.json").read_text())["budget"]["chosen"] == prov["budget"]


@pytest.mark.slow
def test_a_budgeted_search_resumes_exactly(probe_work: Path, tmp_path: Path) -> None:
    """The plan is made once and kept in budget.json; a killed budgeted search resumes on it exactly."""
    from segnas.nas.search import run_folder, search

    cfg = make_config(None, {"space": "probe", "strategy": "gumbel2", "minutes": 0.5, "patch_size": [32, 32],
                             "batch_size": 2, "workers": 0, "budget_arch_steps": 20})
    run = run_folder(probe_work, cfg)
    budget = budgets.plan_budget(probe_work, cfg, run)
    budget["chosen"].update(epochs=4, warmup_epochs=1, steps_per_epoch=5)  # short: the time guard cannot end a run early
    budget["planning_seconds"] = 0.0
    other = tmp_path / "work2"
    shutil.copytree(probe_work, other)
    for w in (probe_work, other):
        (w / "runs" / run.name).mkdir(parents=True, exist_ok=True)
        (w / "runs" / run.name / "budget.json").write_text(json.dumps(budget))
    full = search(probe_work, cfg, show_progress=False, resume=True)  # no checkpoint yet: starts on the kept plan
    search(other, cfg, show_progress=False, stop_after=2, resume=True)
    part = search(other, cfg, show_progress=False, resume=True)
    assert json.loads((part / "budget.json").read_text()) == budget
    a = [json.loads(x)["probabilities"] for x in (full / "log.jsonl").read_text().splitlines()]
    b = [json.loads(x)["probabilities"] for x in (part / "log.jsonl").read_text().splitlines()]
    assert len(a) == 4 and a == b


def test_a_fixed_search_is_not_resumed_under_a_budget(probe_work: Path) -> None:
    from segnas.errors import SegnasError
    from segnas.nas.search import search

    fixed = make_config(None, {"space": "probe", "epochs": 2, "steps_per_epoch": 2, "patch_size": [32, 32], "workers": 0})
    search(probe_work, fixed, show_progress=False, stop_after=1)
    budgeted = make_config(None, {"space": "probe", "minutes": 0.2, "patch_size": [32, 32], "workers": 0})
    with pytest.raises(SegnasError, match="started without a budget"):
        search(probe_work, budgeted, show_progress=False, resume=True)


def test_the_command_line_budgets_a_search_unless_told_epochs() -> None:
    from segnas.config import DEFAULT_SEARCH_MINUTES, budgeted_by_default

    assert budgeted_by_default({})["minutes"] == DEFAULT_SEARCH_MINUTES
    assert "minutes" not in budgeted_by_default({"epochs": "3"})
    assert budgeted_by_default({"minutes": "5"})["minutes"] == "5"


def test_a_budgeted_search_with_no_strategy_named_searches_by_training() -> None:
    """What `segnas search` and `segnas run` give a user by default is the search that decides on such budgets."""
    from segnas.app.pipeline import default_search
    from segnas.config import budgeted_by_default, make_config
    from segnas.data.plan import Plan

    la = Plan.of(3, 1, 2, [64, 64, 32])
    cfg = make_config("scnas", default_search(la, "scnas", budgeted_by_default({})))
    assert cfg.strategy == "trained" and cfg.space_settings["tie"] == "cell" and cfg.cost_weight == 1.0
    assert cfg.space_settings["stem_stride"] == 2 and cfg.minutes == 30.0  # the half grid in 3D, as `run --minutes`
    flat = make_config("thrifty", default_search(None, "thrifty", {"minutes": 5}))  # no plan yet: the full grid
    assert flat.strategy == "trained" and flat.cost_weight == 0.0  # where the cost term collapses the search
    assert make_config("scnas", default_search(la, "scnas", {"epochs": 3})).strategy == "gumbel2"  # the paper's schedule
    named = default_search(la, "scnas", {"minutes": 5, "strategy": "darts"})
    assert make_config("scnas", named).strategy == "darts" and "space_settings.tie" not in named
    assert make_config("ronasmis", default_search(la, "ronasmis", {"minutes": 5})).strategy == "enas"  # fine-tunes the supernet


@pytest.mark.slow
def test_scores_through_the_supernet_find_the_candidate_alpha_has_not_moved_to(probe_work: Path) -> None:
    """α barely moves (one epoch of architecture steps at a tiny rate), but the supernet's weights are trained:
    running each candidate alone through them finds the one that solves the task on every edge. (Few of its leads
    are clear: the edges are redundant, so a draw whose other edges run conv3 gains little from one more.)"""
    from segnas.nas.search import search

    cfg = make_config(None, {"space": "probe", "strategy": "gumbel2", "minutes": 10.0, "patch_size": [32, 32], "batch_size": 4,
                             "workers": 0, "weight_lr": 3e-3, "derive": "scores", "score_draws": 8, "score_batches": 2})
    kept_plan(probe_work, cfg, {**IDLE_PLAN, "epochs": 8, "warmup_epochs": 7, "arch_steps": 47, "arch_lr": 1e-5})
    run = search(probe_work, cfg, show_progress=False, resume=True)
    arch = json.loads((run / "arch.json").read_text())
    prov = arch["provenance"]
    assert prov["decisions"]["decided_share"] == 0  # α says nothing …
    assert set(arch["values"].values()) == {BEST}, prov["scores"]  # … the scores find it
    assert prov["scores"]["clear_share"] > 0 and "twice its standard error" in prov["in_words"] and "twice its standard error" in prov["in_words"]
