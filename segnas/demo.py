"""`segnas demo`: every stage that exists, on fresh synthetic data, narrated."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from rich.console import Console

from segnas.errors import SegnasError
from segnas.plan import plan_dataset
from segnas.preprocess import preprocess_dataset
from segnas.report import plan_table, validation_table
from segnas.splits import load_splits
from segnas.synthetic import make_dataset
from segnas.validate import validate_dataset
from segnas.workspace import Workspace


DEMO_SEARCH = {"epochs": 3, "steps_per_epoch": 6, "batch_size": 2, "space_settings.channels": 16,
               "patch_size": [32, 32, 16], "workers": 0}


def search_step(ws: Workspace, plan: dict, con: Console) -> Path:
    """A short SCNAS search (Gumbel two-op sampling) on fold 0, then the found architecture summarised."""
    from segnas.config import make_config
    from segnas.search import found_architecture, search
    from segnas.show import draw_cells, summarize

    overrides = dict(DEMO_SEARCH)
    if plan["dims"] == 2:
        overrides["patch_size"] = [64, 64]
    run = search(ws.root, make_config("scnas", overrides))
    arch = found_architecture(run)
    draw_cells(arch, run)
    info = summarize(arch, plan["patch_size"])
    con.print(f"found architecture {run / 'arch.json'}: {info['parameters']:,} parameters "
              f"({info['supernet_parameters']:,} in the supernet), {info['gflops']:.1f} GFLOPs per {'×'.join(map(str, plan['patch_size']))} patch")
    con.print(f"plots: {run / 'losses.png'}, {run}/probabilities_*.png; cells: {run}/cell_*.png")
    return run


def run_demo(out: Path, cases: int = 12, dims: int = 3, workers: int = 2, console: Console | None = None) -> Workspace:
    """synth → validate → plan → preprocess → patches → a short search, printing each step."""
    from segnas.data import PatchDataset  # torch/MONAI import is slow: only when needed

    con = console or Console()
    t0 = time.perf_counter()
    data, ws = out / "data", Workspace(out / "work")
    make_dataset(data, cases, dims, seed=0, force=True)
    con.rule("1. synthetic data")
    con.print(f"{cases} two-channel {dims}D cases (organ + lesion) in {data}")
    report = validate_dataset(data)
    if not report.ok:
        raise SegnasError(f"{data}: synthetic data failed validation", report.problems)
    con.rule("2. validate")
    con.print(validation_table(report))
    plan = plan_dataset(data, ws.root, workers=workers, folds=min(5, cases))
    con.rule("3. plan")
    con.print(plan_table(plan))
    counts = preprocess_dataset(ws.root, workers)
    con.rule("4. preprocess")
    con.print(f"{counts['done']} case(s) cropped, normalised and resampled into {ws.preprocessed}")
    fold = load_splits(ws)["folds"][0]
    con.rule("5. splits and patches")
    con.print(f"fold 0: {len(fold['train'])} training cases ({len(fold['search_train'])} train weights, "
              f"{len(fold['search_val'])} steer the architecture during search), {len(fold['val'])} validation cases")
    ds = PatchDataset(ws.root, fold["search_train"], plan["patch_size"], plan["dims"], plan["slice_axis"], samples_per_epoch=6)
    batch = [ds[i] for i in range(len(ds))]
    fg = np.mean([float((b["label"] > 0).float().mean()) for b in batch])
    con.print(f"{len(batch)} augmented patches of shape {tuple(batch[0]['image'].shape)}, {fg:.1%} foreground voxels")
    con.rule("6. search (SCNAS preset, shortened)")
    search_step(ws, plan, con)
    con.rule("done")
    con.print(f"finished in {time.perf_counter() - t0:.1f} s. Retraining, prediction and evaluation "
              "are not built yet: see the open issues.")
    return ws
