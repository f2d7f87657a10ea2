"""Crop to the non-zero box, normalise, resample to the plan's spacing — and map results back exactly.

A preprocessed case is three files in `WORK/preprocessed/`: `ID.npy` (float32 image, (C, X, Y, Z)),
`ID_seg.npy` (labels, (X, Y, Z)), `ID_fg.npz` (sampled voxel positions per class, for foreground
oversampling) and `ID.json` (geometry needed to invert, written last: its presence marks the case
complete).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy import ndimage

from segnas.data.io import Geometry, max_voxels, read_image, read_label
from segnas.data.msd import Case, load_dataset
from segnas.data.plan import Plan, load_plan, nonzero_box
from segnas.errors import SegnasError, file_error
from segnas.runtime.files import atomic_path, read_json, remove_partials, save_npy, write_json
from segnas.runtime.lock import locks_work
from segnas.runtime.parallel import pmap
from segnas.runtime.workspace import Workspace

FG_SAMPLES = 2000


def plan_hash(plan: Plan) -> str:
    """Short hash of a plan: cached cases made under another plan are redone."""
    return hashlib.sha256(json.dumps(plan.to_json(), sort_keys=True).encode()).hexdigest()[:16]


def normalise(image: np.ndarray, schemes: Sequence[dict[str, Any]], mask: np.ndarray | None = None) -> np.ndarray:
    """Normalise each channel of (C, X, Y, Z) by its plan scheme; `mask` restricts z-score statistics."""
    out = np.empty_like(image, dtype=np.float32)
    for ch, s in enumerate(schemes):
        x = image[ch].astype(np.float32)
        if s["scheme"] == "ct":
            lo, hi = s["clip"]
            out[ch] = (np.clip(x, lo, hi) - s["mean"]) / s["std"]
        elif s["scheme"] == "zscore":
            m = mask if (s.get("use_nonzero_mask") and mask is not None and mask.any()) else None
            vals = x[m] if m is not None else x
            out[ch] = (x - vals.mean()) / max(float(vals.std()), 1e-8)
            if m is not None:
                out[ch][~m] = 0.0
        else:
            out[ch] = x
    return out


def resample_image(image: np.ndarray, shape: tuple[int, ...], order: int = 3) -> np.ndarray:
    """Resample each channel of (C, X, Y, Z) to `shape` (spline of `order`, voxel-centre aligned)."""
    if tuple(image.shape[1:]) == tuple(shape):
        return image
    factors = [n / o for n, o in zip(shape, image.shape[1:])]
    return np.stack([ndimage.zoom(c, factors, order=order, mode="nearest", grid_mode=True) for c in image]).astype(np.float32)


def resample_labels(seg: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Resample a label map: each class's mask linearly, then the most likely class wins per voxel."""
    if tuple(seg.shape) == tuple(shape):
        return seg
    factors = [n / o for n, o in zip(shape, seg.shape)]
    best = np.zeros(shape, seg.dtype)
    score = np.full(shape, -1.0, np.float32)
    for c in np.unique(seg):
        p = ndimage.zoom((seg == c).astype(np.float32), factors, order=1, mode="nearest", grid_mode=True)
        win = p > score
        best[win], score[win] = c, p[win]
    return best


@dataclass(frozen=True)
class CaseGeometry:
    """How a preprocessed grid relates to the original: crop box and shapes before and after resampling."""

    original: Geometry
    box: tuple[tuple[int, int], ...]
    resampled_shape: tuple[int, ...]

    @property
    def cropped_shape(self) -> tuple[int, ...]:
        """Shape of the crop before resampling."""
        return tuple(hi - lo for lo, hi in self.box)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"original": self.original.to_json(), "box": [list(b) for b in self.box], "resampled_shape": list(self.resampled_shape)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CaseGeometry:
        """Inverse of `to_json`."""
        return cls(Geometry.from_json(d["original"]), tuple((int(lo), int(hi)) for lo, hi in d["box"]), tuple(d["resampled_shape"]))


def resampled_shape(cropped: tuple[int, ...], spacing: tuple[float, ...], plan: Plan) -> tuple[int, ...]:
    """Shape of a crop after resampling to the plan's spacing (the slice axis of 2D plans untouched)."""
    shape = [max(1, int(round(n * s / t))) for n, s, t in zip(cropped, spacing, plan.target_spacing)]
    if plan.dims == 2:
        assert plan.slice_axis is not None  # every 2D plan has one (Plan.from_json)
        shape[plan.slice_axis] = cropped[plan.slice_axis]
    return tuple(shape)


def preprocess_image(image: np.ndarray, geom: Geometry, plan: Plan,
                     source: str | Path = "image") -> tuple[np.ndarray, CaseGeometry]:
    """Crop, normalise and resample an image (C, X, Y, Z) → (float32 image, geometry to invert);
    an image that resampling would blow up past the voxel limit is an error naming `source`."""
    box = nonzero_box(image)
    sl = (slice(None),) + tuple(slice(lo, hi) for lo, hi in box)
    crop = image[sl]
    shape = resampled_shape(crop.shape[1:], geom.spacing, plan)
    voxels = int(np.prod(shape, dtype=np.int64)) * image.shape[0]
    if voxels > max_voxels():
        raise file_error(source, f"resampling its voxels of {' × '.join(f'{s:.3g}' for s in geom.spacing)} mm to the plan's "
                         f"{' × '.join(f'{t:.3g}' for t in plan.target_spacing)} mm would make {'×'.join(map(str, shape))} "
                         f"({voxels / 1e6:,.0f} M voxels), over the limit of {max_voxels() / 1e6:,.0f} M "
                         "(is its spacing in the right unit? SEGNAS_MAX_VOXELS raises the limit)")
    mask = np.any(crop != 0, axis=0)
    crop = normalise(crop, plan.normalization, mask)
    out = resample_image(crop, shape, plan.image_interpolation_order)
    return out, CaseGeometry(geom, tuple(box), shape)


def invert_segmentation(seg: np.ndarray, cg: CaseGeometry) -> np.ndarray:
    """Map a label map on the preprocessed grid back to the original grid (same shape as the source file)."""
    if tuple(seg.shape) != cg.resampled_shape:
        raise SegnasError(f"segmentation shape {seg.shape} does not match the preprocessed shape {cg.resampled_shape}")
    out = np.zeros(cg.original.shape, seg.dtype)
    out[tuple(slice(lo, hi) for lo, hi in cg.box)] = resample_labels(seg, cg.cropped_shape)
    return out


def invert_probabilities(probs: np.ndarray, cg: CaseGeometry) -> np.ndarray:
    """Map class probabilities (K, ...) back to the original grid; outside the crop is background."""
    k = probs.shape[0]
    out = np.zeros((k, *cg.original.shape), np.float32)
    out[0] = 1.0
    out[(slice(None),) + tuple(slice(lo, hi) for lo, hi in cg.box)] = resample_image(probs, cg.cropped_shape, order=1)
    return out


def foreground_samples(seg: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Up to FG_SAMPLES voxel positions (N, 3) per foreground class."""
    out = {}
    for c in np.unique(seg):
        if c == 0:
            continue
        idx = np.argwhere(seg == c)
        take = rng.choice(len(idx), min(FG_SAMPLES, len(idx)), replace=False)
        out[f"class_{int(c)}"] = idx[np.sort(take)].astype(np.int32)
    return out


def is_cached(meta_path: Path, h: str) -> bool:
    """Whether a case's json marks it as made under the plan of hash `h` (a damaged marker: no, redo the case)."""
    try:
        return meta_path.is_file() and read_json(meta_path).get("plan_hash") == h
    except SegnasError:
        return False


def preprocess_case(job: tuple[Case, Plan, str]) -> None:
    """Preprocess one case into `out` (`preprocess_dataset` skips the cases already made under the plan)."""
    case, plan, out_dir = job
    out = Path(out_dir)
    meta_path = out / f"{case.id}.json"
    image, geom = read_image(case.images)
    label, lgeom = read_label(case.label)
    if image.shape[0] != plan.in_channels:
        raise SegnasError(f"{case.image}: has {image.shape[0]} channel(s), the plan expects {plan.in_channels}")
    if lgeom.shape != geom.shape:
        raise SegnasError(f"{case.label}: shape {lgeom.shape} differs from its image's {geom.shape}")
    img, cg = preprocess_image(image, geom, plan, case.image)
    crop = label[tuple(slice(lo, hi) for lo, hi in cg.box)]
    seg = resample_labels(crop, cg.resampled_shape)
    save_npy(out / f"{case.id}.npy", img)
    save_npy(out / f"{case.id}_seg.npy", seg)
    with atomic_path(out / f"{case.id}_fg.npz") as tmp:
        with open(tmp, "wb") as f:
            samples: dict[str, Any] = foreground_samples(seg, np.random.default_rng(0))
            np.savez(f, **samples)
    write_json(meta_path, {"id": case.id, "plan_hash": plan_hash(plan), "image": str(case.image), "label": str(case.label),
                           "geometry": cg.to_json(), "spacing": list(geom.spacing),
                           "classes": [int(c) for c in np.unique(seg)]})


@locks_work
def preprocess_dataset(work: str | Path, workers: int = 1, force: bool = False) -> dict[str, int]:
    """Preprocess every case of the planned dataset into WORK/preprocessed; returns counts done/cached."""
    ws = Workspace(Path(work))
    plan = load_plan(ws)
    spec = load_dataset(plan.dataset)
    if {str(k): v for k, v in spec.labels.items()} != plan.labels:
        raise SegnasError(f"{ws.plan}: 'labels' {plan.labels} differ from the dataset's {spec.labels} "
                          f"({plan.dataset}/dataset.json); plan again or correct the edit")
    ws.preprocessed.mkdir(parents=True, exist_ok=True)
    remove_partials(ws.preprocessed)  # left by a killed run (we hold the work folder's lock)
    if force:
        for f in ws.preprocessed.glob("*.json"):
            f.unlink()
    h = plan_hash(plan)
    todo = [c for c in spec.cases if not is_cached(ws.preprocessed / f"{c.id}.json", h)]  # no worker starts for a cached case
    counts = {"done": 0, "cached": len(spec.cases) - len(todo)}
    for _ in pmap(preprocess_case, [(c, plan, str(ws.preprocessed)) for c in todo], workers, "preprocess"):
        counts["done"] += 1
    return counts


@dataclass(frozen=True)
class PreprocessedCase:
    """A cached case: memory-mapped arrays plus its geometry."""

    id: str
    image: np.ndarray
    seg: np.ndarray
    fg: dict[str, np.ndarray]
    geometry: CaseGeometry


def load_case(work: Workspace, case_id: str, mmap: bool = True) -> PreprocessedCase:
    """Open one preprocessed case (arrays memory-mapped by default)."""
    d = work.preprocessed
    meta_path = d / f"{case_id}.json"
    if not meta_path.is_file():
        raise SegnasError(f"{meta_path}: case {case_id!r} is not preprocessed; run `segnas preprocess`")
    meta = read_json(meta_path)
    mode: Literal["r"] | None = "r" if mmap else None
    try:
        image = np.load(d / f"{case_id}.npy", mmap_mode=mode)
        seg = np.load(d / f"{case_id}_seg.npy", mmap_mode=mode)
        with np.load(d / f"{case_id}_fg.npz") as z:
            fg = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise SegnasError(f"{d / case_id}: preprocessed files are damaged ({e}); run `segnas preprocess --force`") from None
    return PreprocessedCase(case_id, image, seg, fg, CaseGeometry.from_json(meta["geometry"]))
