"""Guards against untrusted and oversized input (issue 19) that the corpus cannot show on its own: memory
stays bounded on broken headers, checkpoints never run code and old ones still load, files follow the
umask, and preprocessing refuses a case that resampling would blow up."""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from segnas.data.io import Geometry, read_header, read_label
from segnas.data.preprocess import preprocess_image
from segnas.errors import SegnasError
from segnas.runtime.checkpoint import load_checkpoint, rng_state, save_checkpoint, seed_everything, set_rng_state
from segnas.runtime.files import write_json
from tests.conftest import a_plan

from .test_corpus import patch_header

PEAK_LIMIT_MB = 2048  # issue 19: no command on a single broken input may pass ~2 GB before refusing


def peak_rss_mb(args: list[str]) -> tuple[int, float, str]:
    """Run `python -m segnas ARGS` in a fresh process → (exit code, its peak resident memory in MiB, output)."""
    probe = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); print(p.stdout + p.stderr)")
    done = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "segnas", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    first, _, rest = done.stdout.partition("\n")
    code, kib = first.split()
    return int(code), int(kib) / 1024, rest


def write_zeros_nifti(path: Path, shape: tuple[int, int, int]) -> None:
    """A real, valid uint8 NIfTI of `shape`, all zeros, streamed to gzip (a 1024³ volume is 1 MB on disk)."""
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.uint8)
    header.set_sform(np.eye(4), code=1)
    header.set_qform(np.eye(4), code=1)
    header["vox_offset"] = 352
    chunk = bytes(shape[0] * shape[1])
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header.binaryblock + b"\0" * 4)
        for _ in range(shape[2]):
            f.write(chunk)


@pytest.mark.slow
@pytest.mark.parametrize("defect", ["header claims 1400³", "real 1024³ image", "spacing 12× the others"])
def test_memory_stays_bounded_on_a_broken_input(defect: str, synth3d: Path, tmp_path: Path) -> None:
    ds = Path(shutil.copytree(synth3d, tmp_path / "ds"))
    image = sorted((ds / "imagesTr").iterdir())[0]
    if defect == "header claims 1400³":
        patch_header(image, dim=(40, "<8h", (4, 1400, 1400, 1400, 2, 1, 1, 1)))
    elif defect == "real 1024³ image":
        meta = json.loads((ds / "dataset.json").read_text())
        meta.update(modality={"0": "MRI"})
        for name in ("imagesTr", "labelsTr"):
            for p in sorted((ds / name).iterdir())[1:]:
                p.unlink()
            write_zeros_nifti(sorted((ds / name).iterdir())[0], (1024, 1024, 1024))
        meta.update(training=meta["training"][:1], numTraining=1)
        (ds / "dataset.json").write_text(json.dumps(meta))
    else:
        for folder in ("imagesTr", "labelsTr"):
            p = sorted((ds / folder).iterdir())[0]
            img = nib.load(p)
            affine = img.affine.copy()
            affine[:3, :3] *= 12.0
            nib.save(nib.Nifti1Image(np.asanyarray(img.dataobj), affine), p)
    for command in (["validate", str(ds)], ["plan", str(ds), "--work", str(tmp_path / "work")]):
        code, peak, said = peak_rss_mb(command)
        assert code == 1, said
        assert str(image) in said, said
        assert peak < PEAK_LIMIT_MB, f"{command[0]} peaked at {peak:.0f} MiB on '{defect}'"
    assert not (tmp_path / "work").exists()


class _RunsCode:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.path,))


@pytest.mark.parametrize("kind", ["model", "search", "train"])
def test_a_checkpoint_that_would_run_code_is_refused_and_nothing_runs(kind: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    torch.save({"kind": kind, "net": {"w": torch.ones(2)}, "payload": _RunsCode(marker)}, tmp_path / "x.pt")
    with pytest.raises(SegnasError, match="could run code"):
        load_checkpoint(tmp_path / "x.pt", kind)
    assert not marker.exists()
    # the same pickle does run code when loaded without the restriction: the test can fail
    torch.load(tmp_path / "x.pt", weights_only=False)
    assert marker.exists()


def test_checkpoints_from_before_the_change_still_load(tmp_path: Path) -> None:
    """They stored NumPy's generator state as an array; the allow-list admits exactly that."""
    legacy = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    torch.save({"kind": "train", "rng": legacy}, tmp_path / "old.pt")
    state = load_checkpoint(tmp_path / "old.pt", "train")
    set_rng_state(state["rng"])
    assert np.random.rand() == (np.random.set_state(legacy["numpy"]), np.random.rand())[1]


def test_random_state_survives_a_checkpoint(tmp_path: Path) -> None:
    seed_everything(11)
    save_checkpoint(tmp_path / "c.pt", {"kind": "x", "rng": rng_state()})
    expected = (random.random(), np.random.rand(), torch.rand(1).item(), np.random.randn())
    random.random(), np.random.rand(9), torch.rand(5)
    set_rng_state(load_checkpoint(tmp_path / "c.pt", "x")["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item(), np.random.randn()) == expected


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_written_files_follow_the_umask(umask: int, tmp_path: Path) -> None:
    old = os.umask(umask)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        save_checkpoint(tmp_path / "b.pt", {"kind": "x"})
    finally:
        os.umask(old)
    for name in ("a.json", "b.pt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


@pytest.mark.parametrize(("value", "dtype", "expected"), [(65537, np.int32, 65537), (65536, np.uint32, 65536),
                                                          (300, np.float32, 300), (7, np.int16, 7)])
def test_labels_keep_their_values(value: int, dtype: type, expected: int, tmp_path: Path) -> None:
    data = np.zeros((4, 4, 4), dtype)
    data[1, 2, 3] = value
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "l.nii.gz")
    label, _ = read_label(tmp_path / "l.nii.gz")
    assert int(label.max()) == expected and int(label[1, 2, 3]) == expected


def test_preprocessing_refuses_a_case_that_resampling_would_blow_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGNAS_MAX_VOXELS", "100000")
    image = np.ones((1, 20, 20, 20), np.float32)
    geom = Geometry.of((20, 20, 20), np.diag([10.0, 10.0, 10.0, 1.0]))
    plan = a_plan(image_interpolation_order=1)
    with pytest.raises(SegnasError, match=r"case\.nii\.gz: resampling .* 200×200×200 \(8 M voxels\), over the limit"):
        preprocess_image(image, geom, plan, "case.nii.gz")


def test_the_header_spacing_check_reads_what_the_file_says(tmp_path: Path) -> None:
    """nibabel turns a zero pixdim into 1 mm on reading; the guard reads the raw header."""
    path = tmp_path / "z.nii"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.eye(4)), path)
    patch_header(path, pixdim=(80, "<f", (0.0,)), sform_code=(254, "<h", (0,)))
    assert nib.load(path).header.get_zooms()[0] == 1.0  # what nibabel makes of it
    with pytest.raises(SegnasError, match="voxel size of 0.0"):
        read_header(path)

