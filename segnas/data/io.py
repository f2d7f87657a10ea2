"""NIfTI in and out and image geometry (written atomically through `segnas.runtime.files`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from segnas.errors import SegnasError, file_error
from segnas.runtime.files import atomic_path, check_file

NIFTI = (".nii.gz", ".nii")  # file name endings read as NIfTI

# Largest image (voxels × channels) read, from its header before any voxel: a 24 GB machine holds the
# handful of float32 copies that checking, resampling and predicting such an image make. SEGNAS_MAX_VOXELS
# raises or lowers it.
DEFAULT_MAX_VOXELS = 2**28
# Largest |intensity| accepted: z-scoring in float32 squares and sums the voxels, which overflows far
# below float32's 3.4e38 (a 1e10 voxel squared, times 1e9 voxels, is still only 1e29).
MAX_ABS_INTENSITY = 1e10
MAX_LABEL = 2**31 - 1  # label maps are read as int32 at most


def max_voxels() -> int:
    """The per-image voxel limit: SEGNAS_MAX_VOXELS or DEFAULT_MAX_VOXELS."""
    raw = os.environ.get("SEGNAS_MAX_VOXELS", "")
    try:
        return int(float(raw)) if raw.strip() else DEFAULT_MAX_VOXELS
    except ValueError:
        raise SegnasError(f"SEGNAS_MAX_VOXELS={raw!r} is not a number of voxels") from None


@dataclass(frozen=True)
class Geometry:
    """Where a voxel grid sits in the world: spatial shape (3 axes) and the 4×4 affine."""

    shape: tuple[int, int, int]
    affine: tuple[tuple[float, ...], ...]

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size along each array axis, in mm (column norms of the affine)."""
        x, y, z = (float(s) for s in np.linalg.norm(np.asarray(self.affine)[:3, :3], axis=0))
        return x, y, z

    @property
    def orientation(self) -> str:
        """Axis codes of the voxel axes in world space, e.g. 'RAS' (nibabel's convention)."""
        return "".join(nib.aff2axcodes(self.affine_array))

    @property
    def affine_array(self) -> np.ndarray:
        """The affine as a float64 (4, 4) array."""
        return np.asarray(self.affine, dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"shape": list(self.shape), "affine": [list(r) for r in self.affine]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Geometry:
        """Inverse of `to_json`."""
        return cls.of(d["shape"], np.asarray(d["affine"], dtype=np.float64))

    @classmethod
    def of(cls, shape: Any, affine: np.ndarray) -> Geometry:
        """Build from any shape sequence and a (4, 4) array."""
        x, y, z = (int(s) for s in shape)
        return cls((x, y, z), tuple(tuple(float(v) for v in r) for r in affine))


def _to_3d(data: np.ndarray, path: Path, channels_allowed: bool) -> np.ndarray:
    """Array in file layout → (C, X, Y, Z); 2D files get Z = 1, MSD 4D files have channels last."""
    if data.ndim == 2:
        data = data[:, :, None]
    if data.ndim == 5 and data.shape[3] == 1:  # NIfTI puts vector components in dim 5, time in dim 4
        data = data[:, :, :, 0, :]
    if data.ndim == 3:
        return data[None]
    if data.ndim == 4:
        if not channels_allowed and data.shape[3] != 1:
            raise file_error(path, f"label map must be 3D, found 4D shape {data.shape}")
        return np.moveaxis(data, 3, 0)
    raise file_error(path, f"expected a 2D, 3D or 4D (channels last) image, found shape {data.shape}")


def _raw_spacing(img: Any, path: Path) -> list[float] | None:
    """The header's pixdim for the spatial axes as stored (nibabel silently turns 0 into 1 and negatives
    positive); None when the affine does not come from them (sform set) or the format has none."""
    header = img.header
    try:
        if int(header["sform_code"]) > 0:
            return None
        with nib.openers.ImageOpener(str(path)) as f:
            raw = type(header).from_fileobj(f, check=False)
        return [float(v) for v in raw["pixdim"][1: 1 + min(3, len(img.shape))]]
    except Exception:  # not a NIfTI-1/2 header: nothing more to check here
        return None


def _check_header(img: Any, path: Path) -> None:
    """What the header alone tells is wrong: voxel type, size, spacing."""
    dtype = img.get_data_dtype()
    if dtype.fields:
        raise file_error(path, f"is an RGB image ({', '.join(dtype.names)} per voxel); segnas reads grey values: "
                         "convert it, or store each colour as a channel")
    if dtype.kind == "c":
        raise file_error(path, f"is complex-valued ({dtype}); segnas needs real intensities (store the magnitude)")
    voxels = int(np.prod([int(n) for n in img.shape], dtype=object))
    limit = max_voxels()
    if voxels > limit:
        shape = "×".join(str(int(n)) for n in img.shape)
        raise file_error(path, f"its header declares shape {shape} ({voxels / 1e6:,.0f} M voxels), over the limit of "
                         f"{limit / 1e6:,.0f} M voxels per image (SEGNAS_MAX_VOXELS raises it)")
    spacing = _raw_spacing(img, path)
    for axis, s in enumerate(spacing or []):
        if not np.isfinite(s) or s <= 0:
            raise file_error(path, f"its header gives axis {axis} a voxel size of {s} (pixdim[{axis + 1}]); "
                             "a voxel must have a positive size")


def _open(path: Path) -> Any:
    """A NIfTI file opened (header read and checked, voxels not); every problem is an error naming the file."""
    check_file(path)
    img: Any  # a Nifti1Image; nibabel's stubs type `load` as any image format
    try:
        with nib.imageglobals.LoggingOutputSuppressor():  # nibabel prints its own header fixes
            img = nib.load(str(path))
    except Exception as e:  # nibabel, gzip and zlib raise many types for a damaged file
        raise file_error(path, f"cannot read as NIfTI ({type(e).__name__}: {e})") from None
    if 0 in img.shape:
        raise file_error(path, f"image has a zero-size dimension: shape {img.shape}")
    _check_header(img, path)
    return img


def read_nifti(path: str | Path, *, channels_allowed: bool = True) -> tuple[np.ndarray, Geometry]:
    """Read a NIfTI file fully → (array (C, X, Y, Z) in the file's dtype, Geometry); errors name the file."""
    path = Path(path)
    img = _open(path)
    try:
        data = np.asanyarray(img.dataobj)
        affine = np.asarray(img.affine, dtype=np.float64)
    except MemoryError:
        raise file_error(path, f"not enough memory to read its {np.prod(img.shape):,} voxels "
                         f"({img.get_data_dtype()})") from None
    except Exception as e:
        raise file_error(path, f"cannot read as NIfTI ({type(e).__name__}: {e})") from None
    data = _to_3d(np.asarray(data), path, channels_allowed)
    if 0 in data.shape:
        raise file_error(path, f"image has a zero-size dimension: shape {data.shape[1:]}")
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise file_error(path, "affine is singular or not finite")
    return data, Geometry.of(data.shape[1:], affine)


Images = str | Path | Sequence[str | Path]  # one image file (its channels inside), or one file per channel (nnU-Net)


def channel_files(images: Images) -> list[Path]:
    """The files of an image: itself, or its channel files in order."""
    return [Path(images)] if isinstance(images, (str, Path)) else [Path(p) for p in images]


def _same_grid(first: Path, geom: Geometry, other: Path, other_geom: Geometry) -> None:
    """Channel files of one image must share one grid."""
    if other_geom.shape != geom.shape or not np.allclose(other_geom.affine_array, geom.affine_array, atol=1e-3):
        raise file_error(other, f"is not on the grid of {first.name}, the image's first channel (shape "
                         f"{other_geom.shape} vs {geom.shape}, or another affine)")


def read_header(images: Images) -> tuple[tuple[int, ...], Geometry]:
    """Shape (C, X, Y, Z) and Geometry of an image (or its channel files) from headers alone, without reading voxels."""
    files = channel_files(images)
    shape, geom = _read_header(files[0])
    for f in files[1:]:
        more, g = _read_header(f)
        _same_grid(files[0], geom, f, g)
        shape = (shape[0] + more[0], *shape[1:])
    return shape, geom


def _read_header(path: Path) -> tuple[tuple[int, ...], Geometry]:
    path = Path(path)
    img = _open(path)
    shape = _to_3d(np.broadcast_to(np.float32(0), img.shape), path, True).shape  # a view: no voxel memory
    affine = np.asarray(img.affine, dtype=np.float64)
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise file_error(path, "affine is singular or not finite")
    return shape, Geometry.of(shape[1:], affine)


def read_shape(images: Images) -> tuple[int, ...]:
    """Shape (C, X, Y, Z) of a NIfTI image (or its channel files) from headers alone; errors name the file."""
    return read_header(images)[0]


def check_intensities(image: np.ndarray, path: str | Path) -> None:
    """NaN, Inf or magnitudes beyond MAX_ABS_INTENSITY are an error naming the file (one pass, no copy)."""
    lo, hi = float(np.min(image)), float(np.max(image))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise file_error(path, f"{int(np.count_nonzero(~np.isfinite(image)))} voxel(s) are NaN or Inf")
    if max(-lo, hi) > MAX_ABS_INTENSITY:
        raise file_error(path, f"intensities reach {lo if -lo > hi else hi:.3g}, beyond ±{MAX_ABS_INTENSITY:.0e}: "
                         "normalisation in float32 cannot handle them (a wrong scale factor in the header?)")


def read_image(images: Images) -> tuple[np.ndarray, Geometry]:
    """Read an image, or its channel files stacked → (float32 (C, X, Y, Z), Geometry); NaN, Inf and absurd
    intensities are errors naming the file."""
    files = channel_files(images)
    parts, geom = [], None
    for f in files:
        data, g = read_nifti(f)
        check_intensities(data, f)  # in the file's type, before float32 could turn huge values into Inf
        if geom is None:
            geom = g
        else:
            _same_grid(files[0], geom, f, g)
        parts.append(data.astype(np.float32, copy=False))
    assert geom is not None
    return (parts[0] if len(parts) == 1 else np.concatenate(parts)), geom


def read_label(path: str | Path) -> tuple[np.ndarray, Geometry]:
    """Read a label map → (integer (X, Y, Z): uint8, or int32 for values ≥ 256; never wrapped), Geometry."""
    data, geom = read_nifti(path, channels_allowed=False)
    data = data[0]
    if not np.issubdtype(data.dtype, np.integer):
        if not np.all(np.isfinite(data)):
            raise file_error(path, "label map contains NaN or Inf")
        rounded = np.rint(data)
        if not np.array_equal(rounded, data):
            raise file_error(path, "label map has non-integer values (labels must be whole numbers)")
        data = rounded
    lo, hi = data.min(), data.max()
    if lo < 0:
        raise file_error(path, f"label map has negative values (min {lo})")
    if hi > MAX_LABEL:
        raise file_error(path, f"label map has the value {hi:.6g}, too large for a class index (at most {MAX_LABEL})")
    return data.astype(np.uint8 if hi < 256 else np.int32, copy=False), geom


def write_nifti(path: str | Path, data: np.ndarray, affine: np.ndarray | Geometry) -> None:
    """Write (X, Y, Z) or (C, X, Y, Z) data as NIfTI atomically; channels go last as in MSD."""
    if isinstance(affine, Geometry):
        affine = affine.affine_array
    arr = np.asarray(data)
    if arr.ndim == 4:
        arr = arr[0] if arr.shape[0] == 1 else np.moveaxis(arr, 0, 3)
    img = nib.Nifti1Image(arr, np.asarray(affine, dtype=np.float64))
    img.header.set_xyzt_units("mm")
    img.set_qform(img.affine, code=1)
    img.set_sform(img.affine, code=1)
    with atomic_path(path) as tmp:
        nib.save(img, str(tmp))
