"""Cross-validation folds by case (or by patient), and inside each fold the search split.

Search runs inside a training fold: the fold's training cases are split again (default 4:1) into
weight-training cases (`search_train`) and architecture-validation cases (`search_val`), so the
fold's `val` cases never steer a search.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segnas.errors import SegnasError
from segnas.runtime.files import read_json
from segnas.runtime.workspace import Workspace

log = logging.getLogger(__name__)
CASE_LISTS = ("train", "val", "search_train", "search_val")


@dataclass(frozen=True)
class Fold:
    """One cross-validation fold: its training and held-out cases, and the training cases split again for search."""

    fold: int
    train: tuple[str, ...]
    val: tuple[str, ...]
    search_train: tuple[str, ...]
    search_val: tuple[str, ...]

    @classmethod
    def from_json(cls, obj: Any, where: str | Path, index: int) -> Fold:
        """A fold of `splits.json`, checked; errors name the file and the key."""
        for key in CASE_LISTS:
            if not isinstance(obj, dict) or not isinstance(obj.get(key), list) or not all(isinstance(c, str) for c in obj[key]):
                raise SegnasError(f"{where}: every fold needs a list '{key}' of case ids")
        return cls(int(obj.get("fold", index)), *(tuple(obj[k]) for k in CASE_LISTS))

    def to_json(self) -> dict[str, Any]:
        """The fold as `splits.json` holds it."""
        return {"fold": self.fold, **{k: list(getattr(self, k)) for k in CASE_LISTS}}


@dataclass(frozen=True)
class Splits:
    """`splits.json`: the folds and how they were made."""

    folds: tuple[Fold, ...]
    seed: int | None = None
    search_ratio: float | None = None
    group_pattern: str | None = None

    @classmethod
    def from_json(cls, obj: Any, where: str | Path) -> Splits:
        """Check and read `splits.json`'s object."""
        if not isinstance(obj, dict) or not isinstance(obj.get("folds"), list) or not obj["folds"]:
            raise SegnasError(f"{where}: must be an object with a non-empty 'folds' list")
        folds = tuple(Fold.from_json(f, where, i) for i, f in enumerate(obj["folds"]))
        return cls(folds, obj.get("seed"), obj.get("search_ratio"), obj.get("group_pattern"))

    def to_json(self) -> dict[str, Any]:
        """The object written as `splits.json`."""
        return {"seed": self.seed, "search_ratio": self.search_ratio, "group_pattern": self.group_pattern,
                "folds": [f.to_json() for f in self.folds]}


def group_cases(case_ids: list[str], pattern: str | None) -> dict[str, list[str]]:
    """Group case ids by the first regex group of `pattern` (e.g. `(patient\\d+)`); each case alone if None."""
    groups: dict[str, list[str]] = {}
    rx = re.compile(pattern) if pattern else None
    for cid in sorted(case_ids):
        m = rx.search(cid) if rx else None
        key = (m.group(1) if m.groups() else m.group(0)) if m else cid
        groups.setdefault(key, []).append(cid)
    return groups


DEFAULT_FOLDS = 5


def make_splits(case_ids: list[str], folds: int | None = None, seed: int = 0, search_ratio: float = 0.8,
                group_pattern: str | None = None) -> dict[str, Any]:
    """k folds over groups of cases (seeded, independent of listing order), each with a search split;
    `folds` None: 5, or one per group when there are fewer (said in the log)."""
    if not 0 < search_ratio < 1:
        raise SegnasError(f"search ratio must be between 0 and 1, not {search_ratio}")
    groups = group_cases(case_ids, group_pattern)
    keys = sorted(groups)
    if len(keys) < 2:
        raise SegnasError(f"cannot split {len(case_ids)} case(s) in {len(keys)} group(s): at least 2 are needed")
    if folds is None:
        folds = min(DEFAULT_FOLDS, len(keys))
        if folds < DEFAULT_FOLDS:
            log.warning("%d case group(s): %d folds instead of %d (set --num-folds to choose)", len(keys), folds, DEFAULT_FOLDS)
    if folds < 2:
        raise SegnasError("at least 2 folds are needed")
    if folds > len(keys):
        raise SegnasError(f"{len(case_ids)} case(s) in {len(keys)} group(s) cannot make {folds} folds: "
                          f"each fold validates at least one; use --num-folds {len(keys)} or fewer")
    smallest = len(keys) - -(-len(keys) // folds)  # training groups of the fold with the most validation groups
    if smallest < 2:
        raise SegnasError(f"{len(case_ids)} case(s) in {len(keys)} group(s) are too few for {folds} folds: a fold would "
                          f"train on {smallest} group(s), and a search needs 2 (one trains weights, one scores "
                          f"architectures); {'use fewer folds or ' if folds > 2 else ''}add cases (at least 4 for 2 folds)")
    order = [keys[i] for i in np.random.default_rng(seed).permutation(len(keys))]
    out = []
    for f in range(folds):
        val_keys = order[f::folds]
        train_keys = [k for k in order if k not in set(val_keys)]
        rng = np.random.default_rng([seed, f])
        shuffled = [train_keys[i] for i in rng.permutation(len(train_keys))]
        n_weights = min(max(1, round(search_ratio * len(shuffled))), len(shuffled) - 1) if len(shuffled) > 1 else 1
        out.append({"fold": f, "train": _cases_of(train_keys, groups), "val": _cases_of(val_keys, groups),
                    "search_train": _cases_of(shuffled[:n_weights], groups), "search_val": _cases_of(shuffled[n_weights:], groups)})
    return {"seed": seed, "search_ratio": search_ratio, "group_pattern": group_pattern, "folds": out}


def _cases_of(keys: list[str], groups: dict[str, list[str]]) -> list[str]:
    """The sorted cases of these groups."""
    return sorted(c for k in keys for c in groups[k])


def load_splits(work: Workspace, case_ids: list[str] | None = None) -> Splits:
    """Read `splits.json`; with `case_ids`, check that every listed case exists."""
    path = work.require(work.splits, "plan")
    splits = Splits.from_json(read_json(path), path)
    for f in splits.folds if case_ids is not None else ():
        for key in CASE_LISTS:
            unknown = sorted(set(getattr(f, key)) - set(case_ids or ()))
            if unknown:
                raise SegnasError(f"{path}: fold {f.fold} '{key}' names unknown case(s) {unknown[:5]}")
    return splits


def load_fold(work: Workspace, fold: int) -> Fold:
    """One fold of `splits.json`; a fold that does not exist is an error naming the file."""
    folds = load_splits(work).folds
    if not 0 <= fold < len(folds):
        raise SegnasError(f"{work.splits}: there is no fold {fold} (folds 0..{len(folds) - 1})")
    return folds[fold]
