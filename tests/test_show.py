"""`segnas show`: the architecture printed, its size measured, its cells drawn."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from segnas.app.cli import app
from segnas.app.show import count_parameters, gflops, summarize
from segnas.nas.spaces import SPACES

runner = CliRunner()


def test_gflops_of_one_conv_is_exact() -> None:
    conv = torch.nn.Conv3d(2, 4, 3, padding=1, bias=False)
    assert gflops(conv, 2, (8, 8, 8)) == pytest.approx(2 * 2 * 4 * 27 * 8**3 / 1e9)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SPACES))
def test_summary_counts_the_found_network(name: str) -> None:
    arch = SPACES[name].random(0, channels=8)
    info = summarize(arch, (32, 32) if arch.settings["dims"] == 2 else (32, 32, 32))
    assert info["parameters"] == count_parameters(SPACES[name].network(arch))
    assert 0 < info["parameters"] < info["supernet_parameters"] and info["gflops"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SPACES))
def test_show_prints_and_draws(name: str, tmp_path: Path) -> None:
    SPACES[name].random(1, channels=8).save(tmp_path / "arch.json")
    result = runner.invoke(app, ["show", str(tmp_path / "arch.json"), "--patch", "64x64" if name == "nested" else "32x32x32"])
    assert result.exit_code == 0, result.output
    assert "GFLOPs" in result.output and "parameters" in result.output
    pngs = sorted(p.name for p in tmp_path.glob("cell_*.png"))
    assert pngs == sorted({"unet": ["cell_red.png", "cell_enc.png", "cell_exp.png", "cell_dec.png"],
                           "nested": ["cell_dn.png", "cell_up.png"]}[name])
    assert all((tmp_path / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)


def test_show_rejects_a_bad_arch_naming_file_and_label(tmp_path: Path) -> None:
    arch = SPACES["unet"].random(0, channels=8)
    arch.values["dec/node1/edge2"] = "conv9"
    arch.save(tmp_path / "arch.json")
    result = runner.invoke(app, ["show", str(tmp_path / "arch.json")])
    assert result.exit_code == 1 and "arch.json" in result.output and "dec/node1/edge2" in result.output
    assert not list(tmp_path.glob("*.png"))


@pytest.mark.slow
def test_show_times_a_step_predicted_and_measured(tmp_path: Path) -> None:
    SPACES["nested"].random(1, channels=8, depth=2).save(tmp_path / "arch.json")
    result = runner.invoke(app, ["show", str(tmp_path / "arch.json"), "--patch", "32x32", "--timing"])
    assert result.exit_code == 0, result.output
    assert "predicted (cost model)" in result.output and "MONAI UNet, measured" in result.output


def test_show_sizes_it_at_another_width(tmp_path: Path) -> None:
    SPACES["unet"].random(1, channels=8).save(tmp_path / "arch.json")
    sizes = {}
    for width in ("8", "16"):
        result = runner.invoke(app, ["show", str(tmp_path / "arch.json"), "--width", width, "--out", str(tmp_path / width)])
        assert result.exit_code == 0, result.output
        assert f"channels={width}" in result.output
        sizes[width] = int(result.output.split("│")[1].strip().replace(",", "")) if "│" in result.output else None
    assert sizes["16"] > sizes["8"], sizes
