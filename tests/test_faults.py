"""SIGKILL at random points: a search, a training and a prediction run as real `segnas` processes, are
killed a few times while they work, and are started again until they finish (with the default two
loader workers, whose seeding once shifted a resumed run's random stream); the result must equal
an uninterrupted run with the same seed, no checkpoint may ever be unreadable, and every prediction
present after a kill must be a complete file.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from segnas.nas.spaces import get_space
from segnas.runtime.checkpoint import load_checkpoint

from .conftest import copy_work

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NO_COLOR": "1", "COLUMNS": "120"}
KILLS = 2


def segnas(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m segnas ARGS` to the end."""
    return subprocess.run([sys.executable, "-m", "segnas", *args], env=ENV, capture_output=True, text=True, timeout=600)


def kill_at(args: list[str], delay: float) -> bool:
    """Start `segnas ARGS`, SIGKILL it after `delay` s; True when it was still running (a real interruption)."""
    p = subprocess.Popen([sys.executable, "-m", "segnas", *args], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        p.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
        p.wait()
        return True


def killed_then_finished(args: list[str], seconds: float, after_kill: Callable[[], None]) -> list[float]:
    """Kill `segnas ARGS` at KILLS random points within `seconds` (checking `after_kill` each time), then let
    it finish; returns the delays (for failure messages)."""
    rng = random.Random()  # a new draw each run: over many runs the kills land everywhere
    delays: list[float] = []
    for _ in range(KILLS):
        delay = rng.uniform(0.15, 0.95) * seconds
        delays.append(round(delay, 2))
        if kill_at(args, delay):
            after_kill()
    done = segnas(*args)
    assert done.returncode == 0, f"kills at {delays} s: {done.stdout}\n{done.stderr}"
    return delays


def timed(args: list[str]) -> float:
    """Run to the end; returns the wall time."""
    t0 = time.perf_counter()
    done = segnas(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    return time.perf_counter() - t0


def weights(path: Path) -> dict[str, torch.Tensor]:
    """The network weights of a checkpoint or best.pt."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    return state["net"]


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def no_partials(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob(".*.part*")]


SEARCH = ["--preset", "scnas", "--epochs", "4", "--set", "steps_per_epoch=3", "--set", "batch_size=2",
          "--set", "patch_size=[16,16,16]", "--set", "workers=2", "--set", "space_settings.channels=8",
          "--set", "warmup_epochs=0"]


@pytest.mark.slow
def test_search_killed_at_random_points_resumes_to_the_uninterrupted_result(work3d: Path, tmp_path: Path) -> None:
    ref, w = copy_work(work3d, tmp_path / "ref"), copy_work(work3d, tmp_path / "w")
    seconds = timed(["search", "--work", str(ref), *SEARCH])
    run_ref = next((ref / "runs").iterdir())
    run = w / "runs" / run_ref.name

    def checkpoint_readable() -> None:
        if (run / "checkpoint.pt").exists():
            load_checkpoint(run / "checkpoint.pt", "search")

    delays = killed_then_finished(["search", "--work", str(w), *SEARCH, "--resume"], seconds, checkpoint_readable)
    assert json.loads((run / "arch.json").read_text()) == json.loads((run_ref / "arch.json").read_text()), delays
    assert same_weights(run / "checkpoint.pt", run_ref / "checkpoint.pt"), delays
    strategy, strategy_ref = (load_checkpoint(r / "checkpoint.pt", "search")["strategy"]["params"] for r in (run, run_ref))
    assert all(torch.equal(strategy[k], strategy_ref[k]) for k in strategy), delays
    epochs = [json.loads(line)["epoch"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert epochs == [0, 1, 2, 3], delays
    assert not no_partials(run), delays


def _arch(path: Path) -> Path:
    get_space("unet").random(seed=5, channels=8, depth=3).save(path)
    return path


TRAIN = ["--preset", "darts", "--epochs", "4", "--set", "steps_per_epoch=3", "--set", "batch_size=2",
         "--set", "patch_size=[16,16,16]", "--set", "workers=2", "--set", "width=8", "--set", "val_every=1"]


@pytest.mark.slow
def test_training_killed_at_random_points_resumes_to_the_uninterrupted_result(work3d: Path, tmp_path: Path) -> None:
    arch = _arch(tmp_path / "arch.json")
    ref, w = copy_work(work3d, tmp_path / "ref"), copy_work(work3d, tmp_path / "w")
    seconds = timed(["train", "--work", str(ref), "--arch", str(arch), *TRAIN])
    run_ref, run = ref / "runs" / "train_darts_fold0", w / "runs" / "train_darts_fold0"

    def checkpoints_readable() -> None:
        for name in ("checkpoint.pt", "best.pt"):
            if (run / name).exists():
                torch.load(run / name, weights_only=False)

    delays = killed_then_finished(["train", "--work", str(w), "--arch", str(arch), *TRAIN, "--resume"], seconds, checkpoints_readable)
    assert same_weights(run / "checkpoint.pt", run_ref / "checkpoint.pt"), delays
    assert same_weights(run / "best.pt", run_ref / "best.pt"), delays
    summary, summary_ref = (json.loads((r / "summary.json").read_text()) for r in (run, run_ref))
    assert summary["best_val_dice"] == summary_ref["best_val_dice"], delays
    assert not no_partials(run), delays


@pytest.mark.slow
def test_prediction_killed_at_random_points_leaves_only_complete_files(trained_model: Path, synth3d: Path, tmp_path: Path) -> None:
    images = synth3d / "imagesTr"
    ref, out = tmp_path / "ref", tmp_path / "out"
    args = ["predict", "-m", str(trained_model), "-i", str(images), "--mode", "sliding", "--device", "cpu"]
    seconds = timed([*args, "-o", str(ref)])
    expected = sorted(p.name for p in ref.glob("*.nii.gz"))
    assert len(expected) == len(list(images.glob("*.nii.gz")))

    def finished_files_complete() -> None:
        for p in out.glob("*.nii.gz") if out.is_dir() else []:
            assert np.array_equal(np.asarray(nib.load(p).dataobj), np.asarray(nib.load(ref / p.name).dataobj)), p.name

    delays = killed_then_finished([*args, "-o", str(out), "--continue"], seconds, finished_files_complete)
    assert sorted(p.name for p in out.glob("*.nii.gz")) == expected, delays
    finished_files_complete()
    assert not no_partials(out), delays
