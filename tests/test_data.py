"""Patch dataset: shapes, determinism per seed, foreground oversampling, loader workers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from segnas.data.patches import PatchDataset, extract, patch_loader
from segnas.data.plan import Plan, plan_dataset
from segnas.data.preprocess import load_case, preprocess_dataset
from segnas.errors import SegnasError
from segnas.runtime.workspace import Workspace


def _prepared(data: Path, factory: pytest.TempPathFactory) -> tuple[Path, Plan]:
    w = factory.mktemp("work") / "work"
    plan = plan_dataset(data, w, workers=1)
    preprocess_dataset(w)
    return w, plan


@pytest.fixture(scope="module")
def work3d(synth3d: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Plan]:
    return _prepared(synth3d, tmp_path_factory)


@pytest.fixture(scope="module")
def work2d(synth2d: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Plan]:
    return _prepared(synth2d, tmp_path_factory)


IDS = [f"synth_{i:03d}" for i in range(4)]


def test_extract_pads_outside_the_array() -> None:
    a = np.arange(1000, dtype=np.float32).reshape(1, 10, 10, 10)
    w = extract(a, (0, 5, 9), (4, 4, 4))
    assert w.shape == (1, 4, 4, 4)
    assert np.all(w[:, :2] == 0) and np.all(w[:, :, :, 3:] == 0)
    assert w[0, 2, 0, 0] == a[0, 0, 3, 7]


@pytest.mark.parametrize("augment", [False, True])
def test_3d_patches_have_the_plan_shape(work3d: tuple[Path, Plan], augment: bool) -> None:
    w, plan = work3d
    ds = PatchDataset(w, IDS, [32, 32, 16], 3, samples_per_epoch=4, augment=augment)
    item = ds[0]
    assert item["image"].shape == (2, 32, 32, 16) and item["image"].dtype == torch.float32
    assert item["label"].shape == (1, 32, 32, 16) and item["label"].dtype == torch.uint8
    assert set(item["label"].unique().tolist()) <= {0, 1, 2}


def test_2d_patches(work2d: tuple[Path, Plan]) -> None:
    w, plan = work2d
    ds = PatchDataset(w, IDS, plan.patch_size, 2, plan.slice_axis, samples_per_epoch=3)
    assert ds[1]["image"].shape == (2, *plan.patch_size) and ds[1]["label"].shape == (1, *plan.patch_size)


def test_same_seed_same_patch_new_epoch_new_patch(work3d: tuple[Path, Plan]) -> None:
    w, _ = work3d
    a = PatchDataset(w, IDS, [32, 32, 16], 3, samples_per_epoch=4, seed=7)
    b = PatchDataset(w, IDS, [32, 32, 16], 3, samples_per_epoch=4, seed=7)
    for i in range(4):
        assert torch.equal(a[i]["image"], b[i]["image"]) and torch.equal(a[i]["label"], b[i]["label"])
    before = a[0]["image"].clone()
    a.set_epoch(1)
    assert not torch.equal(a[0]["image"], before)


def test_the_foreground_fraction_of_patches_is_honoured(work3d: tuple[Path, Plan]) -> None:
    """A third of the patches centred on foreground with fg_fraction 1/3, half with the default."""
    w, _ = work3d

    def centred(**kwargs: float) -> float:
        ds = PatchDataset(w, IDS, [8, 8, 8], 3, samples_per_epoch=300, augment=False, seed=1, **kwargs)
        return float(np.mean([ds.sample(i)["label"][0, 4, 4, 4] > 0 for i in range(300)]))

    chance = centred(fg_fraction=0.0)
    assert chance < 0.1 and 0.28 < centred(fg_fraction=1 / 3) < 0.5 and 0.45 < centred() < 0.65


def test_loader_workers_give_the_same_batches(work3d: tuple[Path, Plan]) -> None:
    w, _ = work3d
    ds = PatchDataset(w, IDS, [32, 32, 16], 3, samples_per_epoch=4, seed=3)
    inline = [b["image"] for b in patch_loader(ds, batch_size=2, workers=0)]
    parallel = [b["image"] for b in patch_loader(ds, batch_size=2, workers=2)]
    assert all(torch.equal(x, y) for x, y in zip(inline, parallel))


def test_one_loader_serves_every_epoch(work3d: tuple[Path, Plan]) -> None:
    w, _ = work3d
    ds = PatchDataset(w, IDS, [32, 32, 16], 3, samples_per_epoch=4, seed=3)
    loader = patch_loader(ds, batch_size=2, workers=2)  # workers forked once, for both epochs
    first = [b["image"] for b in loader]
    ds.set_epoch(1)
    second = [b["image"] for b in loader]
    inline = [b["image"] for b in patch_loader(ds, batch_size=2, workers=0)]
    assert all(torch.equal(x, y) for x, y in zip(second, inline))
    assert not torch.equal(first[0], second[0])


def test_missing_preprocessed_case_names_the_file(work3d: tuple[Path, Plan]) -> None:
    w, _ = work3d
    with pytest.raises(SegnasError, match="nope.json"):
        PatchDataset(w, ["nope"], [32, 32, 16], 3)


def test_inside_patches_never_leave_the_volume(work3d: tuple[Path, Plan]) -> None:
    """`patch_inside`: the patch the network sees has no zero padding where the volume is at least the patch,
    also when the cut window (with its rotation margin) is larger than the volume (22.7 % padding on LA before)."""
    w, _ = work3d
    shapes = [load_case(Workspace(w), cid).seg.shape for cid in IDS]
    patch = [int(0.9 * min(s[a] for s in shapes)) for a in range(3)]  # fits every volume, its margin does not
    kwargs = dict(samples_per_epoch=60, seed=4, fg_fraction=0.0, affine=False, intensity=False)
    inside = PatchDataset(w, IDS, patch, 3, inside=True, **kwargs)
    anywhere = PatchDataset(w, IDS, patch, 3, inside=False, **kwargs)
    assert max(inside.sample(i)["padding"] for i in range(60)) == 0.0
    assert np.mean([anywhere.sample(i)["padding"] for i in range(60)]) > 0.05
    # the centre crop of the window is that patch: its voxels are all the volume's (no exact zeros after z-score)
    assert all(np.mean(inside[i]["image"].numpy() == 0) == 0.0 for i in range(20))


def test_augmentation_switches(work3d: tuple[Path, Plan]) -> None:
    """Without affine and intensity changes a patch is a crop of the volume, only flipped."""
    w, _ = work3d
    ds = PatchDataset(w, IDS, [16, 16, 8], 3, samples_per_epoch=8, seed=2, affine=False, intensity=False)
    for i in range(8):
        item, raw = ds[i], ds.sample(i)
        values = np.sort(item["image"].numpy().ravel())
        centre = raw["image"][:, 2:18, 2:18, 1:9]  # the 1.25× window cropped back to the patch at its centre
        assert item["image"].shape == (2, 16, 16, 8)
        assert np.array_equal(values, np.sort(centre.ravel()))
