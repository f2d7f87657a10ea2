"""Atomic checkpoints and the random-number state that makes a resumed run continue exactly."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segnas.errors import SegnasError
from segnas.io import atomic_path


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU and CUDA) generator states."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of `rng_state`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


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
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # truncated zip, pickle errors, …
        raise SegnasError(f"{path}: checkpoint is damaged or not a segnas checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or state.get("kind") != kind:
        raise SegnasError(f"{path}: not a segnas {kind} checkpoint")
    return state
