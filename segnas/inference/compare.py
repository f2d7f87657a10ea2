"""Two models' held-out results compared case by case: for each class's Dice and HD95 and for the mean foreground
Dice, both means, the mean and median paired difference, how many cases each model wins, and the Wilcoxon
signed-rank p — the figures that say whether one network is better than another on the same cases, not only on
average. Read from `metrics.json` files (`segnas evaluate`, `segnas run`) or folders of `fold*/metrics.json`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from segnas.errors import Problem, SegnasError
from segnas.runtime.files import read_json

MEAN = "mean foreground"


def load_results(path: str | Path) -> tuple[dict[str, str], dict[str, dict[str, dict[str, float]]]]:
    """The labels {value: name} and, per case, {class name: {"dice", "hd95"}} of a metrics.json, or of every
    `fold*/metrics.json` in a folder (a cross-validation's held-out cases, each case once)."""
    path = Path(path)
    files = sorted(path.glob("fold*/metrics.json")) if path.is_dir() else [path]
    if path.is_dir() and not files:
        raise SegnasError(f"{path}: no fold*/metrics.json in this folder; give a metrics.json or a folder of folds")
    labels: dict[str, str] | None = None
    cases: dict[str, dict[str, dict[str, float]]] = {}
    for f in files:
        if not f.is_file():
            raise SegnasError(f"{f}: no such file")
        try:
            metrics = read_json(f)
            found, rows = metrics["labels"], metrics["cases"]
            per_case = {r["case"]: {found[c]: {"dice": float(m["dice"]), "hd95": float(m["hd95"])} for c, m in r["classes"].items()}
                        for r in rows}
        except (KeyError, TypeError, ValueError) as e:
            raise SegnasError(f"{f}: not a metrics.json of `segnas evaluate` ({type(e).__name__}: {e})") from None
        if labels is not None and found != labels:
            raise SegnasError(f"{f}: its classes {found} differ from those of {files[0]} ({labels})")
        twice = sorted(set(per_case) & set(cases))
        if twice:
            raise SegnasError(f"{f}: case(s) {', '.join(twice)} already scored in another fold of {path}")
        labels = found
        cases.update(per_case)
    if not cases:
        raise SegnasError(f"{path}: no cases scored")
    assert labels is not None
    return labels, cases


def paired(one: dict[str, float], two: dict[str, float]) -> dict[str, Any]:
    """Per-case scores of two models on the same cases: each mean (`means`: [one, two]), the mean (`delta`) and
    median difference two − one, how many cases two scores higher (`wins`), lower (`losses`) or the same, and the
    paired Wilcoxon signed-rank p (1 when every difference is 0; zero differences are dropped, as scipy's default)."""
    from scipy.stats import wilcoxon

    cases = sorted(one)
    diff = [two[c] - one[c] for c in cases]
    return {"means": [float(np.mean([d[c] for c in cases])) for d in (one, two)], "delta": float(np.mean(diff)),
            "median_delta": float(np.median(diff)), "wins": int(sum(d > 0 for d in diff)),
            "losses": int(sum(d < 0 for d in diff)), "cases": len(cases),
            "p": float(wilcoxon(diff).pvalue) if any(diff) else 1.0, "diff": diff}


def paired_panel(first: dict[str, float], second: dict[str, float], names: tuple[str, str],
                 colours: dict[str, str] | None = None, prefix: str = "") -> dict[str, Any]:
    """A panel of `segnas.runtime.plots.plot_paired`: the two models' per-case scores, noted with their paired figures."""
    vs = paired(first, second)
    return {"names": names, "first": first, "second": second, "colours": colours,
            "note": f"{prefix}{vs['delta']:+.3f} per case (median {vs['median_delta']:+.3f}),\n{vs['wins']}/{vs['cases']} higher, "
                    f"p = {vs['p']:.2g}"}


def by_group(cases: dict[str, float], pattern: str) -> dict[str, float]:
    """The mean of each group's cases, a group being what the regex `pattern` (its first group) finds in a case's
    name — a patient's frames or scans, which are not independent cases; a name it does not match is its own group."""
    groups: dict[str, list[float]] = {}
    for c, v in cases.items():
        found = re.search(pattern, c)
        groups.setdefault(found.group(1) if found and found.groups() else found.group(0) if found else c, []).append(v)
    return {g: float(np.mean(v)) for g, v in groups.items()}


def compare_results(first: str | Path, second: str | Path, group: str | None = None) -> dict[str, Any]:
    """`second` against `first` on the cases both scored: per class (Dice, HD95) and for the mean foreground Dice,
    with `group` (a regex) also per group of cases. The two must hold the same cases and classes."""
    labels_a, a = load_results(first)
    labels_b, b = load_results(second)
    if labels_a != labels_b:
        raise SegnasError(f"{second}: its classes {labels_b} differ from those of {first} ({labels_a})")
    if set(a) != set(b):
        problems = [Problem(str(first), f"case {c} is not in {second}") for c in sorted(set(a) - set(b))]
        problems += [Problem(str(second), f"case {c} is not in {first}") for c in sorted(set(b) - set(a))]
        raise SegnasError(f"{first} and {second} scored other cases: compare results on the same cases", problems)
    names = list(labels_a.values())

    def row(name: str, metric: str, one: dict[str, float], two: dict[str, float]) -> dict[str, Any]:
        found = paired(one, two)
        del found["diff"]  # the per-case figures are in `per_case`
        return {"class": name, "metric": metric, **found}

    rows = [row(n, m, {c: a[c][n][m] for c in a}, {c: b[c][n][m] for c in a}) for n in names for m in ("dice", "hd95")]
    mean_a = {c: float(np.mean([a[c][n]["dice"] for n in names])) for c in a}
    mean_b = {c: float(np.mean([b[c][n]["dice"] for n in names])) for c in a}
    rows.append(row(MEAN, "dice", mean_a, mean_b))
    summary: dict[str, Any] = {"first": str(first), "second": str(second), "cases": len(a), "rows": rows,
                               "per_case": {c: [mean_a[c], mean_b[c]] for c in sorted(a)}}
    if group:
        rows.append(row(MEAN, "dice per group", by_group(mean_a, group), by_group(mean_b, group)))
        summary.update(group=group, groups=rows[-1]["cases"])
    return summary


def mean_row(summary: dict[str, Any]) -> dict[str, Any]:
    """The comparison of the mean foreground Dice per case."""
    return next(r for r in summary["rows"] if r["class"] == MEAN and r["metric"] == "dice")


def compare_table(summary: dict[str, Any], names: tuple[str, str]) -> Table:
    """One row per class and metric: both means, the second's difference (mean, median), its wins and losses, p."""
    a, b = names
    t = Table(title=f"{b} against {a} on {summary['cases']} case(s)"
                    + (f" ({summary['groups']} groups by '{summary['group']}')" if "group" in summary else ""))
    t.add_column("class", no_wrap=True)
    t.add_column("metric", no_wrap=True)
    for col in (a, b, "Δ mean", "Δ median", "better", "p"):
        t.add_column(col, justify="right")
    for v in summary["rows"]:
        better = v["losses"] if v["metric"] == "hd95" else v["wins"]  # a shorter distance is better
        bold = "[bold]" if v["class"] == MEAN else ""
        t.add_row(f"{bold}{v['class']}", v["metric"], f"{v['means'][0]:.3f}", f"{v['means'][1]:.3f}", f"{v['delta']:+.3f}",
                  f"{v['median_delta']:+.3f}", f"{better}/{v['cases']}", f"{v['p']:.2g}")
    t.caption = (f"Δ: {b} − {a} per case; better: the cases {b} scores better (HD95, in mm: lower); p: paired Wilcoxon "
                 "signed-rank")
    return t
