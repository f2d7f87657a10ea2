"""NIfTI layout, geometry and atomic writes."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from segnas.data.io import read_image, read_label, write_nifti
from segnas.errors import SegnasError
from segnas.runtime.files import atomic_path, read_json, write_json


def test_channels_last_on_disk_first_in_memory(tmp_path: Path) -> None:
    image = np.random.default_rng(0).normal(size=(3, 5, 6, 7)).astype(np.float32)
    affine = np.array([[0, -0.8, 0, 10], [0.8, 0, 0, -5], [0, 0, 3.0, 2], [0, 0, 0, 1]])
    write_nifti(tmp_path / "x.nii.gz", image, affine)
    assert nib.load(str(tmp_path / "x.nii.gz")).shape == (5, 6, 7, 3)
    back, geom = read_image(tmp_path / "x.nii.gz")
    np.testing.assert_array_equal(back, image)
    assert geom.shape == (5, 6, 7) and geom.spacing == pytest.approx((0.8, 0.8, 3.0))


def test_2d_file_becomes_one_slice(tmp_path: Path) -> None:
    nib.save(nib.Nifti1Image(np.ones((8, 9), np.uint8), np.eye(4)), str(tmp_path / "l.nii.gz"))
    label, geom = read_label(tmp_path / "l.nii.gz")
    assert label.shape == (8, 9, 1) and geom.shape == (8, 9, 1)


def test_label_with_4_channels_is_refused(tmp_path: Path) -> None:
    nib.save(nib.Nifti1Image(np.ones((4, 4, 4, 2), np.uint8), np.eye(4)), str(tmp_path / "l.nii.gz"))
    with pytest.raises(SegnasError, match=r"l\.nii\.gz: label map must be 3D"):
        read_label(tmp_path / "l.nii.gz")


def test_zero_size_dimension_is_refused(tmp_path: Path) -> None:
    nib.save(nib.Nifti1Image(np.ones((4, 0, 4), np.float32), np.eye(4)), str(tmp_path / "z.nii.gz"))
    with pytest.raises(SegnasError, match="zero-size"):
        read_image(tmp_path / "z.nii.gz")


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "out.json") as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_json_errors_name_file_and_line(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"x": 1})
    assert read_json(tmp_path / "a.json") == {"x": 1}
    (tmp_path / "b.json").write_text('{"x":\n  }')
    with pytest.raises(SegnasError, match=r"b\.json: not valid JSON \(line 2"):
        read_json(tmp_path / "b.json")
