"""Plots of a search (losses and Dice over epochs, each decision's probabilities over epochs), a training and a race."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from segnas.runtime.files import atomic_path


def _save(fig: Any, path: Path) -> Path:
    """Write `fig` as a PNG atomically. Margins are the figure's own: a "tight" bounding box would draw it twice."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return path


def _pair(plt: Any) -> tuple[Any, Any, Any]:
    """A figure of two panels side by side with fixed margins that fit their labels and legends."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.88, wspace=0.22)
    return fig, a, b


def _handles(colours: list[str], names: list[str]) -> list[Any]:
    """Legend entries: a line of each candidate's colour."""
    from matplotlib.lines import Line2D

    return [Line2D([], [], color=c) for c in colours[:len(names)]]


def plot_search(records: list[dict[str, Any]], choices: dict[str, list[str]], out_dir: Path) -> list[Path]:
    """`losses.png` and one `probabilities_<cell>.png` per cell type (a panel per decision, a line per candidate)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.ticker import MaxNLocator

    colours = [c["color"] for c in plt.rcParams["axes.prop_cycle"]] * 4  # enough for any candidate list
    written = []
    epochs = [r["epoch"] for r in records]
    fig, a, b = _pair(plt)
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
        height = 2.2 * rows + 0.9  # the panels, and room for the title above and the legend below
        fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, height), squeeze=False, sharex=True, sharey=True)
        # One line collection per panel and a few ticks per axis: a search has dozens of panels of up to eight
        # lines, and matplotlib's per-line and per-tick objects made these figures most of a short search's time.
        axes[0, 0].xaxis.set_major_locator(MaxNLocator(3, integer=True))
        axes[0, 0].yaxis.set_major_locator(MaxNLocator(3))
        for ax, label in zip(axes.flat, labels):
            series = [r["probabilities"].get(label) for r in records if r.get("probabilities")]
            if series and series[0] is not None:
                x = epochs[-len(series):]
                ax.add_collection(LineCollection([list(zip(x, [s[i] for s in series])) for i in range(len(choices[label]))],
                                                 colors=colours[:len(choices[label])]))
                ax.autoscale_view()
            ax.set_title(label.split("/", 1)[1], fontsize=8, y=1.0)  # a fixed y: placing it measures every axis (slow)
            ax.tick_params(labelsize=7)
            if choices[label][0] == "in0":  # an input choice: its own legend
                ax.legend(_handles(colours, choices[label]), choices[label], fontsize=6)
        for i in range(len(labels), rows * cols):  # an empty panel: the one above it shows the epochs instead
            axes.flat[i].axis("off")
            if i >= cols:
                axes.flat[i - cols].tick_params(labelbottom=True)
        names = choices[labels[0]]
        fig.legend(_handles(colours, names), names, loc="lower center", ncol=min(len(names), 9), fontsize=8)
        fig.suptitle(f"{kind} cell: probability of each candidate over epochs", fontsize=10)
        fig.subplots_adjust(left=0.04, right=0.99, top=1 - 0.5 / height, bottom=0.65 / height, hspace=0.35, wspace=0.15)
        written.append(_save(fig, out_dir / f"probabilities_{kind}.png"))
        plt.close(fig)
    if any("decisions" in r for r in records):
        written.append(plot_decisions(records, out_dir))
    return written


def plot_decisions(records: list[dict[str, Any]], out_dir: Path) -> Path:
    """`decisions.png`: how decided the search is per epoch (entropy, margin, decided share, changes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(r["epoch"] + 1, r["decisions"]) for r in records if "decisions" in r]
    epochs = [e for e, _ in rows]
    fig, a, b = _pair(plt)
    a.plot(epochs, [d["mean_entropy"] for _, d in rows], label="mean entropy (1 = uniform)")
    a.plot(epochs, [d["mean_margin"] for _, d in rows], label="mean top-1 − top-2 margin")
    a.plot(epochs, [d["decided_share"] for _, d in rows], label="op decisions with top ≥ 2× uniform")
    a.axhline(0.6, color="grey", lw=0.8, ls=":")
    a.set_xlabel("epoch"), a.set_ylim(0, 1.02), a.legend(fontsize=8)
    b.bar(epochs, [d["changed"] for _, d in rows])
    b.set_xlabel("epoch"), b.set_ylabel("derived decisions changed")
    fig.suptitle("How decided the search is", fontsize=10)
    out = _save(fig, out_dir / "decisions.png")
    plt.close(fig)
    return out


def plot_training(records: list[dict[str, Any]], out_dir: Path) -> Path:
    """`learning_curve.png`: training loss, training Dice and validation Dice (mean and per class) over epochs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] + 1 for r in records]
    fig, a, b = _pair(plt)
    a.plot(epochs, [r["train_loss"] for r in records], label="training loss")
    a.set_xlabel("epoch"), a.set_ylabel("loss"), a.legend()
    b.plot(epochs, [r["train_dice"] for r in records], label="training Dice (patches)")
    val = [(r["epoch"] + 1, r) for r in records if "val_dice" in r]
    if val:
        b.plot([e for e, _ in val], [r["val_dice"] for _, r in val], "o-", label="validation Dice (mean)")
        for name in val[-1][1].get("val_dice_per_class", {}):
            b.plot([e for e, _ in val], [r["val_dice_per_class"].get(name, float("nan")) for _, r in val], "--", label=f"validation {name}")
    b.set_xlabel("epoch"), b.set_ylabel("Dice"), b.set_ylim(0, 1), b.legend(fontsize=8)
    path = _save(fig, out_dir / "learning_curve.png")
    plt.close(fig)
    return path


READING_COLOURS = {"labels": "tab:green", "learning speed": "tab:orange", "undecided": "lightgrey"}


def plot_placebo(rows: list[dict[str, Any]], path: Path) -> Path:
    """`placebo.png`: per op decision, the probability that the search's top candidate is best, on the labels (a bar
    coloured by what the decision is about) and on shuffled labels (a ring), with uniform and 2× uniform marked.
    Each row: label, search_top, search_p, placebo_p (of the search's top), placebo_top, placebo_top_p, uniform, about."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    few = len(rows) <= 12
    fig, ax = plt.subplots(figsize=(max(7.0, 1.7 * len(rows) + 1.0) if few else min(24.0, 0.22 * len(rows) + 3.0), 5.0),
                           layout="constrained")
    x = list(range(len(rows)))
    ax.bar(x, [r["search_p"] for r in rows], color=[READING_COLOURS[r["about"]] for r in rows], edgecolor="black", linewidth=0.5)
    ax.scatter(x, [r["placebo_p"] for r in rows], s=40, facecolors="none", edgecolors="black", zorder=3)
    other = [(i, r) for i, r in enumerate(rows) if r["placebo_top"] != r["search_top"]]
    ax.scatter([i for i, _ in other], [r["placebo_top_p"] for _, r in other], marker="x", color="dimgrey", zorder=3)
    for i, r in enumerate(rows):
        ax.hlines(r["uniform"], i - 0.45, i + 0.45, colors="grey", linestyles=":", linewidth=0.8)
        ax.hlines(2 * r["uniform"], i - 0.45, i + 0.45, colors="grey", linestyles="--", linewidth=0.8)
    ax.set_xticks(x)
    if few:
        ax.set_xticklabels([f"{r['label']}\n{r['search_top']}" + (f"\nplacebo: {r['placebo_top']}" if r["placebo_top"] != r["search_top"] else "")
                            for r in rows], fontsize=7)
    else:
        ax.set_xticklabels([r["label"] for r in rows], fontsize=5, rotation=90)
    ax.set_ylim(0, 1.02), ax.set_ylabel("probability of being best")
    handles: list[Any] = [Patch(facecolor=c, edgecolor="black", label=f"search: decided on {k}" if k != "undecided" else "search: undecided")
               for k, c in READING_COLOURS.items()]
    handles += [plt.Line2D([], [], marker="o", markerfacecolor="none", markeredgecolor="black", linestyle="", label="placebo, same candidate"),
                plt.Line2D([], [], marker="x", color="dimgrey", linestyle="", label="placebo's own top"),
                plt.Line2D([], [], color="grey", linestyle=":", label="uniform"),
                plt.Line2D([], [], color="grey", linestyle="--", label="2× uniform")]
    fig.legend(handles=handles, fontsize=7, loc="outside lower center", ncol=4)
    counts = {k: sum(r["about"] == k for r in rows) for k in READING_COLOURS}
    ax.set_title(f"The search against its placebo (labels shuffled across cases)\n{counts['labels']} of {len(rows)} decisions "
                 f"on the labels, {counts['learning speed']} on learning speed, {counts['undecided']} undecided", fontsize=9)
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_stakes(stakes: dict[str, dict[str, Any]], path: Path) -> Path:
    """`stakes.png`: per decision, what its choice gains over the runner-up (point) with its interval (bar), 0 marked;
    a bar that crosses 0 is a decision the runner-up may win as well."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(stakes)[:40]  # an untied space has dozens: the first 40 are drawn, all are in arch.json
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.42 * len(labels)), layout="constrained")
    y = list(range(len(labels)))[::-1]
    for yi, label in zip(y, labels):
        s = stakes[label]
        firm = s["interval"][0] > 0
        ax.hlines(yi, *s["interval"], color="tab:green" if firm else "tab:grey", linewidth=2)
        ax.plot(s["gap"], yi, "o", color="tab:green" if firm else "tab:grey")
    ax.axvline(0, color="black", linewidth=0.8, linestyle=":")
    ax.set_yticks(y)
    ax.set_yticklabels([f"{k}: {stakes[k]['top']} over {stakes[k]['runner_up']}" for k in labels], fontsize=7)
    ax.set_xlabel("score gained over the runner-up (90 % interval)")
    firm = sum(stakes[k]["interval"][0] > 0 for k in stakes)
    ax.set_title(f"What each choice is worth: {firm} of {len(stakes)} beat their runner-up (green)", fontsize=9)
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_race(summary: dict[str, Any], baselines: set[str], path: Path) -> Path:
    """`race.png`: each candidate's inner Dice at the rungs it reached (units of equal wall clock, doubling), a
    hand-designed network dashed, the winner drawn thick, each named with its step time; where a line stops, the
    halving (or the race's budget) stopped it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    fig.subplots_adjust(left=0.09, right=0.66, bottom=0.13, top=0.9)
    rows = sorted(summary["candidates"].items(), key=lambda kv: (-len(kv[1]["rungs"]), -max(kv[1]["rungs"].values(), default=0)))
    for i, (name, row) in enumerate(rows):
        units = sorted(int(u) for u in row["rungs"])
        won = name == summary.get("winner")
        step = f", {row['step_ms']:.0f} ms/step" if row.get("step_ms") else ""
        ax.plot(units, [row["rungs"][str(u)] for u in units], "o-" if name not in baselines else "o--", color=f"C{i % 10}",
                lw=3 if won else 1.4, label=f"{name}{step}{' (winner)' if won else ''}")
    ax.set_xscale("log", base=2)
    ax.set_xticks([2 ** r for r in range(summary["rungs"])], [str(2 ** r) for r in range(summary["rungs"])])
    ax.set_xlabel(f"units of {summary['unit_seconds']:.0f} s trained"), ax.set_ylabel("inner Dice")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle("The race: inner Dice at each rung (dashed: hand-designed)", fontsize=10)
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_paired(panels: list[dict[str, Any]], path: Path) -> Path:
    """Paired per-case scores, a panel per comparison: each case a point at (first's score, second's score), so that a
    case above the diagonal is one the second scores higher. A panel: `names` (first, second), `first` and `second`
    ({case: score in [0, 1]}), optional `colours` ({case: a label, e.g. its fold}, one colour per label) and `note`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 4.7), squeeze=False)
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.12, top=0.86, wspace=0.3)
    for ax, panel in zip(axes[0], panels):
        first, second, colours = panel["first"], panel["second"], panel.get("colours") or {}
        kinds = list(dict.fromkeys(colours.get(c, "") for c in first))
        for i, kind in enumerate(kinds):
            cases = [c for c in first if colours.get(c, "") == kind]
            ax.scatter([first[c] for c in cases], [second[c] for c in cases], s=22, color=f"C{i}", label=kind or None)
        scores = [*first.values(), *second.values()]  # the cases' range, to the next 0.05: close scores stay apart
        lo, hi = max(0.0, math.floor(min(scores) * 20 - 0.5) / 20), min(1.0, math.ceil(max(scores) * 20 + 0.5) / 20)
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--")
        x, y = panel["names"]
        ax.set(xlim=(lo, hi), ylim=(lo, hi), aspect="equal", xlabel=f"{x} per case", ylabel=f"{y} per case")
        if panel.get("note"):
            ax.set_title(panel["note"], fontsize=10)
        if any(kinds):
            ax.legend(loc="lower right", fontsize=8)
    out = _save(fig, path)
    plt.close(fig)
    return out
