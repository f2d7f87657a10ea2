"""The search loop: every preset runs and writes its artifacts; a killed and resumed run ends exactly
like an uninterrupted one; misuse gets clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from segnas.arch import load_architecture
from segnas.cli import app
from segnas.config import PRESETS, make_config
from segnas.errors import SegnasError
from segnas.plan import plan_dataset
from segnas.preprocess import preprocess_dataset
from segnas.search import search
from segnas.spaces import get_space

TINY = {"epochs": 3, "steps_per_epoch": 2, "batch_size": 2, "patch_size": [16, 16, 16], "workers": 0,
        "space_settings.channels": 8, "warmup_epochs": 0}


def tiny(preset: str, **more: object):
    over = dict(TINY, **more)
    if PRESETS[preset]["space"] == "nested":
        over["space_settings.depth"] = 3
    if PRESETS[preset]["space"] == "unet" and PRESETS[preset]["strategy"] == "pcdarts":
        over["space_settings.channels"] = 16
    return make_config(preset, over)


@pytest.fixture(scope="module")
def work(synth3d: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    w = tmp_path_factory.mktemp("search") / "work"
    plan_dataset(synth3d, w, workers=1, folds=3)
    preprocess_dataset(w)
    return w


def copy_work(work: Path, dst: Path) -> Path:
    shutil.copytree(work, dst, ignore=shutil.ignore_patterns("runs"))
    return dst


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_searches_and_writes_its_artifacts(preset: str, work: Path, tmp_path: Path) -> None:
    w = copy_work(work, tmp_path / "w")
    cfg = tiny(preset)
    run = search(w, cfg, show_progress=False)
    for name in ("arch.json", "config.json", "log.jsonl", "checkpoint.pt", "losses.png"):
        assert (run / name).is_file(), name
    arch = get_space(cfg.space).check(load_architecture(run / "arch.json"))
    assert arch.settings["channels"] == cfg.space_settings["channels"]
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0, 1, 2]
    assert all("train_loss" in r and "arch_dice" in r and r["probabilities"] for r in records)
    assert list(run.glob("probabilities_*.png"))
    assert json.loads((run / "config.json").read_text())["preset"] == preset


@pytest.mark.parametrize("preset", ["scnas", "ronasmis"])
def test_killed_and_resumed_equals_uninterrupted(preset: str, work: Path, tmp_path: Path) -> None:
    cfg = tiny(preset)
    a = search(copy_work(work, tmp_path / "a"), cfg, show_progress=False)
    wb = copy_work(work, tmp_path / "b")
    b = search(wb, cfg, stop_after=1, show_progress=False)
    assert not (b / "arch.json").exists()  # "killed" after epoch 1 of 3
    with open(b / "log.jsonl", "a") as f:
        f.write('{"epoch": 1, "train_lo')  # a log line cut short by the kill
    b = search(wb, tiny(preset), resume=True, show_progress=False)
    assert load_architecture(a / "arch.json").values == load_architecture(b / "arch.json").values
    sa, sb = (torch.load(r / "checkpoint.pt", weights_only=False) for r in (a, b))
    for k, v in sa["strategy"]["params"].items():
        assert torch.equal(v, sb["strategy"]["params"][k]), k
    for k, v in sa["net"].items():
        assert torch.equal(v, sb["net"][k]), k
    assert len((b / "log.jsonl").read_text().splitlines()) == 3


def test_misuse_is_refused_clearly(work: Path, tmp_path: Path) -> None:
    w = copy_work(work, tmp_path / "w")
    with pytest.raises(SegnasError, match="no checkpoint to resume from"):
        search(w, tiny("scnas"), resume=True, show_progress=False)
    run = search(w, tiny("scnas"), stop_after=1, show_progress=False)
    with pytest.raises(SegnasError, match="--resume"):
        search(w, tiny("scnas"), show_progress=False)
    with pytest.raises(SegnasError, match="other settings"):
        search(w, tiny("scnas", loss="dice_ce"), resume=True, show_progress=False)
    (run / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SegnasError, match="checkpoint.pt: checkpoint is damaged"):
        search(w, tiny("scnas"), resume=True, show_progress=False)
    with pytest.raises(SegnasError, match="no fold 7"):
        search(w, tiny("darts", fold=7), show_progress=False)


def test_cli_search_with_overrides(work: Path, tmp_path: Path) -> None:
    w = copy_work(work, tmp_path / "w")
    args = ["search", "--work", str(w), "--preset", "thrifty", "--epochs", "1", "--set", "steps_per_epoch=1",
            "--set", "patch_size=[16,16,16]", "--set", "space_settings.channels=8", "--set", "space_settings.depth=3",
            "--set", "workers=0", "--set", "warmup_epochs=0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (w / "runs" / "search_thrifty_nested_pcdarts_fold0" / "arch.json").is_file()
    bad = CliRunner().invoke(app, ["search", "--work", str(w), "--set", "colour=blue"])
    assert bad.exit_code == 1 and "unknown setting 'colour'" in bad.output
