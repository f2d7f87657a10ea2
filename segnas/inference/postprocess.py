"""Post-processing as nnU-Net does it: keep only the largest connected component — of the foreground as a whole,
then of each class — where that raises the mean Dice on validation cases. The decision is `postprocessing.json`;
`predict --postprocessing FILE` applies it. Components are face-, edge- and corner-connected (full connectivity)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from segnas.data.io import read_label
from segnas.errors import SegnasError
from segnas.inference.metrics import dice
from segnas.runtime.files import read_json, write_json


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest connected component of a boolean mask (all of it when it has one component or none)."""
    components, n = ndimage.label(mask, ndimage.generate_binary_structure(mask.ndim, mask.ndim))
    if n <= 1:
        return mask
    sizes = np.bincount(components.ravel())
    sizes[0] = 0
    return components == sizes.argmax()


def apply_rule(labels: np.ndarray, rule: dict[str, Any]) -> np.ndarray:
    """Label map with the decided components removed: outside the foreground's largest component everything is
    background (`foreground_as_one`), then each listed class keeps its largest component."""
    out = labels.copy()
    if rule.get("foreground_as_one"):
        out[~largest_component(out > 0)] = 0
    for c in rule.get("classes", []):
        mask = out == c
        out[mask & ~largest_component(mask)] = 0
    return out


def _mean_dice(pairs: Sequence[tuple[np.ndarray, np.ndarray]], classes: Sequence[int], rule: dict[str, Any]) -> dict[int, float]:
    """Mean Dice per class over the cases after `rule`."""
    scores: dict[int, list[float]] = {c: [] for c in classes}
    for pred, ref in pairs:
        p = apply_rule(pred, rule)
        for c in classes:
            scores[c].append(dice(p == c, ref == c))
    return {c: float(np.mean(v)) for c, v in scores.items()}


def decide(pairs: Sequence[tuple[Path, Path]], classes: Sequence[int]) -> dict[str, Any]:
    """The rule that raises the mean Dice on (prediction, reference) files: foreground as one first, then each class."""
    if not pairs:
        raise SegnasError("post-processing is decided on validation predictions: none were given")
    loaded = [(read_label(p)[0], read_label(r)[0]) for p, r in pairs]
    rule: dict[str, Any] = {"foreground_as_one": False, "classes": []}
    before = _mean_dice(loaded, classes, rule)
    best = before
    trial = {**rule, "foreground_as_one": True}
    after = _mean_dice(loaded, classes, trial)
    if np.mean(list(after.values())) > np.mean(list(best.values())):
        rule, best = trial, after
    for c in classes:
        trial = {**rule, "classes": [*rule["classes"], c]}
        after = _mean_dice(loaded, classes, trial)
        if after[c] > best[c]:
            rule, best = trial, after
    return {**rule, "cases": len(pairs), "dice_before": {str(c): v for c, v in before.items()},
            "dice_after": {str(c): v for c, v in best.items()}}


def decide_folder(pred_dir: str | Path, ref_dir: str | Path, out: str | Path | None = None) -> dict[str, Any]:
    """Decide on every prediction in `pred_dir` against the reference of the same name; writes `postprocessing.json`."""
    from segnas.inference.evaluate import labels_of, pair_folders
    pairs = pair_folders(pred_dir, ref_dir)
    classes = sorted(int(k) for k in labels_of(Path(ref_dir), None) if int(k) != 0)
    rule = decide(pairs, classes)
    write_json(out or Path(pred_dir) / "postprocessing.json", rule)
    return rule


def load_rule(path: str | Path) -> dict[str, Any]:
    """A `postprocessing.json`, checked."""
    rule = read_json(path)
    if (not isinstance(rule, dict) or not isinstance(rule.get("foreground_as_one"), bool)
            or not isinstance(rule.get("classes"), list) or not all(type(c) is int and c > 0 for c in rule["classes"])):
        raise SegnasError(f"{path}: not a post-processing rule (needs 'foreground_as_one': true/false and "
                          "'classes': a list of class numbers)")
    return rule
