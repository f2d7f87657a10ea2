"""Training found architectures: every space in 2D and 3D, wider or transferred, from scratch or from the
search's shared weights (RONASMIS); artifacts, exact resume and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from segnas.config import TrainConfig, make_config
from segnas.data.plan import load_plan
from segnas.errors import SegnasError
from segnas.nas.arch import Architecture, load_architecture
from segnas.nas.search import search
from segnas.nas.spaces import SPACES, get_space
from segnas.networks.baselines import BASELINES, baseline_architecture
from segnas.networks.model import load_model
from segnas.runtime.workspace import Workspace
from segnas.training.train import expected_steps, train

from .conftest import copy_work, nan_every

TINY = {"epochs": 2, "steps_per_epoch": 2, "batch_size": 2, "workers": 0, "val_every": 1}
PATCH = {2: [32, 32], 3: [16, 16, 16]}


def random_arch(space: str, path: Path, **settings: object) -> Path:
    """A random architecture of `space` saved as arch.json, for a network far from this dataset's (transfer)."""
    arch = get_space(space).random(seed=3, **{"channels": 8, "in_channels": 1, "num_classes": 5, **settings})
    arch.save(path)
    return path


def tiny(**more: object) -> TrainConfig:
    return make_config("darts", {**TINY, **more}, TrainConfig)


@pytest.mark.slow
@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("name", sorted(BASELINES))
def test_every_baseline_trains_and_predicts_in_2d_and_3d(name: str, dims: int, work3d: Path, work2d: Path, tmp_path: Path) -> None:
    work = copy_work(work3d if dims == 3 else work2d, tmp_path / "w")
    plan = load_plan(Workspace(work))
    patch = [32] * dims  # MONAI's UNet halves 4 times and needs more than one voxel at the bottom
    baseline_architecture(name, plan, patch).save(tmp_path / "arch.json")
    run = train(work, tmp_path / "arch.json", tiny(patch_size=patch), show_progress=False)
    assert load_architecture(run / "arch.json").space == name
    model = load_model(run, device="cpu")
    x = torch.zeros(1, 2, *patch)
    assert model.net(x).shape == (1, 3, *patch)
    assert 0.0 <= json.loads((run / "summary.json").read_text())["best_val_dice"] <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("space", sorted(SPACES))
def test_every_space_trains_in_2d_and_3d(space: str, dims: int, work3d: Path, work2d: Path, tmp_path: Path) -> None:
    work = copy_work(work3d if dims == 3 else work2d, tmp_path / "w")
    arch_path = random_arch(space, tmp_path / "arch.json", dims=5 - dims, depth=3)  # searched in the other dimensionality
    run = train(work, arch_path, tiny(patch_size=PATCH[dims], width=16), show_progress=False)
    for name in ("arch.json", "plan.json", "config.json", "best.pt", "checkpoint.pt", "log.jsonl", "learning_curve.png", "summary.json"):
        assert (run / name).is_file(), name
    arch = load_architecture(run / "arch.json")
    plan = load_plan(Workspace(work))
    assert arch.settings["dims"] == dims and arch.settings["in_channels"] == plan.in_channels == 2
    assert arch.settings["num_classes"] == 3 and arch.settings["channels"] == 16  # transferred and widened
    assert arch.values == load_architecture(arch_path).values
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0, 1]
    assert set(records[-1]["val_dice_per_class"]) == {"organ", "lesion"}
    assert all(0.0 <= v <= 1.0 for v in records[-1]["val_dice_per_class"].values())


@pytest.mark.slow
def test_killed_and_resumed_equals_uninterrupted_and_another_seed_differs(work3d: Path, tmp_path: Path) -> None:
    """The resumed run also shows that one seed gives one training (its first epoch ran afresh)."""
    arch_path = random_arch("unet", tmp_path / "arch.json")
    cfg = tiny(patch_size=PATCH[3], epochs=3, seed=7)
    a = train(copy_work(work3d, tmp_path / "a"), arch_path, cfg, show_progress=False)
    wb = copy_work(work3d, tmp_path / "b")
    b = train(wb, arch_path, cfg, stop_after=1, show_progress=False)
    assert not (b / "summary.json").exists()
    with pytest.raises(SegnasError, match="--resume"):
        train(wb, arch_path, cfg, show_progress=False)
    b = train(wb, arch_path, cfg, resume=True, show_progress=False)
    sa, sb = (torch.load(r / "checkpoint.pt", weights_only=False) for r in (a, b))
    assert sa["epoch"] == sb["epoch"] == 2
    for k, v in sa["net"].items():
        assert torch.equal(v, sb["net"][k]), k
    assert [json.loads(x)["epoch"] for x in (b / "log.jsonl").read_text().splitlines()] == [0, 1, 2]
    best = [json.loads((r / "summary.json").read_text())["best_val_dice"] for r in (a, b)]
    assert best[0] == best[1]
    c = train(copy_work(work3d, tmp_path / "c"), arch_path, tiny(patch_size=PATCH[3], epochs=3, seed=8), show_progress=False)
    sc = torch.load(c / "checkpoint.pt", weights_only=False)
    assert not all(torch.equal(v, sc["net"][k]) for k, v in sa["net"].items())


@pytest.mark.slow
def test_resume_refuses_other_settings(work3d: Path, tmp_path: Path) -> None:
    arch_path = random_arch("unet", tmp_path / "arch.json")
    w = copy_work(work3d, tmp_path / "w")
    train(w, arch_path, tiny(patch_size=PATCH[3], epochs=3), stop_after=1, show_progress=False)
    with pytest.raises(SegnasError, match="weight_lr"):
        train(w, arch_path, tiny(patch_size=PATCH[3], epochs=3, weight_lr=0.1), resume=True, show_progress=False)


@pytest.mark.slow
def test_ronasmis_child_keeps_the_shared_weights(work3d: Path, tmp_path: Path) -> None:
    """init=search: before any step the trained network computes exactly what the supernet's child computes."""
    w = copy_work(work3d, tmp_path / "w")
    from segnas.config import make_config as search_config
    s_cfg = search_config("ronasmis", {"epochs": 1, "steps_per_epoch": 2, "batch_size": 2, "patch_size": [16, 16, 16],
                                       "workers": 0, "space_settings.channels": 8, "strategy_options.export_samples": 2})
    srun = search(w, s_cfg, show_progress=False)
    cfg = make_config("ronasmis", {**TINY, "epochs": 1, "steps_per_epoch": 1, "patch_size": [16, 16, 16], "weight_lr": 0.0}, TrainConfig)
    run = train(w, srun / "arch.json", cfg, show_progress=False)
    state = torch.load(srun / "checkpoint.pt", weights_only=False)
    trained = torch.load(run / "checkpoint.pt", weights_only=False)["net"]
    stem = [k for k in trained if k.startswith("stem.")]
    assert stem and all(torch.equal(trained[k], state["net"][k]) for k in stem if "running" not in k)
    edge = next(k for k in trained if ".op." in k and k.endswith("weight"))
    assert any(torch.equal(trained[edge], v) for k, v in state["net"].items() if k.startswith(edge.split(".op.")[0] + ".ops."))


def test_init_search_refuses_a_network_with_no_search_weights_beside_it(work3d: Path, tmp_path: Path) -> None:
    arch_path = random_arch("unet", tmp_path / "arch.json")  # a drawn network, as a search by training's export: no supernet
    with pytest.raises(SegnasError, match=r"arch.json: init=search starts from the shared weights .* \(--set init=scratch\)"):
        train(copy_work(work3d, tmp_path / "w"), arch_path, tiny(patch_size=PATCH[3], init="search"), show_progress=False)


@pytest.mark.parametrize("change, message", [
    ({"patch_size": [12, 12, 12]}, "multiples of"),
    ({"fold": 7}, "no fold 7"),
    ({"init": "imagenet"}, "init must be"),
    ({"schedule": "cosine"}, "unknown schedule"),
    ({"width": 10}, "multiple of nodes"),
])
def test_bad_settings_are_clear_errors(change: dict, message: str, work3d: Path, tmp_path: Path) -> None:
    arch_path = random_arch("unet", tmp_path / "arch.json")
    with pytest.raises(SegnasError, match=message):
        train(copy_work(work3d, tmp_path / "w"), arch_path, tiny(**{"patch_size": PATCH[3], **change}), show_progress=False)


def test_arch_of_another_space_is_named(work3d: Path, tmp_path: Path) -> None:
    path = tmp_path / "arch.json"
    Architecture("nested", {"channels": 8}, {"dn/node0/edge0": "conv3"}).save(path)
    with pytest.raises(SegnasError, match=str(path)):
        train(copy_work(work3d, tmp_path / "w"), path, tiny(patch_size=PATCH[3]), show_progress=False)


@pytest.mark.slow
def test_nonfinite_losses_are_skipped_logged_and_slow_the_rate(work3d: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("segnas.training.train.segmentation_loss", nan_every(2))
    arch_path = random_arch("unet", tmp_path / "arch.json")
    run = train(copy_work(work3d, tmp_path / "w"), arch_path, tiny(patch_size=PATCH[3], steps_per_epoch=4), show_progress=False)
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["nonfinite_steps"] for r in records] == [2, 2]
    assert [r["lr"] for r in records] == pytest.approx([1.5e-4, 7.5e-5])  # halved after each epoch with skipped steps
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    assert all(torch.isfinite(v).all() for v in state["net"].values() if v.is_floating_point())


@pytest.mark.slow
def test_losses_that_stay_nonfinite_stop_with_the_last_good_checkpoint(work3d: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("segnas.training.train.segmentation_loss", nan_every(1))
    arch_path = random_arch("unet", tmp_path / "arch.json")
    w = copy_work(work3d, tmp_path / "w")
    with pytest.raises(SegnasError, match="checkpoint is intact"):
        train(w, arch_path, tiny(patch_size=PATCH[3], epochs=5), show_progress=False)
    state = torch.load(w / "runs" / "train_darts_fold0" / "checkpoint.pt", weights_only=False)
    assert state["epoch"] == 1  # epochs 0 and 1 were saved; the third bad epoch stopped before writing


@pytest.mark.slow
def test_time_budget_stops_after_a_validated_epoch(work3d: Path, tmp_path: Path) -> None:
    arch_path = random_arch("unet", tmp_path / "arch.json")
    w = copy_work(work3d, tmp_path / "w")
    run = train(w, arch_path, tiny(patch_size=PATCH[3], epochs=50, val_every=10, max_minutes=1e-6), show_progress=False)
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0] and "val_dice" in records[0]  # the first epoch used it all up
    budget = 1.5 * records[0]["seconds"] / 60  # room for more epochs; the budget, not the epoch count, ends the run
    run = train(w, arch_path, tiny(patch_size=PATCH[3], epochs=10**4, val_every=10**4, max_minutes=budget), run=tmp_path / "r2",
                show_progress=False)
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert 2 <= len(records) < 10**4 and "val_dice" in records[-1]
    assert json.loads((run / "summary.json").read_text())["best_epoch"] in (0, len(records) - 1)


def test_no_validation_keeps_the_last_epoch(work3d: Path, tmp_path: Path) -> None:
    arch_path = random_arch("unet", tmp_path / "arch.json")
    run = train(copy_work(work3d, tmp_path / "w"), arch_path, tiny(patch_size=PATCH[3], epochs=2, val_every=0, max_minutes=1e-6),
                show_progress=False)
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert len(records) == 1 and "val_dice" not in records[0]  # no validation, even in the epoch that used the budget up
    assert json.loads((run / "summary.json").read_text())["best_epoch"] == 0
    with pytest.raises(SegnasError, match="val_every"):
        train(copy_work(work3d, tmp_path / "w2"), arch_path, tiny(patch_size=PATCH[3], val_every=-1), run=tmp_path / "r2",
              show_progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("select", ["last", "inner", "val"])
def test_model_selection_never_touches_the_reported_cases_unless_asked(select: str, work3d: Path, tmp_path: Path) -> None:
    """best.pt: the last epoch, the best on the fold's search_val cases held out of training, or (knowingly) the
    best on the reported validation cases; summary.json says which."""
    from segnas.data.splits import load_fold
    from segnas.runtime.workspace import Workspace
    from segnas.training.train import training_split
    work = copy_work(work3d, tmp_path / "w")
    fold = load_fold(Workspace(work), 0)
    train_ids, val_ids = training_split(fold, select)
    if select == "inner":
        assert val_ids == list(fold.search_val) and not set(train_ids) & set(val_ids) and not set(val_ids) & set(fold.val)
    else:
        assert train_ids == list(fold.train) and val_ids == list(fold.val)
    arch = random_arch("unet", tmp_path / "arch.json", depth=3)
    run = train(work, arch, tiny(patch_size=PATCH[3], epochs=3, select=select, keep_every=4), show_progress=False)
    summary = json.loads((run / "summary.json").read_text())
    assert {"last": "nothing", "inner": "search_val", "val": "optimistic"}[select] in summary["selected_on"]
    best, last = (torch.load(run / n, weights_only=False) for n in ("best.pt", "checkpoint.pt"))
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    if select == "last":
        assert all(torch.equal(best["net"][k], last["net"][k]) for k in best["net"])
    else:
        assert best["epoch"] == max(range(3), key=lambda e: (records[e]["val_dice"], -e))
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_4.pt"]  # steps 2, 4, 6: one multiple of 4


@pytest.mark.slow
def test_a_run_that_never_validates_says_it_kept_its_last_weights(work2d: Path, tmp_path: Path) -> None:
    """`select` inner with `val_every` 0 (the race's finishing runs) selects on nothing: summary.json says so, with a
    null best Dice (not NaN, which is not JSON)."""
    work = copy_work(work2d, tmp_path / "w")
    baseline_architecture("monai_unet", load_plan(Workspace(work)), [32, 32]).save(tmp_path / "arch.json")
    run = train(work, tmp_path / "arch.json", tiny(patch_size=[32, 32], select="inner", val_every=0), show_progress=False)
    text = (run / "summary.json").read_text()
    summary = json.loads(text)
    assert "NaN" not in text and summary["best_val_dice"] is None and summary["best_epoch"] == 1
    assert "nothing" in summary["selected_on"]
    best, last = (torch.load(run / n, weights_only=False) for n in ("best.pt", "checkpoint.pt"))
    assert all(torch.equal(best["net"][k], last["net"][k]) for k in best["net"])


@pytest.mark.slow
def test_cli_trains_a_baseline_by_name_for_a_number_of_steps(work3d: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from segnas.app.cli import app
    work = copy_work(work3d, tmp_path / "w")
    args = ["train", "--work", str(work), "--arch", "monai_unet", "--preset", "darts", "--name", "unet", "--threads", "1",
            "--set", "steps_per_epoch=2", "--set", "batch_size=1", "--set", "patch_size=[32,32,32]", "--set", "workers=0"]
    bad = CliRunner().invoke(app, [*args, "--steps", "5"])
    assert bad.exit_code == 1 and "not a multiple of steps_per_epoch (2)" in bad.output
    done = CliRunner().invoke(app, [*args, "--steps", "4"])
    assert done.exit_code == 0, done.output
    run = work / "runs" / "unet_fold0"
    assert load_architecture(run / "arch.json").space == "monai_unet"
    assert len((run / "log.jsonl").read_text().splitlines()) == 2
    assert (work / "baselines" / "monai_unet.json").is_file()
    missing = CliRunner().invoke(app, ["train", "--work", str(work), "--arch", str(tmp_path / "nope.json")])
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_a_time_budget_sets_the_progress_bars_total_from_the_pace_of_the_session() -> None:
    assert expected_steps(1000, 0, None, 0.0, 0, 0.0) == 1000  # no budget: the planned steps
    assert expected_steps(10**9, 50, 600.0, 0.0, 0, 0.0) is None  # a budget, no pace yet: unknown
    # 100 s of a 600 s budget gave 50 steps: 250 more fit, 300 in all
    assert expected_steps(10**9, 50, 600.0, 100.0, 50, 100.0) == 300
    # resumed with 200 s used before and 100 steps done; this session: 40 steps in 100 s
    assert expected_steps(10**9, 140, 600.0, 300.0, 40, 100.0) == 260
    assert expected_steps(200, 50, 600.0, 100.0, 50, 100.0) == 200  # the epochs end it first
    assert expected_steps(10**9, 80, 60.0, 90.0, 80, 90.0) == 80  # over the budget: what is done
