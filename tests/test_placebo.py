"""The placebo search: its work folder of shuffled labels, and what comparing it with the real search says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from segnas.app.cli import app
from segnas.data.preprocess import load_case
from segnas.data.splits import load_fold
from segnas.errors import SegnasError
from segnas.nas.arch import Architecture
from segnas.nas.spaces import get_space
from segnas.runtime.plots import plot_placebo
from segnas.runtime.workspace import Workspace
from segnas.selection import placebo, trained

from .conftest import copy_work
from .test_lock import HOLD
from .test_trained import BEST

TIED = ["--strategy", "trained", "--set", "space_settings.tie=cell", "--set", "space_settings.channels=8", "--set", "patch_size=[16,16,16]",
        "--set", "workers=0", "--set", "strategy_options.trials=24", "--set", "strategy_options.side_by_side=1"]


def test_a_placebo_gives_every_training_case_another_cases_label_and_leaves_the_work_folder_alone(work3d: Path, tmp_path: Path) -> None:
    w = copy_work(work3d, tmp_path / "w")
    ws = Workspace(w)
    before = {p.name: p.read_bytes() for p in ws.preprocessed.iterdir()}
    root = placebo.placebo_work(w, 0, 0)
    fold = load_fold(ws, 0)
    given = json.loads((root / "placebo.json").read_text())["labels_from"]
    assert sorted(given) == sorted(given.values()) == sorted(fold.train) and all(k != v for k, v in given.items())
    fake = Workspace(root)
    for case in fold.train:
        got, real, source = load_case(fake, case), load_case(ws, case), load_case(ws, given[case])
        assert np.array_equal(got.image, real.image) and got.seg.shape == real.seg.shape
        assert np.array_equal(got.seg, placebo.centre_fit(np.asarray(source.seg), real.seg.shape))
        for name, at in got.fg.items():  # foreground samples drawn on the new label
            assert np.all(np.asarray(got.seg)[tuple(at.T)] == int(name.split("_")[1]))
    for case in fold.val:
        assert np.array_equal(load_case(fake, case).seg, load_case(ws, case).seg)
    assert {p.name: p.read_bytes() for p in ws.preprocessed.iterdir()} == before  # nothing written through a link
    assert not list(root.parent.glob(".*"))  # no temporary folder left
    stamp = (root / "placebo.json").stat().st_mtime_ns
    assert placebo.placebo_work(w, 0, 0) == root and (root / "placebo.json").stat().st_mtime_ns == stamp  # made once
    other = json.loads((placebo.placebo_work(w, 0, 1) / "placebo.json").read_text())["labels_from"]
    assert other != given


def test_a_placebo_is_remade_after_a_new_plan_but_never_over_a_search(work3d: Path, tmp_path: Path) -> None:
    w = copy_work(work3d, tmp_path / "w")
    root = placebo.placebo_work(w, 0, 0)
    plan = json.loads((w / "plan.json").read_text())
    plan["voxel_budget"] = plan["voxel_budget"] + 1
    (w / "plan.json").write_text(json.dumps(plan))
    placebo.placebo_work(w, 0, 0)
    assert json.loads((root / "plan.json").read_text())["voxel_budget"] == plan["voxel_budget"]
    (root / "runs").mkdir()
    plan["voxel_budget"] += 1
    (w / "plan.json").write_text(json.dumps(plan))
    with pytest.raises(SegnasError, match="placebo.json: this placebo was made under another plan"):
        placebo.placebo_work(w, 0, 0)
    with pytest.raises(SegnasError, match="labels can only be shuffled across 2 or more cases"):
        placebo.derangement(1, 0)


def fake_trial(original: Path, labels_matter: bool):
    """`run_trial` without training: +0.12 per decision at BEST, when the trial's labels are the real ones or when
    `labels_matter` is False (a space where some networks simply learn faster), with seeded noise."""
    def run(work, run, cfg, opts, t, values, settings, inner, unet_ms, show_progress):  # noqa: ANN001, ANN202
        real = np.array_equal(load_case(Workspace(Path(work)), inner[0]).seg, load_case(Workspace(original), inner[0]).seg)
        effect = 0.12 if real or not labels_matter else 0.0
        score = 0.5 + sum(effect * (values[k] == v) for k, v in BEST.items()) + np.random.default_rng(t).normal(0, 0.03)
        return {"epoch": t, "trial": t, "values": values, "dice": round(score, 4), "step_ms": 1.0, "penalty": 0.0,
                "score": round(score, 4), "seconds": 1.0}
    return run


@pytest.mark.parametrize("labels_matter", [True, False])
def test_search_placebo_tells_decisions_about_the_labels_from_decisions_about_learning_fast(
        labels_matter: bool, work3d: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = copy_work(work3d, tmp_path / "w")
    monkeypatch.setattr(trained, "run_trial", fake_trial(w, labels_matter))
    first = CliRunner().invoke(app, ["search", "--work", str(w), *TIED, "--placebo"])
    assert first.exit_code == 0, first.output
    said = " ".join(first.output.split())  # as the terminal wrapped it
    assert "placebo's architecture" in said and "the second to finish writes placebo.json" in said
    fake_arch = json.loads(next((w / "placebo" / "fold0_seed0" / "runs").glob("*/arch.json")).read_text())
    assert fake_arch["provenance"]["placebo"]["labels_from"]
    second = CliRunner().invoke(app, ["search", "--work", str(w), *TIED])
    assert second.exit_code == 0, second.output
    told = json.loads(next((w / "runs").glob("*/placebo.json")).read_text())
    assert told["search"]["verdict"] == "decided" and told["search"]["tops"] == BEST
    assert next((w / "runs").glob("*/placebo.png")).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # drawn beside it
    assert " ".join(told["in_words"].split()) in " ".join(second.output.split())
    shown = CliRunner().invoke(app, ["show", str(next((w / "runs").glob("*/arch.json"))), "--out", str(tmp_path / "cells")])
    assert shown.exit_code == 0 and "against its placebo" in shown.output, shown.output
    for output in (second.output, shown.output):
        assert "each decision: the search's and the placebo's first choice" in " ".join(output.split()), output
    about = {r["about"] for r in told["decisions"].values()}
    assert len(told["decisions"]) == 4 and "undecided" not in about, told["decisions"]  # the search decided all four
    assert about == ({"labels"} if labels_matter else {"learning speed"}), told["decisions"]
    if not labels_matter:  # while a side runs (its folder locked), its old arch.json is not compared
        next((w / "runs").glob("*/placebo.json")).unlink()
        holder = subprocess.Popen([sys.executable, "-c", HOLD, str(w / "placebo" / "fold0_seed0")], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            again = CliRunner().invoke(app, ["search", "--work", str(w), *TIED, "--resume"])
        finally:
            holder.kill()
            holder.wait()
        assert again.exit_code == 0 and "the second to finish writes placebo.json" in " ".join(again.output.split()), again.output
        assert not list((w / "runs").glob("*/placebo.json"))
    if labels_matter:  # shuffled labels leave nothing to decide
        assert told["placebo"]["verdict"] == "undecided" and "depend on your labels" in told["in_words"], told
    else:  # the same networks score best whatever the labels: the placebo decides alike
        assert told["placebo"]["verdict"] == "decided" and told["agree"] == 4 and told["agreement_p"] < 0.001, told
        assert "decided too" in told["in_words"]


def test_agreement_is_counted_against_chance_per_decision() -> None:
    assert placebo.agreement_p(0, [0.5, 0.5]) == 1.0
    assert placebo.agreement_p(2, [0.5, 0.5]) == pytest.approx(0.25)
    assert placebo.agreement_p(1, [0.5, 0.25]) == pytest.approx(1 - 0.5 * 0.75)
    arch = get_space("unet").random(seed=0, tie="cell")
    decisions = trained.op_decisions("unet", arch.settings)
    tables = {k: [1.0 if i == 1 else 0.0 for i in range(len(c))] for k, c in decisions.items()}
    real = Architecture(arch.space, arch.settings, dict(arch.values), {"probabilities": tables, "verdict": "decided",
                                                                       "decisions": {"op_decisions": 4, "clear": 4}})
    assert placebo.tops(real) == {k: c[1] for k, c in decisions.items()}  # the tables' first, not the export's values
    other = Architecture(arch.space, arch.settings, {**arch.values, **{k: c[0] for k, c in decisions.items()}},
                         {"verdict": "undecided", "decisions": {"op_decisions": 4, "decided_share": 0.25}})
    c = placebo.compare(real, other)
    assert (c["agree"], c["placebo"]["decided"], c["chance"]) == (0, 1, round(4 / 7, 2))
    assert "did not decide (1 of 4 decisions) where the search did (4 of 4)" in c["in_words"]


def test_each_decision_is_read_as_about_the_labels_or_about_learning_speed(tmp_path: Path) -> None:
    arch = get_space("unet").random(seed=0, tie="cell")
    decisions = trained.op_decisions("unet", arch.settings)
    red, enc, exp, dec = decisions  # the four cell types' ops

    def searched(top: dict[str, int], shuffled_p: dict[str, float]) -> Architecture:
        tables = {k: [1.0 if i == top.get(k, 0) else 0.0 for i in range(len(c))] if k in top else [1 / len(c)] * len(c)
                  for k, c in decisions.items()}
        return Architecture(arch.space, arch.settings, dict(arch.values),
                            {"probabilities": tables, "shuffled_p": shuffled_p, "verdict": "decided",
                             "decisions": {"op_decisions": 4, "clear": sum(p < 0.05 for p in shuffled_p.values())}})

    real = searched({red: 1, enc: 2, exp: 3, dec: 4}, {red: 0.01, enc: 0.01, exp: 0.01, dec: 0.5})
    # the placebo decides red alike, enc otherwise, leaves exp open (no favourite), and decides dec the same but the
    # search itself did not decide dec
    fake = searched({red: 1, enc: 5, dec: 4}, {red: 0.01, enc: 0.01, exp: 0.9, dec: 0.01})
    c = placebo.compare(real, fake)
    about = {k: r["about"] for k, r in c["decisions"].items()}
    assert about == {red: "learning speed", enc: "labels", exp: "labels", dec: "undecided"}, c["decisions"]
    assert c["decisions"][enc] == {"search": decisions[enc][2], "search_decided": True, "placebo": decisions[enc][5],
                                   "placebo_decided": True, "about": "labels"}
    rows = {r["label"]: r for r in placebo.plot_rows(real, fake, c["decisions"])}  # what placebo.png draws
    assert rows[enc] == {"label": enc, "search_top": decisions[enc][2], "search_p": 1.0, "placebo_p": 0.0,
                         "placebo_top": decisions[enc][5], "placebo_top_p": 1.0, "uniform": 1 / 7, "about": "labels"}
    assert (rows[red]["placebo_p"], rows[exp]["placebo_p"]) == (1.0, pytest.approx(1 / 7))
    assert plot_placebo(list(rows.values()) * 14, tmp_path / "many.png").stat().st_size > 0  # an untied space's 56 decisions
    words = c["in_words"]
    assert f"Decided on your labels (the placebo left them open or chose otherwise): {enc} ({decisions[enc][2]})" in words
    assert f"about how fast networks learn: {red} ({decisions[red][1]})." in words
    # a top probability under 2× uniform is not decided, whatever the shuffled p
    assert placebo.cleared(fake)[exp] is False
    for arch in (real, fake):  # neither decided overall: the decisions the search made are still read one by one
        arch.provenance["verdict"] = "undecided"
    words = " ".join(placebo.compare(real, fake)["in_words"].split())
    assert "decided overall; each decision the search did make is read below" in words and f"{enc} ({decisions[enc][2]})" in words
