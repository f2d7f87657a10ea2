"""The run log: JSONL that survives kills, and TensorBoard (the optional `tensorboard` extra) when installed."""

from __future__ import annotations

import builtins
from pathlib import Path

import pytest

from segnas.runtime.runlog import RunLog


def test_records_reach_tensorboard_while_the_run_goes_on(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    log = RunLog(tmp_path / "log.jsonl", 0)
    for epoch, loss in enumerate([0.9, 0.5, 0.25]):
        log.append({"epoch": epoch, "train_loss": loss, "lr": 1e-3, "note": "not a scalar"})
    events = EventAccumulator(str(tmp_path / "tensorboard"))  # read while the writer is open, as a live run
    events.Reload()
    assert [(e.step, round(e.value, 3)) for e in events.Scalars("train_loss")] == [(0, 0.9), (1, 0.5), (2, 0.25)]
    assert "lr" in events.Tags()["scalars"] and "note" not in events.Tags()["scalars"]


def test_without_tensorboard_the_log_alone_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_tensorboard(name: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    log = RunLog(tmp_path / "log.jsonl", 0)
    log.append({"epoch": 0, "train_loss": 0.5})
    assert not (tmp_path / "tensorboard").exists()
    assert RunLog(tmp_path / "log.jsonl", 1).records == [{"epoch": 0, "train_loss": 0.5}]  # resumed after epoch 0
