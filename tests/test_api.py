"""The Python API: every stage as a function on paths, end to end on tiny synthetic data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from segnas import api
from segnas.errors import SegnasError

SEARCH = {"epochs": 1, "steps_per_epoch": 2, "patch_size": [16, 16, 16], "workers": 0, "space_settings.channels": 8}
TRAIN = {"steps_per_epoch": 2, "patch_size": [16, 16, 16], "workers": 0, "width": 8, "val_every": 0}


@pytest.mark.slow
def test_stages_as_functions(synth3d: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    plan = api.plan(synth3d, work, num_folds=2, workers=1)
    assert plan.in_channels == 2 and (work / "splits.json").is_file()
    assert api.preprocess(work, workers=1)["done"] == 6
    found = api.search(work, preset="scnas", fold=0, **SEARCH)
    assert (found / "arch.json").is_file()
    model = api.train(work, found / "arch.json", preset="scnas", fold=0, steps=2, **TRAIN)
    assert (model / "best.pt").is_file()
    with pytest.raises(SegnasError, match="deepest level would be a single voxel"):  # UNet depth 4 on 16³ patches
        api.train(work, "monai_unet", preset="scnas", fold=1, steps=2, run=tmp_path / "unet", **TRAIN)
    baseline = api.train(work, "monai_unet", preset="scnas", fold=1, steps=2, run=tmp_path / "unet",
                         **{**TRAIN, "patch_size": [32, 16, 16]})
    assert (baseline / "best.pt").is_file()
    images, refs = tmp_path / "images", tmp_path / "refs"
    images.mkdir(), refs.mkdir()
    for name in ("synth_000.nii.gz", "synth_001.nii.gz"):
        shutil.copy(synth3d / "imagesTr" / name, images / name)
        shutil.copy(synth3d / "labelsTr" / name, refs / name)
    written = api.predict(model, images, tmp_path / "preds")
    assert sorted(p.name for p in written) == ["synth_000.nii.gz", "synth_001.nii.gz"]
    metrics = api.evaluate(tmp_path / "preds", refs, synth3d)
    assert len(metrics["cases"]) == 2 and 0 <= metrics["mean_foreground_dice"] <= 1
    with pytest.raises(SegnasError, match="unknown setting 'nope'"):
        api.search(work, nope=1)
