"""Work folders made by an earlier segnas keep loading: `tests/data/legacy_v1` was made by commit 4b11bdd (before the
package was split into folders and the plan was typed) with

    segnas synth data --cases 6 --dims 3 --seed 5
    segnas plan data --work work --num-folds 2 && segnas preprocess --work work
    segnas search --work work --preset scnas --epochs 2 --set steps_per_epoch=2 --set space_settings.channels=4 \\
        --set batch_size=1 --set patch_size=[32,32,16]
    segnas train --work work --arch work/runs/search_scnas_unet_gumbel2_fold0/arch.json --width 4 --steps 4 \\
        --set steps_per_epoch=2 --set batch_size=1 --set patch_size=[32,32,16]
    segnas predict -m work/runs/train_scnas_fold0 -i data/imagesTr/synth_000.nii.gz -o reference

(the preprocessed cases, checkpoints of the search and the training's last checkpoint are left out to keep it small)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from segnas import api

LEGACY = Path(__file__).parent / "data" / "legacy_v1"


def test_an_old_work_folder_loads_and_its_model_predicts_the_same(tmp_path: Path) -> None:
    from segnas.data.io import read_label
    from segnas.data.plan import load_plan
    from segnas.data.splits import load_fold
    from segnas.nas.arch import load_architecture
    from segnas.runtime.workspace import Workspace

    work = tmp_path / "work"
    shutil.copytree(LEGACY / "work", work)
    ws = Workspace(work)
    plan = load_plan(ws)
    assert (plan.dims, plan.in_channels, plan.num_classes, plan.patch_size) == (3, 2, 3, (64, 64, 32))
    fold = load_fold(ws, 0)
    assert len(fold.train) + len(fold.val) == 6 and set(fold.search_train) | set(fold.search_val) == set(fold.train)
    found = load_architecture(work / "runs" / "search_scnas_unet_gumbel2_fold0" / "arch.json")
    trained = load_architecture(work / "runs" / "train_scnas_fold0" / "arch.json")
    assert found.values == trained.values and found.space == "unet"
    api.predict(work / "runs" / "train_scnas_fold0", LEGACY / "input", tmp_path / "pred")
    now, _ = read_label(tmp_path / "pred" / "synth_000.nii.gz")
    then, _ = read_label(LEGACY / "reference" / "synth_000.nii.gz")
    assert np.array_equal(now, then)
