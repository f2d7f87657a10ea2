"""Data parallelism on CPU with 2 gloo processes: ranks stay in step, rank 0 alone writes, and its
checkpoint resumes in a single process. Also `torchrun -m segnas search`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from segnas.config import TrainConfig, make_config
from segnas.nas.search import search
from segnas.nas.spaces import get_space
from segnas.runtime.distributed import Group, average_gradients, shard
from segnas.training.train import train

from .conftest import copy_work

SEARCH = {"epochs": 3, "steps_per_epoch": 2, "batch_size": 1, "patch_size": [16, 16, 16], "workers": 0,
          "space_settings.channels": 8, "warmup_epochs": 0}
TRAIN = {"epochs": 3, "steps_per_epoch": 2, "batch_size": 1, "patch_size": [16, 16, 16], "workers": 0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, world: int, port: int, work: str, preset: str, arch: str | None) -> None:
    """One rank: search (or train `arch`) for one epoch of three, as if killed after it."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), SEGNAS_DEBUG_DDP="1")
    torch.set_num_threads(1)
    try:
        if arch is None:
            search(work, make_config(preset, SEARCH), stop_after=2, show_progress=False)
        else:
            train(work, arch, make_config("darts", TRAIN, TrainConfig), stop_after=2, show_progress=False)
    finally:
        torch.distributed.destroy_process_group()


def launch(work: Path, preset: str = "scnas", arch: Path | None = None) -> None:
    mp.start_processes(_rank, args=(2, free_port(), str(work), preset, str(arch) if arch else None), nprocs=2,
                       start_method="spawn")


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["scnas", "ronasmis"])
def test_two_rank_search_stays_in_step_and_resumes_alone(preset: str, work3d: Path, tmp_path: Path) -> None:
    work = copy_work(work3d, tmp_path / "w")
    launch(work, preset)
    runs = list((work / "runs").iterdir())
    assert len(runs) == 1
    recs = records(runs[0])
    assert [r["epoch"] for r in recs] == [0, 1]
    assert all(r["ranks"] == 2 and r["arch_params_rank_difference"] == 0.0 and r["weights_rank_difference"] == 0.0 for r in recs)
    assert not list(runs[0].glob("*.part*"))
    run = search(work, make_config(preset, SEARCH), resume=True, show_progress=False)  # one process takes over
    assert (run / "arch.json").is_file() and [r["epoch"] for r in records(run)] == [0, 1, 2]


@pytest.mark.slow
def test_two_rank_training_stays_in_step_and_resumes_alone(work3d: Path, tmp_path: Path) -> None:
    work = copy_work(work3d, tmp_path / "w")
    arch = tmp_path / "arch.json"
    get_space("unet").random(seed=2, channels=8).save(arch)
    launch(work, arch=arch)
    run = work / "runs" / "train_darts_fold0"
    recs = records(run)
    assert [r["epoch"] for r in recs] == [0, 1] and all(r["weights_rank_difference"] == 0.0 for r in recs)
    assert "val_dice" in recs[-1]
    train(work, arch, make_config("darts", TRAIN, TrainConfig), resume=True, show_progress=False)
    assert (run / "summary.json").is_file() and [r["epoch"] for r in records(run)] == [0, 1, 2]


@pytest.mark.slow
def test_torchrun_runs_the_cli(work3d: Path, tmp_path: Path) -> None:
    work = copy_work(work3d, tmp_path / "w")
    sets = [a for k, v in {**SEARCH, "epochs": 1}.items() for a in ("--set", f"{k}={json.dumps(v).replace(' ', '')}")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SEGNAS_DEBUG_DDP": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
                           "-m", "segnas", "search", "--work", str(work), "--preset", "thrifty", "--set", "space_settings.depth=3", *sets],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = next((work / "runs").iterdir())
    assert (run / "arch.json").is_file()
    assert records(run)[0]["ranks"] == 2 and records(run)[0]["arch_params_rank_difference"] == 0.0


def test_shard_and_single_process_helpers() -> None:
    assert shard(list(range(5)), Group(1, 2)) == [1, 3]
    assert shard([7], Group(1, 2)) == [7]  # fewer cases than ranks: every rank sees them all
    p = torch.nn.Parameter(torch.ones(2))
    p.grad = torch.full((2,), 3.0)
    average_gradients([p], Group())
    assert torch.equal(p.grad, torch.full((2,), 3.0))
