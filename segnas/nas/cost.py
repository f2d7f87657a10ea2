"""What an architecture costs on this device: every candidate op of every edge of a space, timed once (forward +
backward) with its activation memory counted (`segnas.nas.timing`), cached in the work folder; from them, any
architecture's training step predicted (FBNet's lookup table, ProxylessNAS's expected cost under the architecture
distribution).

A decision label is shared by every cell of its type (SCNAS's cells repeat at each level), so the cost of a label's
op is the sum over the edges that carry the label, each at its own level, width and grid. What the edges do not
cover (stem, input adapters, skips, heads, loss, optimiser) is one `fixed` figure, calibrated on whole steps. A
found network runs the `conv3` edges that read one state as one convolution (`Cell.fused`): what that saves is
measured per state (`Fusion`) and taken off the prediction of a step.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from segnas.config import TRAIN_PRESETS, SearchConfig
from segnas.data.plan import Plan
from segnas.nas.arch import ZERO, Architecture, Choice, InputChoice, OpChoice, Pick
from segnas.nas.spaces import get_space
from segnas.nas.spaces.mixed import MixedEdge
from segnas.nas.spaces.ops import FUSED
from segnas.nas.timing import CostTable, train_step, train_step_ms
from segnas.networks.baselines import baseline_architecture
from segnas.networks.model import build_network
from segnas.runtime.files import read_json, write_json
from segnas.runtime.workspace import RunFolder, Workspace

COST_BATCH = 2  # the batch costs are measured at: step times scale about linearly with it, ratios hardly


@dataclass(frozen=True)
class Site:
    """One edge module of a network: its decision label, its input shape (B, C, *S) and stride, and which state it
    reads (`source`: edges with the same number read the same tensor)."""

    label: str
    shape: tuple[int, ...]
    stride: int
    source: int = 0


@dataclass(frozen=True)
class Fusion:
    """The edges that read one state, by decision label: when k ≥ 2 of them are `conv3` a found network runs those
    as one convolution, which saves `saving_ms[k − 2]` against k timed alone (an op's time, before `scale`)."""

    labels: tuple[str, ...]
    saving_ms: tuple[float, ...]

    def saving(self, values: dict[str, Any], inactive: set[str]) -> float:
        """What this state's edges save in the architecture with these values (ms, before `scale`)."""
        k = sum(values[label] == FUSED and label not in inactive for label in self.labels)
        return self.saving_ms[k - 2] if k >= 2 else 0.0

    def expected_saving(self, fused: dict[str, torch.Tensor], device: torch.device) -> torch.Tensor:
        """The expected saving when each decision's edges are `conv3` with probability `fused[label]` (those missing:
        never), decisions drawn independently; the edges of one decision (tied) are `conv3` all together."""
        count = torch.ones(1, device=device)  # count[k]: probability that k of the edges are conv3
        for label, edges in Counter(self.labels).items():
            if (q := fused.get(label)) is not None:
                count = torch.cat([count * (1 - q), count.new_zeros(edges)]) + torch.cat([count.new_zeros(edges), count * q])
        saving = torch.tensor([0.0, 0.0, *self.saving_ms], device=device)
        return (count * saving[: len(count)]).sum()


def sites(space: str, settings: dict[str, Any], patch: Sequence[int], batch: int) -> list[Site]:
    """Every edge module of the space's supernet with the shape it reads, found on the meta device (no compute)."""
    sp = get_space(space)
    found: list[Site] = []
    states: list[torch.Tensor] = []  # every tensor an edge read, kept alive so that no two share an id

    def seen(x: torch.Tensor) -> int:
        for n, state in enumerate(states):
            if state is x:
                return n
        states.append(x)
        return len(states) - 1

    with torch.device("meta"):
        net = sp.supernet(**settings)
        for m in net.modules():
            if isinstance(m, MixedEdge):
                m.register_forward_pre_hook(lambda mod, args: found.append(Site(mod.label, tuple(args[0].shape), mod.stride,
                                                                                seen(args[0]))))
        selection = {}
        for c in sp.choices(**settings):  # the cheapest op everywhere and every input: each edge runs once
            cheap = next((i for i, n in enumerate(c.candidates) if n == "identity"), 0) if isinstance(c, OpChoice) else None
            selection[c.label] = Pick([cheap]) if cheap is not None else Pick(list(range(len(c.candidates))))
        net(torch.zeros(batch, settings["in_channels"], *patch), selection)
    return found


@dataclass(frozen=True)
class SpaceCost:
    """Per decision label, (ms, bytes) of each candidate summed over the label's edges; for one space's settings,
    patch and batch on one device. Once calibrated (`calibrate`), a step takes `fixed_ms + scale × Σ op ms`: `fixed`
    is what the edges do not cover, `scale` how ops timed alone relate to the same ops inside a network; `fusion`
    what running a state's `conv3` edges together saves."""

    choices: tuple[Choice, ...]
    ops: dict[str, list[tuple[float, int]]]
    fixed_ms: float = 0.0
    fixed_bytes: int = 0
    scale: float = 1.0
    fusion: tuple[Fusion, ...] = ()

    def active_share(self) -> dict[str, float]:
        """Per op decision, the share of architectures in which its edge exists when inputs are chosen uniformly."""
        share = {c.label: 1.0 for c in self.choices if isinstance(c, OpChoice)}
        for c in self.choices:
            if isinstance(c, InputChoice):
                for e in c.edges:
                    share[e] = c.k / len(c.candidates)
        return share

    def predict(self, values: dict[str, Any]) -> tuple[float, int]:
        """(ms, bytes) of a training step of the architecture with these values."""
        inactive = set()
        for c in self.choices:
            if isinstance(c, InputChoice):
                kept = set(values[c.label])
                inactive |= {e for src, e in zip(c.candidates, c.edges) if src not in kept}
        ms, memory = 0.0, int(self.fixed_bytes)
        for c in self.choices:
            if isinstance(c, OpChoice) and c.label not in inactive:
                op_ms, op_bytes = self.ops[c.label][c.candidates.index(values[c.label])]
                ms, memory = ms + op_ms, memory + int(op_bytes)
        ms -= sum(f.saving(values, inactive) for f in self.fusion)
        return self.fixed_ms + self.scale * ms, memory

    def bound_ms(self, pick: Callable[[list[float]], float]) -> float:
        """Expected step time (ms) when every op decision takes `pick` (min, or mean) of its non-zero candidates'."""
        share = self.active_share()
        total = 0.0
        for c in self.choices:
            if isinstance(c, OpChoice) and c.label in self.ops:
                times = [ms for name, (ms, _) in zip(c.candidates, self.ops[c.label]) if name != ZERO]
                total += share[c.label] * pick(times)
        return self.fixed_ms + self.scale * total

    def target_ms(self, wanted: float) -> float:
        """The step time a cost-aware search steers to: `wanted`, but never below halfway from the space's cheapest
        architecture to its uniform average, so that the penalty switches off at a time the space can reach (with
        the fixed part alone above `wanted` it never did). Measured on ISBI: this alone does not stop the cells
        collapsing to identities (BENCHMARKS.md, issue 21)."""
        return max(wanted, (self.bound_ms(min) + self.bound_ms(statistics.fmean)) / 2)

    def expected_ms(self, probabilities: dict[str, torch.Tensor]) -> torch.Tensor:
        """Expected step time (ms) under per-decision candidate probabilities (differentiable in them), with the
        expected saving of fused `conv3` edges (`expected_saving`)."""
        share = self.active_share()
        terms = [share[label] * (p * torch.tensor([ms for ms, _ in self.ops[label]], device=p.device)).sum()
                 for label, p in probabilities.items() if label in self.ops]
        if terms:  # on the probabilities' device
            fused = self.fused_probability(probabilities, share)
            terms += [-f.expected_saving(fused, terms[0].device) for f in self.fusion]
        total = torch.stack(terms).sum() if terms else torch.zeros(())
        return self.fixed_ms + self.scale * total

    def fused_probability(self, probabilities: dict[str, torch.Tensor], share: dict[str, float]) -> dict[str, torch.Tensor]:
        """Per op decision, the probability that its edge exists and is `conv3`."""
        candidates = {c.label: c.candidates for c in self.choices if isinstance(c, OpChoice)}
        return {label: share[label] * p[candidates[label].index(FUSED)] for label, p in probabilities.items()
                if FUSED in candidates.get(label, ())}


def space_cost(table: CostTable, space: str, settings: dict[str, Any], patch: Sequence[int], batch: int) -> SpaceCost:
    """Every candidate of every op decision of the space, measured (or read from the cache) at each of its edges."""
    sp = get_space(space)
    choices = tuple(sp.choices(**settings))
    candidates = {c.label: c.candidates for c in choices if isinstance(c, OpChoice)}
    ops = {label: [(0.0, 0)] * len(names) for label, names in candidates.items()}
    found = sites(space, settings, patch, batch)
    for site in found:
        ops[site.label] = [(ms + m, b + mb) for (ms, b), (m, mb) in zip(ops[site.label],
                           (table.get(name, site.shape, site.stride) for name in candidates[site.label]))]
    fusion = []
    for source in sorted({s.source for s in found}):
        edges = [s for s in found if s.source == source and FUSED in candidates[s.label]]
        if len(edges) > 1:  # one shape and stride: the edges read one tensor
            one = table.get(FUSED, edges[0].shape, edges[0].stride)[0]
            fusion.append(Fusion(tuple(s.label for s in edges), tuple(
                k * one - table.get(FUSED, edges[0].shape, edges[0].stride, together=k)[0] for k in range(2, len(edges) + 1))))
    table.save()
    return SpaceCost(choices, ops, fusion=tuple(fusion))


def calibrate(cost: SpaceCost, space: str, settings: dict[str, Any], patch: Sequence[int], batch: int, device: torch.device,
              channels_last: bool = True, archs: int = 4, seed: int = 0) -> tuple[SpaceCost, list[dict[str, float]]]:
    """`cost` calibrated on whole training steps of a few random architectures: time = fixed + scale × Σ ops by least
    squares (`fit_line`), memory = Σ ops + the median of what the ops leave out. Returns it and the calibration rows."""
    sp = get_space(space)
    rows = []
    for i in range(archs):
        arch = sp.random(seed=seed + i, **settings)
        ms, memory = train_step(sp.network(arch), (batch, settings["in_channels"], *patch), settings["num_classes"], device, channels_last)
        ops_ms, ops_bytes = cost.predict(arch.values)
        rows.append({"measured_ms": round(ms, 2), "ops_ms": round(ops_ms, 2), "measured_bytes": memory, "ops_bytes": ops_bytes})
    fixed_ms, scale = fit_line([r["ops_ms"] for r in rows], [r["measured_ms"] for r in rows])
    fixed_bytes = statistics.median(r["measured_bytes"] - r["ops_bytes"] for r in rows)
    return dataclasses.replace(cost, fixed_ms=fixed_ms, fixed_bytes=int(max(0, fixed_bytes)), scale=scale), rows


def fit_line(ops: Sequence[float], measured: Sequence[float]) -> tuple[float, float]:
    """(fixed ≥ 0, scale in [0.5, 2]) with measured ≈ fixed + scale × ops, least squares; with too little spread in
    `ops` to tell scale from fixed, scale 1 and the median difference."""
    n = len(ops)
    mean_o, mean_m = sum(ops) / n, sum(measured) / n
    spread = sum((o - mean_o) ** 2 for o in ops)
    if n < 3 or spread < (0.05 * mean_o) ** 2 * n:
        return max(0.0, statistics.median(m - o for o, m in zip(ops, measured))), 1.0
    scale = min(2.0, max(0.5, sum((o - mean_o) * (m - mean_m) for o, m in zip(ops, measured)) / spread))
    return max(0.0, mean_m - scale * mean_o), scale


def predicted_vs_measured(cost: SpaceCost, arch: Architecture, patch: Sequence[int], batch: int, device: torch.device,
                          channels_last: bool = True) -> tuple[float, float]:
    """(predicted, measured) training-step milliseconds of one architecture."""
    net = get_space(arch.space).network(arch)
    measured = train_step_ms(net, (batch, arch.settings["in_channels"], *patch), arch.settings["num_classes"], device, channels_last)
    return cost.predict(arch.values)[0], measured


def relative_error(predicted: float, measured: float) -> float:
    """|predicted − measured| / measured."""
    return abs(predicted - measured) / measured if measured > 0 else math.inf


def reference_ms(plan: Plan, patch: Sequence[int], batch: int, device: torch.device, channels_last: bool = True) -> float:
    """Training-step milliseconds of the hand-designed reference, MONAI's UNet configured for the plan."""
    arch = baseline_architecture("monai_unet", plan, list(patch))
    return train_step_ms(build_network(arch), (batch, plan.in_channels, *patch), plan.num_classes, device, channels_last)


def search_cost(ws: Workspace, run: Path, cfg: SearchConfig, plan: Plan, settings: dict[str, Any],
                device: torch.device) -> tuple[SpaceCost, float, dict[str, Any]]:
    """The cost model a cost-aware search steers by, its target step time (ms) and the record kept in `run/cost.json`
    (read back on resume, so a resumed search steers by the same numbers). Measured at the trained network's width
    (`cost_width`, else the training preset's, else the search's), the plan's patch and batch 2."""
    space = get_space(cfg.space)
    files = RunFolder(run)
    if files.cost.is_file():
        record = read_json(files.cost)
        choices = tuple(space.choices(**record["settings"]))
        ops = {label: [(float(ms), int(b)) for ms, b in rows] for label, rows in record["ops"].items()}
        fusion = tuple(Fusion(tuple(f["labels"]), tuple(f["saving_ms"])) for f in record.get("fusion", []))
        return (SpaceCost(choices, ops, record["fixed_ms"], record["fixed_bytes"], record.get("scale", 1.0), fusion),
                record["target_ms"], record)
    t0 = time.perf_counter()
    width = cfg.cost_width or TRAIN_PRESETS.get(cfg.preset, {}).get("width") or settings["channels"]
    at = {**settings, "channels": int(width)}
    patch, batch = list(plan.patch_size), COST_BATCH
    table = CostTable(ws.costs, device, cfg.channels_last)
    cost, rows = calibrate(space_cost(table, cfg.space, at, patch, batch), cfg.space, at, patch, batch, device, cfg.channels_last)
    reference = reference_ms(plan, patch, batch, device, cfg.channels_last)
    record = {"settings": at, "patch_size": patch, "batch_size": batch, "device": table.info, "reference": "monai_unet",
              "reference_ms": round(reference, 2), "target_ms": round(cost.target_ms(cfg.cost_target * reference), 2),
              "wanted_ms": round(cfg.cost_target * reference, 2), "cheapest_ms": round(cost.bound_ms(min), 2),
              "uniform_ms": round(cost.bound_ms(statistics.fmean), 2),
              "fixed_ms": round(cost.fixed_ms, 2), "fixed_bytes": cost.fixed_bytes, "scale": round(cost.scale, 4), "calibration": rows,
              "measured_entries": table.measured, "seconds": round(time.perf_counter() - t0, 1),
              "ops": {label: [[round(ms, 4), b] for ms, b in values] for label, values in cost.ops.items()},
              "fusion": [{"labels": list(f.labels), "saving_ms": [round(ms, 4) for ms in f.saving_ms]} for f in cost.fusion]}
    run.mkdir(parents=True, exist_ok=True)
    write_json(files.cost, record)
    return cost, record["target_ms"], record
