"""The search by training: the posterior over decisions, the Thompson loop, its verdict, resume and artifacts."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from segnas.app.cli import app
from segnas.config import make_config
from segnas.errors import SegnasError
from segnas.nas.arch import load_architecture
from segnas.nas.spaces import SPACES
from segnas.selection import posterior, trained, verdict
from segnas.selection.searches import search

from .conftest import copy_work

DECISIONS = {"a": ("x", "y", "z", "w"), "b": ("x", "y", "z", "w"), "c": ("x", "y", "z", "w")}


def test_the_posterior_finds_additive_effects_and_stays_undecided_on_noise() -> None:
    rng = np.random.default_rng(0)
    rows = posterior.balanced(DECISIONS, 24, rng)
    assert all(sum(r[k] == v for r in rows) == 6 for k, c in DECISIONS.items() for v in c)  # an even cover
    truth = [0.6 + 0.15 * (r["a"] == "z") + 0.15 * (r["b"] == "w") - 0.2 * (r["c"] == "x") for r in rows]
    noisy = [t + rng.normal(0, 0.02) for t in truth]
    post = posterior.fit(DECISIONS, rows, noisy)
    p = post.p_best(np.random.default_rng(1))
    assert post.mean_best()["a"] == "z" and post.mean_best()["b"] == "w" and post.mean_best()["c"] != "x"
    assert p["a"][2] > 0.9 and p["b"][3] > 0.9 and p["c"][0] < 0.05, p
    noise = [0.6 + rng.normal(0, 0.05) for _ in rows]  # nothing to find: no candidate should look certain
    p0 = posterior.fit(DECISIONS, rows, noise).p_best(np.random.default_rng(1))
    assert max(max(v) for v in p0.values()) < 0.8, p0
    prior = posterior.fit(DECISIONS, [], []).p_best(np.random.default_rng(1))
    assert all(abs(x - 0.25) < 0.05 for v in prior.values() for x in v), prior


def test_the_stakes_say_by_how_much_each_choice_beats_its_runner_up() -> None:
    """A real effect's gap is about its size (shrunk a little) with an interval clear of 0; a decision without one
    has an interval across 0, and its words say the runner-up may be as good. With cost the gap counts the step's
    penalty too: a better but much slower candidate is neither the choice nor the runner-up."""
    rng = np.random.default_rng(0)
    rows = posterior.balanced(DECISIONS, 32, rng)
    scores = [0.6 + 0.05 * (r["a"] == "z") + 0.03 * (r["b"] == "w") + rng.normal(0, 0.01) for r in rows]
    post = posterior.fit(DECISIONS, rows, scores)
    stakes = post.stakes(np.random.default_rng(1))
    assert stakes["a"]["top"] == "z" and 0.025 < stakes["a"]["gap"] < 0.065 and stakes["a"]["interval"][0] > 0.02, stakes
    assert stakes["b"]["top"] == "w" and 0 < stakes["b"]["interval"][0] < stakes["b"]["gap"] < stakes["b"]["interval"][1]
    assert stakes["c"]["interval"][0] < 0 < stakes["c"]["interval"][1] and stakes["c"]["top"] != stakes["c"]["runner_up"]
    assert stakes["a"]["plausible"] == ["z"] and stakes["c"]["plausible"][:2] == [stakes["c"]["top"], stakes["c"]["runner_up"]]
    words = verdict.stakes_words(stakes)
    assert "a z +0.0" in words and "not beaten: none" in words and "for 1 of 3 (c) the runner-up may be as good" in words, words
    ms = [100 + 80 * (r["a"] == "z") for r in rows]  # z: the better candidate of a, and much the slower
    cost = posterior.fit_cost(DECISIONS, rows, ms, target_ms=120.0, weight=0.5)
    priced = post.stakes(np.random.default_rng(1), cost=cost)
    assert "z" not in (priced["a"]["top"], priced["a"]["runner_up"]), priced  # its 0.05 cannot pay a penalty of 0.25
    assert priced["a"]["interval"][0] < 0 < priced["a"]["interval"][1] and priced["b"] == stakes["b"]  # the cheap ones tie


def test_the_fastest_plausible_network_is_not_ruled_out_jointly() -> None:
    """Each decision's quicker `z` may lose 0.0065 to the export's `w` (sd 0.005: not ruled out alone), two such
    swaps 0.013 (ruled out): the fastest plausible network swaps one, not all three as a per-decision rule would; a
    candidate no trial ran (c's `y`, as good as `w` and quickest) is never taken. With cost the shortfall counts the
    step's penalty."""
    effect = {"x": -0.1, "y": -0.1, "z": 0.0, "w": 0.0065}
    mean = np.array([0.8] + [0.0065 if (label, name) == ("c", "y") else effect[name] for label in DECISIONS for name in DECISIONS[label]])
    post = posterior.Posterior(DECISIONS, mean, np.diag(np.r_[1e4, np.full(len(mean) - 1, 0.0035 ** -2)]), a=1e4, b=1e4)
    rows = [r for r in posterior.balanced(DECISIONS, 24, np.random.default_rng(0)) if r["c"] != "y"]
    ms_of = {"x": 30.0, "y": 5.0, "z": 20.0, "w": 60.0}
    records = [{"values": r, "step_ms": 100 + sum(ms_of[r[k]] for k in DECISIONS)} for r in rows]
    export = {"a": "w", "b": "w", "c": "w", "inputs/0": 1}
    quick = posterior.fastest_plausible(post, records, export, np.random.default_rng(1))
    assert sorted(quick["values"].values()) == ["w", "w", "z"], quick  # one swap; never c's untried y
    assert abs(quick["step_ms"] - 240) < 1 and abs(quick["export_step_ms"] - 280) < 1, quick
    mean_gain, (low, high) = quick["shortfall"]
    assert abs(mean_gain - 0.0065) < 0.001 and low <= 0 < high, quick
    both = post.shortfall(post.draws(4000, np.random.default_rng(2)), export, [{**export, "a": "z", "b": "z"}])
    assert np.quantile(both, 0.05) > 0  # two swaps are ruled out together
    cost = posterior.fit_cost(DECISIONS, rows, [r["step_ms"] for r in records], target_ms=200.0, weight=1.0)
    priced = post.shortfall(mean[None, :], export, [quick["values"]], cost)  # penalties 0.4 (280 ms) and 0.2 (240 ms)
    assert abs(float(priced[0, 0]) - (0.0065 - 0.2)) < 0.005, priced


def test_the_effect_scale_is_chosen_from_the_scores() -> None:
    """Empirical Bayes: effects shrink towards nothing on noise and keep their size where they are real; a left-out
    trial is then predicted better than under the fixed scale of before (0.1, which overfitted the LA trials)."""
    rng = np.random.default_rng(0)
    rows = posterior.balanced(DECISIONS, 24, rng)
    noise = np.array([0.6 + rng.normal(0, 0.05) for _ in rows])
    real = np.array([0.6 + 0.15 * (r["a"] == "z") + 0.15 * (r["b"] == "w") - 0.2 * (r["c"] == "x") + rng.normal(0, 0.02) for r in rows])
    assert posterior.fit(DECISIONS, rows, noise).effect_sd <= 0.02 < 0.05 <= posterior.fit(DECISIONS, rows, real).effect_sd

    def left_out_error(scores: np.ndarray, effect_sd: float | None) -> float:
        errors = []
        for i in range(len(rows)):
            kept = [j for j in range(len(rows)) if j != i]
            post = posterior.fit(DECISIONS, [rows[j] for j in kept], scores[kept], effect_sd=effect_sd)
            errors.append(float((posterior.design(DECISIONS, [rows[i]]) @ post.mean)[0]) - scores[i])
        return float(np.sqrt(np.mean(np.square(errors))))

    assert left_out_error(noise, None) < left_out_error(noise, 0.1)
    assert left_out_error(real, None) < 1.1 * left_out_error(real, 0.1)


def test_a_training_that_went_wrong_is_read_as_an_outlier_under_t_noise() -> None:
    """One failed trial (0.25 where its ops predict 0.75) must not undo a clear decision, as it does under normal
    noise; without outliers the t posterior reads the scores as the normal one does."""
    rng = np.random.default_rng(0)
    rows = posterior.balanced(DECISIONS, 24, rng)
    clean = np.array([0.6 + 0.06 * (r["a"] == "z") + rng.normal(0, 0.02) for r in rows])
    failed = clean.copy()
    bad = next(i for i, r in enumerate(rows) if r["a"] == "z")
    failed[bad] = 0.25
    t, normal = posterior.fit(DECISIONS, rows, failed), posterior.fit(DECISIONS, rows, failed, noise_dof=None)
    assert [i for i, w in enumerate(t.weights) if w < 0.5] == [bad] and set(normal.weights) == {1.0}
    assert t.noise_sd() < 0.035 < normal.noise_sd()  # the outlier does not swell σ for every decision
    p_t, p_normal = (post.p_best(np.random.default_rng(1))["a"][2] for post in (t, normal))
    assert p_t > 0.8 > 0.5 > p_normal, (p_t, p_normal)
    same = posterior.fit(DECISIONS, rows, clean), posterior.fit(DECISIONS, rows, clean, noise_dof=None)
    assert min(same[0].weights) > 0.5 and np.allclose(same[0].mean, same[1].mean, atol=0.01)


def test_the_cost_model_is_fitted_apart_and_trades_dice_for_step_time() -> None:
    rng = np.random.default_rng(0)
    rows = posterior.balanced(DECISIONS, 24, rng)
    ms_of = {"x": 10.0, "y": 10.0, "z": 10.0, "w": 60.0}  # w: the most accurate candidate, and the slowest
    ms = [100 + sum(ms_of[r[k]] for k in DECISIONS) for r in rows]
    cost = posterior.fit_cost(DECISIONS, rows, ms, target_ms=150.0, weight=0.3)
    x = posterior.design(DECISIONS, rows)
    assert np.allclose(x @ cost.coef, ms, atol=0.5)  # additive steps are recovered
    dice = [0.5 + sum(0.1 * (r[k] == "w") + 0.02 * (r[k] == "z") for k in DECISIONS) + rng.normal(0, 0.005) for r in rows]
    post = posterior.fit(DECISIONS, rows, dice)
    assert set(post.mean_best().values()) == {"w"}  # without cost: every decision takes w (190 ms each)
    # with it: w w w 0.80 − 0.3 × (280/150 − 1) = 0.54; w w z 0.72 − 0.16 = 0.56; z z z 0.56; w z z 0.64 − 0.06 = 0.58
    chosen = post.mean_best(cost)
    assert sorted(chosen.values()) == ["w", "z", "z"], chosen
    p = post.p_best(np.random.default_rng(1), cost=cost)
    assert all(abs(sum(v) - 1) < 1e-3 for v in p.values()) and all(v[2] + v[3] > 0.7 for v in p.values()), p
    free = posterior.fit_cost(DECISIONS, rows, ms, target_ms=150.0, weight=0.0)
    assert post.p_best(np.random.default_rng(1), cost=free) == post.p_best(np.random.default_rng(1))


def test_another_strategy_drops_the_presets_strategy_options_and_races_read_its_tables() -> None:
    import random

    from segnas.nas.spaces import get_space
    from segnas.selection.candidates import sample_from

    assert make_config("scnas", {"strategy": "trained"}).strategy_options == {}
    assert make_config("scnas", {"strategy": "gumbel2"}).strategy_options["tau_end"] == 0.1
    arch = get_space("unet").random(seed=0, tie="cell")
    without_zero = {label: [1.0 if n == "max_pool3" else 0.0 for n in c] for label, c in trained.op_decisions("unet", arch.settings).items()}
    values = sample_from(without_zero, arch, random.Random(0))
    assert all(values[label] == "max_pool3" for label in without_zero), values


def tied(**more: Any):
    """A search by training over SCNAS's space with one op per cell type, on the small synthetic volumes."""
    return make_config("scnas", {"strategy": "trained", "space_settings.tie": "cell", "space_settings.channels": 8,
                                 "patch_size": [16, 16, 16], "workers": 0, "minutes": None, "strategy_options.side_by_side": 1, **more})


BEST = {"red/op": "conv3", "enc/op": "sep_conv3_d2", "exp/op": "conv3", "dec/op": "avg_pool3"}


def fake_trial(stop_at: int | None = None, effect: float = 0.12, noise_sd: float = 0.02):
    """`run_trial` without training: an additive score (+`effect` for each decision's BEST) with seeded noise."""
    def run(work, run, cfg, opts, t, values, settings, inner, unet_ms, show_progress):  # noqa: ANN001, ANN202
        if t == stop_at:
            raise KeyboardInterrupt  # as if the search were killed during this trial
        noise = np.random.default_rng(t).normal(0, noise_sd)
        score = 0.5 + sum(effect * (values[k] == v) for k, v in BEST.items()) + noise
        return {"epoch": t, "trial": t, "values": values, "dice": round(score, 4), "step_ms": 1.0, "penalty": 0.0,
                "score": round(score, 4), "seconds": 1.0}
    return run


def test_a_search_by_training_decides_for_the_candidates_that_score_best(work3d: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trained, "run_trial", fake_trial())
    run = search(copy_work(work3d, tmp_path / "w"), tied(**{"strategy_options.trials": 24}), show_progress=False)
    arch = load_architecture(run / "arch.json")
    assert {k: arch.values[k] for k in BEST} == BEST
    assert arch.provenance["verdict"] == "decided" and arch.provenance["trials"] == 24, arch.provenance
    assert arch.provenance["exported"] == "each decision's best posterior mean"
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["trial"] for r in records] == list(range(24))
    told = arch.provenance["decisions"]  # what was at stake: the trials' spread and the noise left (0.02 here, the prior's 0.05)
    assert told["trial_dice"] == [round(float(q), 4) for q in np.quantile([r["dice"] for r in records], [0, 0.5, 1])]
    assert 0.01 < told["noise_sd"] < 0.04 and f"σ ≈ {told['noise_sd']:.3f}" in arch.provenance["in_words"]
    assert told["trial_dice_sd"] > 2 * told["noise_sd"]  # the candidates' effects (0.12 each) spread the scores
    later = [r["values"] for r in records[7:]]  # Thompson draws lean to what scored well
    assert sum(v["red/op"] == "conv3" for v in later) > len(later) / 2
    assert (run / "decisions.png").is_file()
    assert (run / "stakes.png").is_file() and {k: arch.provenance["stakes"][k]["top"] for k in BEST} == BEST
    assert "gains over its runner-up" in arch.provenance["in_words"]


def test_a_search_by_training_on_scores_without_signal_ends_undecided(work3d: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Noise alone lifts some decisions over 2× uniform with few trials per candidate; the shuffled-score check
    keeps such a search from calling itself decided."""
    monkeypatch.setattr(trained, "run_trial", fake_trial(effect=0.0, noise_sd=0.05))
    run = search(copy_work(work3d, tmp_path / "w"), tied(**{"strategy_options.trials": 20}), show_progress=False)
    prov = load_architecture(run / "arch.json").provenance
    assert prov["verdict"] == "undecided" and prov["decisions"]["clear"] <= 1, prov
    assert "did NOT decide" in prov["in_words"] and set(prov["shuffled_p"]) == set(BEST)
    assert prov["decisions"]["trial_dice_sd"] < 1.5 * prov["decisions"]["noise_sd"]  # the scores spread as noise does
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    best = max(records, key=lambda r: r["score"])  # undecided: the network it trained and scored best, not an untried mix
    assert load_architecture(run / "arch.json").values == best["values"] and prov["exported"].startswith("the best-scoring trial")


def test_an_undecided_verdict_says_how_many_minutes_would_give_enough_trials() -> None:
    """Few trials per candidate: the words name the minutes that ENOUGH_PER_CANDIDATE take at the trials' pace."""
    summary = {"op_decisions": 4, "decided_share": 1.0, "clear": 0, "clear_share": 0.0, "changed_share": 0.0,
               "trials_per_candidate": 2.0, "trials": 14, "trial_seconds": 120.0}
    ruling, words = verdict.judge(summary)
    assert ruling == "undecided" and "about 70 --minutes (35 trials of 120 s here, 5 per candidate)" in words, words
    assert "tie=cell" in words and "tie=cell" not in verdict.judge(summary, tied=True)[1]  # tied already: only minutes
    assert "Give it more --minutes" in verdict.judge({**summary, "trials_per_candidate": 6.0, "trials": 42})[1]
    decided, words = verdict.judge({**summary, "clear": 4, "clear_share": 1.0})
    assert decided == "decided" and "learn fast" in words, words  # a decided verdict says what it cannot tell apart
    assert "Give it more --minutes" in verdict.judge({k: v for k, v in summary.items() if k != "trial_seconds"})[1]
    spread = {**summary, "trial_dice": [0.3, 0.6, 0.68], "trial_dice_sd": 0.07, "noise_sd": 0.035}
    assert "went wrong" not in verdict.judge(spread)[1]
    assert "(trial 3, 17): read as trainings that went wrong" in verdict.judge({**spread, "outliers": [3, 17]})[1]


def test_after_its_first_trial_a_search_by_training_warns_when_its_minutes_cannot_decide() -> None:
    """RONASMIS's LA search: 4 decisions of 7 candidates, trials of 117 s, 30 minutes → 15 trials, 2.1 per candidate."""
    decisions = {f"d{i}/op": tuple(f"op{j}" for j in range(7)) for i in range(4)}
    words = verdict.outlook(117.0, 30 * 60, decisions)
    assert words is not None and "about 15 trials, 2.1 per candidate" in words, words
    assert "about 69 --minutes (35 trials of 117 s here, 5 per candidate)" in words, words
    assert verdict.outlook(117.0, 90 * 60, decisions) is None  # 46 trials: 6.6 per candidate
    assert verdict.outlook(117.0, float("inf"), decisions) is None  # a budget in trials, not minutes


def test_a_killed_search_by_training_resumes_to_the_same_trials(work3d: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tied(**{"strategy_options.trials": 12})
    monkeypatch.setattr(trained, "run_trial", fake_trial())
    straight = search(copy_work(work3d, tmp_path / "a"), cfg, show_progress=False)
    w = copy_work(work3d, tmp_path / "b")
    monkeypatch.setattr(trained, "run_trial", fake_trial(stop_at=9))
    with pytest.raises(KeyboardInterrupt):
        search(w, cfg, show_progress=False)
    with pytest.raises(SegnasError, match="--resume"):
        search(w, cfg, show_progress=False)
    monkeypatch.setattr(trained, "run_trial", fake_trial())
    with pytest.raises(SegnasError, match="ran with seed = 0, not 3"):
        search(w, tied(**{"strategy_options.trials": 12, "seed": 3}), resume=True, show_progress=False)
    resumed = search(w, cfg, resume=True, show_progress=False)

    def trials(run: Path) -> list[Any]:
        return [(r["values"], r["score"], r["probabilities"]) for r in map(json.loads, (run / "log.jsonl").read_text().splitlines())]
    assert trials(resumed) == trials(straight)
    assert load_architecture(resumed / "arch.json").values == load_architecture(straight / "arch.json").values


def in_this_process(fn, calls, work, what):  # noqa: ANN001, ANN201
    """`run_side_by_side` without processes, so that a monkeypatched `run_trial` runs."""
    return [fn(*c) for c in calls]


def test_trials_side_by_side_are_proposed_by_rounds_and_resume_to_the_same_trials(work3d: Path, tmp_path: Path,
                                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Three at a time: each round's trials are proposed together from the rounds before it (so a killed round is
    proposed again alike), the budget counts a round's slowest trial, and the pace is said per round."""
    cfg = tied(**{"strategy_options.trials": 12, "strategy_options.side_by_side": 3})
    monkeypatch.setattr(trained, "run_side_by_side", in_this_process)
    monkeypatch.setattr(trained, "run_trial", fake_trial())
    straight = search(copy_work(work3d, tmp_path / "a"), cfg, show_progress=False)
    records = [json.loads(line) for line in (straight / "log.jsonl").read_text().splitlines()]
    assert [r["round"] for r in records] == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    settings = load_architecture(straight / "arch.json").settings
    for t in (9, 10, 11):  # proposed from rounds 0–2 only, not from the trials beside them
        assert records[t]["values"] == trained.propose("unet", settings, records[:9], trained.options(cfg), 0, None, t)
    assert trained.round_seconds(records) == [1.0] * 4  # four rounds of 1 s trials: 4 s of wall time, not 12
    assert load_architecture(straight / "arch.json").provenance["decisions"]["side_by_side"] == 3
    w = copy_work(work3d, tmp_path / "b")
    monkeypatch.setattr(trained, "run_trial", fake_trial(stop_at=10))
    with pytest.raises(KeyboardInterrupt):
        search(w, cfg, show_progress=False)
    monkeypatch.setattr(trained, "run_trial", fake_trial())
    resumed = search(w, cfg, resume=True, show_progress=False)
    again = [json.loads(line) for line in (resumed / "log.jsonl").read_text().splitlines()]
    assert [(r["values"], r["score"], r["round"]) for r in again] == [(r["values"], r["score"], r["round"]) for r in records]
    # another machine may resume with another number side by side: the rounds so far stay as they ran
    more = search(w, tied(**{"strategy_options.trials": 14, "strategy_options.side_by_side": 1}), resume=True, show_progress=False)
    assert [json.loads(line)["round"] for line in (more / "log.jsonl").read_text().splitlines()][-3:] == [3, 4, 5]
    assert load_architecture(more / "arch.json").provenance["decisions"]["side_by_side"] == 3  # the most at once
    with pytest.raises(SegnasError, match="side_by_side must be a whole number"):
        trained.options(tied(**{"strategy_options.side_by_side": 0}))


def test_by_default_a_cpu_with_two_threads_or_more_trains_two_trials_at_once() -> None:
    threads = torch.get_num_threads()
    try:
        for n, expected in ((1, 1), (2, 2), (8, 2)):
            torch.set_num_threads(n)
            assert trained.options(tied(**{"strategy_options.side_by_side": "auto", "device": "cpu"}))["side_by_side"] == expected
    finally:
        torch.set_num_threads(threads)
    assert trained.DEFAULTS["side_by_side"] == "auto"


def test_the_budget_and_the_pace_count_rounds_of_trials_side_by_side() -> None:
    records = [{"trial": 0, "seconds": 50.0}, {"trial": 1, "seconds": 60.0, "round": 1}, {"trial": 2, "seconds": 70.0, "round": 1}]
    assert trained.round_seconds(records) == [50.0, 70.0]  # a record without a round ran alone
    decisions = {f"d{i}/op": tuple(f"op{j}" for j in range(7)) for i in range(4)}
    words = verdict.outlook(117.0, 30 * 60, decisions, side_by_side=2)  # 15 rounds of 2: 30 trials, 4.3 per candidate
    assert words is not None and "about 30 trials, 4.3 per candidate" in words, words
    assert words.startswith("at 117 s per trial, 2 at a time, 30 minutes give"), words
    assert "about 36 --minutes (35 trials of 117 s here, 2 at a time, 5 per candidate)" in words, words  # 18 rounds


def test_a_search_by_training_refuses_what_it_cannot_do(work3d: Path, tmp_path: Path) -> None:
    w = copy_work(work3d, tmp_path / "w")
    with pytest.raises(SegnasError, match="no option 'tau_end'"):
        search(w, tied(**{"strategy_options.tau_end": 0.1, "strategy_options.trials": 2}), show_progress=False)
    with pytest.raises(SegnasError, match="export must be one of"):
        search(w, tied(**{"strategy_options.export": "best", "strategy_options.trials": 2}), show_progress=False)
    with pytest.raises(SegnasError, match="needs a budget"):
        search(w, tied(), show_progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("space", sorted(SPACES))
@pytest.mark.parametrize("dims", [2, 3])
def test_a_search_by_training_trains_scores_and_exports(space: str, dims: int, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Every space, tied per cell type; in 2D with the cost term (MONAI UNet, its yardstick, needs 32² here), in 3D without."""
    w = copy_work(request.getfixturevalue(f"work{dims}d"), tmp_path / "w")
    cfg = tied(**{"space": space, "strategy_options.trials": 2, "strategy_options.trial_steps": 2, "strategy_options.score_cases": 1,
                  "strategy_options.width": 8, "patch_size": [32, 32] if dims == 2 else [32 if space == "nested" else 16, 16, 16],
                  "cost_weight": 1.0 if dims == 2 else 0.0})  # the nested space's depth 4 needs a level of 2 voxels
    run = search(w, cfg, show_progress=False)
    arch = load_architecture(run / "arch.json")
    assert arch.provenance["strategy"] == "trained" and arch.provenance["verdict"] in ("decided", "undecided")
    assert arch.space == space and arch.settings["dims"] == dims
    assert set(arch.provenance["probabilities"]) == set(trained.op_decisions(space, arch.settings))
    assert ("cost" in arch.provenance) == (dims == 2) == (run / "reference.json").is_file()
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(0 <= r["dice"] <= 1 and r["step_ms"] > 0 for r in records)
    assert all((run / "trials" / f"trial{t:03d}" / "summary.json").is_file() for t in range(2))
    shown = CliRunner().invoke(app, ["show", str(run / "arch.json"), "--out", str(tmp_path / "cells")])
    assert shown.exit_code == 0, shown.output
    assert "how it was found: the search by training" in shown.output
    assert ("measured in the search" in shown.output) == (dims == 2), shown.output


@pytest.mark.slow
def test_trials_side_by_side_train_in_processes_of_their_own(work2d: Path, tmp_path: Path) -> None:
    """Two real trials at once (2D, with the cost term: its yardstick timed twice at once, as the trials run)."""
    w = copy_work(work2d, tmp_path / "w")
    cfg = tied(**{"strategy_options.trials": 2, "strategy_options.trial_steps": 2, "strategy_options.score_cases": 1,
                  "strategy_options.width": 8, "strategy_options.side_by_side": 2, "patch_size": [32, 32], "cost_weight": 1.0})
    run = search(w, cfg, show_progress=False)
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [(r["trial"], r["round"]) for r in records] == [(0, 0), (1, 0)]
    assert all(0 <= r["dice"] <= 1 and r["step_ms"] > 0 for r in records)
    assert all((run / "trials" / f"trial{t:03d}" / "summary.json").is_file() for t in range(2))
    assert json.loads((run / "reference.json").read_text())["monai_unet_step_ms"] > 0
    assert multiprocessing.active_children() == []  # every trial's process waited for


def test_the_trials_patch_is_the_plans_scaled_alike_on_every_axis() -> None:
    """The proxies a budget chooses from: on LA and ISBI a quarter of the plan's patch is what the searches that
    decided trained their trials on (64×48×32, 128×128)."""
    from segnas.nas.spaces import get_space
    from segnas.selection.trial_budget import proxies

    la = get_space("unet").settings(dims=3, channels=16, tie="cell", stem_stride=2)
    assert proxies([96, 80, 48], la, "unet") == [[96, 80, 48], [80, 64, 32], [64, 48, 32], [48, 32, 32]]
    isbi = get_space("unet").settings(dims=2, channels=16, tie="cell")
    assert proxies([256, 256], isbi, "unet")[2] == [128, 128]
    tiny = get_space("unet").settings(dims=3, channels=8, depth=3, stem_stride=2)
    assert proxies([32, 32, 16], tiny, "unet") == [[32, 32, 16]]  # no smaller patch leaves its deepest level two voxels


def test_a_budgeted_search_by_training_trains_its_trials_on_the_largest_patch_its_minutes_afford(
        work3d: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Steps timed in proportion to the patch's voxels: the plan's patch would give 2 trials per candidate, 48³ 4.7,
    40³ (a quarter, in multiples of 8) 8.2 — the search takes 40³, trains every trial on it, records why, and its placebo (its
    twin) trains on the same patch without timing again."""
    from segnas.runtime.workspace import Workspace
    from segnas.selection import placebo, trial_budget
    from segnas.selection.trial_budget import FILE, OVERHEAD

    w = copy_work(work3d, tmp_path / "w")
    edited = json.loads((w / "plan.json").read_text())
    (w / "plan.json").write_text(json.dumps({**edited, "patch_size": [64, 64, 64]}))
    minutes = 0.5
    per_plan = 2.0  # trials per candidate at the plan's patch: 60 × minutes / (OVERHEAD × 150 × step × 7)
    step_at_plan = 60 * minutes / (OVERHEAD * 150 * 7 * per_plan) * 1000
    timed: list[list[int]] = []

    def step(arch: Any, plan: Any, train_cfg: Any, device: Any, least: float = 0.2) -> float:
        timed.append(list(train_cfg.patch_size))
        return step_at_plan * float(np.prod(train_cfg.patch_size)) / 64**3

    trained_on: list[list[int]] = []
    fake = fake_trial()

    def trial(work, run, cfg, *rest):  # noqa: ANN001, ANN202
        trained_on.append(list(cfg.patch_size))
        return fake(work, run, cfg, *rest)

    monkeypatch.setattr(trial_budget, "step_ms", step)
    monkeypatch.setattr(trained, "run_trial", trial)
    run = search(w, tied(patch_size=None, minutes=minutes), show_progress=False)
    budget = json.loads((run / FILE).read_text())
    assert [r["patch_size"] for r in budget["timed"]] == [[64, 64, 64], [48, 48, 48], [40, 40, 40]], budget["timed"]
    assert budget["patch_size"] == [40, 40, 40] and budget["timed"][0]["trials_per_candidate"] == pytest.approx(per_plan, rel=0.01)
    assert budget["timed"][-1]["trials_per_candidate"] >= 5 > budget["timed"][-2]["trials_per_candidate"]
    assert trained_on and {tuple(p) for p in trained_on} == {(40, 40, 40)}  # every trial on the chosen patch
    prov = load_architecture(run / "arch.json").provenance
    assert prov["trial_budget"]["patch_size"] == [40, 40, 40]
    assert json.loads((run / "config.json").read_text())["patch_size"] is None  # config.json as asked: `segnas run` keeps it
    timed.clear()
    trained_on.clear()
    twin = placebo.placebo_search(w, tied(patch_size=None, minutes=minutes), show_progress=False)
    assert not timed and {tuple(p) for p in trained_on} == {(40, 40, 40)}  # the placebo trains as its search did
    assert json.loads((twin / FILE).read_text())["patch_size"] == [40, 40, 40] and Workspace(w).placebo(0, 0) in twin.parents
