"""Fingerprint a dataset (spacings, shapes, intensities) and derive an editable `plan.json`.

Rules (nnU-Net's, simplified and stated):
- target spacing = median spacing per axis; if the dataset is anisotropic (thickest axis > 3× the
  finest, and 3× fewer voxels along it than along the others) the thick axis gets the 10th
  percentile of its spacings, so thin-slice cases are not smeared;
- 2D when every case has a single voxel along one axis (or when asked); 2D plans never resample
  across slices;
- patch = median resampled shape, rounded up to `divisor`, shrunk along its longest physical axis
  until it fits the voxel budget;
- CT channels: clip to the 0.5/99.5 foreground percentiles, then z-score with the foreground mean
  and sd; other channels: per-image z-score (inside the non-zero mask when cropping removes ≥ 25 %).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segnas.data.io import read_image, read_label
from segnas.data.msd import Case, DatasetSpec, data_signature, load_dataset
from segnas.errors import SegnasError
from segnas.runtime.files import read_json, write_json
from segnas.runtime.lock import work_lock
from segnas.runtime.parallel import pmap
from segnas.runtime.workspace import Workspace

PLAN_VERSION = 1
ANISOTROPY = 3.0
DEFAULT_BUDGET = {2: 256 * 256, 3: 96 * 96 * 96}
SAMPLES_PER_CASE = 10_000


def nonzero_box(image: np.ndarray) -> list[tuple[int, int]]:
    """Bounding box [(lo, hi), ...] of voxels non-zero in any channel of (C, X, Y, Z); whole image if none."""
    mask = np.any(image != 0, axis=0)
    if not mask.any():
        return [(0, n) for n in mask.shape]
    box = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        idx = np.flatnonzero(mask.any(axis=other))
        box.append((int(idx[0]), int(idx[-1]) + 1))
    return box


def fingerprint_case(case: Case, seed: int = 0) -> dict[str, Any]:
    """Shape, spacing, crop, class counts and foreground intensity samples of one case."""
    image, geom = read_image(case.images)
    label, _ = read_label(case.label)
    box = nonzero_box(image)
    fg = label > 0
    rng = np.random.default_rng(seed)
    samples = []
    for ch in range(image.shape[0]):
        vals = image[ch][fg] if fg.any() else image[ch].ravel()
        take = rng.choice(vals.size, min(SAMPLES_PER_CASE, vals.size), replace=False)
        samples.append(vals[take].astype(float).round(4).tolist())
    return {
        "id": case.id,
        "shape": list(geom.shape),
        "spacing": [round(s, 6) for s in geom.spacing],
        "cropped_shape": [hi - lo for lo, hi in box],
        "class_voxels": {int(k): int(v) for k, v in zip(*np.unique(label, return_counts=True))},
        "_samples": samples,
    }


def fingerprint_dataset(spec: DatasetSpec, workers: int = 1) -> dict[str, Any]:
    """Fingerprint every case; intensity statistics pooled per channel over foreground voxels."""
    cases = list(pmap(fingerprint_case, spec.cases, workers, "fingerprint"))
    channels = []
    for ch, name in enumerate(spec.modalities):
        pooled = np.concatenate([np.asarray(c["_samples"][ch]) for c in cases])
        channels.append({
            "name": name, "mean": float(pooled.mean()), "std": float(pooled.std()),
            "median": float(np.median(pooled)),
            "percentile_00_5": float(np.percentile(pooled, 0.5)),
            "percentile_99_5": float(np.percentile(pooled, 99.5)),
        })
    for c in cases:
        del c["_samples"]
    return {"dataset": str(spec.root.resolve()), "name": spec.name, "modalities": spec.modalities,
            "labels": {str(k): v for k, v in sorted(spec.labels.items())}, "channels": channels, "cases": cases}


def target_spacing(spacings: np.ndarray, shapes: np.ndarray) -> list[float]:
    """Median spacing, with the thick axis of anisotropic data taken at its 10th percentile."""
    target = np.median(spacings, axis=0)
    sizes = np.median(shapes, axis=0)
    worst = int(np.argmax(target))
    others = [a for a in range(3) if a != worst]
    aniso_spacing = target[worst] > ANISOTROPY * target[others].min()
    aniso_voxels = sizes[worst] * ANISOTROPY < sizes[others].min()
    if aniso_spacing and aniso_voxels:
        t = np.percentile(spacings[:, worst], 10)
        target[worst] = max(t, target[others].max() + 1e-5)
    return [float(round(t, 6)) for t in target]


def fit_patch(shape: list[float], spacing: list[float], budget: int, divisor: int, axes: list[int]) -> list[int]:
    """Patch along `axes`: `shape` rounded up to `divisor`, shrunk on its longest physical axis to fit `budget`."""
    patch = {a: max(divisor, int(np.ceil(shape[a] / divisor)) * divisor) for a in axes}
    while np.prod(list(patch.values())) > budget:
        shrinkable = [a for a in axes if patch[a] > divisor]
        if not shrinkable:
            break
        a = max(shrinkable, key=lambda k: (patch[k] * spacing[k], patch[k]))
        patch[a] -= divisor
    return [patch[a] for a in axes]


def make_plan(fp: dict[str, Any], dims: int | None = None, budget: int | None = None, divisor: int = 16) -> dict[str, Any]:
    """Derive the plan from a fingerprint (pure: no files)."""
    cases = fp["cases"]
    spacings = np.array([c["spacing"] for c in cases], float)
    shapes = np.array([c["shape"] for c in cases], float)
    cropped = np.array([c["cropped_shape"] for c in cases], float)
    flat = [a for a in range(3) if np.all(shapes[:, a] == 1)]
    if dims is None:
        dims = 2 if flat else 3
    if dims not in (2, 3):
        raise SegnasError(f"dims must be 2 or 3, not {dims}")
    if dims == 3 and flat:
        raise SegnasError(f"{fp['dataset']}: every case has one voxel along axis {flat[0]}: this dataset is 2D, it cannot get a 3D plan")
    target = target_spacing(spacings, shapes)
    slice_axis = None
    if dims == 2:
        slice_axis = flat[0] if flat else int(max(range(3), key=lambda a: (np.median(spacings[:, a]), -np.median(shapes[:, a]))))
    resampled = [float(np.median(cropped[:, a] * spacings[:, a] / target[a])) for a in range(3)]
    axes = [a for a in range(3) if a != slice_axis]
    budget = budget or DEFAULT_BUDGET[dims]
    patch = fit_patch(resampled, target, budget, divisor, axes)
    crop_fraction = float(np.median(np.prod(cropped, 1) / np.prod(shapes, 1)))
    normalization = []
    for ch in fp["channels"]:
        if ch["name"].strip().upper() == "CT":
            normalization.append({"scheme": "ct", "clip": [ch["percentile_00_5"], ch["percentile_99_5"]],
                                  "mean": ch["mean"], "std": max(ch["std"], 1e-8)})
        else:
            normalization.append({"scheme": "zscore", "use_nonzero_mask": crop_fraction < 0.75})
    return {
        "format_version": PLAN_VERSION,
        "dataset": fp["dataset"],
        "dataset_name": fp["name"],
        "dims": dims,
        "slice_axis": slice_axis,
        "target_spacing": target,
        "patch_size": patch,
        "divisor": divisor,
        "voxel_budget": budget,
        "in_channels": len(fp["modalities"]),
        "modalities": fp["modalities"],
        "normalization": normalization,
        "labels": fp["labels"],
        "num_classes": max(int(k) for k in fp["labels"]) + 1,
        "median_shape": [float(np.median(shapes[:, a])) for a in range(3)],
        "median_resampled_shape": [round(r, 1) for r in resampled],
        "image_interpolation_order": 3,
    }


_PLAN_TYPES: dict[str, Any] = {
    "format_version": int, "dataset": str, "dims": int, "target_spacing": list, "patch_size": list,
    "in_channels": int, "modalities": list, "normalization": list, "labels": dict, "num_classes": int,
    "image_interpolation_order": int,
}
# keys a hand-written plan may leave out (`make_plan` writes them all), and the order plan.json lists them in
_OPTIONAL = ("dataset_name", "divisor", "voxel_budget", "median_shape", "median_resampled_shape")
_ORDER = ("format_version", "dataset", "dataset_name", "dims", "slice_axis", "target_spacing", "patch_size", "divisor",
          "voxel_budget", "in_channels", "modalities", "normalization", "labels", "num_classes", "median_shape",
          "median_resampled_shape", "image_interpolation_order")


@dataclass(frozen=True)
class Plan:
    """`plan.json`, checked: how every case is resampled, normalised and cut into patches. Loaded once per command
    and passed along; `to_json()` gives back the file's object (its hash keys the preprocessed cache)."""

    format_version: int
    dataset: str  # the dataset folder it was planned on
    dims: int  # 2: networks see slices along `slice_axis`; 3: volumes
    target_spacing: tuple[float, ...]  # mm, per axis of the file
    patch_size: tuple[int, ...]  # `dims` sizes, multiples of `divisor`
    in_channels: int
    modalities: tuple[str, ...]
    normalization: tuple[dict[str, Any], ...]  # per channel: scheme zscore (use_nonzero_mask) | ct (clip, mean, std) | none
    labels: dict[str, str]  # "0" (background) … str(num_classes - 1) → name
    num_classes: int
    image_interpolation_order: int
    slice_axis: int | None = None
    dataset_name: str | None = None
    divisor: int | None = None  # planning rounded the patch to multiples of this; networks check their own rule
    voxel_budget: int | None = None
    median_shape: tuple[float, ...] | None = None
    median_resampled_shape: tuple[float, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys this segnas does not know, kept as they are

    @classmethod
    def from_json(cls, plan: Any, where: str | Path) -> Plan:
        """Validate a (possibly hand-edited) plan object; errors name the file and the key."""
        cls.check(plan, where)
        known = set(_PLAN_TYPES) | set(_OPTIONAL) | {"slice_axis"}
        return cls(plan["format_version"], plan["dataset"], plan["dims"], tuple(plan["target_spacing"]),
                   tuple(plan["patch_size"]), plan["in_channels"], tuple(plan["modalities"]), tuple(plan["normalization"]),
                   dict(plan["labels"]), plan["num_classes"], plan["image_interpolation_order"], plan.get("slice_axis"),
                   plan.get("dataset_name"), plan.get("divisor"), plan.get("voxel_budget"), _tuple_or_none(plan.get("median_shape")),
                   _tuple_or_none(plan.get("median_resampled_shape")), {k: v for k, v in plan.items() if k not in known})

    def to_json(self) -> dict[str, Any]:
        """The object `plan.json` holds (optional keys only when set), in the order `make_plan` writes it."""
        out: dict[str, Any] = {}
        for key in _ORDER:
            value = getattr(self, key)
            if key in _OPTIONAL and value is None:
                continue
            out[key] = [dict(v) if isinstance(v, dict) else v for v in value] if isinstance(value, tuple) else value
        return {**out, **self.extra}

    @property
    def name(self) -> str:
        """The dataset's name, for titles."""
        return self.dataset_name or Path(self.dataset).name

    @classmethod
    def of(cls, dims: int, in_channels: int, num_classes: int, patch_size: Sequence[int], spacing: float = 1.0) -> Plan:
        """A plan with no dataset behind it (z-scored channels, isotropic `spacing` mm): to build a network of a
        given shape, e.g. a baseline to time (a 2D plan slices along axis 2)."""
        return cls(PLAN_VERSION, "", dims, (spacing,) * 3, tuple(patch_size), in_channels, tuple(f"channel{i}" for i in range(in_channels)),
                   tuple({"scheme": "zscore"} for _ in range(in_channels)), {str(k): str(k) for k in range(num_classes)}, num_classes, 3,
                   slice_axis=2 if dims == 2 else None)

    @staticmethod
    def check(plan: Any, where: str | Path) -> None:
        """Every rule a plan object must meet; the first broken one is an error naming the file and the key."""
        if not isinstance(plan, dict):
            raise SegnasError(f"{where}: plan must be a JSON object")
        for key, typ in _PLAN_TYPES.items():
            if key not in plan:
                raise SegnasError(f"{where}: missing key '{key}'")
            if not isinstance(plan[key], typ) or isinstance(plan[key], bool):
                raise SegnasError(f"{where}: '{key}' must be a {typ.__name__}, found {plan[key]!r}")
        if plan["format_version"] != PLAN_VERSION:
            raise SegnasError(f"{where}: 'format_version' is {plan['format_version']}, this segnas reads {PLAN_VERSION}")
        if plan["dims"] not in (2, 3):
            raise SegnasError(f"{where}: 'dims' must be 2 or 3, found {plan['dims']}")
        if plan["dims"] == 2 and plan.get("slice_axis") not in (0, 1, 2):
            raise SegnasError(f"{where}: a 2D plan needs 'slice_axis' 0, 1 or 2, found {plan.get('slice_axis')!r}")
        ts = plan["target_spacing"]
        if len(ts) != 3 or not all(isinstance(s, (int, float)) and s > 0 for s in ts):
            raise SegnasError(f"{where}: 'target_spacing' must be 3 positive numbers, found {ts!r}")
        ps = plan["patch_size"]
        if len(ps) != plan["dims"] or not all(isinstance(p, int) and p > 0 for p in ps):
            raise SegnasError(f"{where}: 'patch_size' must be {plan['dims']} positive integers, found {ps!r}")
        norm = plan["normalization"]
        if len(norm) != plan["in_channels"]:
            raise SegnasError(f"{where}: 'normalization' has {len(norm)} entries for {plan['in_channels']} channel(s)")
        for i, n in enumerate(norm):
            scheme = n.get("scheme") if isinstance(n, dict) else None
            if scheme not in ("zscore", "ct", "none"):
                raise SegnasError(f"{where}: 'normalization[{i}].scheme' must be zscore, ct or none, found {scheme!r}")
            if scheme == "ct" and not all(k in n for k in ("clip", "mean", "std")):
                raise SegnasError(f"{where}: 'normalization[{i}]' (ct) needs 'clip', 'mean' and 'std'")
        keys = list(plan["labels"])
        if not all(k.isdigit() for k in keys) or "0" not in keys or max(map(int, keys)) != plan["num_classes"] - 1:
            raise SegnasError(f"{where}: 'labels' must be numbered from 0 (background) up to 'num_classes' - 1 = "
                              f"{plan['num_classes'] - 1}, found {', '.join(keys)}")
        if plan["image_interpolation_order"] not in range(6):
            raise SegnasError(f"{where}: 'image_interpolation_order' must be 0..5")
        for key in ("divisor", "voxel_budget"):
            if plan.get(key) is not None and (not isinstance(plan[key], int) or plan[key] < 1):
                raise SegnasError(f"{where}: '{key}' must be a positive integer, found {plan[key]!r}")


def _tuple_or_none(value: Any) -> tuple[float, ...] | None:
    """A list from JSON as a tuple; None stays None."""
    return None if value is None else tuple(value)


def check_plan(plan: Any, where: str | Path) -> Plan:
    """Validate a (possibly hand-edited) plan object → the `Plan`; errors name the file and the key."""
    return Plan.from_json(plan, where)


def load_plan(work: Workspace) -> Plan:
    """Read and check `plan.json` of a work folder."""
    path = work.require(work.plan, "plan")
    return Plan.from_json(read_json(path), path)


def planned(work: Workspace) -> Plan | None:
    """The work folder's plan, or None before `segnas plan` has written one."""
    return load_plan(work) if work.plan.is_file() else None


def plan_dataset(data: str | Path, work: str | Path, dims: int | None = None, budget: int | None = None,
                 workers: int = 1, folds: int | None = None, seed: int = 0, search_ratio: float = 0.8,
                 group_pattern: str | None = None, validated: bool = False) -> Plan:
    """Fingerprint `data`, write fingerprint.json (with the files' signatures and `notes` on what looks odd),
    plan.json and splits.json into `work`; return the plan. `validated`: the caller has just validated `data`
    (it is not read twice)."""
    from segnas.data.splits import make_splits
    from segnas.data.validate import unit_spacing, validate_dataset

    if not validated:
        report = validate_dataset(data)  # refuse to plan on data with any defect, listing all of them
        if not report.ok:
            raise SegnasError(f"{data}: {len(report.problems)} problem(s) found; fix them before planning", report.problems)
    spec = load_dataset(data)
    fp = {**fingerprint_dataset(spec, workers), "files": data_signature(spec)}
    note = unit_spacing([c["spacing"] for c in fp["cases"]], [c["shape"] for c in fp["cases"]])
    fp["notes"] = [note] if note else []
    plan = Plan.from_json(make_plan(fp, dims, budget), "the plan made for " + str(data))
    splits = make_splits([c.id for c in spec.cases], folds, seed, search_ratio, group_pattern)
    ws = Workspace(Path(work))
    ws.make()  # only now: a failed plan leaves no work folder behind
    with work_lock(ws.root):
        write_json(ws.fingerprint, fp)
        write_json(ws.plan, plan.to_json())
        write_json(ws.splits, splits)
    return plan
