"""`segnas compare`: two models' held-out results paired case by case, from metrics.json files or folders of folds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy.stats import wilcoxon
from typer.testing import CliRunner

from segnas.app.cli import app
from segnas.errors import SegnasError
from segnas.inference.compare import by_group, compare_results, mean_row, paired

LABELS = {"1": "ventricle", "2": "myocardium"}


def metrics(path: Path, scores: dict[str, tuple[float, float]], labels: dict[str, str] = LABELS) -> Path:
    """A metrics.json as `segnas evaluate` writes it: per case, each class's Dice (and an HD95 of 10 × (1 − Dice))."""
    cases = [{"case": c, "classes": {k: {"dice": d, "hd95": 10 * (1 - d)} for k, d in zip(labels, pair)}} for c, pair in scores.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"labels": labels, "cases": cases}))
    return path


UNET = {"p01_f1": (0.8, 0.6), "p01_f2": (0.7, 0.5), "p02_f1": (0.9, 0.7), "p02_f2": (0.6, 0.6), "p03_f1": (0.5, 0.4), "p03_f2": (0.8, 0.8)}
FOUND = {"p01_f1": (0.9, 0.6), "p01_f2": (0.8, 0.6), "p02_f1": (0.9, 0.8), "p02_f2": (0.5, 0.6), "p03_f1": (0.7, 0.6), "p03_f2": (0.8, 0.9)}


def test_two_models_are_compared_case_by_case_per_class_and_on_the_mean(tmp_path: Path) -> None:
    a, b = metrics(tmp_path / "a.json", UNET), metrics(tmp_path / "b.json", FOUND)
    summary = compare_results(a, b, group=r"(p\d+)_")
    mean = mean_row(summary)
    diff = [(sum(FOUND[c]) - sum(UNET[c])) / 2 for c in sorted(UNET)]
    assert mean["delta"] == pytest.approx(sum(diff) / 6) and mean["wins"] == 5 and mean["losses"] == 1 and mean["cases"] == 6
    assert mean["p"] == pytest.approx(wilcoxon(diff).pvalue)
    assert mean["means"] == pytest.approx([sum(map(sum, UNET.values())) / 12, sum(map(sum, FOUND.values())) / 12])
    rows = {(r["class"], r["metric"]): r for r in summary["rows"]}
    ventricle = rows[("ventricle", "dice")]
    assert ventricle["wins"] == 3 and ventricle["losses"] == 1 and ventricle["median_delta"] == pytest.approx(0.05)
    hd95 = rows[("myocardium", "hd95")]  # a shorter distance: the found model is better where its HD95 is lower
    assert hd95["losses"] == 4 and hd95["wins"] == 0 and hd95["delta"] < 0
    grouped = rows[("mean foreground", "dice per group")]  # the frames of one patient are one sample
    assert grouped["cases"] == 3 and summary["groups"] == 3
    assert summary["per_case"]["p02_f2"] == pytest.approx([0.6, 0.55])


def test_identical_results_differ_by_nothing_with_p_one() -> None:
    same = {"a": 0.5, "b": 0.7}
    assert paired(same, same) | {"diff": None} == {"means": [0.6, 0.6], "delta": 0.0, "median_delta": 0.0, "wins": 0, "losses": 0,
                                                    "cases": 2, "p": 1.0, "diff": None}
    assert by_group({"patient1_a": 0.2, "patient1_b": 0.4, "other": 1.0}, r"patient(\d+)") == pytest.approx({"1": 0.3, "other": 1.0})


def test_folders_of_folds_are_read_as_one_set_of_cases(tmp_path: Path) -> None:
    cases = list(UNET)
    for side, scores in (("a", UNET), ("b", FOUND)):
        metrics(tmp_path / side / "fold0" / "metrics.json", {c: scores[c] for c in cases[:3]})
        metrics(tmp_path / side / "fold1" / "metrics.json", {c: scores[c] for c in cases[3:]})
    from_folds = compare_results(tmp_path / "a", tmp_path / "b")
    from_files = compare_results(metrics(tmp_path / "a.json", UNET), metrics(tmp_path / "b.json", FOUND))
    assert from_folds["rows"] == from_files["rows"]
    metrics(tmp_path / "a" / "fold2" / "metrics.json", {cases[0]: UNET[cases[0]]})
    with pytest.raises(SegnasError, match=f"{cases[0]} already scored in another fold"):
        compare_results(tmp_path / "a", tmp_path / "b")


def test_results_that_cannot_be_paired_are_errors_naming_the_file_and_the_problem(tmp_path: Path) -> None:
    a = metrics(tmp_path / "a.json", UNET)
    fewer = metrics(tmp_path / "fewer.json", {c: v for c, v in FOUND.items() if c != "p03_f2"})
    with pytest.raises(SegnasError, match="scored other cases") as e:
        compare_results(a, fewer)
    assert any("p03_f2" in p.message and str(fewer) in p.message for p in e.value.problems), e.value.problems
    other = metrics(tmp_path / "other.json", {c: (v[0],) for c, v in FOUND.items()}, {"1": "ventricle"})
    with pytest.raises(SegnasError, match=f"{other}: its classes"):
        compare_results(a, other)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"cases": []}))
    with pytest.raises(SegnasError, match=f"{broken}: not a metrics.json"):
        compare_results(a, broken)
    with pytest.raises(SegnasError, match="no fold"):
        compare_results(a, tmp_path)
    with pytest.raises(SegnasError, match="gone.json: no such file"):
        compare_results(a, tmp_path / "gone.json")


def test_segnas_compare_prints_the_table_and_writes_its_figures_only_for_results_that_pair(tmp_path: Path) -> None:
    a, b = metrics(tmp_path / "a.json", UNET), metrics(tmp_path / "b.json", FOUND)
    done = CliRunner().invoke(app, ["compare", str(a), str(b), "--names", "unet", "found", "--group", r"(p\d+)_",
                                    "--out", str(tmp_path / "cmp")], terminal_width=200)
    assert done.exit_code == 0, done.output
    assert "found against unet on 6 case(s) (3 groups" in done.output and "foreground" in done.output  # (the table may wrap)
    written = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert written["names"] == ["unet", "found"] and mean_row(written)["wins"] == 5
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 0
    fewer = metrics(tmp_path / "fewer.json", {c: v for c, v in FOUND.items() if c != "p03_f2"})
    failed = CliRunner().invoke(app, ["compare", str(a), str(fewer), "--out", str(tmp_path / "none")], terminal_width=200)
    assert failed.exit_code != 0 and "p03_f2" in failed.output and not (tmp_path / "none").exists()
