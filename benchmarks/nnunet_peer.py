"""nnU-Net v2 itself as a peer (issue 20): LA fold 0 in nnU-Net's raw format, its own planning and
preprocessing, its 3d_fullres configuration trained for a given number of iterations, its prediction of
fold 0's 16 validation cases, scored by segnas's evaluation in their original geometry.

nnU-Net is a benchmark dependency only, installed in a virtual environment of its own (never segnas's):

    python3 -m venv /work/nnunet_venv && /work/nnunet_venv/bin/pip install torch==2.13.0 nnunetv2==2.8.1
    cd benchmarks && ../.venv/bin/python nnunet_peer.py --out /work/nnunet --nnunet-venv /work/nnunet_venv \\
        --iterations 1000 [--device cpu|cuda]

Steps (each skipped when its output exists, so a rerun continues): raw dataset (links to the LA files,
`dataset.json` in nnU-Net's format, `splits_final.json` = segnas's fold 0), `nnUNetv2_plan_and_preprocess`,
a trainer of `--iterations` (nnU-Net's own trainer with epochs × iterations per epoch set to the budget, up
to nnU-Net's 250 per epoch, and its own end-of-training validation skipped, written as `nnUNetTrainer_<N>it` into
nnU-Net's trainer package, which is where nnU-Net looks trainers up by name), `nnUNetv2_train`, `nnUNetv2_predict` on
the 16 cases (no test-time mirroring, as segnas's rows), then per-case Dice. Data augmentation runs in `nnUNet_n_proc_DA` processes (default here 1).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from _common import SHARED_DATA

from segnas.data.msd import load_dataset
from segnas.inference.evaluate import evaluate_pairs
from segnas.runtime.files import write_json

sys.path.insert(0, str(Path(__file__).parent))
from real_data import prepare  # noqa: E402

DATASET_ID, NAME = 501, "Dataset501_LA"
ITERATIONS_PER_EPOCH = 250  # nnU-Net's default

TRAINER = '''import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer


class nnUNetTrainer_{n}it(nnUNetTrainer):
    """nnU-Net's trainer for {n} iterations in all (written by segnas benchmarks/nnunet_peer.py)."""

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):  # nnU-Net records its trainers' arguments by name
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.num_epochs = {epochs}
        self.num_iterations_per_epoch = {per_epoch}

    def perform_actual_validation(self, save_probabilities: bool = False):
        """Skipped: the benchmark predicts the validation cases with nnUNetv2_predict and scores them itself."""
'''


def raw_dataset(raw: Path, fold: dict[str, list[str]]) -> None:
    """LA in nnU-Net v2's raw layout: imagesTr/<case>_0000.nii.gz, labelsTr/<case>.nii.gz, dataset.json."""
    spec = load_dataset(SHARED_DATA / "LA2018_down2")
    folder = raw / NAME
    (folder / "imagesTr").mkdir(parents=True, exist_ok=True)
    (folder / "labelsTr").mkdir(parents=True, exist_ok=True)
    for case in spec.cases:
        for src, dst in ((case.image, folder / "imagesTr" / f"{case.id}_0000.nii.gz"), (case.label, folder / "labelsTr" / f"{case.id}.nii.gz")):
            if not dst.exists():
                os.symlink(src.resolve(), dst)
    write_json(folder / "dataset.json", {"channel_names": {"0": "MRI"}, "labels": {"background": 0, "left atrium": 1},
                                         "numTraining": len(spec.cases), "file_ending": ".nii.gz", "name": NAME})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--nnunet-venv", type=Path, required=True)
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--stop-after", choices=["plan", "train"], help="stop after nnU-Net's planning or training")
    args = ap.parse_args()
    out = args.out.resolve()
    ws = prepare("la", out)  # segnas's plan and fold 0, so both see the same split
    fold = json.loads(ws.splits.read_text())["folds"][0]
    env = {**os.environ, "nnUNet_raw": str(out / "nnUNet_raw"), "nnUNet_preprocessed": str(out / "nnUNet_preprocessed"),
           "nnUNet_results": str(out / "nnUNet_results"), "nnUNet_n_proc_DA": os.environ.get("nnUNet_n_proc_DA", "1")}
    bin_ = args.nnunet_venv / "bin"

    def run(*cmd: str) -> None:
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, env=env, check=True)

    raw_dataset(out / "nnUNet_raw", fold)
    pre = out / "nnUNet_preprocessed" / NAME
    if not (pre / "nnUNetPlans.json").is_file():
        run(str(bin_ / "nnUNetv2_plan_and_preprocess"), "-d", str(DATASET_ID), "-c", "3d_fullres", "-np", "2", "-npfp", "2",
            "--verify_dataset_integrity")
    write_json(pre / "splits_final.json", [{"train": fold["train"], "val": fold["val"]}])
    if args.stop_after == "plan":
        return
    epochs = -(-args.iterations // ITERATIONS_PER_EPOCH)
    if args.iterations % epochs:
        raise SystemExit(f"--iterations {args.iterations} must split into {epochs} equal epochs")
    trainer = f"nnUNetTrainer_{args.iterations}it"
    package = next((args.nnunet_venv / "lib").glob("python3*/site-packages/nnunetv2/training/nnUNetTrainer"))
    (package / f"{trainer}.py").write_text(TRAINER.format(n=args.iterations, epochs=epochs, per_epoch=args.iterations // epochs))
    results = out / "nnUNet_results" / NAME / f"{trainer}__nnUNetPlans__3d_fullres" / "fold_0"
    if not (results / "checkpoint_final.pth").is_file():
        resume = ["--c"] if (results / "checkpoint_latest.pth").is_file() else []
        run(str(bin_ / "nnUNetv2_train"), str(DATASET_ID), "3d_fullres", "0", "-tr", trainer, "-device", args.device, *resume)
    if args.stop_after == "train":
        return
    images = out / "val_images"
    images.mkdir(exist_ok=True)
    for cid in fold["val"]:
        link = images / f"{cid}_0000.nii.gz"
        if not link.exists():
            os.symlink((out / "nnUNet_raw" / NAME / "imagesTr" / link.name).resolve(), link)
    preds = out / "predictions"
    if len(list(preds.glob("*.nii.gz"))) < len(fold["val"]):
        run(str(bin_ / "nnUNetv2_predict"), "-i", str(images), "-o", str(preds), "-d", str(DATASET_ID), "-c", "3d_fullres",
            "-f", "0", "-tr", trainer, "-device", args.device, "-chk", "checkpoint_final.pth", "--disable_tta",
            "-npp", "1", "-nps", "1")  # no mirroring: segnas's rows predict without test-time augmentation too
    spec = load_dataset(SHARED_DATA / "LA2018_down2")
    pairs = [(preds / f"{cid}.nii.gz", spec.case(cid).label) for cid in fold["val"]]
    summary = evaluate_pairs(pairs, {"1": "left atrium"}, preds / "metrics.json")
    print(json.dumps({"iterations": args.iterations, "mean_dice": summary["mean"]}, indent=1))


if __name__ == "__main__":
    main()
