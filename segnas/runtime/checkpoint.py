"""Atomic checkpoints and the random-number state that makes a resumed run continue exactly.

Checkpoints are loaded with `torch.load(weights_only=True)`: a run folder is something people share,
and a pickle may run code when it is unpickled. A checkpoint holds only tensors, numbers, strings and
containers of them (the NumPy generator state is stored as a tensor); checkpoints written before that
change held one NumPy array, which the allow-list below still admits.
"""

from __future__ import annotations

import logging
import pickle
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segnas.errors import SegnasError
from segnas.runtime.files import atomic_path, remove_partials
from segnas.runtime.staleness import FREE_SETTINGS
from segnas.runtime.workspace import RunFolder

# What checkpoints written before the NumPy state became a tensor contain besides tensors: one uint32 array.
# (numpy's stubs leave out its private `_core`, where those pickles point)
_LEGACY_GLOBALS: list[Any] = [np.ndarray, np.dtype, np.dtypes.UInt32DType, np._core.multiarray._reconstruct]  # type: ignore[attr-defined]

log = logging.getLogger(__name__)


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU and CUDA) generator states, as tensors and plain values."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    numpy_state = [name, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(gauss)]
    state = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of `rng_state`."""
    random.setstate(_tuples(state["python"]))
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.int64).astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuples(x: Any) -> Any:
    """Lists back to tuples, as `random.setstate` wants them."""
    return tuple(_tuples(v) for v in x) if isinstance(x, (list, tuple)) else x


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """torch.save to a temporary name, then rename: a kill never leaves a half-written checkpoint."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path, kind: str) -> dict[str, Any]:
    """Load a checkpoint written by `save_checkpoint`; a damaged or foreign file is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise SegnasError(f"{path}: no checkpoint to resume from")
    try:
        with torch.serialization.safe_globals(_LEGACY_GLOBALS):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"(?:GLOBAL|global:?) ([\w.]+)", str(e))
        if found is None:  # not a pickle at all: damage, reported below
            raise SegnasError(f"{path}: checkpoint is damaged or not a segnas checkpoint (not a torch file)") from None
        what = found.group(1)  # the restricted unpickler met a callable: loading it could run code
        raise SegnasError(f"{path}: refused: the checkpoint holds objects that could run code when loaded ({what}); "
                          "segnas checkpoints hold only tensors and plain values") from None
    except Exception as e:  # truncated zip, other damage
        raise SegnasError(f"{path}: checkpoint is damaged or not a segnas checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or state.get("kind") != kind:
        raise SegnasError(f"{path}: not a segnas {kind} checkpoint")
    return state


LENGTH_SETTINGS = frozenset({"epochs", "max_minutes"})  # may change when a run is deliberately continued for longer


def check_resumable(saved: dict[str, Any], current: dict[str, Any], path: Path, longer: bool = False) -> None:
    """Refuse to resume a run under other settings than it was started with (`longer`: but for its length)."""
    free = FREE_SETTINGS | (LENGTH_SETTINGS if longer else frozenset())
    changed = sorted(k for k in saved if k not in free and saved[k] != current.get(k))
    if changed:
        raise SegnasError(f"{path}: was made with other settings ({', '.join(changed)}); "
                          "resume with the same ones or start a new run")


def open_run(run: Path, kind: str, resume: bool, restore: Callable[[dict[str, Any]], int], main: bool) -> int:
    """The epoch a run starts at: after its checkpoint when resuming (0 if none was written yet); the main
    rank gets the folder, cleared of a killed writer's temporary files."""
    ckpt = RunFolder(run).checkpoint
    if resume and not ckpt.is_file():
        log.info("%s: no checkpoint yet; starting from the beginning", run)
    start = restore(load_checkpoint(ckpt, kind)) if resume and ckpt.is_file() else 0
    if main:
        run.mkdir(parents=True, exist_ok=True)
        remove_partials(run)
    return start
