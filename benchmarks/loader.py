"""Patches per second of the training loader: 96³ patches, full augmentation, 2 workers.

    python benchmarks/loader.py [--data DIR] [--patch 96] [--workers 2] [--batches 30]

Uses ../shared/data/LA2018_down2 when present, else a synthetic dataset it writes to a temp folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import SHARED_DATA, header

from segnas.data.patches import PatchDataset, patch_loader
from segnas.data.plan import plan_dataset
from segnas.data.preprocess import preprocess_dataset
from segnas.data.splits import load_splits
from segnas.data.synthetic import make_dataset
from segnas.runtime.workspace import Workspace


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED_DATA / "LA2018_down2")
    ap.add_argument("--patch", type=int, default=96)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--batches", type=int, default=30)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="segnas-loader-"))
    data = args.data if (args.data / "dataset.json").is_file() else make_dataset(tmp / "synth", 12, 3)
    plan_dataset(data, tmp / "work", workers=2)
    preprocess_dataset(tmp / "work", workers=2)
    ids = load_splits(Workspace(tmp / "work")).folds[0].train
    n = args.batch * args.batches
    patch = [args.patch] * 3
    print(header("loader"))
    print(f"data: {data} ({len(ids)} training cases), patch {patch}, batch {args.batch}, augmentation on")
    for workers in sorted({0, args.workers}):
        ds = PatchDataset(tmp / "work", ids, patch, 3, samples_per_epoch=n + 4 * args.batch, seed=0)
        it = iter(patch_loader(ds, args.batch, workers))
        for _ in range(4):  # warm up: worker start, first case loads
            next(it)
        t = time.perf_counter()
        for _ in range(args.batches):
            next(it)
        dt = time.perf_counter() - t
        print(f"workers={workers}: {n / dt:.1f} patches/s ({dt / n * 1000:.0f} ms per patch)")


if __name__ == "__main__":
    main()
