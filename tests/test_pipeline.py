"""`segnas run` end to end on tiny synthetic data: every stage's artifacts, skipping on rerun, forcing;
and `segnas export`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from segnas.app.cli import app
from segnas.inference.export import export_model
from segnas.networks.model import load_model

SEARCH = ["epochs=1", "steps_per_epoch=2", "batch_size=2", "patch_size=[16,16,16]", "workers=0", "space_settings.channels=8"]
TRAIN = ["epochs=1", "steps_per_epoch=2", "batch_size=2", "patch_size=[16,16,16]", "workers=0", "width=8"]


def run_cli(data: Path, work: Path, *extra: str, search: list[str] = SEARCH, train: list[str] = TRAIN, code: int = 0) -> str:
    args = ["run", str(data), "--work", str(work), "--preset", "scnas", "--fold", "0", "-j", "1"]
    for s in search:
        args += ["--search-set", s]
    for s in train:
        args += ["--train-set", s]
    result = CliRunner().invoke(app, args + list(extra), terminal_width=250)
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture(scope="module")
def finished(synth3d: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    work = tmp_path_factory.mktemp("run") / "work"
    return work, run_cli(synth3d, work)


@pytest.mark.slow
def test_run_writes_every_stage(finished: tuple[Path, str]) -> None:
    work, output = finished
    for f in ("plan.json", "fingerprint.json", "splits.json", "runs/search_scnas_unet_gumbel2_fold0/arch.json",
              "runs/train_scnas_fold0/best.pt", "runs/train_scnas_fold0/summary.json",
              "predictions/scnas/fold0/metrics.json", "predictions/scnas/cv_summary.json"):
        assert (work / f).is_file(), f
    val = json.loads((work / "splits.json").read_text())["folds"][0]["val"]
    assert sorted(p.name for p in (work / "predictions/scnas/fold0").glob("*.nii.gz")) == sorted(f"{c}.nii.gz" for c in val)
    assert "cross-validation" in output and "mean foreground" in output


@pytest.mark.slow
def test_rerun_skips_finished_stages_and_force_redoes(finished: tuple[Path, str], synth3d: Path) -> None:
    work, _ = finished
    pred = next((work / "predictions/scnas/fold0").glob("*.nii.gz"))
    before = pred.stat().st_mtime_ns
    output = run_cli(synth3d, work)
    assert "kept the found architecture" in output and "kept the trained model" in output
    assert "unchanged since they were validated and planned: not read again" in output
    assert pred.stat().st_mtime_ns == before
    run_cli(synth3d, work, "--force", "predict")
    assert pred.stat().st_mtime_ns != before


def test_unknown_stage_is_refused(synth3d: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", str(synth3d), "--work", str(tmp_path / "w"), "--force", "everything"])
    assert result.exit_code == 1 and "known stages" in result.output
    assert not (tmp_path / "w").exists()


@pytest.mark.slow
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


@pytest.mark.slow
def test_exported_model_with_preprocessing_runs_on_a_nifti_with_torch_alone(finished: tuple[Path, str], tmp_path: Path) -> None:
    """`model_full.ts` on a NIfTI file's voxels and voxel size, in a process that imports only torch and
    nibabel, gives the labels `segnas predict` gives (with linear image resampling, as the standalone's) on
    (nearly) every voxel."""
    import subprocess
    import sys

    import nibabel as nib
    import numpy as np

    from segnas.inference.predict import predict_files
    work, _ = finished
    run = work / "runs/train_scnas_fold0"
    export_model(run, tmp_path / "model.ts")
    case = next(p for p in sorted((Path(load_model(run).plan.dataset) / "imagesTr").iterdir()) if p.name.endswith(".nii.gz"))
    script = ("import sys, torch, nibabel as nib, numpy as np\n"
              "assert not any(m.startswith('segnas') for m in sys.modules)\n"
              "img = nib.load(sys.argv[2])\n"
              "labels = torch.jit.load(sys.argv[1])(torch.from_numpy(img.get_fdata(dtype='float32')), torch.tensor(img.header.get_zooms()[:3]))\n"
              "np.save(sys.argv[3], labels.numpy())\n")
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "model_full.ts"), str(case), str(tmp_path / "labels.npy")],
                   check=True, timeout=300)
    standalone = np.load(tmp_path / "labels.npy")
    model = load_model(run)
    model.plan = dataclasses.replace(model.plan, image_interpolation_order=1)  # the standalone resamples images linearly
    segnas = np.asarray(nib.load(predict_files(model, [case], tmp_path / "pred", show_progress=False)[0]).dataobj)
    assert standalone.shape == segnas.shape
    assert np.mean(standalone == segnas) > 0.999


@pytest.mark.slow
def test_changed_settings_are_not_silently_reused(finished: tuple[Path, str], synth3d: Path) -> None:
    """A kept search or training made with other settings stops the run, naming the setting (it used to print
    "kept the found architecture" and keep it); a typo in a later stage's settings fails before any stage."""
    work, _ = finished
    output = run_cli(synth3d, work, search=[*SEARCH[:-1], "space_settings.channels=4"], code=1)
    assert "the search kept from an earlier run does not fit" in output and "--force search" in output
    assert "space_settings: " in output and "'channels': 8" in output and "'channels': 4" in output
    output = run_cli(synth3d, work, train=[*TRAIN, "fg_fraction=0.25"], code=1)
    assert "the train kept from an earlier run does not fit" in output and "fg_fraction: 0.5 → 0.25" in output
    before = (work / "fingerprint.json").stat().st_mtime_ns
    output = run_cli(synth3d, work, train=[*TRAIN, "fg_fractoin=0.5"], code=1)
    assert "unknown setting 'fg_fractoin'" in output and "validate" not in output
    assert (work / "fingerprint.json").stat().st_mtime_ns == before


def test_changed_data_and_split_options_are_named(synth3d: Path, tmp_path: Path) -> None:
    """A kept plan is reused only for the same files and split options; the stale stage is named."""
    import shutil
    data = tmp_path / "data"
    shutil.copytree(synth3d, data)
    planned = CliRunner().invoke(app, ["plan", str(data), "--work", str(tmp_path / "w"), "--num-folds", "2", "-j", "1"])
    assert planned.exit_code == 0, planned.output
    label = sorted((data / "labelsTr").iterdir())[1]
    label.write_bytes(label.read_bytes())  # rewritten: same content, new time
    output = run_cli(data, tmp_path / "w", code=1)
    assert "the plan kept from an earlier run does not fit" in output and f"changed: {label.name.split('.')[0]}" in output
    output = run_cli(data, tmp_path / "w", "--num-folds", "3", "--force", "plan", code=1, search=["epochs=0"])
    assert "setting 'epochs' must be at least 1" in output  # every setting is checked before the plan is redone


@pytest.mark.slow
def test_report_page_loads_in_a_headless_browser(finished: tuple[Path, str]) -> None:
    """`segnas report` on the trained fold: the page, its plots, the held-out table and three overlays; then a
    real headless Chromium loads it and every image decodes (skipped where Chromium is not installed)."""
    import re
    import shutil
    import subprocess
    work, _ = finished
    run = work / "runs/train_scnas_fold0"
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    page = run / "report" / "index.html"
    text = page.read_text()
    for name in ("learning_curve.png", "overlay_best.png", "overlay_median.png", "overlay_worst.png"):
        assert f'src="{name}"' in text and (page.parent / name).is_file(), name
    assert "Held-out cases" in text and "lesion Dice" in text
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no Chromium here: the page's images were checked on disk only")
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'data-images="(\d+)" data-loaded="(\d+)"', dom)
    assert found, dom[:500]
    images, loaded = map(int, found.groups())
    assert images == text.count("<img ") and loaded == images
