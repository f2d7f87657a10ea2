"""See an architecture: its cells drawn as graphs (PNG) and its size (parameters, GFLOPs at a patch)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from segnas.nas.arch import Architecture, InputChoice, inputs_label, op_label
from segnas.nas.spaces import get_space
from segnas.nas.spaces.cell import node_sources
from segnas.runtime.files import atomic_path


def count_parameters(module: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def gflops(module: torch.nn.Module, in_channels: int, patch: Sequence[int]) -> float:
    """Forward GFLOPs (multiply and add counted separately) for one patch, measured on the meta device."""
    module = module.to("meta").eval()
    x = torch.empty(1, in_channels, *patch, device="meta")
    with FlopCounterMode(display=False) as counter:
        module(x)
    return counter.get_total_flops() / 1e9


def summarize(arch: Architecture, patch: Sequence[int]) -> dict[str, float]:
    """Parameters and GFLOPs of the found network (and of its supernet, for scale)."""
    space = get_space(arch.space)
    with torch.device("meta"):
        net = space.network(arch)
        supernet = space.supernet(**arch.settings)
    return {"parameters": count_parameters(net), "gflops": gflops(net, arch.settings["in_channels"], patch),
            "supernet_parameters": count_parameters(supernet)}


def cell_edges(arch: Architecture, kind: str) -> list[tuple[str, str, str]]:
    """(source, node, op) for every edge of a found cell type."""
    edges = []
    for j in range(arch.settings["nodes"]):
        sources = node_sources(j)
        chosen = arch.values.get(inputs_label(kind, j), sources)
        for i, src in enumerate(sources):
            op = arch.values[op_label(kind, j, i, arch.settings.get("tie", "edge"))]
            if src in chosen and op != "zero":
                edges.append((src, f"node{j}", str(op)))
    return edges


def cell_kinds(arch: Architecture) -> list[str]:
    """Cell types of an architecture, in label order."""
    kinds: list[str] = []
    for c in get_space(arch.space).choices(**arch.settings):
        kind = c.label.split("/")[0]
        if kind not in kinds and not isinstance(c, InputChoice):
            kinds.append(kind)
    return kinds


def draw_cells(arch: Architecture, out_dir: str | Path) -> list[Path]:
    """One PNG per cell type: inputs on the left, nodes in a row, edges labelled with their op."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    nodes = arch.settings["nodes"]
    pos = {"in0": (0.0, 1.0), "in1": (0.0, -1.0), **{f"node{j}": (1.5 + 1.5 * j, 0.6 * (-1) ** j) for j in range(nodes)},
           "out": (1.5 + 1.5 * nodes, 0.0)}
    written = []
    for kind in cell_kinds(arch):
        fig, ax = plt.subplots(figsize=(2.2 + 1.6 * nodes, 3.4))
        for src, dst, op in cell_edges(arch, kind):
            (x0, y0), (x1, y1) = pos[src], pos[dst]
            ax.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "->", "color": "tab:blue", "shrinkA": 14, "shrinkB": 14})
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, op, fontsize=7, ha="center", va="center",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"})
        for j in range(nodes):
            ax.annotate("", pos["out"], pos[f"node{j}"], arrowprops={"arrowstyle": "->", "color": "0.6", "shrinkA": 14, "shrinkB": 14})
        for name, (x, y) in pos.items():
            colour = "tab:green" if name.startswith("in") else "tab:orange" if name == "out" else "tab:blue"
            ax.scatter([x], [y], s=700, c=colour, alpha=0.25, zorder=0)
            ax.text(x, y, name, ha="center", va="center", fontsize=8, weight="bold")
        ax.set_title(f"{arch.space}: {kind} cell", fontsize=10)
        ax.set_xlim(-0.6, pos["out"][0] + 0.6)
        ax.set_ylim(-1.6, 1.6)
        ax.axis("off")
        path = out_dir / f"cell_{kind}.png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
        plt.close(fig)
        written.append(path)
    return written


def step_cost(arch: Architecture, patch: Sequence[int], cache: Path | None = None, device: str = "cpu") -> dict[str, float]:
    """Predicted (cost model) and measured training-step time and activation memory of the found network at `patch`,
    batch 2, on `device`, with MONAI UNet's measured step beside them. Op costs are cached in `cache` if given."""
    from segnas.data.plan import Plan
    from segnas.nas.cost import COST_BATCH, calibrate, reference_ms, space_cost
    from segnas.nas.timing import CostTable, train_step

    dev = torch.device(device)
    settings, space = arch.settings, get_space(arch.space)
    table = CostTable(cache, dev)
    cost, _ = calibrate(space_cost(table, arch.space, settings, patch, COST_BATCH), arch.space, settings, patch, COST_BATCH, dev)
    predicted_ms, predicted_bytes = cost.predict(arch.values)
    measured_ms, measured_bytes = train_step(space.network(arch), (COST_BATCH, settings["in_channels"], *patch),
                                             settings["num_classes"], dev, True)
    unet = reference_ms(Plan.of(settings["dims"], settings["in_channels"], settings["num_classes"], patch), patch, COST_BATCH, dev)
    return {"predicted_ms": predicted_ms, "measured_ms": measured_ms, "predicted_mb": predicted_bytes / 2**20,
            "measured_mb": measured_bytes / 2**20, "monai_unet_ms": unet}
