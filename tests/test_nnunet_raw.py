"""nnU-Net v2's raw layout read as it is: one file per channel, cases found from labelsTr; every stage runs on it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from segnas.app.cli import app
from segnas.data.io import read_image, read_nifti, write_nifti
from segnas.data.msd import load_dataset, parse_dataset
from segnas.errors import SegnasError
from segnas.inference.predict import input_files

from .test_pipeline import SEARCH, TRAIN


def to_nnunet(msd: Path, out: Path) -> Path:
    """An MSD dataset rewritten in nnU-Net v2's raw layout (Dataset999_Synth: one image per channel)."""
    spec = load_dataset(msd)
    folder = out / "Dataset999_Synth"
    for sub in ("imagesTr", "labelsTr", "imagesTs"):
        (folder / sub).mkdir(parents=True)
    for i, case in enumerate(spec.cases):
        image, geom = read_nifti(case.image)
        for c in range(image.shape[0]):
            write_nifti(folder / ("imagesTs" if i == 0 else "imagesTr") / f"{case.id}_{c:04d}.nii.gz", image[c], geom)
        if i:
            shutil.copy(case.label, folder / "labelsTr" / f"{case.id}.nii.gz")
    (folder / "dataset.json").write_text(json.dumps({
        "channel_names": {str(i): m for i, m in enumerate(spec.modalities)},
        "labels": {name: value for value, name in spec.labels.items()},
        "numTraining": len(spec.cases) - 1, "file_ending": ".nii.gz", "name": "Synth"}))
    return folder


@pytest.fixture(scope="module")
def raw(synth3d: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return to_nnunet(synth3d, tmp_path_factory.mktemp("nnunet"))


def test_cases_and_channels_are_found(raw: Path, synth3d: Path) -> None:
    spec, msd = load_dataset(raw), load_dataset(synth3d)
    assert [c.id for c in spec.cases] == [c.id for c in msd.cases[1:]]
    assert spec.modalities == msd.modalities and spec.labels == msd.labels
    case = spec.cases[0]
    assert len(case.channels) == len(msd.modalities) - 1 and case.image.name.endswith("_0000.nii.gz")
    stacked, _ = read_image(case.images)
    np.testing.assert_array_equal(stacked, read_image(msd.case(case.id).image)[0])  # the same image as the 4D file


def test_problems_are_named(raw: Path, tmp_path: Path) -> None:
    broken = tmp_path / "Dataset998_Broken"
    shutil.copytree(raw, broken)
    missing = sorted((broken / "imagesTr").glob("*_0001.nii.gz"))[0]
    missing.unlink()
    meta = json.loads((broken / "dataset.json").read_text())
    (broken / "dataset.json").write_text(json.dumps({**meta, "numTraining": 9}))
    _, problems = parse_dataset(broken)
    text = "\n".join(map(str, problems))
    assert f"{missing}: case '{missing.name[:-12]}': image of channel 1 does not exist" in text
    assert "numTraining is 9 but labelsTr holds 5 label files" in text
    (broken / "dataset.json").write_text(json.dumps({**meta, "file_ending": ".mha"}))
    with pytest.raises(SegnasError, match=r"file_ending '.mha': only NIfTI"):
        load_dataset(broken)


def test_channel_files_of_a_case_form_one_input(raw: Path, tmp_path: Path) -> None:
    grouped = input_files(raw / "imagesTs")
    assert len(grouped) == 1 and [p.name for p in grouped[0]] == ["synth_000_0000.nii.gz", "synth_000_0001.nii.gz"]
    (raw / "imagesTs" / "synth_000_0001.nii.gz").rename(tmp_path / "moved.nii.gz")
    try:
        assert input_files(raw / "imagesTs") == [raw / "imagesTs" / "synth_000_0000.nii.gz"]  # one channel: plain files
        shutil.copy(tmp_path / "moved.nii.gz", raw / "imagesTs" / "synth_000_0002.nii.gz")
        with pytest.raises(SegnasError, match="expected _0000 to _0001 with none missing"):
            input_files(raw / "imagesTs")
    finally:
        (raw / "imagesTs" / "synth_000_0002.nii.gz").unlink(missing_ok=True)
        (tmp_path / "moved.nii.gz").rename(raw / "imagesTs" / "synth_000_0001.nii.gz")


@pytest.mark.slow
def test_run_and_predict_on_the_raw_layout(raw: Path, tmp_path: Path) -> None:
    """`segnas run` on the nnU-Net copy end to end, then `predict` on its imagesTs (channel files grouped)."""
    args = ["run", str(raw), "--work", str(tmp_path / "w"), "--preset", "scnas", "--fold", "0", "--num-folds", "2", "-j", "1"]
    for s in SEARCH:
        args += ["--search-set", s]
    for s in TRAIN:
        args += ["--train-set", s]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "w" / "predictions" / "scnas" / "fold0" / "metrics.json").is_file()
    result = CliRunner().invoke(app, ["predict", "-m", str(tmp_path / "w" / "runs" / "train_scnas_fold0"),
                                      "-i", str(raw / "imagesTs"), "-o", str(tmp_path / "pred")])
    assert result.exit_code == 0, result.output
    label, geom = read_nifti(tmp_path / "pred" / "synth_000.nii.gz")
    assert geom.shape == read_nifti(raw / "imagesTs" / "synth_000_0000.nii.gz")[1].shape
