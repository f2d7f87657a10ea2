"""Training patches: random crops inside preprocessed cases, half centred on foreground, flipped (rotation,
scaling and intensity changes on request; `TrainConfig` holds the measured defaults, the search uses the same).

Item `i` of epoch `e` depends only on (seed, e, i), never on the worker that builds it, so a run is
reproducible whatever the number of loader workers. One loader serves a whole run: its sampler hands the
workers (epoch, i) pairs, so they are forked once, at the start, and never again from a process whose heap
has grown to gigabytes (a fork per epoch doubles that memory as the parent writes to its pages).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai import transforms as T
from monai.data import set_track_meta
from torch.utils.data import DataLoader, Dataset, Sampler

from segnas.data.preprocess import PreprocessedCase, load_case
from segnas.errors import SegnasError
from segnas.runtime.workspace import Workspace

ROTATION_MARGIN = 1.25  # crop this much more than the patch so rotations do not pull in padding


def extract(array: np.ndarray, centre: Sequence[int], size: Sequence[int]) -> np.ndarray:
    """Window of `size` around `centre` from (C, X, Y, Z), zero-padded where it leaves the array."""
    spatial = array.shape[1:]
    out = np.zeros((array.shape[0], *size), array.dtype)
    src, dst = [], []
    for c, s, n in zip(centre, size, spatial):
        lo = int(c) - s // 2
        a, b = max(lo, 0), min(lo + s, n)
        if b <= a:
            return out
        src.append(slice(a, b))
        dst.append(slice(a - lo, b - lo))
    out[(slice(None), *dst)] = array[(slice(None), *src)]
    return out


def augmentation(dims: int, patch: Sequence[int], affine: bool = True, intensity: bool = True) -> T.Compose:
    """MONAI augmentation: rotation/scaling (also crops to the patch), flips, intensity changes; without
    `affine` the margin is cropped away instead, without `intensity` the image values are left alone."""
    rot = np.deg2rad(30 if dims == 3 else 180)
    rotate = (rot, rot, rot) if dims == 3 else (rot,)
    spatial = ([T.RandAffined(["image", "label"], spatial_size=tuple(patch), prob=0.3, rotate_range=rotate,
                              scale_range=[0.15] * dims, mode=("bilinear", "nearest"), padding_mode="zeros")] if affine
               else [T.CenterSpatialCropd(["image", "label"], roi_size=tuple(patch))])
    values = [T.RandScaleIntensityd(["image"], factors=0.15, prob=0.15),
              T.RandGaussianNoised(["image"], prob=0.15, std=0.1),
              T.RandAdjustContrastd(["image"], prob=0.15, gamma=(0.7, 1.5))] if intensity else []
    return T.Compose([*spatial, *[T.RandFlipd(["image", "label"], prob=0.5, spatial_axis=a) for a in range(dims)], *values])


def padding_share(centre: Sequence[int], size: Sequence[int], shape: Sequence[int]) -> float:
    """Share of a window of `size` around `centre` that lies outside a volume of `shape` (zero padding)."""
    inside = 1
    for c, s, n in zip(centre, size, shape):
        lo = int(c) - s // 2
        inside *= max(0, min(lo + s, n) - max(lo, 0))
    return 1.0 - inside / float(np.prod(size))


def inside_centre(centre: Sequence[int], patch: Sequence[int], shape: Sequence[int]) -> list[int]:
    """Centre moved so that the patch around it lies inside the volume (nnU-Net's rule): along an axis where
    the volume is at least the patch it is clipped, elsewhere the volume is centred in the patch. The rotation
    margin around the patch may still leave the volume: only a rotated patch's corners show that padding."""
    return [int(np.clip(c, p // 2, n - p + p // 2)) if n >= p else n // 2 for c, p, n in zip(centre, patch, shape)]


class PatchDataset(Dataset):
    """Random patches of `patch_size` from preprocessed cases → {"image": (C, *patch) float32, "label": (1, *patch) uint8}."""

    def __init__(self, work: str | Path, case_ids: Sequence[str], patch_size: Sequence[int], dims: int,
                 slice_axis: int | None = None, samples_per_epoch: int = 250, fg_fraction: float = 0.5,
                 augment: bool = True, seed: int = 0, affine: bool = False, intensity: bool = False,
                 inside: bool = True) -> None:
        if not case_ids:
            raise SegnasError(f"{work}: no cases to draw patches from")
        if len(patch_size) != dims:
            raise SegnasError(f"patch size {list(patch_size)} has {len(patch_size)} axes for a {dims}D plan")
        if dims == 2 and slice_axis not in (0, 1, 2):
            raise SegnasError("a 2D patch dataset needs slice_axis 0, 1 or 2")
        self.work = Workspace(Path(work))
        self.case_ids = list(case_ids)
        self.patch = list(patch_size)
        self.dims, self.slice_axis = dims, slice_axis
        self.samples, self.fg_fraction, self.seed, self.inside = samples_per_epoch, fg_fraction, seed, inside
        self.epoch = 0
        self.transform = augmentation(dims, self.patch, affine, intensity) if augment else None
        self._cases: dict[str, PreprocessedCase] = {}
        for cid in self.case_ids:  # fail now, naming the file, rather than inside a worker
            load_case(self.work, cid)

    def __len__(self) -> int:
        return self.samples

    def set_epoch(self, epoch: int) -> None:
        """Draw a new set of patches for `epoch`."""
        self.epoch = epoch

    def _case(self, cid: str) -> PreprocessedCase:
        if cid not in self._cases:
            self._cases[cid] = load_case(self.work, cid)
        return self._cases[cid]

    def _window(self, augmenting: bool) -> list[int]:
        """3D window to cut: the patch (plus rotation margin), with 1 along the slice axis in 2D."""
        size = [int(np.ceil(p * ROTATION_MARGIN)) if augmenting else p for p in self.patch]
        if self.slice_axis is not None and self.dims == 2:
            size.insert(self.slice_axis, 1)
        return size

    def sample(self, index: int, epoch: int | None = None) -> dict[str, Any]:
        """Patch `index` of `epoch` (default: the current one), as numpy arrays before augmentation."""
        rng = np.random.default_rng([self.seed, self.epoch if epoch is None else epoch, index])
        case = self._case(self.case_ids[int(rng.integers(len(self.case_ids)))])
        shape = case.seg.shape
        if case.fg and rng.random() < self.fg_fraction:
            locations = case.fg[sorted(case.fg)[int(rng.integers(len(case.fg)))]]
            centre = locations[int(rng.integers(len(locations)))]
        else:
            centre = [int(rng.integers(n)) for n in shape]
        window, patch = self._window(self.transform is not None), self._window(False)
        if self.inside:
            centre = inside_centre(centre, patch, shape)
        image = extract(np.asarray(case.image), centre, window)
        label = extract(np.asarray(case.seg)[None], centre, window)
        if self.slice_axis is not None and self.dims == 2:
            image, label = image.squeeze(1 + self.slice_axis), label.squeeze(1 + self.slice_axis)
        return {"image": image, "label": label, "case": case.id, "seed": int(rng.integers(2**31)),
                "padding": padding_share(centre, patch, shape)}  # of the patch the network sees

    def __getitem__(self, index: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        s = self.sample(index) if isinstance(index, int) else self.sample(index[1], index[0])
        item = {"image": torch.from_numpy(s["image"]), "label": torch.from_numpy(s["label"].astype(np.float32))}
        if self.transform is not None:
            set_track_meta(False)
            self.transform.set_random_state(seed=s["seed"])
            item = self.transform(item)
        return {"image": item["image"].float().contiguous(), "label": item["label"].round().to(torch.uint8).contiguous()}


class EpochSampler(Sampler[tuple[int, int]]):
    """(epoch, i) for every item of the dataset's epoch as it is when iteration starts."""

    def __init__(self, dataset: PatchDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self) -> Any:
        epoch = self.dataset.epoch
        return iter([(epoch, i) for i in range(len(self.dataset))])


def _worker_init(worker_id: int) -> None:
    torch.set_num_threads(1)


def patch_loader(dataset: PatchDataset, batch_size: int = 2, workers: int = 2) -> DataLoader:
    """Batches of the dataset's current epoch, every time it is iterated (make one per run: its workers persist);
    workers keep one thread each so they do not fight the training loop."""
    # Its own generator: a loader draws its workers' base seed when first iterated, and from torch's global
    # generator that draw would shift the run's random stream differently in a resumed run.
    return DataLoader(dataset, batch_size=batch_size, sampler=EpochSampler(dataset), num_workers=workers,
                      worker_init_fn=_worker_init, persistent_workers=workers > 0,
                      pin_memory=torch.cuda.is_available(), drop_last=False,
                      generator=torch.Generator().manual_seed(dataset.seed))
