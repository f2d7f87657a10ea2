"""Planning rules: spacing, anisotropy, patch budget, 2D/3D, normalisation, and hand-edited plans."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from segnas.app.cli import app
from segnas.data.plan import Plan, check_plan, fit_patch, make_plan, plan_dataset, target_spacing
from segnas.errors import SegnasError

runner = CliRunner()


def test_target_spacing_is_median_for_isotropic_data() -> None:
    spacings = np.array([[1.0, 1.0, 1.2], [0.8, 0.8, 1.0], [1.2, 1.2, 1.4]])
    assert target_spacing(spacings, np.full((3, 3), 100.0)) == [1.0, 1.0, 1.2]


def test_thick_slices_get_the_tenth_percentile() -> None:
    spacings = np.array([[0.8, 0.8, s] for s in (2.0, 5.0, 6.0, 6.5, 7.0, 8.0, 9.0, 10.0)])
    shapes = np.array([[256, 256, 20]] * 8, float)
    target = target_spacing(spacings, shapes)
    assert target[:2] == [0.8, 0.8]
    assert target[2] == pytest.approx(np.percentile(spacings[:, 2], 10))
    assert target[2] < np.median(spacings[:, 2])


@pytest.mark.parametrize("budget", [32**3, 64**3, 96**3, 128**3])
def test_patch_fits_budget_and_divisor(budget: int) -> None:
    patch = fit_patch([200.0, 180.0, 150.0], [1.0, 1.0, 1.0], budget, 16, [0, 1, 2])
    assert np.prod(patch) <= budget
    assert all(p % 16 == 0 for p in patch)


def test_patch_never_much_larger_than_the_image() -> None:
    assert fit_patch([50.0, 40.0, 20.0], [1.0, 1.0, 2.5], 96**3, 16, [0, 1, 2]) == [64, 48, 32]


def test_2d_dataset_gets_2d_plan_and_refuses_3d(synth2d: Path, tmp_path: Path) -> None:
    plan = plan_dataset(synth2d, tmp_path / "w2", workers=1)
    assert plan.dims == 2 and plan.slice_axis == 2 and len(plan.patch_size) == 2
    with pytest.raises(SegnasError, match="this dataset is 2D"):
        plan_dataset(synth2d, tmp_path / "w3", dims=3)
    assert not (tmp_path / "w3").exists()  # a failed plan leaves nothing behind


def test_3d_plan_writes_readable_artifacts(synth3d: Path, tmp_path: Path) -> None:
    plan = plan_dataset(synth3d, tmp_path / "w", workers=1)
    assert plan.dims == 3 and plan.in_channels == 2 and plan.num_classes == 3
    assert [n["scheme"] for n in plan.normalization] == ["zscore", "zscore"]
    for name in ("plan.json", "fingerprint.json", "splits.json"):
        json.loads((tmp_path / "w" / name).read_text())
    assert Plan.from_json(json.loads((tmp_path / "w" / "plan.json").read_text()), "plan.json") == plan
    assert json.loads((tmp_path / "w" / "plan.json").read_text()) == plan.to_json()  # the file round-trips exactly


def test_a_hand_written_plan_may_leave_out_what_planning_adds_and_keeps_unknown_keys(synth3d: Path, tmp_path: Path) -> None:
    obj = plan_dataset(synth3d, tmp_path / "w", workers=1).to_json()
    for key in ("dataset_name", "divisor", "voxel_budget", "median_shape", "median_resampled_shape"):
        obj.pop(key)
    obj["my_note"] = "edited by hand"
    plan = Plan.from_json(obj, "plan.json")
    assert plan.divisor is None and plan.name == synth3d.name and plan.extra == {"my_note": "edited by hand"}
    assert plan.to_json() == obj
    assert not [p for p in (tmp_path / "w").iterdir() if ".part" in p.name]


def test_ct_channels_are_clipped_to_foreground_percentiles() -> None:
    fp = {"dataset": "d", "name": "n", "modalities": ["CT"], "labels": {"0": "bg", "1": "liver"},
          "channels": [{"name": "CT", "mean": 80.0, "std": 40.0, "median": 70.0, "percentile_00_5": -50.0, "percentile_99_5": 250.0}],
          "cases": [{"id": "a", "shape": [100, 100, 50], "spacing": [1.0, 1.0, 2.0], "cropped_shape": [100, 100, 50], "class_voxels": {}}]}
    norm = make_plan(fp)["normalization"][0]
    assert norm == {"scheme": "ct", "clip": [-50.0, 250.0], "mean": 80.0, "std": 40.0}


@pytest.mark.parametrize("edit, words", [
    (lambda p: p.pop("patch_size"), "missing key 'patch_size'"),
    (lambda p: p.update(dims="3"), "'dims' must be a int"),
    (lambda p: p.update(format_version=99), "'format_version' is 99"),
    (lambda p: p.update(target_spacing=[1.0, -1.0, 1.0]), "'target_spacing' must be 3 positive numbers"),
    (lambda p: p.update(patch_size=[64, 64]), "'patch_size' must be 3 positive integers"),
    (lambda p: p["normalization"][0].update(scheme="minmax"), "'normalization[0].scheme'"),
])
def test_hand_edited_plan_errors_name_file_and_key(synth3d: Path, tmp_path: Path, edit, words: str) -> None:
    plan = plan_dataset(synth3d, tmp_path / "w", workers=1).to_json()
    edit(plan)
    path = tmp_path / "w" / "plan.json"
    path.write_text(json.dumps(plan))
    with pytest.raises(SegnasError) as e:
        check_plan(json.loads(path.read_text()), path)
    assert str(path) in str(e.value) and words in str(e.value)
    result = runner.invoke(app, ["preprocess", "--work", str(tmp_path / "w")])
    assert result.exit_code == 1 and words in result.output
    assert not (tmp_path / "w" / "preprocessed").exists()
