"""The broken-input corpus: every entry is a real command on a broken input, and each must exit 1 with a
message that names the file (and the key, label or case) and says what is wrong, and must leave the
disk exactly as it found it: no work folder, run folder, output folder or half-written file.

Add an entry to CORPUS to add a test; RELIABILITY.md lists them in words.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from segnas.app.cli import app

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
    env: dict[str, str] | None = None


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
        return Expect(["search", "--work", str(w), "--preset", "thrifty", "--strategy", "pcdarts", "--resume"], run / "checkpoint.pt", words)
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


# ---- hardening (issue 19): values that wrap, headers that drive memory, paths, untrusted files --------------

def _plan(ds: Path, i: Inputs) -> list[str]:
    return ["plan", str(ds), "--work", str(i.tmp / "work")]


def label_value(value: float, dtype: type) -> Callable[[Inputs], Expect]:
    """One voxel of a label map set to `value`, stored as `dtype`."""
    def case(i: Inputs) -> Expect:
        ds = i.dataset()

        def put(d: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            d = d.astype(dtype)
            d[(0,) * d.ndim] = value
            return d, a
        label = rewrite(first(ds / "labelsTr"), put)
        words = "too large for a class index" if value > 2**31 else f"label values {int(value)} are not declared"
        return Expect(_plan(ds, i), label, words)
    return case


def image_as(fn: Callable[[np.ndarray], np.ndarray], words: str) -> Callable[[Inputs], Expect]:
    """The first image's voxels replaced by `fn(voxels)`."""
    def case(i: Inputs) -> Expect:
        ds = i.dataset()
        return Expect(_plan(ds, i), rewrite(first(ds / "imagesTr"), lambda d, a: (fn(d), a)), words)
    return case


def _huge(d: np.ndarray) -> np.ndarray:
    d = d.astype(np.float32)
    d[(0,) * d.ndim] = 3e38
    return d


def _rgb(d: np.ndarray) -> np.ndarray:
    out = np.zeros(d.shape[:3], dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    out["G"] = 7
    return out


def patch_header(path: Path, **fields: tuple[int, str, tuple]) -> Path:
    """Overwrite raw NIfTI-1 header fields: name → (byte offset, struct format, values); gzip kept."""
    raw = bytearray(gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes())
    for offset, fmt, values in fields.values():
        raw[offset: offset + struct.calcsize(fmt)] = struct.pack(fmt, *values)
    path.write_bytes(gzip.compress(bytes(raw)) if path.name.endswith(".gz") else bytes(raw))
    return path


def header_claims_huge(i: Inputs) -> Expect:
    """A small file whose header declares 1400³ voxels × 2 channels: refused before any voxel is read."""
    ds = i.dataset()
    img = patch_header(first(ds / "imagesTr"), dim=(40, "<8h", (4, 1400, 1400, 1400, 2, 1, 1, 1)))
    return Expect(_plan(ds, i), img, "over the limit of")


def over_voxel_limit(i: Inputs) -> Expect:
    """A real image over a lowered SEGNAS_MAX_VOXELS: the limit is configurable."""
    ds = i.dataset()
    return Expect(_plan(ds, i), first(ds / "imagesTr"), "SEGNAS_MAX_VOXELS raises it", env={"SEGNAS_MAX_VOXELS": "50000"})


def header_spacing(value: float) -> Callable[[Inputs], Expect]:
    """pixdim[1] set to `value` with the sform off (nibabel would read 0 as 1 mm and -1.5 as 1.5 mm)."""
    def case(i: Inputs) -> Expect:
        ds = i.dataset()
        img = patch_header(first(ds / "imagesTr"), pixdim=(80, "<f", (value,)), sform_code=(254, "<h", (0,)))
        return Expect(_plan(ds, i), img, "a voxel must have a positive size")
    return case


def spacing_in_cm(i: Inputs) -> Expect:
    """One case of six with voxels 10× too large (its header in cm, say): resampling would blow it up 1000-fold."""
    ds = i.dataset()

    def scale(d: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a[:3, :3] *= 12.0
        return d, a
    img = rewrite(first(ds / "imagesTr"), scale)
    rewrite(first(ds / "labelsTr"), scale)
    return Expect(_plan(ds, i), img, "larger than the dataset's median")


def image_2d_in_3d(i: Inputs) -> Expect:
    ds = i.dataset()
    img = rewrite(first(ds / "imagesTr"), lambda d, a: (np.ascontiguousarray(d[:, :, :1]), a))
    rewrite(first(ds / "labelsTr"), lambda d, a: (np.ascontiguousarray(d[:, :, :1]), a))
    return Expect(_plan(ds, i), img, "is a 2D image")


def entry_path(key: str, path: str) -> Callable[[Inputs], Expect]:
    """dataset.json's first training entry pointing `key` at `path`."""
    def case(i: Inputs) -> Expect:
        ds = i.dataset()
        meta = edit_json(ds / "dataset.json", lambda m: m["training"][0].update({key: path}))
        return Expect(_plan(ds, i), meta, "leads outside the dataset folder")
    return case


def entry_without_label(i: Inputs) -> Expect:
    ds = i.dataset()
    meta = edit_json(ds / "dataset.json", lambda m: m["training"][0].pop("label"))
    cid = json.loads(meta.read_text())["training"][0]["image"].split("/")[-1].removesuffix(".nii.gz")
    return Expect(_plan(ds, i), meta, f"training[0] (case '{cid}') has no string 'label'")


def image_replaced(by: str) -> Callable[[Inputs], Expect]:
    """The first image replaced by a symbolic link to itself, or by a folder."""
    def case(i: Inputs) -> Expect:
        ds = i.dataset()
        img = first(ds / "imagesTr")
        img.unlink()
        if by == "loop":
            os.symlink(img.name, img)
        else:
            img.mkdir()
        return Expect(_plan(ds, i), img, "symbolic link loop" if by == "loop" else "is a folder, not a file")
    return case


def unreadable_image(i: Inputs) -> Expect:
    if os.geteuid() == 0:
        pytest.skip("root reads files without read permission")
    ds = i.dataset()
    img = first(ds / "imagesTr")
    os.chmod(img, 0)
    return Expect(_plan(ds, i), img, "permission denied")


def dataset_json_text(text: Callable[[str], str], words: str) -> Callable[[Inputs], Expect]:
    def case(i: Inputs) -> Expect:
        ds = i.dataset()
        meta = ds / "dataset.json"
        meta.write_text(text(meta.read_text()))
        return Expect(_plan(ds, i), meta, words)
    return case


def _big_integer(text: str) -> str:
    return text.replace('"numTraining": 6', '"numTraining": ' + "9" * 5000)


def _deep_nesting(text: str) -> str:
    return text.rstrip().removesuffix("}") + ', "extra": ' + "[" * 100_000 + "]" * 100_000 + "}"


def arch_text(fn: Callable[[dict], None], big: str, words: str) -> Callable[[Inputs], Expect]:
    """arch.json edited by `fn`, then the placeholder string "BIG" replaced by raw JSON text `big`."""
    def case(i: Inputs) -> Expect:
        w = i.work()
        arch = edit_json(Path(shutil.copy(i.model / "arch.json", i.tmp / "arch.json")), fn)
        arch.write_text(arch.read_text().replace('"BIG"', big))
        return Expect(["train", "--work", str(w), "--arch", str(arch), "--epochs", "1"], arch, words)
    return case


def search_setting(args: list[str], culprit: str, words: str) -> Callable[[Inputs], Expect]:
    def case(i: Inputs) -> Expect:
        return Expect(["search", "--work", str(i.work()), *args], culprit, words)
    return case


def existing_predictions(i: Inputs) -> Expect:
    out = i.tmp / "out"
    out.mkdir()
    (out / first(i.synth3d / "imagesTr").name).write_text("an earlier prediction")
    return Expect(["predict", "-m", str(i.model), "-i", str(i.synth3d / "imagesTr"), "-o", str(out)], out, "already holds")


def into_labels(i: Inputs) -> Expect:
    ds = i.dataset()
    return Expect(["predict", "-m", str(i.model), "-i", str(ds / "imagesTr"), "-o", str(ds / "labelsTr"), "--overwrite"],
                  ds / "labelsTr", "is a dataset's labelsTr folder")


class _RunsCode:
    """Pickles as a call to os.system: loading it with pickle runs the command."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple:
        return (os.system, (self.command,))


def _code_running(path: Path, i: Inputs) -> None:
    # Were it run, the command would add a file, and the snapshot check would fail.
    torch.save({"kind": "model", "net": _RunsCode(f"touch {i.tmp / 'pwned'}")}, path)


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
    "checkpoint: truncated search checkpoint": search_checkpoint(_truncated_copy(lambda i: i.model / "checkpoint.pt"),
                                                                 "checkpoint is damaged"),
    "checkpoint: training checkpoint given to a search": search_checkpoint(lambda p, i: shutil.copy(i.model / "checkpoint.pt", p),
                                                                           "not a segnas search checkpoint"),
    "checkpoint: truncated model weights": model_checkpoint(_truncated_copy(lambda i: i.model / "best.pt"), "checkpoint is damaged"),
    "checkpoint: foreign file as model weights": model_checkpoint(lambda p, i: torch.save({"weights": torch.ones(3)}, p),
                                                                  "not a segnas model checkpoint"),
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
    "labels: 65537 (wrapped to 1 by int16 before)": label_value(65537, np.int32),
    "labels: 65536 (wrapped to 0 by int16 before)": label_value(65536, np.int32),
    "labels: 1e10 as a float": label_value(1e10, np.float64),
    "image: intensities of 3e38": image_as(_huge, "intensities reach 3e+38"),
    "image: complex-valued": image_as(lambda d: d.astype(np.complex64), "complex-valued"),
    "image: RGB": image_as(_rgb, "is an RGB image"),
    "header: 1400³ voxels declared by a small file": header_claims_huge,
    "header: over a lowered SEGNAS_MAX_VOXELS": over_voxel_limit,
    "header: zero spacing": header_spacing(0.0),
    "header: negative spacing": header_spacing(-1.5),
    "dataset: one case with its spacing 12× the others": spacing_in_cm,
    "dataset: a 2D image among 3D ones": image_2d_in_3d,
    "dataset.json: image path with ..": entry_path("image", "../../outside.nii.gz"),
    "dataset.json: absolute label path": entry_path("label", "/etc/passwd"),
    "dataset.json: entry without a label": entry_without_label,
    "dataset.json: 5000-digit integer": dataset_json_text(_big_integer, "not usable JSON"),
    "dataset.json: nested 100000 deep": dataset_json_text(_deep_nesting, "nested too deeply"),
    "dataset: symbolic link loop as image": image_replaced("loop"),
    "dataset: folder as image": image_replaced("folder"),
    "dataset: unreadable image (skipped as root)": unreadable_image,
    "arch.json: negative channels": arch_edit(lambda a: a["settings"].update(channels=-4), "'channels' must be an integer from 1"),
    "arch.json: depth 40": arch_edit(lambda a: a["settings"].update(depth=40), "'depth' must be an integer from 1"),
    "arch.json: nodes 1000": arch_edit(lambda a: a["settings"].update(nodes=1000), "'nodes' must be an integer from 1"),
    "arch.json: unknown skip": arch_edit(lambda a: a["settings"].update(skip="mul"), "'skip' must be one of 'sum', 'conv'"),
    "arch.json: 5000-digit integer": arch_text(lambda a: a["settings"].update(channels="BIG"), "9" * 5000, "not usable JSON"),
    "arch.json: nested 100000 deep": arch_text(lambda a: a["settings"].update(extra="BIG"), "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "search: steps_per_epoch=0": search_setting(["--preset", "scnas", "--set", "steps_per_epoch=0"], "'steps_per_epoch'", "at least 1"),
    "search: warm-up as long as the search": search_setting(["--preset", "thrifty", "--epochs", "5"], "'warmup_epochs'", "no architecture step"),
    "search: an option its strategy does not take": search_setting(["--preset", "ronasmis", "--set", "strategy_options.trial_steps=2"],
                                                                   "strategy_options.trial_steps", "strategy 'enas' has no such option"),
    "predict: output folder holds predictions": existing_predictions,
    "predict: output is a dataset's labelsTr": into_labels,
    "checkpoint: a pickle that runs code": model_checkpoint(_code_running, "could run code"),
}


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root` → (size, mtime_ns), every folder → (-1, 0); the lock file is the lock's business."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else (-1, 0)
            for p in root.rglob("*") if p.name != ".lock"}


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 70


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_broken_input_is_refused_clearly_and_leaves_nothing(name: str, tmp_path: Path, synth3d: Path, synth2d: Path,
                                                            work3d: Path, trained_model: Path, one_real_case: Path) -> None:
    inputs = Inputs(tmp_path / "case", synth3d, synth2d, work3d, trained_model, one_real_case)
    inputs.tmp.mkdir()
    expect = CORPUS[name](inputs)
    before = snapshot(tmp_path)
    result = runner.invoke(app, expect.args, env=expect.env)
    assert result.exit_code == 1, f"{result.exit_code}: {result.output}{result.exception!r}"
    lines = [line for line in result.output.splitlines() if str(expect.culprit) in line]
    assert lines, f"no line names {expect.culprit}:\n{result.output}"
    assert any(expect.words in line for line in lines), f"{expect.words!r} not said about {expect.culprit}:\n{result.output}"
    assert snapshot(tmp_path) == before, "the refused command changed files on disk"
