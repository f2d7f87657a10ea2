"""The search loop: every preset runs and writes its artifacts; a killed and resumed run ends exactly
like an uninterrupted one; misuse gets clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from segnas.app.cli import app
from segnas.config import PRESETS, make_config
from segnas.errors import SegnasError
from segnas.nas.arch import load_architecture
from segnas.nas.search import search
from segnas.nas.spaces import get_space
from segnas.nas.strategies import get_strategy

from .conftest import copy_work, nan_every

TINY = {"epochs": 3, "steps_per_epoch": 2, "batch_size": 2, "patch_size": [16, 16, 16], "workers": 0,
        "space_settings.channels": 8, "warmup_epochs": 0}


def tiny(preset: str, **more: object):
    over = dict(TINY, **more)
    if PRESETS[preset]["space"] == "nested":
        over["space_settings.depth"] = 3
    if PRESETS[preset]["space"] == "unet" and PRESETS[preset]["strategy"] == "pcdarts":
        over["space_settings.channels"] = 16
    return make_config(preset, over)


@pytest.fixture
def work(work3d: Path) -> Path:
    return work3d


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["scnas", "ronasmis"])
def test_killed_and_resumed_equals_uninterrupted_and_another_seed_differs(preset: str, work: Path, tmp_path: Path) -> None:
    """The resumed run also shows that one seed gives one search (its first epoch ran afresh); loader workers
    under SIGKILL are tests/test_faults.py's."""
    cfg = tiny(preset, seed=7)
    a = search(copy_work(work, tmp_path / "a"), cfg, show_progress=False)
    wb = copy_work(work, tmp_path / "b")
    b = search(wb, cfg, stop_after=1, show_progress=False)
    assert not (b / "arch.json").exists()  # "killed" after epoch 1 of 3
    with open(b / "log.jsonl", "a") as f:
        f.write('{"epoch": 1, "train_lo')  # a log line cut short by the kill
    b = search(wb, tiny(preset, seed=7), resume=True, show_progress=False)
    assert load_architecture(a / "arch.json").values == load_architecture(b / "arch.json").values
    sa, sb = (torch.load(r / "checkpoint.pt", weights_only=False) for r in (a, b))
    for k, v in sa["strategy"]["params"].items():
        assert torch.equal(v, sb["strategy"]["params"][k]), k
    for k, v in sa["net"].items():
        assert torch.equal(v, sb["net"][k]), k
    assert len((b / "log.jsonl").read_text().splitlines()) == 3
    assert (a / "arch.json").read_text() == (b / "arch.json").read_text()
    c = search(copy_work(work, tmp_path / "c"), tiny(preset, seed=8), show_progress=False)
    sc = torch.load(c / "checkpoint.pt", weights_only=False)
    assert not all(torch.equal(v, sc["net"][k]) for k, v in sa["net"].items())
    assert not all(torch.equal(v, sc["strategy"]["params"][k]) for k, v in sa["strategy"]["params"].items())


@pytest.mark.slow
def test_misuse_is_refused_clearly(work: Path, tmp_path: Path) -> None:
    w = copy_work(work, tmp_path / "w")
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


@pytest.mark.slow
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


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_nonfinite_losses_skip_steps_halve_rates_and_the_search_finishes(work: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("segnas.nas.search.segmentation_loss", nan_every(3))
    cfg = tiny("scnas", steps_per_epoch=3)
    run = search(copy_work(work, tmp_path / "w"), cfg, show_progress=False)
    records = _records(run)
    assert all(r["nonfinite_steps"] > 0 and r["lr_halved"] for r in records)
    assert records[-1]["lr"] == pytest.approx(cfg.weight_lr / 2 ** 3)
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    assert all(torch.isfinite(v).all() for v in state["net"].values() if v.is_floating_point())
    assert all(torch.isfinite(v).all() for v in state["strategy"]["params"].values())
    assert (run / "arch.json").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["scnas", "ronasmis"])
def test_nonfinite_architecture_parameters_are_undone(preset: str, work: Path, tmp_path: Path, monkeypatch) -> None:
    strategy_cls = get_strategy(PRESETS[preset]["strategy"])
    original = strategy_cls.arch_step
    calls = {"n": 0}

    def poisoned(self, evaluate):
        stats = original(self, evaluate)
        calls["n"] += 1
        if calls["n"] == 2:  # one step leaves NaN behind
            with torch.no_grad():
                next(iter(self.parameters())).fill_(float("nan"))
        return stats

    monkeypatch.setattr(strategy_cls, "arch_step", poisoned)
    run = search(copy_work(work, tmp_path / "w"), tiny(preset), show_progress=False)
    records = _records(run)
    assert [r.get("arch_nonfinite_steps", 0) for r in records] == [1, 0, 0]
    assert "nonfinite_steps" in records[0] and "nonfinite_steps" not in records[1]
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    assert all(torch.isfinite(v).all() for v in state["strategy"]["params"].values())
    assert load_architecture(run / "arch.json").values


@pytest.mark.slow
def test_search_that_stays_nonfinite_stops_with_the_last_good_checkpoint(work: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("segnas.nas.search.segmentation_loss", nan_every(1))
    w = copy_work(work, tmp_path / "w")
    with pytest.raises(SegnasError, match="checkpoint is intact"):
        search(w, tiny("thrifty", epochs=5), show_progress=False)
    run = next((w / "runs").iterdir())
    assert torch.load(run / "checkpoint.pt", weights_only=False)["epoch"] == 1
    assert not (run / "arch.json").exists()
