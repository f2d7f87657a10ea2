"""Plots of a search: losses and Dice over epochs, and each decision's probabilities over epochs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segnas.io import atomic_path


def _save(fig: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    return path


def plot_search(records: list[dict[str, Any]], choices: dict[str, list[str]], out_dir: Path) -> list[Path]:
    """`losses.png` and one `probabilities_<cell>.png` per cell type (a panel per decision, a line per candidate)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    epochs = [r["epoch"] for r in records]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    for k, style in (("train_loss", "-"), ("arch_loss", "--")):
        if any(k in r for r in records):
            a.plot(epochs, [r.get(k, float("nan")) for r in records], style, label=k.replace("_", " "))
    a.set_xlabel("epoch"), a.set_ylabel("loss"), a.legend()
    for k, style in (("train_dice", "-"), ("arch_dice", "--")):
        if any(k in r for r in records):
            b.plot(epochs, [r.get(k, float("nan")) for r in records], style, label=k.replace("_", " "))
    b.set_xlabel("epoch"), b.set_ylabel("Dice"), b.set_ylim(0, 1), b.legend()
    written.append(_save(fig, out_dir / "losses.png"))
    plt.close(fig)

    kinds: dict[str, list[str]] = {}
    logged = {k for r in records for k in r.get("probabilities", {})}
    for label in choices:
        if label in logged:  # a strategy without input weights logs no probabilities for input choices
            kinds.setdefault(label.split("/")[0], []).append(label)
    for kind, labels in kinds.items():
        cols = 5
        rows = -(-len(labels) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.2 * rows), squeeze=False, sharey=True)
        for ax, label in zip(axes.flat, labels):
            series = [r["probabilities"].get(label) for r in records if r.get("probabilities")]
            if series and series[0] is not None:
                for i, name in enumerate(choices[label]):
                    ax.plot(epochs[-len(series):], [s[i] for s in series], label=name)
            ax.set_title(label.split("/", 1)[1], fontsize=8)
            ax.tick_params(labelsize=7)
            if choices[label][0] == "in0":  # an input choice: its own legend
                ax.legend(fontsize=6)
        for ax in list(axes.flat)[len(labels):]:
            ax.axis("off")
        handles, names = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="lower center", ncol=min(len(names), 9), fontsize=8, bbox_to_anchor=(0.5, -0.02))
        fig.suptitle(f"{kind} cell: probability of each candidate over epochs", fontsize=10)
        fig.subplots_adjust(hspace=0.55)
        written.append(_save(fig, out_dir / f"probabilities_{kind}.png"))
        plt.close(fig)
    return written
