"""The training recipe: segnas's training of MONAI's UNet against a plain loop, then an ablation of segnas's
recipe, all at equal steps on LA fold 0 (issue 20).

Every row trains MONAI's UNet (16…256, 2 residual units) with batch 2 of 80×64×32 patches on fold 0's 64
training cases for the same number of steps, keeps its last weights (nothing is selected on any case),
predicts fold 0's 16 validation cases from their original files and scores them there (Dice), per case.

- `plain`: a loop written here, not segnas's: Dice + CE, Adam 1e-3, half the patches centred on a random
  foreground voxel and half anywhere inside the volume, random flips on the three axes, nothing else.
- `segnas`: `segnas train` with its default recipe (`TrainConfig`), Dice + CE.
- `segnas+K=V`: the same with one setting changed (the ablation), e.g. `segnas+fg_fraction=0.5`.
- `NETWORK[+K=V…]`: another network through `segnas train` with the same recipe: `monai_dynunet`, or the
  LA table's searched `scnas` and `ronasmis` architectures (from `records/real_data_cpu_2026-11-22/la`).

    cd benchmarks && OMP_NUM_THREADS=1 ../.venv/bin/python recipe.py --out /work/recipe --steps 1000 \\
        --rows plain segnas segnas+fg_fraction=0.5 segnas+augment_affine=false

Rows run one after another in this process (run two processes with different `--rows` side by side on two
cores); each row's run and predictions are kept under OUT and reused; `--report` tables what is there:
mean Dice per row and, against `plain`, the per-case difference with its paired Wilcoxon p.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import header
from rich.console import Console
from scipy.stats import wilcoxon

from segnas.app.pipeline import predict_stage
from segnas.config import TrainConfig, make_config
from segnas.data.plan import load_plan
from segnas.data.preprocess import load_case
from segnas.data.splits import load_fold
from segnas.networks.baselines import baseline_architecture
from segnas.networks.model import build_network
from segnas.runtime.checkpoint import save_checkpoint
from segnas.runtime.files import read_json, write_json
from segnas.runtime.workspace import Workspace
from segnas.training.train import train

sys.path.insert(0, str(Path(__file__).parent))
from real_data import prepare  # noqa: E402  (the benchmarks folder is not a package)

PATCH = [80, 64, 32]
BATCH = 2


def plain_loop(ws: Workspace, run: Path, steps: int, seed: int = 0) -> None:
    """The reference: MONAI UNet, Dice + CE, Adam 1e-3, half foreground-centred patches, flips; last weights kept."""
    from monai.losses import DiceCELoss

    plan = load_plan(ws)
    arch = baseline_architecture("monai_unet", plan)
    torch.manual_seed(seed)
    net = build_network(arch)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    cases = [load_case(ws, cid, mmap=False) for cid in load_fold(ws, 0).train]
    rng = np.random.default_rng(seed)

    def patch() -> tuple[np.ndarray, np.ndarray]:
        case = cases[rng.integers(len(cases))]
        shape = np.array(case.seg.shape)
        size = np.minimum(PATCH, shape)
        if rng.random() < 0.5 and case.fg:
            positions = case.fg[sorted(case.fg)[rng.integers(len(case.fg))]]
            centre = positions[rng.integers(len(positions))]
            lo = np.clip(centre - size // 2, 0, shape - size)
        else:
            lo = np.array([rng.integers(0, n - s + 1) for n, s in zip(shape, size)])
        box = tuple(slice(a, a + s) for a, s in zip(lo, size))
        image = np.zeros((case.image.shape[0], *PATCH), np.float32)
        label = np.zeros((1, *PATCH), np.int64)
        image[(slice(None), *[slice(0, s) for s in size])] = case.image[(slice(None), *box)]
        label[(0, *[slice(0, s) for s in size])] = case.seg[box]
        for axis in range(3):
            if rng.random() < 0.5:
                image, label = np.flip(image, axis + 1), np.flip(label, axis + 1)
        return np.ascontiguousarray(image), np.ascontiguousarray(label)

    net.train()
    for _ in range(steps):
        pairs = [patch() for _ in range(BATCH)]
        x = torch.from_numpy(np.stack([p[0] for p in pairs]))
        y = torch.from_numpy(np.stack([p[1] for p in pairs]))
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
    run.mkdir(parents=True, exist_ok=True)
    arch.save(run / "arch.json")
    write_json(run / "plan.json", plan.to_json())
    write_json(run / "config.json", {"patch_size": PATCH, "val_mode": "sliding", "channels_last": False})
    save_checkpoint(run / "best.pt", {"kind": "model", "net": net.state_dict(), "epoch": steps, "val_dice": float("nan")})
    write_json(run / "summary.json", {"steps": steps})


RECORDS = Path(__file__).parent / "records" / "real_data_cpu_2026-11-22" / "la"
NETWORKS = {"segnas": "monai_unet", "monai_unet": "monai_unet", "monai_dynunet": "monai_dynunet",  # baselines
            "scnas": RECORDS / "search_scnas_unet_gumbel2_fold0.arch.json",  # the LA table's searched networks
            "ronasmis": RECORDS / "search_ronasmis_unet_enas_fold0.arch.json"}


def network_file(ws: Workspace, network: str) -> Path:
    """`arch.json` of a row's network: a baseline configured for the plan, or a searched architecture."""
    source = NETWORKS[network]
    if isinstance(source, Path):
        return source
    path = ws.root / f"{source}.json"
    if not path.is_file():
        baseline_architecture(source, load_plan(ws), PATCH).save(path)
    return path


def segnas_training(ws: Workspace, run: Path, steps: int, network: str, changes: dict[str, str], workers: int) -> None:
    """`segnas train` of `network` with the default recipe and `changes`; last weights kept."""
    arch_path = network_file(ws, network)
    spe = 50
    over: dict[str, Any] = {"epochs": -(-steps // spe), "steps_per_epoch": spe, "batch_size": BATCH, "patch_size": PATCH,
                            "loss": "dice_ce", "val_every": 0, "workers": workers, "fold": 0, **changes}
    cfg = make_config(None, over, TrainConfig)
    if not (run / "summary.json").is_file():
        train(ws.root, arch_path, cfg, run, resume=(run / "checkpoint.pt").is_file())


def row(ws: Workspace, name: str, steps: int, workers: int, out: Path) -> dict[str, Any]:
    """Train (or reuse) and score one row → its metrics."""
    run = out / "runs" / f"{steps}steps" / name
    t0 = time.perf_counter()
    if not (run / "summary.json").is_file():
        if name == "plain":
            plain_loop(ws, run, steps)
        else:
            network, *sets = name.split("+")
            segnas_training(ws, run, steps, network, dict(c.split("=", 1) for c in sets), workers)
    seconds = time.perf_counter() - t0
    preds = out / "predictions" / f"{steps}steps" / name
    metrics = predict_stage(ws, load_plan(ws), run, load_fold(ws, 0).val, preds, "predict", Console(stderr=True))
    write_json(preds / "row.json", {"seconds_this_session": seconds})
    return metrics


def per_case(metrics: dict[str, Any]) -> dict[str, float]:
    """Mean foreground Dice of each case."""
    return {r["case"]: float(np.mean([v["dice"] for v in r["classes"].values()])) for r in metrics["cases"]}


def report(out: Path, steps: int) -> None:
    """Table of every scored row at `steps`, each against `plain` per case."""
    folder = out / "predictions" / f"{steps}steps"
    rows = {p.name: per_case(read_json(p / "metrics.json")) for p in sorted(folder.iterdir()) if (p / "metrics.json").is_file()}
    if not rows:
        return
    ref = rows.get("plain")
    print(f"\n### LA fold 0, {steps} steps, 16 validation cases (last weights; nothing selected on them)\n")
    print("| row | mean Dice | sd | vs plain: mean Δ | wins | Wilcoxon p |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, d in rows.items():
        v = np.array(list(d.values()))
        cells = [name, f"{v.mean():.3f}", f"{v.std():.3f}"]
        if ref is not None and name != "plain":
            common = sorted(set(d) & set(ref))
            diff = np.array([d[c] - ref[c] for c in common])
            p = wilcoxon(diff).pvalue if np.any(diff) else 1.0
            cells += [f"{diff.mean():+.3f}", f"{int((diff > 0).sum())}/{len(diff)}", f"{p:.2g}"]
        else:
            cells += ["", "", ""]
        print("| " + " | ".join(cells) + " |")
    write_json(folder / "summary.json", {"steps": steps, "per_case_dice": rows})


def patch_statistics(ws: Workspace, n: int = 600) -> None:
    """Zero padding and foreground share of `n` training patches (flips only, as trained) under each sampling rule."""
    from segnas.data.patches import PatchDataset
    ids = load_fold(ws, 0).train
    print("\n| patches | zero padding | foreground share |\n|---|---:|---:|")
    for name, kwargs in (("fg 1/3, centres anywhere (the old default)", {"fg_fraction": 1 / 3, "inside": False}),
                         ("fg 1/3, inside", {"fg_fraction": 1 / 3}), ("fg 0.5, centres anywhere", {"inside": False}),
                         ("fg 0.5, inside (the default)", {})):
        ds = PatchDataset(ws.root, ids, PATCH, 3, samples_per_epoch=n, augment=True, seed=0, **kwargs)
        pad = float(np.mean([ds.sample(i, 0)["padding"] for i in range(n)]))
        fg = float(np.mean([(ds[(0, i)]["label"] > 0).float().mean() for i in range(n)]))  # of the patch as trained
        print(f"| {name} | {pad:.3f} | {fg:.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--rows", nargs="*", default=["plain", "segnas"])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--report", action="store_true", help="only print the tables of what is there")
    ap.add_argument("--patch-stats", action="store_true", help="only measure padding and foreground share of the patches")
    args = ap.parse_args()
    if args.patch_stats:
        patch_statistics(prepare("la", args.out))
        return
    if not args.report:
        print(header("recipe: segnas training vs a plain loop, LA fold 0"))
        ws = prepare("la", args.out)
        for name in args.rows:
            row(ws, name, args.steps, args.workers, args.out)
    report(args.out, args.steps)
    print(json.dumps({"threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
