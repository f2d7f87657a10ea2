"""NIfTI in and out, image geometry, and atomic writes (temporary name, then rename)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from segnas.errors import SegnasError, file_error


NIFTI = (".nii.gz", ".nii")  # file name endings read as NIfTI


@dataclass(frozen=True)
class Geometry:
    """Where a voxel grid sits in the world: spatial shape (3 axes) and the 4×4 affine."""

    shape: tuple[int, int, int]
    affine: tuple[tuple[float, ...], ...]

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size along each array axis, in mm (column norms of the affine)."""
        a = np.asarray(self.affine)[:3, :3]
        return tuple(float(s) for s in np.linalg.norm(a, axis=0))  # type: ignore[return-value]

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
        return cls(tuple(int(s) for s in shape), tuple(tuple(float(v) for v in r) for r in affine))  # type: ignore[arg-type]


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


def _open(path: Path) -> Any:
    """A NIfTI file opened (header read, voxels not); missing, unreadable or zero-size is an error naming it."""
    if not path.is_file():
        raise file_error(path, "file does not exist")
    try:
        img = nib.load(str(path))
    except Exception as e:  # nibabel, gzip and zlib raise many types for a damaged file
        raise file_error(path, f"cannot read as NIfTI ({type(e).__name__}: {e})") from None
    if 0 in img.shape:
        raise file_error(path, f"image has a zero-size dimension: shape {img.shape}")
    return img


def read_nifti(path: str | Path, *, channels_allowed: bool = True) -> tuple[np.ndarray, Geometry]:
    """Read a NIfTI file fully → (array (C, X, Y, Z) in the file's dtype, Geometry); errors name the file."""
    path = Path(path)
    img = _open(path)
    try:
        data = np.asanyarray(img.dataobj)
        affine = np.asarray(img.affine, dtype=np.float64)
    except Exception as e:
        raise file_error(path, f"cannot read as NIfTI ({type(e).__name__}: {e})") from None
    data = _to_3d(np.asarray(data), path, channels_allowed)
    if 0 in data.shape:
        raise file_error(path, f"image has a zero-size dimension: shape {data.shape[1:]}")
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise file_error(path, "affine is singular or not finite")
    return data, Geometry.of(data.shape[1:], affine)


def read_shape(path: str | Path) -> tuple[int, ...]:
    """Shape (C, X, Y, Z) of a NIfTI image from its header alone, without reading voxels; errors name the file."""
    path = Path(path)
    return _to_3d(np.broadcast_to(np.float32(0), _open(path).shape), path, True).shape  # a view: no voxel memory


def read_image(path: str | Path) -> tuple[np.ndarray, Geometry]:
    """Read an image → (float32 (C, X, Y, Z), Geometry)."""
    data, geom = read_nifti(path)
    return data.astype(np.float32, copy=False), geom


def read_label(path: str | Path) -> tuple[np.ndarray, Geometry]:
    """Read a label map → (integer (X, Y, Z), Geometry); non-integer values are an error."""
    data, geom = read_nifti(path, channels_allowed=False)
    data = data[0]
    if not np.issubdtype(data.dtype, np.integer):
        if not np.all(np.isfinite(data)):
            raise file_error(path, "label map contains NaN or Inf")
        rounded = np.rint(data)
        if not np.array_equal(rounded, data):
            raise file_error(path, "label map has non-integer values (labels must be whole numbers)")
        data = rounded
    if data.min() < 0:
        raise file_error(path, f"label map has negative values (min {data.min()})")
    return data.astype(np.uint8 if data.max() < 256 else np.int16, copy=False), geom


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


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes) or ".tmp"  # keep .nii.gz so writers pick the right format
    fd, name = tempfile.mkstemp(prefix=f".{path.name.split('.')[0]}.", suffix=".part" + suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def check_writable(folder: str | Path, what: str = "folder") -> None:
    """Create `folder` if needed and prove a file can be written there; a clear error when not."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise SegnasError(f"{folder}: {what} is not writable ({e.strerror})") from None


def remove_partials(folder: str | Path) -> int:
    """Delete temporary files that a killed writer left in `folder` (never finished files); returns how many."""
    folder = Path(folder)
    stale = [p for p in folder.glob(".*.part*") if p.is_file()] if folder.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically, indented for people to read."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")


def read_json(path: str | Path) -> Any:
    """Read JSON; a missing or malformed file is an error naming it and the line."""
    path = Path(path)
    if not path.is_file():
        raise file_error(path, "file does not exist")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise file_error(path, f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise file_error(path, f"cannot read ({e})") from None


def save_npy(path: str | Path, array: np.ndarray) -> None:
    """Save a .npy array atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)
