"""The built-in synthetic task: a two-channel MRI-like dataset with an organ and a lesion, in MSD layout.

Each channel alone is ambiguous, so a single threshold cannot solve the task:
- channel 0 ("T1"): organ, lesion and a *decoy organ* are all bright;
- channel 1 ("T2"): lesion and *decoy cysts* are bright, the organ looks like surrounding tissue.
Organ = bright in T1 and not dark in T2; lesion = bright in both. Smooth bias fields, noise,
partial-volume blur, anisotropic spacing and rotated, shifted affines make it look acquired.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from scipy import ndimage

from segnas.data.io import write_nifti
from segnas.errors import SegnasError
from segnas.runtime.files import write_json

#                 T1     T2
TISSUE = (0.35, 0.50)
ORGAN = (0.80, 0.50)
LESION = (0.80, 0.95)
DECOY_ORGAN = (0.80, 0.10)
DECOY_CYST = (0.35, 0.95)
SCANNER_SCALE = (900.0, 350.0)  # channels arrive in different units, as real scans do
LABELS = {"0": "background", "1": "organ", "2": "lesion"}


def _smooth_field(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Zero-mean, unit-std random field that varies slowly over `sigma` voxels."""
    f = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (f - f.mean()) / (f.std() + 1e-8)


def _affine(rng: np.random.Generator, spacing: np.ndarray) -> np.ndarray:
    """A rotated (about z), shifted voxel → mm affine with the given spacing."""
    t = np.deg2rad(rng.uniform(-25, 25))
    rot = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    a = np.eye(4)
    a[:3, :3] = rot @ np.diag(spacing)
    a[:3, 3] = rng.uniform(-120, 120, 3)
    return a


def make_case(seed: int, index: int, dims: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One case → (image float32 (2, X, Y, Z), label uint8 (X, Y, Z), affine (4, 4)); Z = 1 when dims = 2."""
    rng = np.random.default_rng([seed, index, dims])
    if dims == 3:
        shape = (int(rng.integers(56, 73)), int(rng.integers(56, 73)), int(rng.integers(20, 29)))
        spacing = np.array([rng.uniform(0.9, 1.1)] * 2 + [rng.uniform(2.2, 2.8)])
    else:
        shape = (int(rng.integers(112, 145)), int(rng.integers(112, 145)), 1)
        spacing = np.array([rng.uniform(0.45, 0.55)] * 2 + [3.0])
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1).astype(np.float32)
    mm = (grid - (np.array(shape) - 1) / 2) * spacing  # physical coordinates around the centre
    extent = np.array(shape) * spacing / 2
    wobble = _smooth_field(rng, shape, sigma=4.0) * 0.12

    def blob(centre: np.ndarray, radii: np.ndarray, deform: float = 0.0) -> np.ndarray:
        r = np.sqrt((((mm - centre) / radii)[..., :dims] ** 2).sum(-1))  # 2D: discs in the plane
        return (r + deform * wobble) < 1.0

    body = blob(np.zeros(3), extent * np.array([0.92, 0.88, 0.95]), deform=0.5)
    organ_r = extent * rng.uniform(0.3, 0.36) * rng.uniform(0.9, 1.1, 3)
    organ_c = rng.uniform(-0.25, 0.25, 3) * extent * np.array([1, 1, 0.5])
    organ = blob(organ_c, organ_r, deform=1.0) & body
    lesion_c = organ_c + rng.uniform(-0.3, 0.3, 3) * organ_r
    lesion = blob(lesion_c, organ_r * rng.uniform(0.4, 0.5), deform=0.5) & organ

    def place(radius: float) -> tuple[np.ndarray, float] | None:
        for attempt in range(200):  # far from the organ, inside the body; shrink if there is no room
            r = radius * 0.97 ** (attempt // 10)
            c = rng.uniform(-0.7, 0.7, 3) * extent
            gap = np.linalg.norm(((c - organ_c) / organ_r)[:dims]) * organ_r[:dims].min() - organ_r[:dims].max() - r
            if gap > 2.0 and np.all(np.abs(c[:dims]) + r < 0.85 * extent[:dims]):
                return c, r
        return None

    # Decoys until they match the organ (T1) and the lesion (T2) in volume: then no single-channel
    # rule can score well on either class.
    decoys = np.zeros(shape, bool)
    cysts = np.zeros(shape, bool)
    for _ in range(8):
        spot = place(float(organ_r[:dims].mean()) * rng.uniform(0.7, 0.9))
        if spot is not None:
            decoys |= blob(spot[0], spot[1] * rng.uniform(0.9, 1.1, 3), deform=1.0) & body & ~organ
        if decoys.sum() >= organ.sum():
            break
    for _ in range(12):
        spot = place(float(organ_r[:dims].mean()) * rng.uniform(0.3, 0.4))
        if spot is not None:
            cysts |= blob(spot[0], np.full(3, spot[1]), deform=0.5) & body & ~decoys & ~organ
        if cysts.sum() >= 1.5 * lesion.sum():
            break

    image = np.zeros((2, *shape), np.float32)
    for region, values in ((body, TISSUE), (decoys, DECOY_ORGAN), (cysts, DECOY_CYST), (organ, ORGAN), (lesion, LESION)):
        for ch in range(2):
            image[ch][region] = values[ch]
    blur = (0.8, 0.8, 0.4) if dims == 3 else (0.8, 0.8, 0.0)
    for ch in range(2):
        bias = np.exp(0.12 * _smooth_field(rng, shape, sigma=12.0))
        noisy = ndimage.gaussian_filter(image[ch], blur) * bias + rng.normal(0, 0.045, shape)
        image[ch] = np.where(body, noisy * SCANNER_SCALE[ch], 0.0)  # air is exactly zero (masked scan)
    label = np.zeros(shape, np.uint8)
    label[organ] = 1
    label[lesion] = 2
    return image.astype(np.float32), label, _affine(rng, spacing)


def make_dataset(out: str | Path, cases: int = 12, dims: int = 3, seed: int = 0, force: bool = False) -> Path:
    """Write a synthetic MSD dataset to `out` (built in a temporary folder, then renamed into place)."""
    out = Path(out)
    if dims not in (2, 3):
        raise SegnasError(f"--dims must be 2 or 3, not {dims}")
    if cases < 1:
        raise SegnasError(f"--cases must be at least 1, not {cases}")
    occupied = out.is_file() or (out.is_dir() and any(out.iterdir()))
    if occupied and not force:
        raise SegnasError(f"{out}: already exists and is not empty (use --force to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        entries = []
        for i in range(cases):
            image, label, affine = make_case(seed, i, dims)
            name = f"synth_{i:03d}.nii.gz"
            write_nifti(tmp / "imagesTr" / name, image, affine)
            write_nifti(tmp / "labelsTr" / name, label, affine)
            entries.append({"image": f"./imagesTr/{name}", "label": f"./labelsTr/{name}"})
        write_json(tmp / "dataset.json", {
            "name": f"Synthetic{dims}D",
            "description": f"segnas synthetic organ + lesion task, {dims}D, seed {seed}",
            "tensorImageSize": "3D" if dims == 3 else "2D",
            "modality": {"0": "T1", "1": "T2"},
            "labels": LABELS,
            "numTraining": cases,
            "numTest": 0,
            "training": entries,
            "test": [],
        })
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
