"""`segnas report RUN`: one HTML page per run folder, with its PNGs beside it in `RUN/report/` — the run's
plots (learning curves, decision probabilities, found cells; a race's candidate, the race drawn), its summary, the
per-case metrics of its held-out predictions and overlays of image / reference / prediction on the slice of most reference
foreground of the best, median and worst case (the kind of figure the SCNAS paper shows)."""

from __future__ import annotations

import html
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from segnas.data.io import read_image, read_label
from segnas.data.plan import Plan
from segnas.errors import SegnasError
from segnas.runtime.files import atomic_path, read_json
from segnas.runtime.workspace import RaceFolder, RunFolder

LOADED_CHECK = """<script>
window.addEventListener("load", () => {  // for tests in a headless browser: how many images really decoded
  const images = Array.from(document.images);
  document.body.dataset.images = images.length;
  document.body.dataset.loaded = images.filter(i => i.complete && i.naturalWidth > 0).length;
});
</script>"""


def _metrics_of(run: Path, config: dict[str, Any]) -> Path | None:
    """The held-out metrics of a training run made by `segnas run`: WORK/predictions/<preset>/fold<F>/metrics.json."""
    if "work" not in config or "preset" not in config:
        return None
    path = Path(config["work"]) / "predictions" / config["preset"] / f"fold{config.get('fold', 0)}" / "metrics.json"
    return path if path.is_file() else None


def case_dice(case: dict[str, Any]) -> float:
    """Mean foreground Dice of one case of a metrics.json."""
    return float(np.mean([v["dice"] for v in case["classes"].values()]))


def overlay(image_path: Any, ref_path: Path, pred_path: Path, out: Path, title: str) -> Path:
    """Three panels on the reference's fullest slice (last axis): image, reference over it, prediction over it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    image = read_image(image_path)[0][0]
    ref, pred = read_label(ref_path)[0], read_label(pred_path)[0]
    axis = int(np.argmin(ref.shape)) if min(ref.shape) == 1 else 2
    k = int(np.argmax((ref > 0).sum(axis=tuple(a for a in range(3) if a != axis))))
    def take(a: np.ndarray) -> np.ndarray:
        return np.take(a, k, axis=axis).T  # x to the right, y up
    colours = ListedColormap([(0, 0, 0, 0), (1, 0.2, 0.2, 0.5), (0.2, 0.6, 1, 0.5), (1, 0.9, 0.1, 0.5), (0.3, 1, 0.3, 0.5)])
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
    for ax, labels, name in zip(axes, (None, ref, pred), ("image", "reference", "prediction")):
        ax.imshow(take(image), cmap="gray", origin="lower")
        if labels is not None:
            ax.imshow(take(labels), cmap=colours, vmin=0, vmax=colours.N - 1, origin="lower", interpolation="nearest")
        ax.set_title(name), ax.axis("off")
    fig.suptitle(f"{title} (slice {k} along axis {axis})")
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=90, bbox_inches="tight", format="png")
    plt.close(fig)
    return out


def _table(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_report(run: str | Path, metrics: str | Path | None = None) -> Path:
    """Write RUN/report/index.html (and its PNGs) for a search or training run folder; returns the page."""
    run = Path(run)
    if not (RunFolder(run).config).is_file():
        raise SegnasError(f"{run}: not a run folder (no config.json)")
    config = read_json(RunFolder(run).config)
    out = run / "report"
    out.mkdir(exist_ok=True)
    parts = [f"<h1>{html.escape(run.name)}</h1>"]
    if (RunFolder(run).arch).is_file():
        from segnas.app.show import draw_cells
        from segnas.nas.arch import load_architecture
        arch = load_architecture(RunFolder(run).arch)
        if arch.values:
            draw_cells(arch, run)
        parts.append(f"<p>architecture: space <code>{html.escape(arch.space)}</code>, "
                     f"{len(arch.values)} decisions (<code>arch.json</code>)</p>")
    if (RunFolder(run).summary).is_file():
        summary = read_json(RunFolder(run).summary)
        parts.append("<h2>Summary</h2>" + _table([[html.escape(k), html.escape(str(v))] for k, v in summary.items()], ["", ""]))
    plots = sorted(run.glob("*.png"))
    raced = RaceFolder(run.parent.parent).figure  # a race's candidate trains in race/fold<F>/runs/<name>
    if run.parent.name == "runs" and raced.is_file():
        plots.append(raced)
    if plots:
        parts.append("<h2>Plots</h2>")
        for png in plots:
            shutil.copy(png, out / png.name)
            parts.append(f'<figure><img src="{png.name}" alt="{png.stem}"><figcaption>{png.stem}</figcaption></figure>')
    metrics_path = Path(metrics) if metrics is not None else _metrics_of(run, config)
    if metrics_path is not None:
        m = read_json(metrics_path)
        names = list(m["labels"].values())
        rows = [[html.escape(c["case"]), *[f"{c['classes'][k]['dice']:.3f}" for k in m["labels"]],
                 *[f"{c['classes'][k]['hd95']:.2f}" for k in m["labels"]]] for c in m["cases"]]
        parts.append(f"<h2>Held-out cases ({html.escape(str(metrics_path))})</h2>"
                     + _table(rows, ["case", *[f"{n} Dice" for n in names], *[f"{n} HD95 mm" for n in names]]))
        ranked = sorted(m["cases"], key=case_dice)
        picks = {"worst": ranked[0], "median": ranked[len(ranked) // 2], "best": ranked[-1]}
        plan = Plan.from_json(read_json(RunFolder(run).plan), RunFolder(run).plan) if RunFolder(run).plan.is_file() else None
        parts.append("<h2>Best, median and worst case</h2>")
        for name, case in picks.items():
            image = _image_of(case, plan)
            if image is None:
                continue
            png = overlay(image, Path(case["reference"]), Path(case["prediction"]), out / f"overlay_{name}.png",
                          f"{name}: {case['case']}, mean Dice {case_dice(case):.3f}")
            parts.append(f'<figure><img src="{png.name}" alt="{name} case"><figcaption>{name}: '
                         f'{html.escape(case["case"])}</figcaption></figure>')
    page = out / "index.html"
    style = "body{font-family:sans-serif;max-width:1100px;margin:2em auto}img{max-width:100%}td,th{padding:2px 8px;text-align:right}"
    with atomic_path(page) as tmp:
        tmp.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(run.name)}</title>"
                       f"<style>{style}</style>{LOADED_CHECK}</head><body>{''.join(parts)}</body></html>")
    return page


def _image_of(case: dict[str, Any], plan: Plan | None) -> Any:
    """The image files of an evaluated case, from the dataset its plan was made for (None when not found)."""
    if plan is None:
        return None
    from segnas.data.msd import load_dataset
    try:
        return load_dataset(plan.dataset).case(case["case"]).images
    except SegnasError:
        return None
