"""`segnas validate`: every defect reported with its file, exit 1; sound data exits 0."""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from segnas.app.cli import app
from segnas.data.validate import unit_spacing, validate_dataset
from tests.conftest import shared_dataset

runner = CliRunner()


def _image(ds: Path) -> Path:
    return next((ds / "imagesTr").iterdir())


def _label(ds: Path) -> Path:
    return next((ds / "labelsTr").iterdir())


def _rewrite(path: Path, fn: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]) -> None:
    img = nib.load(str(path))
    data, affine = fn(np.asanyarray(img.dataobj).copy(), img.affine.copy())
    nib.save(nib.Nifti1Image(data, affine), str(path))


def _meta(ds: Path, fn: Callable[[dict], None]) -> None:
    meta = json.loads((ds / "dataset.json").read_text())
    fn(meta)
    (ds / "dataset.json").write_text(json.dumps(meta))


def _truncate(p: Path) -> None:
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])


def _nan(d: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = d.astype(np.float32)
    d[(0,) * d.ndim] = np.nan
    return d, a


def _shift(d: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a[:3, 3] += 5.0
    return d, a


def _undeclared(d: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = d.copy()
    d[(0,) * d.ndim] = 7
    return d, a


# name → (breaks the dataset, which file the message must name, words the message must contain)
BREAKERS: dict[str, tuple[Callable[[Path], None], Callable[[Path], Path], str]] = {
    "missing dataset.json": (lambda ds: (ds / "dataset.json").unlink(), lambda ds: ds / "dataset.json", "does not exist"),
    "bad JSON": (lambda ds: (ds / "dataset.json").write_text("{\"name\": "), lambda ds: ds / "dataset.json", "not valid JSON"),
    "missing keys": (lambda ds: _meta(ds, lambda m: m.pop("labels")), lambda ds: ds / "dataset.json", "missing required key(s): labels"),
    "empty training list": (lambda ds: _meta(ds, lambda m: m.update(training=[], numTraining=0)), lambda ds: ds / "dataset.json", "empty"),
    "listed file missing": (lambda ds: _label(ds).unlink(), lambda ds: ds / "labelsTr" / _image(ds).name, "does not exist"),
    "truncated NIfTI": (lambda ds: _truncate(_image(ds)), _image, "cannot read as NIfTI"),
    "not a NIfTI": (lambda ds: _image(ds).write_bytes(gzip.compress(b"hello" * 100)), _image, "cannot read as NIfTI"),
    "shape mismatch": (lambda ds: _rewrite(_label(ds), lambda d, a: (d[:-2], a)), _label, "differs from its image"),
    "affine mismatch": (lambda ds: _rewrite(_label(ds), _shift), _label, "affine differs"),
    "undeclared label": (lambda ds: _rewrite(_label(ds), _undeclared), _label, "not declared"),
    "non-integer label": (lambda ds: _rewrite(_label(ds), lambda d, a: (d.astype(np.float32) * 0.5, a)), _label, "non-integer"),
    "channel count": (lambda ds: _meta(ds, lambda m: m.update(modality={str(i): f"M{i}" for i in range(3)})), _image, "channel"),
    "NaN voxels": (lambda ds: _rewrite(_image(ds), _nan), _image, "NaN or Inf"),
}


@pytest.mark.parametrize("name", sorted(BREAKERS))
def test_each_defect_is_reported_with_its_file(name: str, one_real_case: Path) -> None:
    breaker, culprit, words = BREAKERS[name]
    expected_file = str(culprit(one_real_case))
    breaker(one_real_case)
    result = runner.invoke(app, ["validate", str(one_real_case)])
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.output.splitlines() if expected_file in ln]
    assert lines, f"no line names {expected_file}:\n{result.output}"
    assert any(words in ln for ln in lines), result.output


def test_every_problem_is_reported_at_once(one_real_case: Path) -> None:
    _rewrite(_label(one_real_case), _undeclared)
    _rewrite(_image(one_real_case), _nan)
    _meta(one_real_case, lambda m: m.update(numTraining=3))
    report = validate_dataset(one_real_case)
    messages = " | ".join(str(p) for p in report.problems)
    assert len(report.problems) == 3, messages
    assert "not declared" in messages and "NaN" in messages and "numTraining" in messages


def test_sound_dataset_exits_zero_with_summary(synth3d: Path) -> None:
    result = runner.invoke(app, ["validate", str(synth3d)])
    assert result.exit_code == 0, result.output
    assert "no problems" in result.output and "T1, T2" in result.output


def test_validate_writes_nothing(synth3d: Path) -> None:
    before = sorted(p.relative_to(synth3d) for p in synth3d.rglob("*"))
    runner.invoke(app, ["validate", str(synth3d)])
    assert sorted(p.relative_to(synth3d) for p in synth3d.rglob("*")) == before


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["LA2018_down2", "ACDC_subset", "ISBI2012_membrane_2D", "small/SCT_spinalcord", "small/pyradiomics_lesions"])
def test_real_datasets_validate_cleanly(name: str) -> None:
    report = validate_dataset(shared_dataset(name))
    assert report.ok, report.problems
    assert bool(report.notes) == (name == "ACDC_subset"), report.notes  # its headers say 1 mm on 10-slice volumes


def test_unit_voxels_on_images_with_few_slices_are_noted_as_a_voxel_size_perhaps_lost() -> None:
    thick = [(216, 256, 10), (232, 256, 9), (216, 240, 10)]
    note = unit_spacing([(1.0, 1.0, 1.0)] * 3, thick)
    assert note is not None and "1×1×1" in note and "axis 2" in note and "216×256×10" in note
    assert unit_spacing([(1.5, 1.5, 10.0)] * 3, thick) is None  # a voxel size that says so
    assert unit_spacing([(1.0, 1.0, 1.0)] * 3, [(42, 76, 77)] * 3) is None  # unit voxels on a compact volume
    assert unit_spacing([(1.0, 1.0, 1.0)] * 3, [(512, 512, 1)] * 3) is None  # 2D slices
    assert unit_spacing([(1.0, 1.0, 1.0)], thick[:1]) is None  # one case: nothing to generalise from


def test_validate_and_plan_show_the_note_and_accept_the_data(tmp_path: Path, synth3d: Path) -> None:
    ds = tmp_path / "thick"
    shutil.copytree(synth3d, ds)
    for path in [*(ds / "imagesTr").iterdir(), *(ds / "labelsTr").iterdir()]:
        _rewrite(path, lambda d, a: (d[..., :6] if d.ndim == 3 else d[:, :, :6], np.eye(4)))  # unit voxels, 6 slices
    result = runner.invoke(app, ["validate", str(ds)])
    assert result.exit_code == 0, result.output
    assert "note:" in result.output and "1×1×1" in result.output
    result = runner.invoke(app, ["plan", str(ds), "--work", str(tmp_path / "w")])
    assert result.exit_code == 0, result.output
    assert "note:" in result.output
    assert "1×1×1" in json.loads((tmp_path / "w" / "fingerprint.json").read_text())["notes"][0]


@pytest.mark.realdata
def test_totalseg_example_reports_its_true_problem() -> None:
    """Its dataset.json declares only label 0 (plus a free-text 'note'), yet the maps hold 100+ classes."""
    report = validate_dataset(shared_dataset("small/TotalSeg_example_ct"))
    assert not report.ok
    assert any("not declared" in p.message and p.path.endswith("ts_ct_000.nii.gz") for p in report.problems)
