"""Seconds to plan and preprocess all of LA2018_down2 (80 cases) from scratch.

    python benchmarks/preprocess_la.py [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _common import SHARED_DATA, header

from segnas.data.msd import load_dataset
from segnas.data.plan import plan_dataset
from segnas.data.preprocess import preprocess_dataset
from segnas.data.validate import validate_dataset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED_DATA / "LA2018_down2")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if not (args.data / "dataset.json").is_file():
        sys.exit(f"{args.data}: not found (this benchmark needs the real dataset)")
    work = Path(tempfile.mkdtemp(prefix="segnas-prep-")) / "work"
    print(header("preprocess"))
    n = len(load_dataset(args.data).cases)
    t0 = time.perf_counter()
    validate_dataset(args.data)
    t1 = time.perf_counter()
    plan_dataset(args.data, work, workers=args.workers)
    t2 = time.perf_counter()
    counts = preprocess_dataset(work, workers=args.workers)
    t3 = time.perf_counter()
    print(f"{args.data.name}: {n} cases, {args.workers} workers")
    print(f"validate {t1 - t0:.1f} s, plan (fingerprint) {t2 - t1:.1f} s, preprocess {t3 - t2:.1f} s ({counts['done']} cases)")
    print(f"plan + preprocess: {t3 - t1:.1f} s (target: < 120 s)")


if __name__ == "__main__":
    main()
