"""The race: candidates made from a search, trials in a shared Optuna storage, pruning by successive halving,
workers that share one race, and a killed race that resumes without rerunning finished trials."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from segnas.app.pipeline import RACE_SHARE
from segnas.app.run_report import write_report
from segnas.data.plan import Plan
from segnas.errors import SegnasError
from segnas.nas.spaces import get_space
from segnas.selection.race import RaceConfig
from tests.conftest import copy_work

SETS = ["--set", "steps_per_epoch=2", "--set", "batch_size=2", "--set", "workers=0", "--set", "patch_size=[32,32]",
        "--set", "width=8", "--preset", "darts"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "SEGNAS_PROGRESS_SECONDS": "3600"}


def searched(work: Path) -> Path:
    """A stand-in search run: a small random architecture of the unet space in 2D (no log: samples are uniform)."""
    run = work / "runs" / "search_x"
    get_space("unet").random(seed=3, dims=2, in_channels=2, num_classes=3, channels=8, depth=2).save(run / "arch.json")
    return run


def race(work: Path, *more: str, wait: bool = True, errors: bool = False, log: Path | None = None,
         equal_steps: bool = True) -> subprocess.Popen | subprocess.CompletedProcess:
    """`segnas race` on `work` in its own process (not waited for: its stderr kept with `errors`, to be read by
    `communicate`, else a full pipe would stop it; or written to `log`), in units of one epoch (`equal_steps`) or of
    the time `--minutes` gives."""
    args = [sys.executable, "-m", "segnas", "race", "--work", str(work), "--search", str(searched(work)), "--samples", "1",
            "--random", "1", *(["--unit-epochs", "1"] if equal_steps else []), *SETS, *more]
    if not wait:
        stderr = subprocess.PIPE if errors else log.open("w") if log else subprocess.DEVNULL
        return subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
    return subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=900)


def summary(work: Path) -> dict:
    return json.loads((work / "race" / "fold0" / "summary.json").read_text())


def open_together(url: str, workers: int, outsiders: int = 0) -> tuple[list[str], list]:
    """`workers` threads opening the race's study at `url` at once, beside `outsiders` threads that open it as a
    program without the race's lock does (plain `optuna.load_study`) → (the workers' errors, their studies)."""
    import optuna

    from segnas.selection.study import open_study

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    start, errors, studies = threading.Barrier(workers + outsiders), [], []

    def worker() -> None:
        start.wait()
        try:
            studies.append(open_study(url, "s", ["a", "b"]))
        except Exception as e:  # noqa: BLE001 - the failure is what the test reports
            errors.append(repr(e)[:300])

    def outsider() -> None:
        start.wait()
        for _ in range(20):
            try:
                optuna.load_study(study_name="s", storage=url)
                return
            except Exception:  # noqa: BLE001 - its own failures are not what is tested
                time.sleep(0.01)

    threads = [threading.Thread(target=worker) for _ in range(workers)] + [threading.Thread(target=outsider) for _ in range(outsiders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors, studies


def test_workers_opening_a_new_sqlite_storage_together_all_join_one_study(tmp_path: Path) -> None:
    for attempt in range(3):  # without `opening`, nearly every attempt has a worker fail creating a table
        errors, studies = open_together(f"sqlite:///{tmp_path / f'race{attempt}.db'}", workers=6)
        assert not errors, errors
        assert len(studies[0].get_trials()) == 2  # enqueued once, by the one worker that created the study


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # ask() without optimize(): no heartbeat needed here
def test_halving_prunes_a_candidate_below_the_better_half_of_its_rung(tmp_path: Path) -> None:
    from segnas.selection.study import open_study

    study = open_study(f"sqlite:///{tmp_path / 'race.db'}", "s", ["a", "b", "c"])
    first = study.ask()
    first.report(0.9, 1)
    assert not first.should_prune()  # the first to reach a rung has no one to lose to
    first.report(0.92, 2)
    study.tell(first, 0.92)
    worse, better = study.ask(), study.ask()
    worse.report(0.1, 1)
    better.report(0.95, 1)
    assert worse.should_prune() and not better.should_prune()  # η = 2: only the better half of a rung goes on


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # ask() without optimize(): no heartbeat needed here
def test_workers_popping_one_sqlite_queue_never_take_the_same_trial(tmp_path: Path) -> None:
    import optuna

    from segnas.selection.study import open_study

    url, names = f"sqlite:///{tmp_path / 'race.db'}", [f"c{i}" for i in range(40)]
    open_study(url, "s", names)
    popped: list[int] = []

    def worker() -> None:  # each with its own storage object, as separate processes have
        study = open_study(url, "s", names)
        while study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
            popped.append(study.ask().number)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(range(40)) <= set(popped) and len(popped) == len(set(popped))  # without `serialized`: ~10 % popped twice


@pytest.mark.slow
def test_two_workers_sharing_one_storage_run_one_race_to_the_single_workers_winner(work2d: Path, tmp_path: Path) -> None:
    alone = copy_work(work2d, tmp_path / "alone")
    done = race(alone, "--rungs", "1")
    assert done.returncode == 0, done.stderr
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    a, b = copy_work(work2d, tmp_path / "a"), copy_work(work2d, tmp_path / "b")  # two machines, each with its own copy
    workers = [race(w, "--rungs", "1", "--storage", storage, wait=False, errors=True) for w in (a, b)]
    for p in workers:
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, err[-3000:]
    single = summary(alone)
    assert set(single["candidates"]) == {"searched", "sample0", "random0", "monai_unet", "monai_dynunet"}
    shared = [json.loads((w / "race" / "fold0" / "summary.json").read_text()) for w in (a, b)
              if (w / "race" / "fold0" / "summary.json").is_file()]
    assert shared and all(s["winner"] == single["winner"] for s in shared)
    def scores(s: dict) -> dict:
        return {name: (row["rungs"], row["final"], row["state"]) for name, row in s["candidates"].items()}

    assert all(scores(s) == scores(single) for s in shared)  # the same trainings, whoever ran them
    # every candidate trained once, by one of the two (a fast worker may take them all: the other's folder stays empty)
    runs = [sorted(p.name for p in (w / "race" / "fold0" / "runs").glob("*")) for w in (a, b)]
    assert set(runs[0] + runs[1]) == set(single["candidates"])
    assert len(runs[0]) + len(runs[1]) == len(single["candidates"])


@pytest.mark.slow
def test_successive_halving_prunes_and_a_killed_race_resumes_without_rerunning(work2d: Path, tmp_path: Path) -> None:
    import optuna
    import sqlalchemy

    from segnas.selection.study import opening

    work, err = copy_work(work2d, tmp_path / "w"), tmp_path / "race.err"
    proc = race(work, "--rungs", "2", wait=False, log=err)
    db = work / "race" / "fold0" / "race.db"
    deadline = time.time() + 600
    finished: list[str] = []
    while time.time() < deadline and not finished and proc.poll() is None:
        time.sleep(1)
        if db.is_file():
            try:  # under the race's own lock: Optuna opening a storage creates its tables, which a worker does too
                with opening(f"sqlite:///{db}"):
                    study = optuna.load_study(study_name="race_fold0", storage=f"sqlite:///{db}")
                finished = [t.params["candidate"] for t in study.get_trials(deepcopy=False)
                            if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]
            except (KeyError, sqlalchemy.exc.OperationalError):  # no study of this name yet; the race is writing
                continue
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert alive, f"the race stopped by itself: {err.read_text()[-3000:]}"
    assert finished, "no trial finished within 10 minutes"
    logs = {name: (work / "race" / "fold0" / "runs" / name / "log.jsonl").read_text() for name in finished}
    done = race(work, "--rungs", "2")
    assert done.returncode == 0, done.stderr
    s = summary(work)
    assert len(s["candidates"]) == 5 and "winner" in s
    states = {r["state"] for r in s["candidates"].values()}
    assert "complete" in states and states <= {"complete", "pruned"}  # which are pruned depends on the scores (the pruning rule: below)
    for r in s["candidates"].values():  # a pruned trial stopped after its first rung, a complete one ran both
        assert list(r["rungs"]) == (["1"] if r["state"] == "pruned" else ["1", "2"]), r
        # its last rung's per-case inner Dice (what `held_back` pairs), whose mean is the rung's score
        assert r["cases"] and abs(sum(r["cases"].values()) / len(r["cases"]) - list(r["rungs"].values())[-1]) < 1e-3, r
    for name, text in logs.items():  # a finished trial is not trained again
        assert (work / "race" / "fold0" / "runs" / name / "log.jsonl").read_text() == text
    assert "winner:" in done.stdout and "2 unit(s)" in done.stdout
    assert (work / "race" / "fold0" / "race.png").stat().st_size > 0  # the rung table drawn
    shutil.rmtree(work / "race")


@pytest.mark.slow
def test_run_with_minutes_searches_races_and_reports_the_winner(synth2d: Path, tmp_path: Path) -> None:
    work = tmp_path / "w"
    args = [sys.executable, "-m", "segnas", "run", str(synth2d), "--work", str(work), "--fold", "0", "--num-folds", "2",
            "--minutes", "0.5", "--search-set", "space_settings.channels=8", "--search-set", "space_settings.depth=2",
            "--search-set", "workers=0", "--search-set", "strategy_options.trial_steps=2",
            "--search-set", "patch_size=[32,32]", "--train-set", "patch_size=[32,32]",  # DynUNet for 32², not 128²: half the time
            "--train-set", "steps_per_epoch=2", "--train-set", "workers=0", "--train-set", "width=8",
            "--workers", "1", "--min-unit-steps", "1"]
    done = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    split = json.loads((work / "race" / "fold0" / "split.json").read_text())
    assert split["search_share"] == 0.2 and split["race_minutes_planned"] == pytest.approx(0.2)
    assert {"search_minutes", "race_minutes", "final_training_minutes"} <= set(split)
    searched_with = json.loads((work / "runs" / "search_scnas_unet_trained_fold0" / "config.json").read_text())
    assert searched_with["cost_weight"] == 0.0 and searched_with["minutes"] == pytest.approx(0.1)  # 2D: no cost term (full grid)
    assert searched_with["space_settings"]["tie"] == "cell" and searched_with["strategy_options"]["width"] == 8  # by training, at the race's width
    s = summary(work)
    assert "winner:" in done.stdout and s["winner"] in s["candidates"]
    assert f"{s['units_trained']} of the {s['units_planned']} units planned trained" in done.stdout
    metrics = json.loads((work / "predictions" / "scnas" / "fold0" / "metrics.json").read_text())
    assert metrics["cases"]  # the winner predicted the fold's held-out cases in their original geometry
    page = write_report(s["winner_run"])  # the winner's page shows the race it won
    assert (page.parent / "race.png").is_file() and 'src="race.png"' in page.read_text()
    winner_log = (Path(s["winner_run"]) / "log.jsonl").read_text()
    again = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert (Path(s["winner_run"]) / "log.jsonl").read_text() == winner_log  # run again: the first deadline holds
    assert json.loads((work / "race" / "fold0" / "split.json").read_text())["winner_training_minutes"] == split["winner_training_minutes"]


def test_the_winner_trains_on_to_a_total_time_and_no_further(work2d: Path, tmp_path: Path) -> None:
    from segnas.config import TrainConfig, make_config
    from segnas.selection.race import finish, trained_minutes
    from segnas.training.train import train

    work = copy_work(work2d, tmp_path / "w")
    arch = searched(work) / "arch.json"
    cfg = make_config("darts", {"steps_per_epoch": 2, "batch_size": 2, "workers": 0, "patch_size": [32, 32], "width": 8,
                                "epochs": 1, "select": "inner", "val_every": 0}, TrainConfig)
    run = work / "race" / "fold0" / "runs" / "w"
    train(work, arch, cfg, run=run, show_progress=False)  # the race's part: one epoch
    summary = {"winner": "w", "winner_run": str(run), "winner_arch": str(arch), "candidates": {"w": {"steps_per_epoch": 2}}}
    total = trained_minutes(run) + 0.05  # three more seconds of training: a run of other length than it was made with
    finish(work, summary, cfg, total)
    lines = (run / "log.jsonl").read_text().splitlines()
    assert len(lines) > 1 and trained_minutes(run) >= total - 0.05
    finish(work, summary, cfg, total)  # reached: not trained again
    assert (run / "log.jsonl").read_text().splitlines() == lines


@pytest.mark.slow
def test_run_with_minutes_too_few_for_a_race_trains_the_baseline_for_all_of_them(synth2d: Path, tmp_path: Path) -> None:
    work = tmp_path / "w"
    get_space("unet").random(seed=7, dims=2, in_channels=1, num_classes=2, channels=8, depth=2).save(tmp_path / "found.json")
    args = [sys.executable, "-m", "segnas", "run", str(synth2d), "--work", str(work), "--fold", "0", "--num-folds", "2",
            "--minutes", "0.3", "--train-set", "workers=0", "--train-set", "width=8", "--workers", "1", "--min-unit-steps", "1000000",
            "--candidate", str(tmp_path / "found.json")]
    done = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    split = json.loads((work / "race" / "fold0" / "split.json").read_text())
    assert split["fallback"] == "monai_unet" and "too few" in split["reason"] and "no search and no race" in done.stdout
    assert "not raced: found" in " ".join(done.stdout.split())  # the user's candidate is not dropped in silence
    assert split["baseline_validation_s"] > 0  # the race's unit holds validation: so does the yardstick's
    cfg = RaceConfig(min_unit_steps=10**6, given=(str(tmp_path / "found.json"),))  # the candidate counts in the race's size
    needed = cfg.minutes_affordable(split["baseline_ms_per_step"], split["baseline_validation_s"]) / RACE_SHARE
    assert f"a race runs from about {needed:.0f} min" in split["reason"]
    assert not list((work / "runs").glob("search_*"))  # nothing searched
    log = [json.loads(line) for line in (work / "runs" / "minutes_monai_unet_fold0" / "log.jsonl").read_text().splitlines()]
    seconds = [r["seconds"] for r in log]
    assert len(seconds) >= 5  # epochs of a tenth of the minutes, so that it stops close to them
    assert sum(seconds) - max(seconds) < 18 <= sum(seconds) + max(seconds)  # all 0.3 minutes, within an epoch of them
    assert json.loads((work / "predictions" / "scnas" / "fold0" / "metrics.json").read_text())["cases"]


def test_the_fallbacks_yardstick_is_the_median_of_seconds_of_steps_not_of_a_few(monkeypatch: pytest.MonkeyPatch) -> None:
    """Race or fallback rests on one timing of MONAI UNet's step: a median over 0.2 s varied 2.1× between starts of
    one run, so the yardstick is timed over `YARDSTICK_SECONDS`."""
    import torch

    from segnas.config import TrainConfig, make_config
    from segnas.nas import timing
    from segnas.selection.race import YARDSTICK_SECONDS, affordable

    asked: list[float] = []
    monkeypatch.setattr(timing, "median_seconds", lambda fn, device, repeats, least: asked.append(least) or 0.05)
    train_cfg = make_config("darts", {"batch_size": 1, "patch_size": [32, 32]}, TrainConfig)
    ok, steps, ms, _ = affordable(Plan.of(2, 1, 2, [32, 32]), train_cfg, RaceConfig(unit_seconds=10.0, min_unit_steps=100), torch.device("cpu"))
    assert asked == [YARDSTICK_SECONDS] and YARDSTICK_SECONDS >= 2.0
    assert (ok, steps, ms) == (True, 200, 50.0)


def test_the_fallbacks_yardstick_trains_what_validating_leaves_of_a_unit_as_the_race_does(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    import segnas.selection.race as race_module
    from segnas.config import TrainConfig, make_config
    from segnas.nas import timing

    monkeypatch.setattr(timing, "median_seconds", lambda fn, device, repeats, least: 0.05)
    monkeypatch.setattr(race_module, "validation_seconds", lambda *args: 4.0)  # per rung: 3 of 3 rungs in 4 units, 3 s a unit
    train_cfg = make_config("darts", {"batch_size": 1, "patch_size": [32, 32]}, TrainConfig)
    cfg = RaceConfig(unit_seconds=10.0, min_unit_steps=140)
    ok, steps, ms, validation_s = race_module.affordable(Plan.of(2, 1, 2, [32, 32]), train_cfg, cfg, torch.device("cpu"),
                                                         ws=object(), cases=["a"])  # type: ignore[arg-type]
    assert (ok, steps, ms, validation_s) == (True, 140, 50.0, 4.0)  # (10 − 3) s at 50 ms, not 200 steps
    assert cfg.minutes_affordable(ms, validation_s) == pytest.approx(10.0 * cfg.rungs * cfg.candidates / 60)  # its inverse


def test_a_candidate_slow_to_validate_trains_fewer_steps_in_its_unit(work2d: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On ISBI the race overran its 24 minutes by 8, a third of it validating the slow cell networks after every rung:
    a unit's steps are now what its share of the rungs' validations leaves of it."""
    import torch

    from segnas.config import TrainConfig, make_config
    from segnas.data.plan import load_plan
    from segnas.data.preprocess import load_case
    from segnas.data.splits import load_fold
    from segnas.inference.predict import volume_windows, windows_per_call
    from segnas.runtime.workspace import Workspace
    from segnas.selection import race as race_module

    monkeypatch.setattr(race_module, "step_ms", lambda *args, **kwargs: 100.0)
    monkeypatch.setattr(race_module, "forward_seconds", lambda *args, **kwargs: 0.5)
    ws, cpu = Workspace(work2d), torch.device("cpu")
    plan, cases = load_plan(ws), list(load_fold(ws, 0).search_val)
    train_cfg = make_config("darts", {"batch_size": 2, "patch_size": [32, 32]}, TrainConfig)
    arch = get_space("unet").random(seed=0, channels=8, dims=2)
    windows = sum(volume_windows(load_case(ws, c).image.shape[1:], [32, 32], plan.slice_axis) for c in cases)
    assert windows >= len(cases)
    val_s = race_module.validation_seconds(arch, plan, train_cfg, ws, cases, cpu)
    assert val_s == pytest.approx(0.5 * windows / windows_per_call([32, 32]))
    cfg = RaceConfig(unit_seconds=60.0, rungs=3)
    arch_file = work2d / "arch_for_schedule.json"
    arch.save(arch_file)
    assert race_module.unit_schedule(arch_file, plan, train_cfg, cfg, cpu) == (1, 600, 100.0)
    assert race_module.unit_schedule(arch_file, plan, train_cfg, cfg, cpu, validation_s=8.0) == (1, 540, 100.0)  # 60 − 8 × 3 / 4 s
    assert race_module.unit_schedule(arch_file, plan, train_cfg, cfg, cpu, validation_s=100.0)[1] == 1  # at least a step
    equal_steps = RaceConfig(unit_epochs=2)
    assert race_module.unit_schedule(arch_file, plan, train_cfg, equal_steps, cpu, validation_s=8.0)[:2] == (2, train_cfg.steps_per_epoch)


def test_a_budgeted_run_searches_3d_cells_on_half_the_grid_when_the_patch_allows() -> None:
    from segnas.app.pipeline import budgeted_search

    def plan(dims: int, patch: list[int]) -> Plan:
        return Plan.of(dims, 1, 2, patch)

    coarse = budgeted_search(plan(3, [64, 64, 32]), "scnas", {}, 2.0)
    assert coarse["space_settings.stem_stride"] == 2 and coarse["cost_weight"] == 1.0 and coarse["minutes"] == 2.0
    assert coarse["strategy"] == "trained" and coarse["space_settings.tie"] == "cell"  # by training, one op per cell type
    assert budgeted_search(plan(2, [64, 64]), "thrifty", {}, 2.0)["space_settings.tie"] == "cell"  # DN and UP cells: 2 decisions
    assert budgeted_search(plan(2, [64, 64]), "scnas", {"space_settings.tie": "node"}, 2.0)["space_settings.tie"] == "node"
    one_shot = budgeted_search(plan(3, [64, 64, 32]), "scnas", {"strategy": "gumbel2"}, 2.0, width=16)
    assert "space_settings.tie" not in one_shot and one_shot["cost_width"] == 16  # a one-shot search as before
    flat = budgeted_search(plan(2, [64, 64]), "scnas", {}, 2.0)
    assert "space_settings.stem_stride" not in flat and flat["cost_weight"] == 0.0  # measured in 3D only; on the full grid no cost
    assert budgeted_search(plan(2, [64, 64]), "scnas", {"cost_weight": "1"}, 2.0)["cost_weight"] == "1"  # unless asked
    small = budgeted_search(plan(3, [24, 24, 8]), "scnas", {}, 2.0)
    assert "space_settings.stem_stride" not in small and small["cost_weight"] == 0.0  # not a multiple of 16: full grid
    mine = budgeted_search(plan(3, [64, 64, 32]), "scnas", {"space_settings.stem_stride": 1, "cost_weight": 0.0}, 2.0)
    assert mine["space_settings.stem_stride"] == 1 and mine["cost_weight"] == 0.0  # the user's settings win
    assert budgeted_search(plan(3, [64, 64, 32]), "scnas", {}, 2.0, width=16)["strategy_options.width"] == 16  # trials at the trained width
    assert budgeted_search(plan(3, [64, 64, 32]), "scnas", {"strategy_options.width": 24}, 2.0, width=16)["strategy_options.width"] == 24
    assert budgeted_search(plan(3, [64, 64, 32]), "scnas", {"strategy": "darts", "cost_width": 24}, 2.0, width=16)["cost_width"] == 24


def test_a_race_trains_every_candidate_from_scratch_as_wide_as_the_unet_they_race() -> None:
    from segnas.config import TRAIN_PRESETS, TrainConfig, make_config
    from segnas.networks.baselines import baseline_architecture
    from segnas.selection.race import race_training

    unet = baseline_architecture("monai_unet", Plan.of(3, 1, 2, [64, 64, 32])).settings["channels"]
    assert make_config("scnas", {}, TrainConfig).width != unet  # the paper's 68: sized for a GPU cluster
    assert race_training("scnas", {})["width"] == unet
    assert race_training("scnas", {"width": 32})["width"] == 32  # --width wins
    assert "width" not in race_training("ronasmis", {})  # no retraining: it keeps the searched width
    assert make_config("ronasmis", {}, TrainConfig).init == "search"  # RONASMIS fine-tunes the supernet's weights ...
    assert make_config("ronasmis", race_training("ronasmis", {}), TrainConfig).init == "scratch"  # ... which a race has not
    assert {make_config(p, race_training(p, {}), TrainConfig).init for p in TRAIN_PRESETS} == {"scratch"}  # every preset
    with pytest.raises(SegnasError, match="init=search: a race trains every candidate from scratch"):
        race_training("scnas", {"init": "search"})


def test_a_race_of_the_space_alone_draws_other_networks_with_another_seed(work2d: Path, tmp_path: Path) -> None:
    from segnas.config import TrainConfig, make_config
    from segnas.data.plan import load_plan
    from segnas.nas.arch import load_architecture
    from segnas.runtime.workspace import Workspace
    from segnas.selection.candidates import make_candidates

    work = copy_work(work2d, tmp_path / "w")
    run, plan = searched(work), load_plan(Workspace(work))
    train_cfg = make_config("darts", {"width": 8}, TrainConfig)
    drawn = {}
    for seed in (0, 1):
        cfg = RaceConfig(samples=1, random=2, baselines=(), seed=seed)
        found = make_candidates(work, run, plan, train_cfg, cfg, tmp_path / f"race{seed}")
        assert set(found) == {"searched", "sample0", "random0", "random1"}  # no baseline enters
        drawn[seed] = [load_architecture(found[n]).values for n in ("random0", "random1")]
    assert drawn[0][1] == drawn[1][0]  # draw i of seed s is the space's draw 1000 + s + i
    assert drawn[0][0] not in drawn[1]


def test_a_race_after_a_search_by_training_enters_its_fastest_plausible_network_and_best_other_trials(work2d: Path, tmp_path: Path) -> None:
    from segnas.config import TrainConfig, make_config
    from segnas.data.plan import load_plan
    from segnas.nas.arch import load_architecture
    from segnas.runtime.workspace import Workspace
    from segnas.selection.candidates import make_candidates

    work = copy_work(work2d, tmp_path / "w")
    run, plan = work / "runs" / "search_t", load_plan(Workspace(work))
    space = get_space("unet")
    picked = space.random(seed=0, dims=2, in_channels=2, num_classes=3, channels=8, depth=2, tie="cell")
    picked.save(run / "arch.json")
    others = [space.random(seed=s, **picked.settings).values for s in (1, 2, 3)]
    scores = [(picked.values, 0.9), (others[0], 0.5), (others[1], 0.8), (others[1], 0.7), (others[2], 0.6)]  # the pick, a repeat
    (run / "log.jsonl").write_text("".join(json.dumps({"trial": t, "values": v, "score": sc, "probabilities": {}}) + "\n"
                                           for t, (v, sc) in enumerate(scores)))
    found = make_candidates(work, run, plan, make_config("darts", {"width": 8}, TrainConfig),
                            RaceConfig(samples=3, random=0, baselines=()), tmp_path / "race")
    assert set(found) == {"searched", "trial0", "trial1", "trial2"}  # trained and scored networks, not samples
    assert [load_architecture(found[f"trial{i}"]).values for i in range(3)] == [others[1], others[2], others[0]]  # best first
    picked.provenance = {"fastest_plausible": {"values": {k: others[1][k] for k in others[1] if k.endswith("/op")}}}
    picked.save(run / "arch.json")  # the fastest network its trials do not rank below it: a sample's place, not another trial
    quick = make_candidates(work, run, plan, make_config("darts", {"width": 8}, TrainConfig),
                            RaceConfig(samples=3, random=0, baselines=()), tmp_path / "race_quick")
    assert set(quick) == {"searched", "fastest", "trial0", "trial1"}, quick
    assert load_architecture(quick["fastest"]).values == {**picked.values, **picked.provenance["fastest_plausible"]["values"]}
    assert [load_architecture(quick[f"trial{i}"]).values for i in range(2)] == [others[2], others[0]]


def test_a_race_enters_a_network_given_as_a_file_fitted_to_the_dataset(work2d: Path, tmp_path: Path) -> None:
    """SCNAS's transfer: a network found on a 3D one-channel two-class task races on this 2D task as it is, named by
    its file, with this dataset's dims, channels and classes and the race's width; a file that cannot race is an
    error naming it, before anything is written."""
    from segnas.config import TrainConfig, make_config
    from segnas.data.plan import load_plan
    from segnas.errors import SegnasError
    from segnas.nas.arch import load_architecture
    from segnas.networks.baselines import baseline_architecture
    from segnas.runtime.workspace import Workspace
    from segnas.selection.candidates import make_candidates

    work = copy_work(work2d, tmp_path / "w")
    run, plan = searched(work), load_plan(Workspace(work))
    train_cfg = make_config("darts", {"width": 8, "patch_size": [32, 32]}, TrainConfig)
    found_elsewhere = get_space("unet").random(seed=7, dims=3, in_channels=1, num_classes=2, channels=16, depth=2)
    found_elsewhere.save(tmp_path / "la_found.json")
    cfg = RaceConfig(samples=0, random=1, baselines=("monai_unet",), given=(str(tmp_path / "la_found.json"),))
    assert cfg.candidates == 4
    entered = make_candidates(work, run, plan, train_cfg, cfg, tmp_path / "race")
    assert set(entered) == {"searched", "random0", "la_found", "monai_unet"}
    fitted = load_architecture(entered["la_found"])
    assert fitted.values == found_elsewhere.values
    assert {k: fitted.settings[k] for k in ("dims", "in_channels", "num_classes", "channels")} == \
        {"dims": 2, "in_channels": plan.in_channels, "num_classes": plan.num_classes, "channels": 8}
    assert make_candidates(work, run, plan, train_cfg, cfg, tmp_path / "race") == entered  # kept on resume
    get_space("unet").random(seed=8, **found_elsewhere.settings).save(tmp_path / "la_found.json")
    with pytest.raises(SegnasError, match="made without .*la_found.json"):
        make_candidates(work, run, plan, train_cfg, cfg, tmp_path / "race")

    get_space("unet").random(seed=7, dims=3, in_channels=1, num_classes=2, channels=16, depth=6).save(tmp_path / "deep.json")
    found_elsewhere.save(tmp_path / "random0.json")
    baseline_architecture("monai_unet", plan, [32, 32]).save(tmp_path / "unet.json")
    (tmp_path / "broken.json").write_text("{")
    for name, error in (("random0", "already has a candidate named 'random0'"), ("unet", "enter it with --baseline monai_unet"),
                        ("broken", "broken.json.*not valid JSON"), ("missing", "missing.json"),
                        ("deep", "deep.json: patch .* multiples of \\[64, 64\\]")):
        bad = RaceConfig(samples=0, random=1, baselines=(), given=(str(tmp_path / f"{name}.json"),))
        with pytest.raises(SegnasError, match=error):
            make_candidates(work, run, plan, train_cfg, bad, tmp_path / f"race_{name}")
        assert not (tmp_path / f"race_{name}" / "candidates").exists()


def test_segnas_race_takes_candidate_files_and_names_one_that_cannot_race(work2d: Path, tmp_path: Path) -> None:
    work = copy_work(work2d, tmp_path / "w")
    (tmp_path / "found.json").write_text('{"format_version": 1}')
    done = race(work, "--candidate", str(tmp_path / "found.json"))
    assert done.returncode != 0 and "found.json" in done.stderr and "space" in done.stderr, done.stderr[-2000:]
    assert not (work / "race" / "fold0" / "candidates").exists()


def test_a_run_given_a_candidate_needs_minutes_and_a_file_that_can_race_before_any_work(tmp_path: Path) -> None:
    from segnas.app.pipeline import run_pipeline
    from segnas.errors import SegnasError

    get_space("unet").random(seed=7, dims=3, in_channels=1, num_classes=2, channels=16, depth=2).save(tmp_path / "found.json")
    with pytest.raises(SegnasError, match="needs --minutes"):
        run_pipeline(tmp_path / "no_data", tmp_path / "w", race={"given": (str(tmp_path / "found.json"),)})
    with pytest.raises(SegnasError, match="gone.json"):
        run_pipeline(tmp_path / "no_data", tmp_path / "w", minutes=5, race={"given": (str(tmp_path / "gone.json"),)})
    assert not (tmp_path / "w").exists()


def test_a_program_opening_the_storage_beside_the_race_without_its_lock_does_not_stop_it(tmp_path: Path) -> None:
    for attempt in range(4):  # a dashboard or script opening the new file creates Optuna's tables beside the worker
        errors, studies = open_together(f"sqlite:///{tmp_path / f'race{attempt}.db'}", workers=1, outsiders=3)
        assert not errors, errors
        assert len(studies[0].get_trials()) == 2


def test_a_race_never_enters_a_sample_that_repeats_another_candidate(work2d: Path, tmp_path: Path) -> None:
    """A decided distribution draws the searched network again and again: the race takes only samples unlike every
    candidate so far, and fewer samples when no other is drawn."""
    from segnas.config import TrainConfig, make_config
    from segnas.data.plan import load_plan
    from segnas.nas.arch import load_architecture
    from segnas.runtime.workspace import Workspace
    from segnas.selection.candidates import make_candidates
    from segnas.selection.trained import op_decisions

    work = copy_work(work2d, tmp_path / "w")
    run, plan = work / "runs" / "search_d", load_plan(Workspace(work))
    picked = get_space("unet").random(seed=0, dims=2, in_channels=2, num_classes=3, channels=8, depth=2, tie="cell")
    picked.save(run / "arch.json")
    decisions = op_decisions(picked.space, picked.settings)
    other = next(op for op in decisions["enc/op"] if op != picked.values["enc/op"])
    probabilities = {label: [float(op == picked.values[label] or (label == "enc/op" and op == other)) for op in ops]
                     for label, ops in decisions.items()}  # two networks have any probability: the pick and one other
    (run / "log.jsonl").write_text(json.dumps({"epoch": 0, "probabilities": probabilities}) + "\n")
    found = make_candidates(work, run, plan, make_config("darts", {"width": 8}, TrainConfig),
                            RaceConfig(samples=3, random=0, baselines=()), tmp_path / "race")
    assert set(found) == {"searched", "sample0"}
    assert load_architecture(found["sample0"]).values == {**picked.values, "enc/op": other}


def test_a_race_with_fewer_candidates_than_planned_shares_its_minutes_among_them() -> None:
    """ISBI's 2-trial search left one sample out: six candidates raced in units sized for seven (a sixth of the minutes unused)."""
    from segnas.selection.race import shared_among

    planned = RaceConfig.for_minutes(21.0, samples=2, random=2)  # 7 candidates × 3 rungs: units of 60 s
    assert planned.unit_seconds == pytest.approx(60.0)
    fewer = shared_among(planned, 6)
    assert fewer.unit_seconds == pytest.approx(70.0) and fewer.unit_seconds * fewer.rungs * 6 == pytest.approx(21.0 * 60)
    assert shared_among(planned, 7) == planned
    equal_steps = RaceConfig(unit_epochs=1)
    assert shared_among(equal_steps, 3) == equal_steps


def test_a_race_in_time_units_killed_mid_candidate_resumes_it(work2d: Path, tmp_path: Path) -> None:
    """A retried trial timed its candidate again: the steps per epoch came out otherwise and its checkpoint refused to
    resume. The schedule is measured once and kept beside the checkpoint."""
    work, err = copy_work(work2d, tmp_path / "w"), tmp_path / "race.err"
    proc = race(work, "--rungs", "2", "--minutes", "0.2", "--no-baselines", wait=False, log=err, equal_steps=False)
    first = work / "race" / "fold0" / "runs" / "searched"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None and not (first / "checkpoint.pt").is_file():
        time.sleep(0.2)
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert alive, f"the race stopped by itself: {err.read_text()[-3000:]}"
    assert (first / "checkpoint.pt").is_file() and (first / "schedule.json").is_file()
    kept = json.loads((first / "schedule.json").read_text())
    done = race(work, "--rungs", "2", "--minutes", "0.2", "--no-baselines", equal_steps=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "winner" in summary(work) and summary(work)["candidates"]["searched"]["steps_per_epoch"] == kept["steps"]
    assert json.loads((first / "config.json").read_text())["steps_per_epoch"] == kept["steps"]


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # ask() without optimize(): no heartbeat needed here
def test_a_network_of_the_space_goes_on_only_while_the_races_units_hold_it_and_a_baseline_always(tmp_path: Path) -> None:
    import optuna

    from segnas.selection.race import units_held, within_budget
    from segnas.selection.study import open_study

    names = ["searched", "sample0", "random0", "monai_unet"]
    cfg = RaceConfig(rungs=3, samples=1, random=1, baselines=("monai_unet",))  # 4 candidates × 3 rungs: 12 units
    study = open_study(f"sqlite:///{tmp_path / 'race.db'}", "s", names)
    first = study.ask()  # the searched network runs every rung: 4 units
    for units, dice in ((1, 0.5), (2, 0.6), (4, 0.7)):
        first.report(dice, units)
    study.tell(first, 0.7)
    second = study.ask()
    second.report(0.8, 1)
    # the others: the first's 4, a queued network of the space 1 (its first rung), the queued UNet all of its 4
    assert units_held(study, cfg, but=second.number) == 4 + 1 + 4
    assert within_budget(study, cfg, second.number, "sample0", 2, len(names))  # 9 + 2 ≤ 12
    second.set_user_attr("units", 2)
    second.report(0.85, 2)
    assert not within_budget(study, cfg, second.number, "sample0", 4, len(names))  # 9 + 4 > 12: it stops at 2 units
    study.tell(second, state=optuna.trial.TrialState.PRUNED)
    third, unet = study.ask(), study.ask()
    third.report(0.9, 1)
    unet.set_user_attr("units", 4)
    assert units_held(study, cfg, but=third.number) == 4 + 2 + 4  # a running trial holds the rung it trains towards
    assert within_budget(study, cfg, third.number, "random0", 2, len(names))  # 10 + 2 ≤ 12
    assert not within_budget(study, cfg, third.number, "random0", 4, len(names))
    assert within_budget(study, cfg, unet.number, "monai_unet", 4, len(names))  # the baselines' runs were reserved


BUDGET_CASES = {  # the queue's order → each candidate's state and rungs, when every candidate leads those before it
    ("searched", "random0", "monai_unet"): {"searched": ("complete", ["1", "2", "4"]), "random0": ("budget", ["1"]),
                                           "monai_unet": ("complete", ["1", "2", "4"])},
    ("monai_unet", "random0", "searched"): {"monai_unet": ("complete", ["1", "2", "4"]), "random0": ("complete", ["1", "2", "4"]),
                                           "searched": ("budget", ["1"])},
}


@pytest.mark.parametrize("order", list(BUDGET_CASES))
def test_a_race_whose_halving_would_promote_every_candidate_trains_the_units_planned_and_the_baseline_to_the_end(
        order: tuple[str, ...], work2d: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each candidate scoring above every one before it is promoted at every rung by Optuna's asynchronous halving:
    three candidates would train 12 units where 9 were planned. The network of the space last in the queue stops
    instead; the baseline, wherever it is queued, still runs every rung. Which network that is follows the queue's
    order (drawn in a real race: `entry_order`). The one stopped scored highest (its rung came last) but trained
    least: only a candidate that ran every rung wins (Optuna gives a stopped trial its last score as its value)."""
    import segnas.selection.race as race_module
    from segnas.config import TrainConfig, make_config

    work = copy_work(work2d, tmp_path / "w")
    scores = iter(range(100))
    monkeypatch.setattr(race_module, "validate_cases", lambda model, ws, cases: {  # leads as clear on both cases
        c: {"fg": v + 0.001 * i} for i, (c, v) in enumerate(dict.fromkeys(["a", "b"], 0.1 + 0.01 * next(scores)).items())})
    monkeypatch.setattr(race_module, "entry_order", lambda names, seed: sorted(names, key=order.index))
    train_cfg = make_config("darts", {"steps_per_epoch": 2, "batch_size": 2, "workers": 0, "patch_size": [32, 32], "width": 8},
                            TrainConfig)
    cfg = RaceConfig(rungs=3, samples=0, random=1, baselines=("monai_unet",), unit_epochs=1)
    s = race_module.race(work, searched(work), train_cfg, cfg)
    states = {name: (row["state"], list(row["rungs"])) for name, row in s["candidates"].items()}
    assert states == BUDGET_CASES[order] and s["order"] == list(order)
    last_to_finish = [name for name in order if BUDGET_CASES[order][name][0] == "complete"][-1]  # its scores rose last
    assert s["units_trained"] == s["units_planned"] == 9 and s["winner"] == last_to_finish


def test_a_network_of_the_space_that_leads_the_baseline_within_one_standard_error_is_held_back() -> None:
    """The one-standard-error rule: a lead over the best hand-designed network that the paired per-case differences
    on the inner cases cannot tell from noise hands over the baseline; a lead beyond it, or a baseline on top, or
    rows without per-case scores (races from before), leave the ranking as it is."""
    from segnas.selection.rungs import held_back, winner_line

    unet = {"a": 0.80, "b": 0.90, "c": 0.70, "d": 0.85}

    def row(lead: dict[str, float]) -> dict[str, Any]:
        return {"cases": {c: unet[c] + lead[c] for c in unet}}

    noisy = row({"a": 0.03, "b": -0.02, "c": 0.02, "d": -0.02})  # mean +0.0025, standard error 0.013
    clear = row({"a": 0.02, "b": 0.03, "c": 0.02, "d": 0.025})  # mean +0.024, standard error 0.002
    rows = {"searched": noisy, "monai_unet": {"cases": unet}, "monai_dynunet": {"cases": {c: v - 0.1 for c, v in unet.items()}}}
    guard = held_back(rows, ["searched", "monai_unet", "monai_dynunet"])
    assert guard is not None and guard["candidate"] == "searched" and guard["by"] == "monai_unet" and guard["cases"] == 4, guard
    assert guard["lead"] == pytest.approx(0.0025) and guard["se"] == pytest.approx(0.0131, abs=1e-3), guard
    assert held_back({**rows, "searched": clear}, ["searched", "monai_unet", "monai_dynunet"]) is None
    assert held_back(rows, ["monai_unet", "searched", "monai_dynunet"]) is None  # a baseline on top
    assert held_back({**rows, "searched": {"cases": None}}, ["searched", "monai_unet"]) is None  # a race from before
    assert held_back(rows, ["searched", "random0"]) is None  # no baseline ran every rung: nothing to keep
    one_case = {"searched": {"cases": {"a": 0.9}}, "monai_unet": {"cases": {"a": 0.8}}}
    assert held_back(one_case, ["searched", "monai_unet"])["se"] is None  # one case cannot show a lead
    line = winner_line({"winner": "monai_unet", "winner_is_searched": False, "winner_dice": 0.8125, "margin_over_next": -0.0025,
                        "held_back": guard})
    assert "searched led it by +0.003 on 4 inner case(s), within a standard error of 0.013: held back" in line, line


def test_the_race_is_drawn_with_every_candidate_to_the_rung_it_reached(tmp_path: Path) -> None:
    """race.png draws complete, pruned and budget-stopped candidates (one without any rung, one without a timed step)."""
    import matplotlib.image

    from segnas.runtime.plots import plot_race

    summary = {"rungs": 3, "unit_seconds": 68.6, "winner": "monai_unet", "candidates": {
        "monai_unet": {"rungs": {"1": 0.53, "2": 0.71, "4": 0.76}, "step_ms": 1089.0},
        "searched": {"rungs": {"1": 0.47, "2": 0.59, "4": 0.64}, "step_ms": 2344.0},
        "random0": {"rungs": {"1": 0.36}, "step_ms": 5045.0},
        "random1": {"rungs": {}, "step_ms": None}}}
    path = plot_race(summary, {"monai_unet"}, tmp_path / "race.png")
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 300 and image.std() > 0.05  # a drawn figure, not a blank canvas


def test_the_queue_is_drawn_with_the_races_seed() -> None:
    """A fixed order would favour one kind of candidate in every race (the first can't be pruned, the last networks
    of the space are stopped for the budget first): over seeds, every candidate comes first sometimes."""
    from segnas.selection.race import entry_order
    from segnas.selection.rungs import units_line

    names = ["searched", "trial0", "trial1", "random0", "random1", "monai_unet", "monai_dynunet"]
    order = entry_order(names, 0)
    assert sorted(order) == sorted(names) and entry_order(names, 0) == order
    assert {entry_order(names, seed)[0] for seed in range(100)} == set(names)
    assert units_line({"units_trained": 5, "units_planned": 21, "order": order}) == (
        f"5 of the 21 units planned trained; queued in the order {', '.join(order)}")
