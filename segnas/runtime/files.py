"""Files written atomically (temporary name, then rename) and read with errors that name them."""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from segnas.errors import SegnasError, file_error

MAX_JSON_BYTES = 200 * 10**6  # fingerprints of thousands of cases stay far below


def check_file(path: Path) -> None:
    """`path` is a regular file we may read; otherwise an error saying which of the ways it is not."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise file_error(path, f"is a symbolic link to {os.readlink(path)}, which does not exist") from None
        raise file_error(path, "file does not exist") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise file_error(path, "is a symbolic link loop (it points back to itself)") from None
        raise file_error(path, f"cannot be read ({e.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise file_error(path, "is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise file_error(path, "is not a regular file")
    if not os.access(path, os.R_OK):
        raise file_error(path, "permission denied: this user cannot read it")


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
        if tmp.exists():  # mkstemp makes it 0600; a file written normally follows the umask
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    """The process's umask (reading it means setting it, so set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
    check_file(path)
    if path.stat().st_size > MAX_JSON_BYTES:
        raise file_error(path, f"is {path.stat().st_size / 1e6:.0f} MB; a segnas JSON file is at most {MAX_JSON_BYTES // 10**6} MB")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise file_error(path, f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except RecursionError:
        raise file_error(path, "JSON nested too deeply") from None
    except ValueError as e:  # e.g. an integer of thousands of digits
        raise file_error(path, f"not usable JSON ({e})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise file_error(path, f"cannot read ({e})") from None


def save_npy(path: str | Path, array: np.ndarray) -> None:
    """Save a .npy array atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)

