"""Prediction: sliding window or whole volume, optional mirroring, and the way back to the original file's geometry.

The tensor functions are small and pure; `predict_files` streams cases one at a time (read →
preprocess → predict → invert → write), so memory does not grow with the number of cases.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from monai.inferers import sliding_window_inference

from segnas.data.io import NIFTI, Images, channel_files, read_image, read_shape, write_nifti
from segnas.data.msd import case_id_of
from segnas.data.preprocess import invert_probabilities, preprocess_image
from segnas.errors import Problem, SegnasError, as_problem, file_error
from segnas.inference.postprocess import apply_rule
from segnas.networks.model import Model
from segnas.runtime.files import atomic_path, check_writable, remove_partials
from segnas.runtime.progress import progress

Net = Callable[[torch.Tensor], torch.Tensor]


def pad_to_multiple(x: torch.Tensor, multiples: int | Sequence[int], minimum: Sequence[int] = ()) -> tuple[torch.Tensor, tuple[slice, ...]]:
    """Zero-pad the spatial axes of (B, C, *S) up to multiples of `multiples` (one for all axes, or one per axis;
    and at least `minimum`) → (padded tensor, slices that crop the result back)."""
    spatial = x.shape[2:]
    per_axis = [multiples] * len(spatial) if isinstance(multiples, int) else list(multiples)
    target = [max(-(-n // d) * d, m) for n, d, m in itertools.zip_longest(spatial, per_axis, minimum, fillvalue=0)]
    pads: list[int] = []
    for n, t in reversed(list(zip(spatial, target))):
        lo = (t - n) // 2
        pads += [lo, t - n - lo]
    crop = tuple(slice(pads[-2 - 2 * i], pads[-2 - 2 * i] + n) for i, n in enumerate(spatial))
    return F.pad(x, pads), (slice(None), slice(None), *crop)


def whole_volume(net: Net, x: torch.Tensor, multiples: int | Sequence[int]) -> torch.Tensor:
    """Logits of the whole volume in one pass (RONASMIS's one-shot inference): (B, C, *S) → (B, K, *S)."""
    padded, crop = pad_to_multiple(x, multiples)
    return net(padded)[crop]


WINDOW_VOXELS = 2**18  # voxels in one forward call of the sliding window, where patches are small (4 windows of 40³ or more)


def windows_per_call(patch: Sequence[int]) -> int:
    """Windows in one forward call: 4, or up to 64 tiny ones (a call's fixed cost dominates a 16³ patch on a CPU)."""
    return max(4, min(64, WINDOW_VOXELS // math.prod(patch)))


def window_count(shape: Sequence[int], patch: Sequence[int], overlap: float = 0.5) -> int:
    """Windows `sliding_window` runs over one image of spatial `shape`: per axis, MONAI's scan in steps of
    patch × (1 − overlap) until a window reaches the end (one window where the image fits the patch)."""
    n = 1
    for size, p in zip(shape, patch, strict=True):
        step = max(1, int(p * (1 - overlap)))
        n *= 1 if size <= p else math.ceil((size - p) / step) + 1
    return n


def volume_windows(shape: Sequence[int], patch: Sequence[int], slice_axis: int | None = None, mode: str = "sliding") -> int:
    """Windows `predict_volume` runs over a preprocessed volume of spatial `shape` (X, Y, Z): those of each slice
    along `slice_axis` for a 2D plan (None: 3D); in `whole` mode the volume counted in patch-sized windows."""
    images, grid = (1, list(shape)) if slice_axis is None else (shape[slice_axis], [s for a, s in enumerate(shape) if a != slice_axis])
    if mode == "whole":
        return images * math.ceil(math.prod(grid) / math.prod(patch))
    return images * window_count(grid, patch)


def sliding_window(net: Net, x: torch.Tensor, patch: Sequence[int], overlap: float = 0.5, batch: int | None = None) -> torch.Tensor:
    """Logits by Gaussian-weighted sliding windows (MONAI's inferer), `batch` windows per call (default
    `windows_per_call`): (B, C, *S) → (B, K, *S)."""
    batch = batch or windows_per_call(patch)
    out = sliding_window_inference(x, list(patch), batch, net, overlap=overlap, mode="gaussian")
    assert isinstance(out, torch.Tensor)  # a network of one output gives one tensor (MONAI also allows tuples and dicts)
    return out


def mirror_axes(dims: int, tta: bool) -> list[tuple[int, ...]]:
    """Spatial axes (of a (B, C, *S) tensor) to flip for each test-time-augmentation pass; () is no flip."""
    axes = range(2, 2 + dims)
    return [c for r in range(dims + 1) for c in itertools.combinations(axes, r)] if tta else [()]


def probabilities(model: Model, x: torch.Tensor, mode: str | None = None, tta: bool = False) -> torch.Tensor:
    """Softmax probabilities (B, K, *S) of the model for images (B, C, *S), averaged over mirrorings."""
    mode = mode or model.mode
    if mode not in ("sliding", "whole"):
        raise SegnasError(f"--mode must be sliding or whole, not {mode!r}")
    x = x.to(model.device, memory_format=model.layout) if x.ndim == 5 else x.to(model.device)
    total: torch.Tensor | None = None
    flips = mirror_axes(x.ndim - 2, tta)
    with torch.inference_mode():
        for axes in flips:
            xi = x.flip(axes) if axes else x
            if mode == "whole":
                logits = whole_volume(model.net, xi, model.multiples)
            else:
                logits = sliding_window(model.net, xi, model.patch_size)
            p = torch.softmax(logits.float(), 1)
            p = p.flip(axes) if axes else p
            total = p if total is None else total + p
    assert total is not None  # mirror_axes gives at least the identity
    return total / len(flips)


def predict_volume(model: Model, image: np.ndarray, mode: str | None = None, tta: bool = False, slices: int = 8) -> np.ndarray:
    """Probabilities (K, X, Y, Z) for a preprocessed image (C, X, Y, Z); 2D plans go slice by slice."""
    if model.plan.dims == 3:
        return probabilities(model, torch.from_numpy(np.array(image, dtype=np.float32))[None], mode, tta)[0].cpu().numpy()
    axis = model.plan.slice_axis
    assert axis is not None  # every 2D plan has one (Plan.from_json)
    stack = np.moveaxis(image, 1 + axis, 0)  # (N, C, H, W)
    out = [probabilities(model, torch.from_numpy(np.array(stack[i:i + slices], dtype=np.float32)), mode, tta).cpu().numpy()
           for i in range(0, len(stack), slices)]
    return np.moveaxis(np.concatenate(out), 0, 1 + axis)


def output_name(images: Images) -> str:
    """File name of a prediction: the (first) input's name without an nnU-Net `_0000` channel suffix."""
    path = channel_files(images)[0]
    if not path.name.endswith(NIFTI):
        return path.name
    return case_id_of(path).removesuffix("_0000") + ".nii.gz"


CHANNEL_FILE = re.compile(r"^(.+)_(\d{4})\.nii(\.gz)?$")  # nnU-Net's <case>_<channel>.nii.gz


def input_files(source: str | Path) -> list[Images]:
    """The images to predict: a file, or every NIfTI image in a folder; when every file of the folder is named
    like nnU-Net's `<case>_0000.nii.gz` and some case has a `_0001`, the channel files of a case form one image."""
    source = Path(source)
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise file_error(source, "no such file or folder")
    files = sorted(p for p in source.iterdir() if p.is_file() and p.name.endswith(NIFTI))
    if not files:
        raise file_error(source, "folder holds no NIfTI images (.nii or .nii.gz)")
    matches = [CHANNEL_FILE.match(p.name) for p in files]
    if not all(matches) or all(m.group(2) == "0000" for m in matches if m):
        return list(files)
    cases: dict[str, dict[int, Path]] = {}
    for p, m in zip(files, matches):
        assert m is not None
        cases.setdefault(m.group(1), {})[int(m.group(2))] = p
    grouped: list[Images] = []
    for cid, channels in sorted(cases.items()):
        if sorted(channels) != list(range(len(channels))):
            raise file_error(source, f"case {cid!r} has channel files {', '.join(f'{c:04d}' for c in sorted(channels))}; "
                             f"expected _0000 to _{len(channels) - 1:04d} with none missing")
        grouped.append(tuple(channels[c] for c in sorted(channels)))
    return grouped


def predict_case(model: Model | Sequence[Model], images: Images, out_path: Path, mode: str | None = None, tta: bool = False,
                 save_probabilities: bool = False, postprocessing: dict[str, Any] | None = None) -> Path:
    """Preprocess → predict → invert → write one case (an image, or its channel files) as NIfTI with exactly
    the input's shape and affine. Several models (an ensemble of folds) average their probabilities on the
    input's grid, each after its own plan's preprocessing; `postprocessing` is a rule of `segnas.inference.postprocess`."""
    models = [model] if isinstance(model, Model) else list(model)
    image, geom = read_image(images)  # channels checked from the header by `check_inputs`; NaN by read_image
    probs = None
    for m in models:
        pre, cg = preprocess_image(image, geom, m.plan, channel_files(images)[0])
        p = invert_probabilities(predict_volume(m, pre, mode, tta), cg)
        probs = p if probs is None else probs + p
    assert probs is not None
    probs /= len(models)
    labels = probs.argmax(0).astype(np.uint8 if probs.shape[0] < 256 else np.int16)
    if postprocessing is not None:
        labels = apply_rule(labels, postprocessing)
    if save_probabilities:
        with atomic_path(out_path.with_name(out_path.name.replace(".nii.gz", "_probabilities.npz"))) as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, probabilities=probs.astype(np.float16))
    write_nifti(out_path, labels, geom)
    return out_path


def check_inputs(model: Model, files: Sequence[Images]) -> None:
    """Every input readable with the model's channel count, from headers, before anything is written."""
    problems = []
    for f in files:
        first = channel_files(f)[0]
        try:
            channels = read_shape(f)[0]
        except SegnasError as e:
            problems.append(as_problem(e, first))
            continue
        if channels != model.plan.in_channels:
            problems.append(Problem(str(first), f"has {channels} channel(s); the model expects {model.plan.in_channels} "
                                    f"({', '.join(model.plan.modalities)})"))
    if problems:
        raise SegnasError(f"{len(problems)} of {len(files)} input(s) cannot be predicted; nothing was written", problems)


DATASET_FOLDERS = ("imagesTr", "labelsTr", "imagesTs", "labelsTs")  # a dataset's own files: never written into


def check_output_folder(out_dir: Path, files: Sequence[Images], names: Sequence[str], skip_existing: bool, overwrite: bool) -> None:
    """Refuse an output folder where predictions would replace inputs, a dataset's files or earlier outputs."""
    for f in (p for images in files for p in channel_files(images)):
        if out_dir.resolve() == f.parent.resolve():
            raise SegnasError(f"{out_dir}: is the input folder; write predictions elsewhere (inputs are never overwritten)")
    resolved = out_dir.resolve()
    if resolved.name in DATASET_FOLDERS and (resolved.parent / "dataset.json").is_file():
        raise SegnasError(f"{out_dir}: is a dataset's {resolved.name} folder (beside {resolved.parent / 'dataset.json'}); "
                          "predictions are never written among a dataset's images and labels")
    if len(set(names)) != len(names):
        raise SegnasError(f"{out_dir}: two inputs would be written to the same output name")
    existing = [n for n in names if (out_dir / n).exists()] if out_dir.is_dir() else []
    if existing and not (skip_existing or overwrite):
        raise SegnasError(f"{out_dir}: already holds {len(existing)} of the predictions ({existing[0]}"
                          f"{', …' if len(existing) > 1 else ''}); --continue keeps them, --overwrite replaces them")


def check_ensemble(models: Sequence[Model]) -> None:
    """Models averaged together must take the same inputs and give the same classes."""
    first = models[0]
    for m in models[1:]:
        for key in ("in_channels", "num_classes", "labels", "dims"):
            if getattr(m.plan, key) != getattr(first.plan, key):
                raise SegnasError(f"{m.run}: its {key} ({getattr(m.plan, key)}) differs from {first.run}'s ({getattr(first.plan, key)}); "
                                  "only models of one dataset can be averaged")


def predict_files(model: Model | Sequence[Model], files: Sequence[Images], out_dir: str | Path, mode: str | None = None,
                  tta: bool = False, save_probabilities: bool = False, skip_existing: bool = False, show_progress: bool = True,
                  overwrite: bool = False, postprocessing: dict[str, Any] | None = None) -> list[Path]:
    """Predict each image (a file, or a case's channel files) into `out_dir` (one at a time, each file written
    atomically); returns the outputs.

    Existing outputs are kept with `skip_existing`, replaced with `overwrite`, and refused otherwise."""
    out_dir = Path(out_dir)
    models = [model] if isinstance(model, Model) else list(model)
    check_ensemble(models)
    names = [output_name(f) for f in files]
    check_output_folder(out_dir, files, names, skip_existing, overwrite)
    check_inputs(models[0], files)
    created = not out_dir.exists()
    check_writable(out_dir, "output folder")
    remove_partials(out_dir)  # a killed earlier run's unfinished files
    written = []
    try:
        with progress(show_progress) as bar:
            task = bar.add_task("predict", total=len(files))
            for f, name in zip(files, names):
                target = out_dir / name
                if not (skip_existing and target.is_file()):
                    predict_case(models, f, target, mode, tta, save_probabilities, postprocessing)
                written.append(target)
                bar.advance(task)
    finally:
        if created and not written and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()  # a run that wrote nothing leaves no empty folder behind
    return written
