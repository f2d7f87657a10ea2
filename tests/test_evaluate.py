"""Evaluation of prediction folders: metrics.json per case and class, problems named, folds aggregated."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from segnas.app.cli import app
from segnas.data.io import read_label, write_nifti
from segnas.errors import SegnasError
from segnas.inference.evaluate import cross_validation, evaluate_folders, metrics_table


@pytest.fixture
def folders(synth3d: Path, tmp_path: Path) -> tuple[Path, Path]:
    """References: three synthetic label maps; predictions: the same with the lesion of one case removed."""
    ref, pred = tmp_path / "ref", tmp_path / "pred"
    ref.mkdir()
    for i in range(3):
        shutil.copy(synth3d / "labelsTr" / f"synth_00{i}.nii.gz", ref)
    shutil.copytree(ref, pred)
    seg, geom = read_label(pred / "synth_001.nii.gz")
    seg[seg == 2] = 1
    write_nifti(pred / "synth_001.nii.gz", seg, geom)
    return pred, ref


def test_metrics_per_case_and_class(folders: tuple[Path, Path], synth3d: Path) -> None:
    pred, ref = folders
    s = evaluate_folders(pred, ref, synth3d / "dataset.json", workers=1)
    written = json.loads((pred / "metrics.json").read_text())
    assert written["mean"] == s["mean"] and "HD95" in written["conventions"]
    by_case = {c["case"]: c["classes"] for c in s["cases"]}
    assert by_case["synth_000"]["1"]["dice"] == 1.0 and by_case["synth_000"]["2"]["hd95"] == 0.0
    assert by_case["synth_001"]["2"]["dice"] == 0.0 and by_case["synth_001"]["1"]["dice"] < 1.0
    assert s["mean"]["lesion"]["dice"] == pytest.approx(2 / 3)
    assert set(s["mean"]) == {"organ", "lesion"}


def test_missing_predictions_are_named(folders: tuple[Path, Path]) -> None:
    pred, ref = folders
    (pred / "synth_002.nii.gz").unlink()
    with pytest.raises(SegnasError) as e:
        evaluate_folders(pred, ref, workers=1)
    assert "synth_002" in str(e.value) and "missing" in str(e.value)
    assert not (pred / "metrics.json").exists()


def test_geometry_mismatch_is_named(folders: tuple[Path, Path]) -> None:
    pred, ref = folders
    seg, geom = read_label(pred / "synth_000.nii.gz")
    write_nifti(pred / "synth_000.nii.gz", seg[:-1], geom)
    seg, geom = read_label(pred / "synth_002.nii.gz")
    write_nifti(pred / "synth_002.nii.gz", seg, geom.affine_array @ np.diag([1, 1, 1.5, 1]))
    result = CliRunner().invoke(app, ["evaluate", "--pred", str(pred), "--ref", str(ref), "-j", "1"])
    assert result.exit_code == 1
    assert "synth_000.nii.gz: shape" in result.output and "synth_002.nii.gz: affine" in result.output
    assert not (pred / "metrics.json").exists()


def test_cli_evaluate_and_cross_validation(folders: tuple[Path, Path], synth3d: Path, tmp_path: Path) -> None:
    pred, ref = folders
    root = tmp_path / "preds"
    for f in (0, 1):
        shutil.copytree(pred, root / f"fold{f}")
        result = CliRunner().invoke(app, ["evaluate", "--pred", str(root / f"fold{f}"), "--ref", str(ref),
                                          "--dataset", str(synth3d), "-j", "1"])
        assert result.exit_code == 0, result.output
        assert "lesion" in result.output
        metrics = json.loads((root / f"fold{f}" / "metrics.json").read_text())
        console = Console(width=200, record=True)
        console.print(metrics_table(metrics))
        assert "majority label everywhere" in console.export_text()  # the floor a score must clear
        assert 0 <= metrics["mean"]["lesion"]["majority_dice"] <= 1
    result = CliRunner().invoke(app, ["cv", str(root)])
    assert result.exit_code == 0, result.output
    s = json.loads((root / "cv_summary.json").read_text())
    assert s["cases"] == 6 and s["folds"] == ["fold0", "fold1"]
    assert s["classes"]["lesion"]["dice"] == pytest.approx(2 / 3)
    assert s["classes"]["lesion"]["dice_sd"] == pytest.approx(np.std([1, 0, 1]))
    assert cross_validation(root)["mean_foreground_dice"] == s["mean_foreground_dice"]


def test_cv_without_folds_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["cv", str(tmp_path)])
    assert result.exit_code == 1 and "fold*/metrics.json" in result.output
