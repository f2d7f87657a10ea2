"""The broken-input corpus: every entry is a real command on a broken input, and each must exit 1 with a
message that names the file (and the key, label or case) and says what is wrong, and must leave the
disk exactly as it found it: no work folder, run folder, output folder or half-written file.

Add an entry to CORPUS to add a test; RELIABILITY.md lists them in words.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from segnas.cli import app

from .conftest import copy_work
from .test_validate import BREAKERS

runner = CliRunner()


@dataclass
class Inputs:
    """Read-only fixtures and a private folder where a case builds what it breaks."""

    tmp: Path
    synth3d: Path
    synth2d: Path
    work3d: Path
    model: Path
    one_real_case: Path

    def dataset(self, src: Path | None = None) -> Path:
        """A private copy of a synthetic dataset."""
        return Path(shutil.copytree(src or self.synth3d, self.tmp / "ds"))

    def work(self) -> Path:
        """A private copy of the planned, preprocessed synthetic work folder."""
        return copy_work(self.work3d, self.tmp / "work")

    def run(self) -> Path:
        """A private copy of a trained model's run folder."""
        return Path(shutil.copytree(self.model, self.tmp / "model"))


@dataclass
class Expect:
    """The command to run on the broken input, the file its message must name, and what it must say."""

    args: list[str]
    culprit: Path | str
    words: str


def edit_json(path: Path, fn: Callable[[dict], None]) -> Path:
    d = json.loads(path.read_text())
    fn(d)
    path.write_text(json.dumps(d))
    return path


def rewrite(path: Path, fn: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]) -> Path:
    img = nib.load(str(path))
    data, affine = fn(np.asanyarray(img.dataobj).copy(), img.affine.copy())
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


def truncate(path: Path) -> Path:
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    return path


def first(folder: Path) -> Path:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))[0]


# ---- datasets: `segnas plan` must refuse and create no work folder ------------------------------------------

def validate_defect(name: str) -> Callable[[Inputs], Expect]:
    """The defects `validate` knows (tests/test_validate.py), met by `plan`."""
    def case(i: Inputs) -> Expect:
        breaker, culprit, words = BREAKERS[name]
        expected = culprit(i.one_real_case)
        breaker(i.one_real_case)
        return Expect(["plan", str(i.one_real_case), "--work", str(i.tmp / "work")], expected, words)
    return case


def channels_first(i: Inputs) -> Expect:
    ds = i.dataset()
    img = rewrite(first(ds / "imagesTr"), lambda d, a: (np.ascontiguousarray(np.moveaxis(d, -1, 0)), a))
    return Expect(["plan", str(ds), "--work", str(i.tmp / "work")], img, "the channels look stored first")


def flipped_label(i: Inputs) -> Expect:
    ds = i.dataset()

    def flip(d: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a[:, 0] *= -1
        return d, a
    label = rewrite(first(ds / "labelsTr"), flip)
    return Expect(["plan", str(ds), "--work", str(i.tmp / "work")], label, "orientation LAS differs from its image's RAS")


def zero_size(i: Inputs) -> Expect:
    ds = i.dataset()
    img = rewrite(first(ds / "imagesTr"), lambda d, a: (d[:, :0], a))
    return Expect(["plan", str(ds), "--work", str(i.tmp / "work")], img, "zero-size dimension")


def float_fraction_label(i: Inputs) -> Expect:
    ds = i.dataset()
    label = rewrite(first(ds / "labelsTr"), lambda d, a: (d.astype(np.float32) + 0.25, a))
    return Expect(["plan", str(ds), "--work", str(i.tmp / "work")], label, "non-integer")


def dataset_2d_to_3d_plan(i: Inputs) -> Expect:
    ds = i.dataset(i.synth2d)
    return Expect(["plan", str(ds), "--work", str(i.tmp / "work"), "--dims", "3"], ds, "this dataset is 2D")


# ---- hand-edited plan.json: `segnas preprocess` must refuse and write no case -------------------------------

def plan_edit(fn: Callable[[dict], None], words: str) -> Callable[[Inputs], Expect]:
    def case(i: Inputs) -> Expect:
        w = i.work()
        shutil.rmtree(w / "preprocessed")
        return Expect(["preprocess", "--work", str(w)], edit_json(w / "plan.json", fn), words)
    return case


# ---- hand-edited arch.json: `segnas train` must refuse and create no run ------------------------------------

def arch_edit(fn: Callable[[dict], None], words: str) -> Callable[[Inputs], Expect]:
    def case(i: Inputs) -> Expect:
        w = i.work()
        arch = Path(shutil.copy(i.model / "arch.json", i.tmp / "arch.json"))
        return Expect(["train", "--work", str(w), "--arch", str(edit_json(arch, fn)), "--epochs", "1"], arch, words)
    return case


def _first_op_label(d: dict) -> str:
    return next(k for k, v in d["values"].items() if isinstance(v, str))


# ---- checkpoints ---------------------------------------------------------------------------------------------

def search_checkpoint(damage: Callable[[Path, Inputs], None], words: str) -> Callable[[Inputs], Expect]:
    """A search run folder whose checkpoint is damaged; `search --resume` must refuse and touch nothing."""
    def case(i: Inputs) -> Expect:
        w = i.work()
        run = w / "runs" / "search_thrifty_nested_pcdarts_fold0"
        run.mkdir(parents=True)
        damage(run / "checkpoint.pt", i)
        return Expect(["search", "--work", str(w), "--preset", "thrifty", "--resume"], run / "checkpoint.pt", words)
    return case


def model_checkpoint(damage: Callable[[Path, Inputs], None], words: str) -> Callable[[Inputs], Expect]:
    """A model whose best.pt is damaged; `predict` must refuse and create no output folder."""
    def case(i: Inputs) -> Expect:
        run = i.run()
        damage(run / "best.pt", i)
        return Expect(["predict", "-m", str(run), "-i", str(i.synth3d / "imagesTr"), "-o", str(i.tmp / "out")],
                      run / "best.pt", words)
    return case


def _truncated_copy(src: Callable[[Inputs], Path]) -> Callable[[Path, Inputs], None]:
    def damage(path: Path, i: Inputs) -> None:
        shutil.copy(src(i), path)
        truncate(path)
    return damage


def _other_network(path: Path, i: Inputs) -> None:
    state = torch.load(i.model / "best.pt", weights_only=False)
    state["net"] = {k: v[..., :1] if v.ndim else v for k, v in state["net"].items()}
    torch.save(state, path)


# ---- prediction inputs and outputs ---------------------------------------------------------------------------

def predict_input(fn: Callable[[Path], Path | str], words: str, out_is_input: bool = False) -> Callable[[Inputs], Expect]:
    """`predict` on a folder with one broken image: refused before anything is written."""
    def case(i: Inputs) -> Expect:
        images = Path(shutil.copytree(i.synth3d / "imagesTr", i.tmp / "images"))
        culprit = fn(images)
        out = images if out_is_input else i.tmp / "out"
        return Expect(["predict", "-m", str(i.model), "-i", str(images), "-o", str(out)], culprit, words)
    return case


def _nan_image(images: Path) -> Path:
    def nan(d: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = d.astype(np.float32)
        d[0, 0, 0] = np.nan
        return d, a
    return rewrite(first(images), nan)


def _one_channel(images: Path) -> Path:
    return rewrite(first(images), lambda d, a: (d[..., 0], a))


# ---- folders that cannot be written --------------------------------------------------------------------------

def work_under_a_file(i: Inputs) -> Expect:
    (i.tmp / "afile").write_text("")
    return Expect(["plan", str(i.synth3d), "--work", str(i.tmp / "afile" / "work")], i.tmp / "afile" / "work",
                  "work folder is not writable")


def output_under_a_file(i: Inputs) -> Expect:
    (i.tmp / "afile").write_text("")
    return Expect(["predict", "-m", str(i.model), "-i", str(i.synth3d / "imagesTr"), "-o", str(i.tmp / "afile" / "out")],
                  i.tmp / "afile" / "out", "output folder is not writable")


def work_not_planned(i: Inputs) -> Expect:
    return Expect(["search", "--work", str(i.tmp / "nowork")], i.tmp / "nowork", "work folder does not exist")


def read_only_work(i: Inputs) -> Expect:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; covered by the two 'under a file' cases")
    w = i.work()
    os.chmod(w, 0o555)
    return Expect(["search", "--work", str(w), "--preset", "thrifty"], w, "work folder is not writable")


CORPUS: dict[str, Callable[[Inputs], Expect]] = {
    **{f"dataset: {name}": validate_defect(name) for name in BREAKERS},
    "dataset: 4D image with channels in the first axis": channels_first,
    "dataset: label with flipped orientation": flipped_label,
    "dataset: zero-size dimension": zero_size,
    "dataset: float labels with fractions": float_fraction_label,
    "dataset: 2D data with a 3D plan": dataset_2d_to_3d_plan,
    "plan.json: unknown normalisation": plan_edit(lambda p: p["normalization"][0].update(scheme="minmax"), "'normalization[0].scheme'"),
    "plan.json: label set not 0..K-1": plan_edit(lambda p: p["labels"].pop("2"), "'labels' must be numbered"),
    "plan.json: labels differ from the dataset": plan_edit(lambda p: p["labels"].update({"1": "liver"}), "differ from the dataset's"),
    "plan.json: wrong format version": plan_edit(lambda p: p.update(format_version=99), "'format_version' is 99"),
    "plan.json: patch of the wrong dimensionality": plan_edit(lambda p: p.update(patch_size=[64, 64]), "'patch_size'"),
    "arch.json: unknown op": arch_edit(lambda a: a["values"].update({_first_op_label(a): "conv11"}), "has 'conv11'; expected one of"),
    "arch.json: unknown label": arch_edit(lambda a: a["values"].update({"enc/node9/edge0": "conv3"}), "'enc/node9/edge0' is not a decision"),
    "arch.json: missing label": arch_edit(lambda a: a["values"].pop(_first_op_label(a)), "has no value"),
    "arch.json: space mismatch": arch_edit(lambda a: a.update(space="nested"), "space 'nested' has no setting"),
    "arch.json: unknown space": arch_edit(lambda a: a.update(space="transformer"), "'transformer'"),
    "arch.json: wrong format version": arch_edit(lambda a: a.update(format_version=7), "'format_version' is 7"),
    "checkpoint: truncated search checkpoint": search_checkpoint(_truncated_copy(lambda i: i.model / "checkpoint.pt"), "checkpoint is damaged"),
    "checkpoint: training checkpoint given to a search": search_checkpoint(lambda p, i: shutil.copy(i.model / "checkpoint.pt", p), "not a segnas search checkpoint"),
    "checkpoint: truncated model weights": model_checkpoint(_truncated_copy(lambda i: i.model / "best.pt"), "checkpoint is damaged"),
    "checkpoint: foreign file as model weights": model_checkpoint(lambda p, i: torch.save({"weights": torch.ones(3)}, p), "not a segnas model checkpoint"),
    "checkpoint: weights of another network": model_checkpoint(_other_network, "weights do not fit"),
    "predict: wrong number of channels": predict_input(_one_channel, "has 1 channel(s); the model expects 2"),
    "predict: NaN voxels": predict_input(_nan_image, "NaN or Inf"),
    "predict: truncated image": predict_input(lambda d: truncate(first(d)), "cannot read as NIfTI"),
    "predict: not a NIfTI file": predict_input(lambda d: (first(d).write_bytes(b"\x1f\x8b" + b"x" * 50), first(d))[1], "cannot read as NIfTI"),
    "predict: output folder is the input folder": predict_input(lambda d: d, "is the input folder", out_is_input=True),
    "folders: work folder under a file": work_under_a_file,
    "folders: prediction output under a file": output_under_a_file,
    "folders: work folder never planned": work_not_planned,
    "folders: read-only work folder": read_only_work,
}


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root` → (size, mtime_ns), every folder → (-1, 0); the lock file is the lock's business."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else (-1, 0)
            for p in root.rglob("*") if p.name != ".lock"}


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 25


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_broken_input_is_refused_clearly_and_leaves_nothing(name: str, tmp_path: Path, synth3d: Path, synth2d: Path,
                                                            work3d: Path, trained_model: Path, one_real_case: Path) -> None:
    inputs = Inputs(tmp_path / "case", synth3d, synth2d, work3d, trained_model, one_real_case)
    inputs.tmp.mkdir()
    expect = CORPUS[name](inputs)
    before = snapshot(tmp_path)
    result = runner.invoke(app, expect.args)
    assert result.exit_code == 1, f"{result.exit_code}: {result.output}{result.exception!r}"
    lines = [line for line in result.output.splitlines() if str(expect.culprit) in line]
    assert lines, f"no line names {expect.culprit}:\n{result.output}"
    assert any(expect.words in line for line in lines), f"{expect.words!r} not said about {expect.culprit}:\n{result.output}"
    assert snapshot(tmp_path) == before, "the refused command changed files on disk"
