"""Peak memory of `segnas preprocess` and `segnas predict` for 10, 40 and 80 cases of LA2018_down2.

Both stream case by case, so their peak should not grow with the number of cases. Each measurement is
a separate `segnas` process; its peak resident memory comes from the kernel (wait4's ru_maxrss), so the
figure includes Python, torch and everything the command touched.

    python benchmarks/memory_scaling.py [--counts 10 40 80] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import SHARED_DATA, header


def peak(args: list[str]) -> tuple[float, float]:
    """Run `segnas ARGS` → (peak RSS in MiB, seconds); a failure stops the benchmark with its output."""
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "segnas", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(p.pid, 0)
    out = p.stdout.read().decode() if p.stdout else ""
    if status != 0:
        sys.exit(f"segnas {' '.join(args)} failed:\n{out}")
    return usage.ru_maxrss / 1024, time.perf_counter() - t0


def subset(data: Path, n: int, root: Path) -> Path:
    """An MSD folder of the first `n` cases of `data` (symlinked files, a new dataset.json)."""
    meta = json.loads((data / "dataset.json").read_text())
    meta["training"] = meta["training"][:n]
    meta["numTraining"] = n
    out = root / f"{data.name}_{n}"
    for sub in ("imagesTr", "labelsTr"):
        (out / sub).mkdir(parents=True)
    for case in meta["training"]:
        for key in ("image", "label"):
            rel = case[key].removeprefix("./")
            (out / rel).symlink_to(data / rel)
    (out / "dataset.json").write_text(json.dumps(meta))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED_DATA / "LA2018_down2")
    ap.add_argument("--counts", type=int, nargs="+", default=[10, 40, 80])
    ap.add_argument("--workers", type=int, default=1, help="preprocessing worker processes (1: one stream)")
    args = ap.parse_args()
    if not (args.data / "dataset.json").is_file():
        sys.exit(f"{args.data}: not found (this benchmark needs the real dataset)")
    root = Path(tempfile.mkdtemp(prefix="segnas-mem-"))
    print(header("memory scaling"))
    model = None
    rows = []
    for n in args.counts:
        data = subset(args.data, n, root)
        work = root / f"work_{n}"
        peak(["plan", str(data), "--work", str(work), "--workers", "1"])
        prep_mb, prep_s = peak(["preprocess", "--work", str(work), "--workers", str(args.workers)])
        if model is None:  # any trained model will do: memory, not quality, is measured
            arch = root / "arch.json"
            from segnas.nas.spaces import get_space
            get_space("unet").random(seed=0, channels=8, depth=4).save(arch)
            peak(["train", "--work", str(work), "--arch", str(arch), "--preset", "darts", "--epochs", "1",
                  "--set", "steps_per_epoch=2", "--set", "batch_size=1", "--set", "width=8", "--set", "workers=0"])
            model = work / "runs" / "train_darts_fold0"
        pred_mb, pred_s = peak(["predict", "-m", str(model), "-i", str(data / "imagesTr"), "-o", str(root / f"pred_{n}"),
                                "--device", "cpu"])
        rows.append((n, prep_mb, prep_s, pred_mb, pred_s))
        print(f"{n:3d} cases: preprocess peak {prep_mb:7.0f} MiB ({prep_s:5.1f} s), predict peak {pred_mb:7.0f} MiB ({pred_s:5.1f} s)",
              flush=True)
    first = rows[0]
    print("\n| cases | preprocess peak MiB | × first | predict peak MiB | × first | preprocess s | predict s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, pm, ps, qm, qs in rows:
        print(f"| {n} | {pm:.0f} | {pm / first[1]:.2f} | {qm:.0f} | {qm / first[3]:.2f} | {ps:.1f} | {qs:.1f} |")
    print(f"\n(work folders under {root})")


if __name__ == "__main__":
    main()
