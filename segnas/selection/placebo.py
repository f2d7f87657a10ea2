"""A placebo search: the same search on the fold's training cases with their labels shuffled across cases, and
what it says of the real one.

A search that "decided" has found that its scores depend on the architecture; it has not shown that they depend on
the labels. Measured on LA (BENCHMARKS.md, issue 21): in RONASMIS's space a search by training on shuffled labels
decided on all four decisions and its export beat random draws by most of what the real searches' did, because
150-step trials reward networks that learn anything fast (on LA a position prior). Running the same search on
shuffled labels is the control a user can run on their own data: decisions it makes too, and makes alike, are
about how fast networks of the space learn, not about the task.

The placebo lives in its own work folder, `WORK/placebo/fold<F>_seed<S>`: the plan and splits of WORK, every
preprocessed image linked, each training case of fold F given the label of another (a derangement drawn with
seed S; a label centre-cropped or zero-padded onto its new case's grid, its foreground samples drawn again).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from segnas.config import SearchConfig
from segnas.data.plan import load_plan
from segnas.data.preprocess import foreground_samples, plan_hash
from segnas.data.splits import load_fold
from segnas.errors import SegnasError
from segnas.nas.arch import Architecture, load_architecture
from segnas.nas.decisions import decided
from segnas.nas.search import run_folder
from segnas.runtime.files import read_json, save_npy, write_json
from segnas.runtime.lock import busy
from segnas.runtime.plots import plot_placebo
from segnas.runtime.workspace import PLACEBO, RunFolder, Workspace
from segnas.selection import verdict
from segnas.selection.searches import search
from segnas.selection.trained import op_decisions

MARKER = PLACEBO  # in the placebo's work folder: whose label each case got (in a search's run folder: the comparison)


def centre_fit(a: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """`a` centre-cropped and zero-padded to `shape`."""
    out = np.zeros(tuple(shape), a.dtype)
    src, dst = [], []
    for n, m in zip(a.shape, shape):
        k = min(n, m)
        src.append(slice((n - k) // 2, (n - k) // 2 + k))
        dst.append(slice((m - k) // 2, (m - k) // 2 + k))
    out[tuple(dst)] = a[tuple(src)]
    return out


def derangement(n: int, seed: int) -> np.ndarray:
    """A permutation of range(n) that moves every index (n ≥ 2), drawn with `seed`."""
    if n < 2:
        raise SegnasError(f"labels can only be shuffled across 2 or more cases, found {n}")
    order = np.random.default_rng(seed).permutation(n)
    while np.any(order == np.arange(n)):
        order = np.random.default_rng(int(order[0]) + seed + 1).permutation(n)
    return order


def shuffle_labels(src: Path, dst: Path, cases: Sequence[str], seed: int) -> dict[str, str]:
    """Give each of `cases` (in `dst`, a preprocessed folder holding their files) the label of another case of
    `src`, fitted onto its grid, with its foreground samples drawn again; returns case → whose label it got."""
    cases = sorted(cases)
    given = {}
    for case, j in zip(cases, derangement(len(cases), seed)):
        seg = np.load(src / f"{cases[j]}_seg.npy")
        shape = np.load(src / f"{case}_seg.npy", mmap_mode="r").shape
        seg = centre_fit(seg, shape)
        (dst / f"{case}_seg.npy").unlink(missing_ok=True)  # a link to the real label: replace it, never write through it
        (dst / f"{case}_fg.npz").unlink(missing_ok=True)
        save_npy(dst / f"{case}_seg.npy", seg)
        samples: dict[str, Any] = foreground_samples(seg, np.random.default_rng(0))
        np.savez(dst / f"{case}_fg.npz", **samples)
        given[case] = cases[j]
    return given


def placebo_work(work: str | Path, fold: int, seed: int) -> Path:
    """`WORK/placebo/fold<F>_seed<S>`, made once (in a temporary folder, then renamed): WORK's plan and splits, its
    preprocessed files linked, fold F's training cases with shuffled labels. Remade when WORK's plan changed."""
    ws = Workspace(Path(work))
    plan = load_plan(ws)
    cases = sorted(load_fold(ws, fold).train)
    root = ws.placebo(fold, seed)
    want = {"source": str(ws.root.resolve()), "fold": fold, "seed": seed, "plan_hash": plan_hash(plan), "cases": cases}
    if (root / MARKER).is_file():
        made = read_json(root / MARKER)
        if {k: made.get(k) for k in want} == want:
            return root
        if (root / "runs").exists():
            raise SegnasError(f"{root / MARKER}: this placebo was made under another plan or split of {ws.root}, and a search "
                              f"ran in it; remove {root} to make it again")
        shutil.rmtree(root)
    ws.require(ws.splits, "plan")
    ws.require(ws.preprocessed, "preprocess")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        for name in ("fingerprint.json", "splits.json", "plan.json"):
            if (ws.root / name).is_file():
                shutil.copy(ws.root / name, tmp / name)
        (tmp / "preprocessed").mkdir()
        for f in sorted(ws.preprocessed.iterdir()):
            if f.is_file() and not f.name.startswith("."):
                link_or_copy(f, tmp / "preprocessed" / f.name)
        given = shuffle_labels(ws.preprocessed, tmp / "preprocessed", cases, seed)
        write_json(tmp / MARKER, {**want, "labels_from": given})
        try:
            os.replace(tmp, root)
        except OSError:
            if not (root / MARKER).is_file():  # else another process made the same placebo meanwhile
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def link_or_copy(src: Path, dst: Path) -> None:
    """A symbolic link to `src`, or a copy where links cannot be made."""
    try:
        os.symlink(src.resolve(), dst)
    except OSError:
        shutil.copy(src, dst)


def placebo_search(work: str | Path, cfg: SearchConfig, resume: bool = False, show_progress: bool = True) -> Path:
    """The search `cfg` asks for, on fold `cfg.fold`'s training cases with shuffled labels (seed `cfg.seed`);
    returns its run folder. Its arch.json says in its provenance that it is a placebo."""
    root = placebo_work(work, cfg.fold, cfg.seed)
    run = search(root, cfg, resume=resume, show_progress=show_progress)
    arch = load_architecture(RunFolder(run).arch)
    if "placebo" not in arch.provenance:
        arch.provenance = {**arch.provenance, "placebo": read_json(root / MARKER)}
        arch.save(RunFolder(run).arch)
    return run


def tops(arch: Architecture) -> dict[str, str]:
    """label → the candidate a search ranked first: the most probable in a search by training's tables (its export
    may be its best trial instead), else the exported value."""
    decisions = op_decisions(arch.space, arch.settings)
    probs = arch.provenance.get("probabilities", {})
    return {k: (c[int(np.argmax(probs[k]))] if len(probs.get(k, ())) == len(c) else str(arch.values[k]))
            for k, c in decisions.items() if k in arch.values}


def agreement_p(hits: int, chances: Sequence[float]) -> float:
    """P(at least `hits` agreements) when decision i agrees by chance with probability chances[i] (Poisson binomial)."""
    dist = [1.0]
    for q in chances:
        dist = [(dist[k] if k < len(dist) else 0.0) * (1 - q) + (dist[k - 1] * q if k > 0 else 0.0) for k in range(len(dist) + 1)]
    return float(min(1.0, sum(dist[hits:])))


def cleared(arch: Architecture) -> dict[str, bool]:
    """label → whether the search counts that op decision as decided: top probability ≥ 2× uniform and, in a search
    by training, beyond shuffled scores; decisions without a probability table are left out."""
    probs, shuffled = arch.provenance.get("probabilities", {}), arch.provenance.get("shuffled_p")
    tables = {k: probs[k] for k, c in op_decisions(arch.space, arch.settings).items() if len(probs.get(k, ())) == len(c)}
    return {k: decided(p) for k, p in tables.items()} if shuffled is None else verdict.cleared(tables, shuffled)


def readings(real: Architecture, placebo: Architecture) -> dict[str, dict[str, Any]]:
    """Per op decision with a table in both: each search's top and whether it decided it, and what the decision is
    about — `labels` (the search decided, the placebo did not or decided otherwise), `learning speed` (both decided
    the same candidate), or `undecided` (the search did not decide it)."""
    a, b, ca, cb = tops(real), tops(placebo), cleared(real), cleared(placebo)
    out = {}
    for k in sorted(set(ca) & set(cb)):
        about = "undecided" if not ca[k] else ("learning speed" if cb[k] and b[k] == a[k] else "labels")
        out[k] = {"search": a[k], "search_decided": ca[k], "placebo": b[k], "placebo_decided": cb[k], "about": about}
    return out


def plot_rows(real: Architecture, placebo: Architecture, readings: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """What `placebo.png` draws per decision read: each side's probability of the search's top and the placebo's own top."""
    decisions = op_decisions(real.space, real.settings)
    pa, pb = real.provenance["probabilities"], placebo.provenance["probabilities"]
    rows = []
    for k, r in readings.items():
        c = list(decisions[k])
        i, j = c.index(r["search"]), c.index(r["placebo"])
        rows.append({"label": k, "search_top": r["search"], "search_p": float(pa[k][i]), "placebo_p": float(pb[k][i]),
                     "placebo_top": r["placebo"], "placebo_top_p": float(pb[k][j]), "uniform": 1 / len(c), "about": r["about"]})
    return rows


def clear_count(arch: Architecture) -> tuple[int, int]:
    """(decisions the search counts as decided, op decisions): a search by training's clear-of-shuffled count, or the
    one-shot's share at ≥ 2× uniform."""
    d = arch.provenance.get("decisions", {})
    n = int(d.get("op_decisions", len(op_decisions(arch.space, arch.settings))))
    return (int(d["clear"]) if "clear" in d else round(float(d.get("decided_share", 0.0)) * n)), n


def compare(real: Architecture, placebo: Architecture) -> dict[str, Any]:
    """How a search and its placebo ended: verdicts, decided counts, agreement of their tops against chance, and the
    trials' inner Dice where they have them."""
    if (real.space, real.settings) != (placebo.space, placebo.settings):
        raise SegnasError(f"the placebo searched space {placebo.space} {placebo.settings}, the search {real.space} {real.settings}")
    decisions = op_decisions(real.space, real.settings)
    a, b = tops(real), tops(placebo)
    same = sorted(k for k in a if b.get(k) == a[k])
    chances = [1 / len(decisions[k]) for k in a]
    out: dict[str, Any] = {"op_decisions": len(a), "agree": len(same), "agreeing": {k: a[k] for k in same},
                           "chance": round(sum(chances), 2), "agreement_p": round(agreement_p(len(same), chances), 4)}
    for name, arch in (("search", real), ("placebo", placebo)):
        clear, n = clear_count(arch)
        out[name] = {"verdict": arch.provenance.get("verdict", "unknown"), "decided": clear, "tops": tops(arch),
                     **{k: arch.provenance[k] for k in ("trials", "minutes") if k in arch.provenance},
                     **({"trial_dice": arch.provenance["decisions"]["trial_dice"]}
                        if "trial_dice" in arch.provenance.get("decisions", {}) else {})}
    out["decisions"] = readings(real, placebo)
    out["in_words"] = in_words(out)
    return out


def in_words(c: dict[str, Any]) -> str:
    """What the placebo says of the search, for the terminal and `placebo.json`."""
    s, p, n = c["search"], c["placebo"], c["op_decisions"]
    agree = (f"The two rank the same candidate first in {c['agree']} of {n} decisions ({c['chance']:.1f} expected by chance, "
             f"p = {c['agreement_p']:.3g}).")
    dice = ""
    if "trial_dice" in s and "trial_dice" in p:
        over = f" over {s['trials']} and {p['trials']} trials" if "trials" in s and "trials" in p else ""
        dice = (f" Trials' inner Dice, median (best){over}: {s['trial_dice'][1]:.3f} ({s['trial_dice'][2]:.3f}) on the labels, "
                f"{p['trial_dice'][1]:.3f} ({p['trial_dice'][2]:.3f}) shuffled.")
    if p["verdict"] == "decided":
        head = (f"The placebo (labels shuffled across cases) decided too, {p['decided']} of {n} decisions: what the search "
                f"ranks is at least partly how fast networks of this space learn anything, not your task. Its export may "
                f"still be a good network; race it against MONAI's UNet (`segnas race`) before trusting its decisions.")
    elif s["verdict"] == "decided":
        head = (f"The placebo (labels shuffled across cases) did not decide ({p['decided']} of {n} decisions) where the search "
                f"did ({s['decided']} of {n}): its decisions depend on your labels, not only on how fast networks learn.")
    elif s["decided"]:
        head = (f"Neither the search ({s['decided']} of {n} decisions) nor its placebo ({p['decided']} of {n}) decided overall; "
                f"each decision the search did make is read below against the placebo's.")
    else:
        head = (f"Neither the search ({s['decided']} of {n} decisions) nor its placebo ({p['decided']} of {n}) decided: the "
                f"placebo cannot tell anything about decisions that were not made.")
    return f"{head} {agree}{dice}{per_decision(c.get('decisions', {}))}"


def per_decision(readings: dict[str, dict[str, Any]]) -> str:
    """The decisions grouped by what they are about, in a sentence each (empty without per-decision tables)."""
    groups = {about: [f"{k} ({r['search']})" for k, r in readings.items() if r["about"] == about]
              for about in ("labels", "learning speed")}
    said = {"labels": "Decided on your labels (the placebo left them open or chose otherwise)",
            "learning speed": "Decided alike on shuffled labels, so about how fast networks learn"}
    return "".join(f" {said[about]}: {', '.join(names)}." for about, names in groups.items() if names)


def report(work: str | Path, cfg: SearchConfig) -> dict[str, Any] | None:
    """When both the search `cfg` asks for and its placebo have finished: the comparison, written atomically to the
    search's run folder as `placebo.json` (and drawn as `placebo.png`); else None. A side still running (its work folder locked by another
    process, as a resumed search is while its old arch.json stays) is not finished: it compares when it ends."""
    root = Workspace(Path(work)).placebo(cfg.fold, cfg.seed)
    run = RunFolder(run_folder(Path(work), cfg))
    real, fake = run.arch, RunFolder(run_folder(root, cfg)).arch
    if not (real.is_file() and fake.is_file()) or busy(work) or busy(root):
        return None
    a, b = load_architecture(real), load_architecture(fake)
    c = compare(a, b)
    c["files"] = {"search": str(real), "placebo": str(fake)}
    if c["decisions"]:
        plot_placebo(plot_rows(a, b, c["decisions"]), run.placebo_plot)
    write_json(run.placebo, c)
    return c
