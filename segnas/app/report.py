"""Readable tables of what a stage found or decided."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from rich.console import Console
from rich.table import Table

from segnas.data.plan import Plan
from segnas.data.validate import Report


def _range(values: list[float], fmt: str = "{:.3g}") -> str:
    lo, med, hi = np.min(values), np.median(values), np.max(values)
    return fmt.format(med) if lo == hi else f"{fmt.format(med)} ({fmt.format(lo)}–{fmt.format(hi)})"


def validation_table(report: Report) -> Table:
    """Summary of a validated dataset: cases, shapes, spacings, channels and labels (median (min–max))."""
    spec = report.spec
    assert spec is not None
    t = Table(title=f"{spec.name} — {report.root}", show_header=True)
    t.add_column("property")
    t.add_column("value")
    t.add_row("cases", f"{len(report.cases)} readable of {len(spec.cases)} listed")
    t.add_row("channels", f"{spec.in_channels}: " + ", ".join(spec.modalities))
    shapes = np.array([c.shape for c in report.cases])
    spacings = np.array([c.spacing for c in report.cases])
    t.add_row("shape (per axis)", " × ".join(_range(list(shapes[:, a]), "{:.0f}") for a in range(3)))
    t.add_row("spacing mm", " × ".join(_range(list(spacings[:, a])) for a in range(3)))
    counts: dict[int, int] = {}
    for c in report.cases:
        for v in c.labels_present:
            counts[v] = counts.get(v, 0) + 1
    t.add_row("labels (cases with it)", ", ".join(f"{k} {spec.labels.get(k, '?')} ({counts.get(k, 0)})" for k in sorted(spec.labels)[:12])
              + (" …" if len(spec.labels) > 12 else ""))
    return t


def print_notes(console: Console, notes: Iterable[str]) -> None:
    """What is odd in the data but not wrong (`Report.notes`, fingerprint.json's `notes`), a line each."""
    for note in notes:
        console.print(f"[yellow]note:[/] {note}")


def plan_table(plan: Plan) -> Table:
    """The decisions of a plan, one per row."""
    t = Table(title=f"plan — {plan.name}")
    t.add_column("decision")
    t.add_column("value")
    t.add_row("dims", f"{plan.dims}D" + (f" (slices along axis {plan.slice_axis})" if plan.dims == 2 else ""))
    t.add_row("target spacing mm", " × ".join(f"{s:.3g}" for s in plan.target_spacing))
    if plan.median_shape and plan.median_resampled_shape:
        t.add_row("median shape → resampled", " × ".join(f"{s:.0f}" for s in plan.median_shape) + "  →  "
                  + " × ".join(f"{s:.0f}" for s in plan.median_resampled_shape))
    t.add_row("patch size", " × ".join(str(p) for p in plan.patch_size))
    t.add_row("normalisation", ", ".join(f"{m}: {n['scheme']}" for m, n in zip(plan.modalities, plan.normalization)))
    t.add_row("classes", ", ".join(f"{k} {v}" for k, v in list(plan.labels.items())[:12]))
    return t
