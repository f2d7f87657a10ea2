"""The command line: help with examples, the stages end to end, errors with exit codes and no leftovers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from segnas.app.cli import app

runner = CliRunner()
COMMANDS = ["synth", "validate", "plan", "preprocess", "search", "show", "train", "predict", "evaluate", "cv", "run",
            "export", "demo"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_explains_with_an_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Example" in result.output and f"segnas {command}" in result.output


def test_stages_end_to_end(tmp_path: Path) -> None:
    data, work = tmp_path / "data", tmp_path / "work"
    assert runner.invoke(app, ["synth", str(data), "--cases", "4", "--dims", "3", "--seed", "4"]).exit_code == 0
    assert runner.invoke(app, ["validate", str(data)]).exit_code == 0
    result = runner.invoke(app, ["plan", str(data), "--work", str(work), "--num-folds", "2", "-j", "1"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["preprocess", "--work", str(work), "-j", "1"])
    assert result.exit_code == 0 and "preprocessed 4 case(s)" in result.output
    assert len(json.loads((work / "splits.json").read_text())["folds"]) == 2


def test_plan_of_a_broken_dataset_fails_cleanly(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "dataset.json").write_text("[]")
    result = runner.invoke(app, ["plan", str(tmp_path / "data"), "--work", str(tmp_path / "work")])
    assert result.exit_code == 1 and "dataset.json" in result.output and "JSON object" in result.output
    assert not (tmp_path / "work").exists()


def test_preprocess_without_plan_says_which_stage_to_run(tmp_path: Path) -> None:
    result = runner.invoke(app, ["preprocess", "--work", str(tmp_path)])
    assert result.exit_code == 1 and "plan.json" in result.output and "segnas plan" in result.output


def test_synth_refuses_to_overwrite(tmp_path: Path) -> None:
    runner.invoke(app, ["synth", str(tmp_path / "d"), "--cases", "1", "--dims", "2"])
    result = runner.invoke(app, ["synth", str(tmp_path / "d"), "--cases", "1", "--dims", "2"])
    assert result.exit_code == 1 and "already exists" in result.output


@pytest.mark.slow
def test_installed_command_runs_the_demo(tmp_path: Path) -> None:
    """The real process: exit code, narration, artifacts."""
    proc = subprocess.run([sys.executable, "-m", "segnas", "demo", "--out", str(tmp_path / "demo"), "--cases", "6", "--quick"],
                          capture_output=True, text=True, timeout=900, env={**os.environ, "SEGNAS_PROGRESS_SECONDS": "0"})
    assert proc.returncode == 0, proc.stderr
    # stderr is a pipe, not a terminal: progress comes as plain lines, not a bar that stays silent until the end
    for task in ("search scnas: 1/", "train scnas fold 0: 1/", "predict: 1/"):
        assert any(line.startswith(task) and " elapsed " in line for line in proc.stderr.splitlines()), task
    for stage in ("validate", "plan", "preprocess", "fold 0: search", "fold 0: train", "fold 0: predict", "cross-validation"):
        assert stage in proc.stdout, stage
    work = tmp_path / "demo" / "work"
    for name in ("plan.json", "fingerprint.json", "splits.json", "predictions/scnas/fold0/metrics.json", "predictions/scnas/cv_summary.json"):
        assert (work / name).is_file(), name
    run = work / "runs" / "search_scnas_unet_gumbel2_fold0"
    for name in ("arch.json", "log.jsonl", "losses.png", "cell_enc.png", "config.json"):
        assert (run / name).is_file(), name
    assert (work / "runs" / "train_scnas_fold0" / "learning_curve.png").is_file()


def test_bad_input_exit_code_from_a_real_process(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "segnas", "validate", str(tmp_path / "missing")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "does not exist" in proc.stderr


def test_plan_lists_every_defect_and_writes_nothing(synth3d: Path, tmp_path: Path) -> None:
    import shutil
    data = tmp_path / "data"
    shutil.copytree(synth3d, data)
    (data / "labelsTr" / "synth_001.nii.gz").unlink()
    (data / "imagesTr" / "synth_003.nii.gz").write_bytes(b"junk")
    result = runner.invoke(app, ["plan", str(data), "--work", str(tmp_path / "work")])
    assert result.exit_code == 1
    assert "labelsTr/synth_001.nii.gz: file does not exist" in result.output
    assert "imagesTr/synth_003.nii.gz: cannot read as NIfTI" in result.output
    assert not (tmp_path / "work").exists()


def test_settings_lists_every_key_with_its_meaning() -> None:
    """`segnas settings`: every key of both configs, with a preset's value; an unknown preset is named."""
    import dataclasses

    from segnas.config import SearchConfig, TrainConfig
    result = runner.invoke(app, ["settings", "--preset", "thrifty"], terminal_width=250)
    assert result.exit_code == 0, result.output
    for kind in (SearchConfig, TrainConfig):
        for f in dataclasses.fields(kind):
            assert f"│ {f.name} " in result.output, f.name
    assert '"pcdarts"' in result.output and "partial_channels" in result.output
    bad = runner.invoke(app, ["settings", "--preset", "nope"])
    assert bad.exit_code == 1 and "unknown preset 'nope'" in bad.output
