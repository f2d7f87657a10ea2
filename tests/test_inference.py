"""Prediction: pure tensor helpers, and predicted NIfTI files in exactly the input's geometry, 2D and 3D."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from segnas.app.cli import app
from segnas.config import TrainConfig, make_config
from segnas.data.io import write_nifti
from segnas.errors import SegnasError
from segnas.inference.predict import (
    input_files,
    mirror_axes,
    output_name,
    pad_to_multiple,
    predict_files,
    sliding_window,
    volume_windows,
    whole_volume,
    window_count,
)
from segnas.nas.spaces import get_space
from segnas.networks.model import load_model
from segnas.training.train import train

from .conftest import copy_work


@pytest.fixture(scope="module", params=[3, 2])
def model_run(request: pytest.FixtureRequest, work3d: Path, work2d: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny trained model for the 3D and the 2D synthetic data."""
    dims = request.param
    tmp = tmp_path_factory.mktemp(f"model{dims}")
    work = copy_work(work3d if dims == 3 else work2d, tmp / "w")
    arch = get_space("unet").random(seed=0, channels=8, dims=dims)
    arch.save(tmp / "arch.json")
    cfg = make_config("darts", {"epochs": 1, "steps_per_epoch": 1, "batch_size": 2, "workers": 0,
                                "patch_size": [16, 16, 16] if dims == 3 else [32, 32]}, TrainConfig)
    return train(work, tmp / "arch.json", cfg, show_progress=False)


def test_pad_to_multiple_round_trip() -> None:
    x = torch.randn(1, 2, 13, 8, 5)
    padded, crop = pad_to_multiple(x, 8)
    assert padded.shape[2:] == (16, 8, 8)
    assert torch.equal(padded[crop], x)


def test_whole_volume_and_sliding_window_agree_for_a_pointwise_net() -> None:
    net = torch.nn.Conv3d(2, 3, 1)
    x = torch.randn(1, 2, 20, 17, 9)
    with torch.no_grad():
        a, b = whole_volume(net, x, 8), sliding_window(net, x, [8, 8, 8])
    assert a.shape == b.shape == (1, 3, 20, 17, 9)
    assert torch.allclose(a, b, atol=1e-5) and torch.allclose(a, net(x), atol=1e-5)


@pytest.mark.parametrize("shape,patch", [((512, 512), (256, 256)), ((300, 200), (256, 256)), ((100, 90, 70), (64, 48, 32)),
                                         ((16, 16, 16), (16, 16, 16)), ((33, 17, 9), (16, 16, 16))])
def test_window_count_is_the_number_of_windows_monai_runs(shape: tuple[int, ...], patch: tuple[int, ...]) -> None:
    seen: list[int] = []

    def net(x: torch.Tensor) -> torch.Tensor:
        seen.append(x.shape[0])
        return x[:, :1]

    sliding_window(net, torch.zeros(3, 1, *shape), list(patch), batch=4)  # three images: windows of all are batched together
    assert sum(seen) == 3 * window_count(shape, patch)


def test_volume_windows_of_a_2d_plan_are_every_slices() -> None:
    assert volume_windows((5, 100, 90), (64, 64), slice_axis=0) == 5 * window_count((100, 90), (64, 64)) == 30
    assert volume_windows((100, 3, 90), (64, 64), slice_axis=1) == 3 * window_count((100, 90), (64, 64))
    assert volume_windows((100, 90, 70), (64, 48, 32)) == 36
    assert volume_windows((128, 64, 32), (64, 64, 32), mode="whole") == 2  # one pass, as much work as two windows


def test_mirror_axes() -> None:
    assert mirror_axes(3, False) == [()]
    assert len(mirror_axes(3, True)) == 8 and len(mirror_axes(2, True)) == 4
    assert (2, 3, 4) in mirror_axes(3, True)


def test_output_names() -> None:
    assert output_name(Path("a/case_1_0000.nii.gz")) == "case_1.nii.gz"
    assert output_name(Path("a/case_1.nii")) == "case_1.nii.gz"


@pytest.mark.slow
@pytest.mark.parametrize("mode, tta", [("sliding", False), ("whole", False), ("sliding", True)])
def test_predictions_have_the_input_geometry(model_run: Path, mode: str, tta: bool, tmp_path: Path) -> None:
    model = load_model(model_run)
    data = Path(model.plan.dataset)
    files = input_files(data / "imagesTr")[:1 if tta else 2]
    outs = predict_files(model, files, tmp_path / "pred", mode, tta, save_probabilities=True, show_progress=False)
    for f, o in zip(files, outs):
        src, out = nib.load(f), nib.load(o)
        assert out.shape == src.shape[:3]
        assert np.allclose(out.affine, src.affine)
        values = np.unique(np.asanyarray(out.dataobj))
        assert set(values.tolist()) <= {0, 1, 2}
        probs = np.load(str(o).replace(".nii.gz", "_probabilities.npz"))["probabilities"]
        assert probs.shape == (3, *src.shape[:3])
        assert np.allclose(probs.astype(np.float32).sum(0), 1, atol=1e-2)


def test_refuses_to_write_into_the_input_folder(model_run: Path, tmp_path: Path) -> None:
    model = load_model(model_run)
    src = Path(model.plan.dataset) / "imagesTr"
    shutil.copytree(src, tmp_path / "in")
    with pytest.raises(SegnasError, match="input folder"):
        predict_files(model, input_files(tmp_path / "in"), tmp_path / "in", show_progress=False)
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == sorted(p.name for p in src.iterdir())


@pytest.mark.slow
def test_wrong_channel_count_names_the_file(model_run: Path, tmp_path: Path) -> None:
    bad = tmp_path / "in" / "one_channel.nii.gz"
    write_nifti(bad, np.zeros((20, 20, 8), np.float32), np.eye(4))
    result = CliRunner().invoke(app, ["predict", "-m", str(model_run), "-i", str(bad), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "one_channel.nii.gz" in result.output and "1 channel" in result.output
    assert not (tmp_path / "out").exists()  # nothing written, not even the folder


def test_cli_predict(model_run: Path, tmp_path: Path) -> None:
    data = Path(load_model(model_run).plan.dataset)
    one = tmp_path / "in" / "synth_000.nii.gz"
    one.parent.mkdir()
    shutil.copy(data / "imagesTr" / "synth_000.nii.gz", one)
    result = CliRunner().invoke(app, ["predict", "-m", str(model_run), "-i", str(one.parent), "-o", str(tmp_path / "out"), "--mode", "whole"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "synth_000.nii.gz").is_file()
    assert not list((tmp_path / "out").glob(".*part*"))  # no temporary files left


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["predict", "-m", str(tmp_path), "-i", str(tmp_path), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1 and "not a training run folder" in result.output


@pytest.mark.slow
def test_an_ensemble_averages_probabilities_and_refuses_other_datasets(model_run: Path, tmp_path: Path) -> None:
    """Two models average their probabilities on the input's grid (the same model twice gives its own output);
    models of another dataset are refused by name."""
    model = load_model(model_run)
    files = input_files(Path(model.plan.dataset) / "imagesTr")[:1]
    one = predict_files(model, files, tmp_path / "one", save_probabilities=True, show_progress=False)[0]
    two = predict_files([model, load_model(model_run)], files, tmp_path / "two", save_probabilities=True, show_progress=False)[0]
    p1 = np.load(str(one).replace(".nii.gz", "_probabilities.npz"))["probabilities"]
    p2 = np.load(str(two).replace(".nii.gz", "_probabilities.npz"))["probabilities"]
    np.testing.assert_allclose(p1.astype(np.float32), p2.astype(np.float32), atol=2e-3)
    other = load_model(model_run)
    other.plan = dataclasses.replace(other.plan, num_classes=5)
    with pytest.raises(SegnasError, match="num_classes .* differs"):
        predict_files([model, other], files, tmp_path / "three", show_progress=False)
