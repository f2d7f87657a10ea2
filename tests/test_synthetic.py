"""The synthetic task: deterministic, realistic geometry, and not solvable by thresholding one channel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segnas.data.io import read_image, read_label
from segnas.data.synthetic import SCANNER_SCALE, make_case, make_dataset
from segnas.errors import SegnasError


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice of two boolean masks (1 when both are empty)."""
    s = a.sum() + b.sum()
    return 1.0 if s == 0 else 2.0 * np.logical_and(a, b).sum() / s


def best_single_channel_dice(channel: np.ndarray, target: np.ndarray) -> float:
    """Best Dice of any window rule lo < x < hi on one channel (covers both threshold directions)."""
    qs = np.unique(np.quantile(channel, np.linspace(0, 1, 41)))
    edges = np.concatenate([[-np.inf], qs, [np.inf]])
    return max(dice((channel > lo) & (channel < hi), target) for i, lo in enumerate(edges) for hi in edges[i + 1:])


@pytest.mark.parametrize("dims", [2, 3])
def test_same_seed_same_case_other_seed_other_case(dims: int) -> None:
    a, b = make_case(5, 0, dims), make_case(5, 0, dims)
    c = make_case(6, 0, dims)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert a[0].shape != c[0].shape or not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("dims", [2, 3])
def test_geometry_looks_acquired(dims: int) -> None:
    image, label, affine = make_case(0, 1, dims)
    assert image.shape[0] == 2 and label.shape == image.shape[1:]
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    assert spacing[2] > 2 * spacing[0]  # anisotropic (thick slices)
    assert np.abs(affine[:3, :3] - np.diag(np.diag(affine[:3, :3]))).max() > 0.01  # rotated
    assert set(np.unique(label)) == {0, 1, 2}
    assert 0 < (label == 2).sum() < (label == 1).sum()  # the lesion is the smaller class
    assert image[0].max() / image[1].max() > 1.5  # channels in different units


@pytest.mark.slow
@pytest.mark.parametrize("dims", [2, 3])
def test_not_solvable_by_thresholding_one_channel(dims: int) -> None:
    best_per_case = []
    for index in range(8):
        image, label, _ = make_case(0, index, dims)
        for cls in (1, 2):
            target = label == cls
            best = max(best_single_channel_dice(image[ch], target) for ch in range(2))
            assert best < 0.8, f"case {index} class {cls}: one channel reaches Dice {best:.2f}"
            best_per_case.append(best)
            # …while both channels together carry the answer (so the task is learnable)
            t1, t2 = image[0] / SCANNER_SCALE[0], image[1] / SCANNER_SCALE[1]
            bright1, bright2, dark2 = t1 > 0.6, t2 > 0.75, t2 < 0.3
            rule = bright1 & ~dark2 & ~bright2 if cls == 1 else bright1 & bright2
            assert dice(rule, target) > 0.6, f"case {index} class {cls}: two-channel rule only {dice(rule, target):.2f}"
    assert np.mean(best_per_case) < 0.65


def test_dataset_round_trips_through_nifti(tmp_path: Path) -> None:
    out = make_dataset(tmp_path / "ds", cases=2, dims=3, seed=3)
    image, geom = read_image(out / "imagesTr" / "synth_001.nii.gz")
    label, lgeom = read_label(out / "labelsTr" / "synth_001.nii.gz")
    ref_image, ref_label, ref_affine = make_case(3, 1, 3)
    np.testing.assert_allclose(image, ref_image, rtol=1e-6)
    np.testing.assert_array_equal(label, ref_label)
    np.testing.assert_allclose(geom.affine_array, ref_affine, atol=1e-5)
    assert geom == lgeom


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = make_dataset(tmp_path / "ds", cases=1, dims=2)
    with pytest.raises(SegnasError, match="already exists"):
        make_dataset(out, cases=1, dims=2)
    make_dataset(out, cases=2, dims=2, force=True)
    assert len(list((out / "imagesTr").iterdir())) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
