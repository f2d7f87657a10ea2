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


def show_spaces(plan: dict, out: Path, con: Console) -> None:
    """A random architecture of every space, sized for the plan: arch.json, cell drawings, parameters, GFLOPs."""
    from segnas.show import draw_cells, summarize
    from segnas.spaces import SPACES

    for name, space in SPACES.items():
        arch = space.random(0, dims=plan["dims"], in_channels=plan["in_channels"], num_classes=plan["num_classes"],
                            channels=16 if name == "unet" else 8)
        arch.save(out / name / "arch.json")
        draw_cells(arch, out / name)
        info = summarize(arch, plan["patch_size"])
        con.print(f"{name}: a random architecture has {info['parameters']:,} parameters "
                  f"({info['supernet_parameters']:,} in its supernet), {info['gflops']:.1f} GFLOPs per patch → {out / name}")


def run_demo(out: Path, cases: int = 12, dims: int = 3, workers: int = 2, console: Console | None = None) -> Workspace:
    """synth → validate → plan → preprocess → a batch of training patches, printing each step."""
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
    con.rule("6. search spaces")
    show_spaces(plan, out / "spaces", con)
    con.rule("done")
    con.print(f"finished in {time.perf_counter() - t0:.1f} s. Search, training, prediction and "
              "evaluation are not built yet: see the open issues.")
    return ws
