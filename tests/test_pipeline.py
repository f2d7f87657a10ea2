"""`segnas run` end to end on tiny synthetic data: every stage's artifacts, skipping on rerun, forcing;
and `segnas export`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from segnas.cli import app
from segnas.export import export_model
from segnas.model import load_model

SEARCH = ["epochs=1", "steps_per_epoch=2", "batch_size=2", "patch_size=[16,16,16]", "workers=0", "space_settings.channels=8"]
TRAIN = ["epochs=1", "steps_per_epoch=2", "batch_size=2", "patch_size=[16,16,16]", "workers=0", "width=8"]


def run_cli(data: Path, work: Path, *extra: str) -> str:
    args = ["run", str(data), "--work", str(work), "--preset", "scnas", "--folds", "0", "-j", "1"]
    for s in SEARCH:
        args += ["--search-set", s]
    for s in TRAIN:
        args += ["--train-set", s]
    result = CliRunner().invoke(app, args + list(extra))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def finished(synth3d: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    work = tmp_path_factory.mktemp("run") / "work"
    return work, run_cli(synth3d, work)


def test_run_writes_every_stage(finished: tuple[Path, str]) -> None:
    work, output = finished
    for f in ("plan.json", "fingerprint.json", "splits.json", "runs/search_scnas_unet_gumbel2_fold0/arch.json",
              "runs/train_scnas_fold0/best.pt", "runs/train_scnas_fold0/summary.json",
              "predictions/scnas/fold0/metrics.json", "predictions/scnas/cv_summary.json"):
        assert (work / f).is_file(), f
    val = json.loads((work / "splits.json").read_text())["folds"][0]["val"]
    assert sorted(p.name for p in (work / "predictions/scnas/fold0").glob("*.nii.gz")) == sorted(f"{c}.nii.gz" for c in val)
    assert "cross-validation" in output and "mean foreground" in output


def test_rerun_skips_finished_stages_and_force_redoes(finished: tuple[Path, str], synth3d: Path) -> None:
    work, _ = finished
    pred = next((work / "predictions/scnas/fold0").glob("*.nii.gz"))
    before = pred.stat().st_mtime_ns
    output = run_cli(synth3d, work)
    assert "kept the found architecture" in output and "kept the trained model" in output
    assert pred.stat().st_mtime_ns == before
    run_cli(synth3d, work, "--force", "predict")
    assert pred.stat().st_mtime_ns != before


def test_unknown_stage_is_refused(synth3d: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", str(synth3d), "--work", str(tmp_path / "w"), "--force", "everything"])
    assert result.exit_code == 1 and "known stages" in result.output
    assert not (tmp_path / "w").exists()


def test_export_matches_the_eager_model(finished: tuple[Path, str], tmp_path: Path) -> None:
    work, _ = finished
    run = work / "runs/train_scnas_fold0"
    info = export_model(run, tmp_path / "model.ts")
    assert info["max_abs_difference_vs_eager"] < 1e-4
    scripted = torch.jit.load(str(tmp_path / "model.ts"))
    model = load_model(run, device="cpu")
    x = torch.randn(3, 2, 16, 16, 16)
    with torch.no_grad():
        assert torch.allclose(scripted(x), model.net(x), atol=1e-4)
    result = CliRunner().invoke(app, ["export", str(run)])
    assert result.exit_code == 0, result.output
    assert (run / "model.ts").is_file() and json.loads((run / "model.json").read_text())["labels"]["2"] == "lesion"
