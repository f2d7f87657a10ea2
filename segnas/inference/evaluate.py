"""Evaluate predictions against references: per case and class Dice and HD95 → `metrics.json`; folds → `cv_summary.json`.

Every reference needs a prediction of the same name and geometry; a missing or misaligned one is
reported by name and nothing is written (never silently skipped). Conventions: see `segnas.inference.metrics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from segnas.data.io import NIFTI, read_label
from segnas.data.msd import case_id_of, load_dataset
from segnas.errors import Problem, SegnasError, as_problem
from segnas.inference.metrics import __doc__ as CONVENTIONS
from segnas.inference.metrics import case_metrics, majority_dice
from segnas.runtime.files import read_json, write_json
from segnas.runtime.parallel import pmap


def pair_folders(pred_dir: str | Path, ref_dir: str | Path) -> list[tuple[Path, Path]]:
    """(prediction, reference) pairs matched by case name (extension ignored); a missing prediction is an error."""
    pred_dir, ref_dir = Path(pred_dir), Path(ref_dir)
    for d in (pred_dir, ref_dir):
        if not d.is_dir():
            raise SegnasError(f"{d}: no such folder")
    refs = sorted(p for p in ref_dir.iterdir() if p.name.endswith(NIFTI) and not p.name.startswith("."))
    if not refs:
        raise SegnasError(f"{ref_dir}: holds no NIfTI reference label maps")
    preds = {case_id_of(p): p for p in pred_dir.iterdir() if p.name.endswith(NIFTI) and not p.name.startswith(".")}
    missing = [Problem(str(pred_dir / r.name), f"no prediction for reference {r}") for r in refs if case_id_of(r) not in preds]
    if missing:
        raise SegnasError(f"{pred_dir}: {len(missing)} prediction(s) missing", missing)
    return [(preds[case_id_of(r)], r) for r in refs]


def _load_pair(pair: tuple[Path, Path]) -> tuple[np.ndarray, np.ndarray, Any] | Problem:
    pred_path, ref_path = pair
    try:
        pred, pg = read_label(pred_path)
        ref, rg = read_label(ref_path)
    except SegnasError as e:
        return as_problem(e, pred_path)
    if pg.shape != rg.shape:
        return Problem(str(pred_path), f"shape {pg.shape} differs from the reference's {rg.shape} ({ref_path})")
    if not np.allclose(pg.affine_array, rg.affine_array, atol=1e-3):
        return Problem(str(pred_path), f"affine differs from the reference's ({ref_path}): not in the same space")
    return pred, ref, rg


def _evaluate_pair(job: tuple[tuple[Path, Path], list[int]]) -> dict[str, Any] | Problem:
    pair, classes = job
    loaded = _load_pair(pair)
    if isinstance(loaded, Problem):
        return loaded
    pred, ref, geom = loaded
    trivial = majority_dice(ref, classes)
    return {"case": case_id_of(pair[1]), "prediction": str(pair[0]), "reference": str(pair[1]),
            "classes": {str(c): {**m, "majority_dice": trivial[c]} for c, m in case_metrics(pred, ref, classes, geom.spacing).items()}}


def evaluate_pairs(pairs: Sequence[tuple[Path, Path]], labels: dict[str, str], out: str | Path | None = None,
                   workers: int = 1, show_progress: bool = True) -> dict[str, Any]:
    """Metrics of (prediction, reference) pairs for the foreground `labels` {value: name}; written to `out` if given."""
    classes = sorted(int(k) for k in labels if int(k) != 0)
    results = list(pmap(_evaluate_pair, [(p, classes) for p in pairs], workers, "evaluate", show_progress))
    problems = [r for r in results if isinstance(r, Problem)]
    if problems:
        raise SegnasError(f"{len(problems)} prediction(s) cannot be evaluated", problems)
    cases = [r for r in results if not isinstance(r, Problem)]
    mean = {}
    for c in classes:
        d = [r["classes"][str(c)]["dice"] for r in cases]
        h = [r["classes"][str(c)]["hd95"] for r in cases]
        mean[labels.get(str(c), str(c))] = {"dice": float(np.mean(d)), "dice_sd": float(np.std(d)),
                                            "hd95": float(np.mean(h)), "hd95_sd": float(np.std(h)),
                                            "majority_dice": float(np.mean([r["classes"][str(c)]["majority_dice"] for r in cases]))}
    summary = {"conventions": " ".join(CONVENTIONS.split()), "labels": {str(c): labels.get(str(c), str(c)) for c in classes},
               "cases": cases, "mean": mean,
               "mean_foreground_dice": float(np.mean([m["dice"] for m in mean.values()])) if mean else float("nan"),
               "mean_foreground_majority_dice": float(np.mean([m["majority_dice"] for m in mean.values()])) if mean else float("nan")}
    if out is not None:
        write_json(out, summary)
    return summary


def labels_of(ref_dir: Path, dataset_json: str | Path | None) -> dict[str, str]:
    """Class names from a dataset.json (its folder or the file), else the values found in the references."""
    if dataset_json is not None:
        path = Path(dataset_json)
        spec = load_dataset(path.parent if path.name == "dataset.json" else path)
        return {str(k): v for k, v in spec.labels.items()}
    values: set[int] = set()
    for p in sorted(ref_dir.iterdir()):
        if p.name.endswith(NIFTI):
            values |= {int(v) for v in np.unique(read_label(p)[0])}
    return {str(v): str(v) for v in sorted(values | {0})}


def evaluate_folders(pred_dir: str | Path, ref_dir: str | Path, dataset_json: str | Path | None = None,
                     out: str | Path | None = None, workers: int = 1) -> dict[str, Any]:
    """Evaluate every reference in `ref_dir` against the prediction of the same name; writes `out` (default PRED/metrics.json)."""
    pairs = pair_folders(pred_dir, ref_dir)
    return evaluate_pairs(pairs, labels_of(Path(ref_dir), dataset_json), out or Path(pred_dir) / "metrics.json", workers)


def metrics_table(summary: dict[str, Any], title: str = "validation") -> Table:
    """Per-case Dice and HD95 per class, the mean row, and the trivial prediction's Dice (what a score must beat)."""
    names = list(summary["labels"].values())
    t = Table(title=title)
    t.add_column("case")
    for n in names:
        t.add_column(f"{n} Dice", justify="right")
        t.add_column(f"{n} HD95 mm", justify="right")
    for r in summary["cases"]:
        t.add_row(r["case"], *[f"{r['classes'][c][k]:.3f}" if k == "dice" else f"{r['classes'][c][k]:.2f}"
                               for c in summary["labels"] for k in ("dice", "hd95")])
    t.add_row("[bold]mean[/]", *[f"[bold]{summary['mean'][n]['dice']:.3f}[/]" if k == "dice" else f"{summary['mean'][n]['hd95']:.2f}"
                                 for n in names for k in ("dice", "hd95")], end_section=True)
    if all("majority_dice" in summary["mean"][n] for n in names):  # absent from metrics.json files made before it
        t.add_row("[dim]majority label everywhere[/]", *[f"[dim]{summary['mean'][n]['majority_dice']:.3f}[/]" if k == "dice" else ""
                                                        for n in names for k in ("dice", "hd95")])
    return t


def cross_validation(folder: str | Path) -> dict[str, Any]:
    """Aggregate `fold*/metrics.json` in `folder` → `cv_summary.json`: per class, mean ± sd over all held-out cases
    and the mean of each fold."""
    folder = Path(folder)
    files = sorted(folder.glob("fold*/metrics.json"))
    if not files:
        raise SegnasError(f"{folder}: no fold*/metrics.json to aggregate; evaluate the folds first")
    folds = {f.parent.name: read_json(f) for f in files}
    labels = next(iter(folds.values()))["labels"]
    per_class = {}
    for c, name in labels.items():
        d = [r["classes"][c]["dice"] for m in folds.values() for r in m["cases"]]
        h = [r["classes"][c]["hd95"] for m in folds.values() for r in m["cases"]]
        per_class[name] = {"dice": float(np.mean(d)), "dice_sd": float(np.std(d)), "hd95": float(np.mean(h)),
                           "hd95_sd": float(np.std(h)), "dice_per_fold": {k: m["mean"][name]["dice"] for k, m in folds.items()}}
    summary = {"folds": list(folds), "cases": sum(len(m["cases"]) for m in folds.values()), "classes": per_class,
               "mean_foreground_dice": float(np.mean([v["dice"] for v in per_class.values()]))}
    write_json(folder / "cv_summary.json", summary)
    return summary


def cv_table(summary: dict[str, Any], title: str = "cross-validation") -> Table:
    """Mean ± sd per class over the held-out cases of all folds."""
    t = Table(title=f"{title}: {summary['cases']} held-out case(s) in {len(summary['folds'])} fold(s)")
    for col in ("class", "Dice", "HD95 mm", "Dice per fold"):
        t.add_column(col, justify="left" if col == "class" else "right")
    for name, v in summary["classes"].items():
        t.add_row(name, f"{v['dice']:.3f} ± {v['dice_sd']:.3f}", f"{v['hd95']:.2f} ± {v['hd95_sd']:.2f}",
                  " ".join(f"{x:.3f}" for x in v["dice_per_fold"].values()))
    t.add_row("[bold]mean foreground[/]", f"[bold]{summary['mean_foreground_dice']:.3f}[/]", "", "")
    return t
