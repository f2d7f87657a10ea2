"""Can the trained supernet rank architectures as training does? Each given architecture runs alone through a
finished search's shared weights on the same fixed validation batches; its mean loss there is set beside its Dice
after training from scratch, with Kendall's τ and Spearman's ρ (issue 21: a search can only find what its
supernet ranks right).

    python supernet_rank.py --work SEARCH_WORK --run SEARCH_RUN --arch conv3=conv3.json random0=r0.json … \\
        --trained OUT/la/train --steps 1000
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from _common import header
from real_data import case_dice
from scipy.stats import kendalltau, spearmanr

from segnas.config import SearchConfig
from segnas.nas.arch import ZERO, Architecture, Choice, InputChoice, OpChoice, Pick, Selection, load_architecture
from segnas.nas.search import build
from segnas.runtime.checkpoint import load_checkpoint
from segnas.runtime.workspace import RunFolder


def selection_of(arch: Architecture, choices: list[Choice]) -> Selection:
    """The supernet selection that runs `arch` alone: each edge its op, the edges from sources a node did not keep `zero`."""
    dropped = {edge for c in choices if isinstance(c, InputChoice)
               for source, edge in zip(c.candidates, c.edges) if source not in arch.values[c.label]}
    return {c.label: Pick([c.candidates.index(ZERO if c.label in dropped else str(arch.values[c.label]))])
            for c in choices if isinstance(c, OpChoice)}


def trained_dice(trained: Path, name: str, steps: int) -> float | None:
    """Mean Dice over the validation cases, averaged over the training seeds found (`{name}_seed{s}`)."""
    found = sorted(trained.glob(f"{name}_seed*/predictions/{steps}steps/metrics.json"))
    if not found:
        return None
    return statistics.fmean(statistics.fmean(case_dice(json.loads(f.read_text())).values()) for f in found)


def rank(work: Path, run: Path, archs: dict[str, Path], draws: int, batches: int) -> dict[str, float]:
    """Each architecture's mean validation loss through the supernet of `run`, on `draws` × `batches` fixed batches."""
    state = load_checkpoint(RunFolder(run).checkpoint, "search")
    s = build(work, SearchConfig(**state["config"]), run)
    s.net.load_state_dict(state["net"])
    s.net.eval()
    _, score = s.scorer(draws, batches)
    return {name: -statistics.fmean(score(selection_of(load_architecture(path), s.strategy.choices), i) for i in range(draws))
            for name, path in archs.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, required=True, help="the search's work folder")
    p.add_argument("--run", type=Path, required=True, help="the search's run folder (checkpoint.pt)")
    p.add_argument("--arch", nargs="+", required=True, help="NAME=ARCH_JSON; NAME is also the training's name under --trained")
    p.add_argument("--trained", type=Path, help="folder of the trainings (NAME_seedS/predictions/<steps>steps/metrics.json)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--draws", type=int, default=4)
    p.add_argument("--batches", type=int, default=4)
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    if bad := [item for item in a.arch if "=" not in item]:
        p.error(f"--arch takes NAME=ARCH_JSON, got {', '.join(bad)}")
    archs = {n: Path(f) for n, f in (item.split("=", 1) for item in a.arch)}
    losses = rank(a.work, a.run, archs, a.draws, a.batches)
    dice = {n: trained_dice(a.trained, n, a.steps) if a.trained else None for n in archs}
    print(header(f"supernet rank: {a.run}"))
    print("| architecture | supernet loss | trained Dice |\n|---|---:|---:|")
    for n in sorted(archs, key=lambda n: losses[n]):
        d = dice[n]
        print(f"| {n} | {losses[n]:.4f} | {'' if d is None else f'{d:.3f}'} |")
    known = [n for n in archs if dice[n] is not None]
    out: dict[str, Any] = {"losses": losses, "dice": dice}
    if len(known) >= 3:  # lower loss should mean higher Dice: correlate −loss with Dice
        tau = kendalltau([-losses[n] for n in known], [dice[n] for n in known])
        rho = spearmanr([-losses[n] for n in known], [dice[n] for n in known])
        out.update(kendall_tau=float(tau.statistic), kendall_p=float(tau.pvalue), spearman_rho=float(rho.statistic))
        print(f"\n{len(known)} trained: Kendall τ = {tau.statistic:.2f} (p = {tau.pvalue:.2g}), Spearman ρ = {rho.statistic:.2f}")
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
