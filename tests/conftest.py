"""Shared fixtures: small synthetic datasets and the real data in ../shared/data when present."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import torch
from hypothesis import settings as hypothesis_settings

from segnas.data.synthetic import make_dataset

if TYPE_CHECKING:
    from segnas.data.plan import Plan

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# CI draws the same property-test examples every run, so that a failure there is the change's and not a new draw;
# elsewhere every run draws new ones (how the round-trip example in test_preprocess.py was found).
hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

if os.environ.get("PYTEST_XDIST_WORKER"):  # one thread per test worker: more would oversubscribe the cores
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # and per `segnas` process a test starts (the demo, races, lanes)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked slow first (in their order), so that two workers end together instead of one finishing a
    minute-long end-to-end test alone after the other ran out of work."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def shared_dataset(name: str) -> Path:
    """Path of a real dataset, or skip the test when ../shared/data is absent (a user's machine)."""
    path = SHARED / name
    if not (path / "dataset.json").is_file():
        pytest.skip(f"real dataset {name} not available at {path}")
    return path


@pytest.fixture(scope="session")
def synth3d(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six 3D synthetic cases (read-only: copy before breaking)."""
    return make_dataset(tmp_path_factory.mktemp("s3") / "synth3d", cases=6, dims=3, seed=1)


@pytest.fixture(scope="session")
def synth2d(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six 2D synthetic cases."""
    return make_dataset(tmp_path_factory.mktemp("s2") / "synth2d", cases=6, dims=2, seed=2)


@pytest.fixture
def one_real_case(tmp_path: Path, synth3d: Path) -> Path:
    """A one-case dataset copied from a real LA case when available (else a synthetic one), to break."""
    src = SHARED / "LA2018_down2"
    dst = tmp_path / "ds"
    (dst / "imagesTr").mkdir(parents=True)
    (dst / "labelsTr").mkdir()
    if (src / "dataset.json").is_file():
        name, modality, labels = "la_000.nii.gz", {"0": "MRI"}, {"0": "background", "1": "left atrium"}
    else:
        src, name = synth3d, "synth_000.nii.gz"
        modality, labels = {"0": "T1", "1": "T2"}, {"0": "background", "1": "organ", "2": "lesion"}
    shutil.copy(src / "imagesTr" / name, dst / "imagesTr" / name)
    shutil.copy(src / "labelsTr" / name, dst / "labelsTr" / name)
    import json
    (dst / "dataset.json").write_text(json.dumps({
        "name": "broken", "modality": modality, "labels": labels, "numTraining": 1,
        "training": [{"image": f"./imagesTr/{name}", "label": f"./labelsTr/{name}"}]}))
    return dst


def planned(data: Path, work: Path, folds: int = 3) -> Path:
    """Plan and preprocess `data` into `work`."""
    from segnas.data.plan import plan_dataset
    from segnas.data.preprocess import preprocess_dataset
    plan_dataset(data, work, workers=1, folds=folds)
    preprocess_dataset(work)
    return work


@pytest.fixture(scope="session")
def work3d(synth3d: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """synth3d planned and preprocessed, 3 folds (runs go in copies: see `copy_work`)."""
    return planned(synth3d, tmp_path_factory.mktemp("w3") / "work")


@pytest.fixture(scope="session")
def work2d(synth2d: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """synth2d planned and preprocessed, 3 folds."""
    return planned(synth2d, tmp_path_factory.mktemp("w2") / "work")


def copy_work(work: Path, dst: Path) -> Path:
    """A private copy of a planned work folder, without its runs."""
    shutil.copytree(work, dst, ignore=shutil.ignore_patterns("runs", "predictions"))
    return dst


def nan_every(n: int):
    """A `segmentation_loss` stand-in whose loss is NaN on every n-th call (to monkeypatch into a loop)."""
    from segnas.training.losses import segmentation_loss
    calls = {"n": 0}

    def make(name: str):
        fn = segmentation_loss(name)

        def loss(out, y):
            calls["n"] += 1
            value = fn(out, y)
            return value * float("nan") if calls["n"] % n == 0 else value
        return loss
    return make


@pytest.fixture(scope="session")
def trained_model(work3d: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small trained 3D model run folder (quality does not matter; read-only: copy before breaking)."""
    from segnas.config import TrainConfig, make_config
    from segnas.nas.spaces import get_space
    from segnas.training.train import train
    tmp = tmp_path_factory.mktemp("trained")
    get_space("unet").random(seed=5, channels=8, depth=3).save(tmp / "arch.json")
    cfg = make_config("darts", {"epochs": 1, "steps_per_epoch": 2, "batch_size": 2, "patch_size": [16, 16, 16],
                                "workers": 0, "width": 8}, TrainConfig)
    return train(copy_work(work3d, tmp / "w"), tmp / "arch.json", cfg, show_progress=False)


def a_plan(**fields: Any) -> Plan:
    """A valid `Plan` of one MRI channel and two classes, with `fields` changed (for tests of pure functions)."""
    from segnas.data.plan import Plan
    base: dict[str, Any] = {"format_version": 1, "dataset": "data", "dims": 3, "target_spacing": (1.0, 1.0, 1.0),
                            "patch_size": (32, 32, 32), "in_channels": 1, "modalities": ("MRI",),
                            "normalization": ({"scheme": "none"},), "labels": {"0": "background", "1": "foreground"},
                            "num_classes": 2, "image_interpolation_order": 3}
    return Plan(**{**base, **fields})
