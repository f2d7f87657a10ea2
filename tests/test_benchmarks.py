"""The real-data benchmark end to end at a toy budget: lanes side by side, one summary, runs reused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import shared_dataset

LANES = Path(__file__).resolve().parents[1] / "benchmarks" / "real_data_lanes.sh"
TOY = ["--train-steps", "2", "--steps", "1", "--search-epochs", "1", "--search-steps", "1", "--random-archs", "1",
       "--workers", "0", "--threads", "1", "--width", "4", "--search-width", "4"]


@pytest.mark.slow
@pytest.mark.realdata
def test_lanes_table_every_network_and_reuse_the_search(tmp_path: Path) -> None:
    shared_dataset("ISBI2012_membrane_2D")
    env = {**os.environ, "PY": sys.executable}
    networks = "thrifty thrifty_random0"  # a baseline lane runs the same code as these: left out for time
    done = subprocess.run(["bash", str(LANES), str(tmp_path), "isbi", networks, *TOY], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((tmp_path / "isbi" / "2steps" / "summary.json").read_text())
    assert set(summary["networks"]) == set(networks.split())
    assert summary["networks"]["thrifty_random0"]["kind"] == "random:thrifty"
    assert all(r["epochs"] == 2 for r in summary["networks"].values())
    # the random lane drew from the thrifty lane's search instead of searching again
    search = "runs/search_thrifty_nested_pcdarts_fold0/log.jsonl"
    lane = tmp_path / "lanes"
    assert (lane / "thrifty_random0" / "isbi" / "work" / search).read_bytes() == (lane / "thrifty" / "isbi" / "work" / search).read_bytes()
    # assembling again reuses every run and prediction: the same table
    again = subprocess.run(["bash", str(LANES), str(tmp_path), "isbi", networks, *TOY], env={**env, "ASSEMBLE_ONLY": "1"},
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads((tmp_path / "isbi" / "2steps" / "summary.json").read_text())["networks"] == summary["networks"]
    # another budget's assembly finds none of these runs finished (and trains nothing in their stead)
    other = [*TOY[:1], "3", *TOY[2:]]
    none = subprocess.run(["bash", str(LANES), str(tmp_path), "isbi", networks, *other], env={**env, "ASSEMBLE_ONLY": "1"},
                          capture_output=True, text=True, timeout=300)
    assert none.returncode != 0 and "not finished: thrifty" in none.stderr
    assert not (tmp_path / "isbi" / "3steps").exists()


def test_op_drift_averages_each_ops_last_probability_over_the_decisions_as_a_multiple_of_uniform(tmp_path: Path) -> None:
    from segnas.nas.arch import OpChoice
    from segnas.nas.spaces import get_space

    arch = get_space("unet").random(seed=0, dims=2, channels=8, depth=1, nodes=1, tie="cell")
    arch.save(tmp_path / "arch.json")
    ops = [c for c in get_space("unet").choices(**arch.settings) if isinstance(c, OpChoice)]
    n = len(ops[0].candidates)
    first = [2.0 / n] + [(1 - 2.0 / n) / (n - 1)] * (n - 1)  # the first candidate at twice uniform in every decision
    records = [{"epoch": 0, "probabilities": {c.label: [1 / n] * n for c in ops}},
               {"epoch": 1, "probabilities": {c.label: first for c in ops}}, {"epoch": 2}]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "op_drift.py"
    done = subprocess.run([sys.executable, str(script), str(tmp_path), "--json", str(tmp_path / "drift.json")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = json.loads((tmp_path / "drift.json").read_text())
    assert row["epoch"] == 1 and row["decisions"] == len(ops)
    assert abs(row["ops"][ops[0].candidates[0]] - 2.0) < 1e-9 and all(abs(v - (n - 2) / (n - 1)) < 1e-9 for k, v in row["ops"].items()
                                                                        if k != ops[0].candidates[0])


@pytest.mark.slow
def test_supernet_rank_runs_each_architecture_alone_through_a_searchs_shared_weights(work3d: Path, tmp_path: Path,
                                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from segnas.config import make_config
    from segnas.nas.arch import ZERO, InputChoice, load_architecture
    from segnas.nas.search import search
    from segnas.nas.spaces import get_space
    from tests.conftest import copy_work

    work = copy_work(work3d, tmp_path / "w")
    cfg = make_config("scnas", {"epochs": 1, "steps_per_epoch": 1, "batch_size": 2, "patch_size": [16, 16, 16], "workers": 0,
                                "space_settings.channels": 8, "space_settings.depth": 1, "warmup_epochs": 0})
    run = search(work, cfg, show_progress=False)
    settings = load_architecture(run / "arch.json").settings
    archs = []
    for seed in (1, 2):
        path = tmp_path / f"r{seed}.json"
        get_space("unet").random(seed=seed, **settings).save(path)
        archs.append(f"r{seed}={path}")
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "supernet_rank.py"
    done = subprocess.run([sys.executable, str(script), "--work", str(work), "--run", str(run), "--arch", *archs,
                           "--draws", "1", "--batches", "1", "--json", str(tmp_path / "rank.json")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    losses = json.loads((tmp_path / "rank.json").read_text())["losses"]
    assert set(losses) == {"r1", "r2"} and all(v > 0 for v in losses.values()) and losses["r1"] != losses["r2"]
    # what the script runs: each edge its op, and `zero` on the edges from sources its node did not keep
    monkeypatch.syspath_prepend(str(script.parent))
    from supernet_rank import selection_of  # type: ignore[import-not-found]

    arch = load_architecture(tmp_path / "r1.json")
    choices = get_space("unet").choices(**settings)
    picked = selection_of(arch, choices)
    for c in choices:
        if isinstance(c, InputChoice):
            for source, edge in zip(c.candidates, c.edges):
                name = next(o for o in choices if o.label == edge).candidates[picked[edge].indices[0]]
                assert (name == ZERO) == (source not in arch.values[c.label])


def test_early_rank_correlates_each_epochs_training_loss_with_the_final_dice(tmp_path: Path) -> None:
    # three architectures whose losses order them as their Dice does after epoch 1, the other way after epoch 0
    final = {"a": 0.9, "b": 0.8, "c": 0.7}
    curves = {"a": [0.9, 0.1], "b": [0.5, 0.2], "c": [0.2, 0.3]}
    for name in final:
        for seed in (0, 1):
            run = tmp_path / f"{name}_seed{seed}" / "runs" / "100steps"
            run.mkdir(parents=True)
            (run / "config.json").write_text(json.dumps({"steps_per_epoch": 50}))
            (run / "log.jsonl").write_text("".join(json.dumps({"epoch": e, "train_loss": v}) + "\n" for e, v in enumerate(curves[name])))
            pred = tmp_path / f"{name}_seed{seed}" / "predictions" / "100steps"
            pred.mkdir(parents=True)
            (pred / "metrics.json").write_text(json.dumps({"cases": [{"case": "x", "classes": {"1": {"dice": final[name]}}}]}))
    (tmp_path / "d_seed0").symlink_to(tmp_path / "a_seed0")  # a link to a training counts once
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "early_rank.py"
    done = subprocess.run([sys.executable, str(script), str(tmp_path), "--steps", "100", "--json", str(tmp_path / "e.json")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads((tmp_path / "e.json").read_text())
    assert set(found["dice"]) == set(final)
    rows = found["epochs"]
    assert [r["steps"] for r in rows] == [50, 100]
    assert rows[0]["tau"] == pytest.approx(-1.0) and rows[1]["tau"] == pytest.approx(1.0)
    assert rows[0]["best"] == "c" and rows[1]["best"] == "a"


def test_search_signal_pools_seed_pairs_and_counts_the_decisions_every_search_made_alike() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from search_signal import agreement, disjoint, pooled, unanimous

    m = 8  # candidates of each decision, `zero` among them: chance 1/7
    searches = [{"values": dict(zip("abcd", v)), "candidates": dict.fromkeys("abcd", m)}
                for v in (["x", "y", "z", "w"], ["x", "y", "q", "r"], ["x", "y", "s", "t"])]
    pairs = [agreement(a, b) for i, a in enumerate(searches) for b in searches[i + 1:]]
    assert [p["same"] for p in pairs] == [2, 2, 2]
    pool = pooled(pairs)
    assert (pool["same"], pool["decisions"]) == (6, 12) and abs(pool["ratio"] - 3.5) < 1e-9 and 0.003 < pool["p"] < 0.004
    alike = unanimous(searches)
    assert alike["same"] == 2 and abs(alike["chance"] - 1 / 49) < 1e-12 and 0.002 < alike["p"] < 0.003
    assert disjoint(["s0", "s1", "s2", "s3", "s4"]) == [("s0", "s1"), ("s2", "s3")]  # fixed in advance; no search twice


def test_stakes_counts_a_choice_inside_the_other_searchs_plausible_set_against_an_exact_chance() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from scipy.stats import binom
    from stakes import poisson_binomial_tail

    assert abs(poisson_binomial_tail([0.3] * 10, 4) - binom.sf(3, 10, 0.3)) < 1e-12  # equal chances: the binomial tail
    assert poisson_binomial_tail([0.2, 0.5, 1.0], 0) == 1.0 and abs(poisson_binomial_tail([0.2, 0.5, 1.0], 3) - 0.1) < 1e-12
