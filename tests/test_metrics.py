"""Dice and HD95: the stated conventions, and HD95 against MONAI's on real and synthetic labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.metrics import compute_hausdorff_distance
from scipy import ndimage

from segnas.data.io import read_label
from segnas.inference.metrics import case_metrics, dice, hd95, majority_dice

from .conftest import shared_dataset


def monai_hd95(pred: np.ndarray, ref: np.ndarray, spacing: tuple[float, ...]) -> float:
    t = lambda a: torch.from_numpy(a)[None, None]  # noqa: E731
    return float(compute_hausdorff_distance(t(pred), t(ref), include_background=True, percentile=95, spacing=spacing))


def variants(ref: np.ndarray) -> dict[str, np.ndarray]:
    """Predictions that differ from the reference in the ways real ones do."""
    rng = np.random.default_rng(0)
    noisy = ref ^ (ndimage.binary_dilation(ref) & (rng.random(ref.shape) < 0.3))
    out = {"dilated": ndimage.binary_dilation(ref, iterations=2), "eroded": ndimage.binary_erosion(ref, iterations=2),
           "shifted": np.roll(ref, 3, axis=0), "noisy border": noisy}
    return {k: v for k, v in out.items() if v.any()}  # empty masks follow segnas's own convention (tested below)


def test_hd95_matches_monai_on_real_labels() -> None:
    root = shared_dataset("LA2018_down2")
    for name in ("la_003", "la_050"):
        ref, geom = read_label(root / "labelsTr" / f"{name}.nii.gz")
        ref = ref == 1
        for kind, pred in variants(ref).items():
            assert hd95(pred, ref, geom.spacing) == pytest.approx(monai_hd95(pred, ref, geom.spacing), rel=1e-5, abs=1e-4), (name, kind)


def test_hd95_matches_monai_on_synthetic_labels(synth3d) -> None:
    ref, geom = read_label(synth3d / "labelsTr" / "synth_000.nii.gz")
    for c in (1, 2):
        for kind, pred in variants(ref == c).items():
            assert hd95(pred, ref == c, geom.spacing) == pytest.approx(monai_hd95(pred, ref == c, geom.spacing), rel=1e-5, abs=1e-4), (c, kind)


def test_known_distances() -> None:
    ref = np.zeros((40, 40, 40), bool)
    ref[10:20, 10:20, 10:20] = True
    assert hd95(ref, ref, (1, 1, 1)) == 0.0
    assert hd95(np.roll(ref, 4, 0), ref, (1, 1, 1)) == pytest.approx(4.0)
    assert hd95(np.roll(ref, 4, 0), ref, (2, 1, 1)) == pytest.approx(8.0)  # distances are in mm
    assert dice(ref, ref) == 1.0
    assert dice(np.roll(ref, 5, 0), ref) == pytest.approx(0.5)


def test_empty_mask_conventions() -> None:
    empty = np.zeros((10, 20, 30), bool)
    some = empty.copy()
    some[2:5, 2:5, 2:5] = True
    diagonal = float(np.linalg.norm([10 * 1.0, 20 * 2.0, 30 * 0.5]))
    assert dice(empty, empty) == 1.0 and hd95(empty, empty, (1, 2, 0.5)) == 0.0
    assert dice(some, empty) == 0.0 and hd95(some, empty, (1, 2, 0.5)) == pytest.approx(diagonal)
    assert dice(empty, some) == 0.0 and hd95(empty, some, (1, 2, 0.5)) == pytest.approx(diagonal)


def test_case_metrics_per_class() -> None:
    ref = np.zeros((20, 20, 20), np.uint8)
    ref[2:8, 2:8, 2:8] = 1
    ref[12:18, 12:18, 12:18] = 2
    pred = ref.copy()
    pred[pred == 2] = 0
    m = case_metrics(pred, ref, [1, 2], (1, 1, 1))
    assert m[1]["dice"] == 1.0 and m[1]["hd95"] == 0.0
    assert m[2]["dice"] == 0.0 and m[2]["pred_voxels"] == 0 and m[2]["ref_voxels"] == 216


def test_majority_dice_is_the_trivial_prediction() -> None:
    """Dice of "the most frequent label everywhere", computed by brute force with `dice`."""
    rng = np.random.default_rng(0)
    ref = rng.choice(3, size=(20, 30), p=[0.2, 0.7, 0.1])
    everywhere = np.full(ref.shape, np.bincount(ref.ravel()).argmax())
    expected = {c: dice(everywhere == c, ref == c) for c in (1, 2, 3)}
    assert majority_dice(ref, [1, 2, 3]) == pytest.approx(expected)
    assert expected[1] > 0.8 and expected[2] == 0.0 and expected[3] == 1.0  # 3 is absent: nothing to find
