"""nnU-Net's post-processing: the largest connected component kept where it raises the validation Dice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from segnas.app.cli import app
from segnas.data.io import write_nifti
from segnas.errors import SegnasError
from segnas.inference.postprocess import apply_rule, decide, largest_component, load_rule


def blobs(*boxes: tuple[slice, slice, slice], value: int = 1, shape: tuple[int, int, int] = (24, 24, 12)) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    for b in boxes:
        out[b] = value
    return out


BIG = (slice(2, 12), slice(2, 12), slice(2, 8))
SMALL = (slice(18, 20), slice(18, 20), slice(9, 11))


def test_largest_component_and_rule() -> None:
    mask = blobs(BIG, SMALL).astype(bool)
    assert largest_component(mask).sum() == 10 * 10 * 6
    two = blobs(BIG) + blobs(SMALL, value=2)
    assert set(np.unique(apply_rule(two, {"foreground_as_one": True, "classes": []}))) == {0, 1}
    assert set(np.unique(apply_rule(two, {"foreground_as_one": False, "classes": [1, 2]}))) == {0, 1, 2}  # one each


def write(folder: Path, name: str, labels: np.ndarray) -> Path:
    folder.mkdir(exist_ok=True)
    write_nifti(folder / name, labels, np.eye(4))
    return folder / name


def test_decided_only_where_it_raises_the_dice(tmp_path: Path) -> None:
    ref = write(tmp_path / "ref", "a.nii.gz", blobs(BIG))
    spurious = write(tmp_path / "pred", "a.nii.gz", blobs(BIG, SMALL))  # a false positive far away
    rule = decide([(spurious, ref)], [1])
    assert rule["foreground_as_one"] and rule["dice_after"]["1"] == 1.0 > rule["dice_before"]["1"]
    ref2 = write(tmp_path / "ref", "b.nii.gz", blobs(BIG, SMALL))  # the reference itself has two components
    exact = write(tmp_path / "pred", "b.nii.gz", blobs(BIG, SMALL))
    rule = decide([(exact, ref2)], [1])
    assert not rule["foreground_as_one"] and rule["classes"] == []


def test_cli_decides_and_predict_applies(tmp_path: Path) -> None:
    write(tmp_path / "ref", "a.nii.gz", blobs(BIG))
    write(tmp_path / "pred", "a.nii.gz", blobs(BIG, SMALL))
    result = CliRunner().invoke(app, ["postprocess", "--pred", str(tmp_path / "pred"), "--ref", str(tmp_path / "ref")])
    assert result.exit_code == 0, result.output
    rule = load_rule(tmp_path / "pred" / "postprocessing.json")
    assert rule["foreground_as_one"]
    (tmp_path / "bad.json").write_text('{"classes": "all"}')
    with pytest.raises(SegnasError, match="not a post-processing rule"):
        load_rule(tmp_path / "bad.json")
