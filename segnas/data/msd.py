"""Dataset layouts: the Medical Segmentation Decathlon's (`dataset.json` listing `training` cases, channels inside
each image) and nnU-Net v2's raw one (`dataset.json` with `channel_names` and `file_ending`, cases found as
`labelsTr/<case><ending>` with one image per channel, `imagesTr/<case>_0000<ending>`, `_0001`, …)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from segnas.data.io import NIFTI
from segnas.errors import Problem, SegnasError
from segnas.runtime.files import read_json

REQUIRED_KEYS = ("modality", "labels", "training")


@dataclass(frozen=True)
class Case:
    """One training case: its id and the paths of its image and label files (nnU-Net's raw layout: one image
    file per channel, `image` the first and `channels` the others)."""

    id: str
    image: Path
    label: Path
    channels: tuple[Path, ...] = ()

    @property
    def images(self) -> Path | tuple[Path, ...]:
        """What `read_image` reads: the image file, or every channel file in order."""
        return (self.image, *self.channels) if self.channels else self.image

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file of the case."""
        return (self.image, *self.channels, self.label)


@dataclass(frozen=True)
class DatasetSpec:
    """What `dataset.json` declares: channels (modalities), labels and training cases."""

    root: Path
    name: str
    modalities: list[str]
    labels: dict[int, str]
    cases: list[Case]
    test_images: list[Path] = field(default_factory=list)

    @property
    def in_channels(self) -> int:
        """Number of input channels."""
        return len(self.modalities)

    @property
    def num_classes(self) -> int:
        """Number of output classes, background included (max label + 1)."""
        return max(self.labels) + 1

    def case(self, case_id: str) -> Case:
        """The case with this id."""
        for c in self.cases:
            if c.id == case_id:
                return c
        raise SegnasError(f"{self.root / 'dataset.json'}: no case named {case_id!r}")


def case_id_of(path: str | Path) -> str:
    """Case id from a file name: the name without `.nii.gz` / `.nii`."""
    name = Path(path).name
    for ext in NIFTI:
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    return name


def leaves_folder(relative: str) -> bool:
    """True for a dataset.json path that is absolute or climbs out with '..' (symbolic links inside are allowed)."""
    p = PurePosixPath(relative.replace("\\", "/"))
    return p.is_absolute() or ".." in p.parts or ":" in (p.parts[0] if p.parts else "")


def _parse_index_map(obj: Any, key: str, where: str, problems: list[Problem]) -> dict[int, str]:
    """Parse {"0": "name"} (MSD) or {"name": 0} (nnU-Net v2) into {index: name}."""
    if not isinstance(obj, dict) or not obj:
        problems.append(Problem(where, f"'{key}' must be a non-empty object like {{\"0\": \"...\"}}"))
        return {}
    out: dict[int, str] = {}
    for k, v in obj.items():
        if isinstance(k, str) and re.fullmatch(r"-?[0-9]+", k.strip()):  # ASCII digits: '²'.isdigit() is True
            out[int(k)] = str(v)
        elif isinstance(v, int) and not isinstance(v, bool):
            out[v] = str(k)
        else:
            problems.append(Problem(where, f"'{key}' entry {k!r}: {v!r} is not an index → name pair"))
    if any(i < 0 for i in out):
        problems.append(Problem(where, f"'{key}' has negative indices: {sorted(i for i in out if i < 0)}"))
    return out


def parse_dataset(root: str | Path) -> tuple[DatasetSpec | None, list[Problem]]:
    """Read `root/dataset.json` → (spec or None, every problem found in the JSON itself)."""
    root = Path(root)
    where = str(root / "dataset.json")
    problems: list[Problem] = []
    if not root.is_dir():
        return None, [Problem(str(root), "dataset folder does not exist")]
    try:
        meta = read_json(root / "dataset.json")
    except SegnasError as e:
        return None, [Problem(where, str(e).split(": ", 1)[-1])]
    if not isinstance(meta, dict):
        return None, [Problem(where, "top level must be a JSON object")]
    nnunet = "training" not in meta and "channel_names" in meta  # nnU-Net v2's raw layout
    required = ("channel_names", "labels", "numTraining", "file_ending") if nnunet else REQUIRED_KEYS
    missing = [k for k in required if k not in meta and not (k == "modality" and "channel_names" in meta)]
    if missing:
        problems.append(Problem(where, f"missing required key(s): {', '.join(missing)}"
                                + ("" if nnunet else " (or, in nnU-Net v2's layout, 'channel_names' and 'file_ending')")))
    modality = _parse_index_map(meta.get("modality", meta.get("channel_names")), "modality", where, problems)
    labels = _parse_index_map(meta.get("labels"), "labels", where, problems)
    if modality and sorted(modality) != list(range(len(modality))):
        problems.append(Problem(where, f"'modality' indices must be 0..{len(modality) - 1}, found {sorted(modality)}"))
    if nnunet:
        return _nnunet_dataset(root, meta, modality, labels, problems)
    training = meta.get("training", [])
    cases: list[Case] = []
    if not isinstance(training, list):
        problems.append(Problem(where, "'training' must be a list of {\"image\", \"label\"} objects"))
        training = []
    elif "training" in meta and not training:
        problems.append(Problem(where, "'training' is empty: there are no cases to learn from"))
    seen: set[str] = set()
    for i, entry in enumerate(training):
        if not isinstance(entry, dict):
            problems.append(Problem(where, f"training[{i}] must be an object with string 'image' and 'label'"))
            continue
        named = f"training[{i}]" + (f" (case {case_id_of(entry['image'])!r})" if isinstance(entry.get("image"), str) else "")
        absent = [k for k in ("image", "label") if not isinstance(entry.get(k), str)]
        if absent:
            problems.append(Problem(where, f"{named} has no string {' or '.join(repr(k) for k in absent)}"))
            continue
        outside = [k for k in ("image", "label") if leaves_folder(entry[k])]
        if outside:
            problems.append(Problem(where, f"{named}: {outside[0]!r} path {entry[outside[0]]!r} leads outside the dataset folder "
                                    "(paths must be relative, without '..')"))
            continue
        cid = case_id_of(entry["image"])
        if cid in seen:
            problems.append(Problem(where, f"training[{i}]: case {cid!r} is listed twice"))
            continue
        seen.add(cid)
        cases.append(Case(cid, root / entry["image"], root / entry["label"]))
    n = meta.get("numTraining")
    if isinstance(n, int) and isinstance(meta.get("training"), list) and n != len(training):
        problems.append(Problem(where, f"numTraining is {n} but 'training' lists {len(training)} cases"))
    listed = meta.get("test", [])
    if not isinstance(listed, list):
        problems.append(Problem(where, "'test' must be a list of image paths"))
        listed = []
    for t in listed:
        if isinstance(t, str) and leaves_folder(t):
            problems.append(Problem(where, f"'test' path {t!r} leads outside the dataset folder (paths must be relative, without '..')"))
    tests = [root / t for t in listed if isinstance(t, str) and not leaves_folder(t)]
    if not modality or not labels:
        return None, problems
    spec = DatasetSpec(root, str(meta.get("name", root.name)), [modality[i] for i in sorted(modality)], labels, cases, tests)
    return spec, problems


def _nnunet_dataset(root: Path, meta: dict[str, Any], modality: dict[int, str], labels: dict[int, str],
                    problems: list[Problem]) -> tuple[DatasetSpec | None, list[Problem]]:
    """nnU-Net v2's raw layout: cases are the label files of labelsTr; each has one image per channel."""
    where = str(root / "dataset.json")
    ending = meta.get("file_ending")
    if ending not in NIFTI:
        problems.append(Problem(where, f"file_ending {ending!r}: only NIfTI ({' or '.join(NIFTI)}) is read"))
        return None, problems
    if "regions_class_order" in meta:
        problems.append(Problem(where, "region-based labels (regions_class_order) are not supported: give one label per class"))
    cases: list[Case] = []
    label_dir = root / "labelsTr"
    labels_found = sorted(p for p in label_dir.iterdir() if p.name.endswith(ending) and not p.name.startswith(".")) if label_dir.is_dir() else []
    if not labels_found:
        problems.append(Problem(str(label_dir), f"holds no label files ending in {ending}"))
    for label in labels_found:
        cid = label.name[: -len(ending)]
        images = [root / "imagesTr" / f"{cid}_{i:04d}{ending}" for i in range(max(len(modality), 1))]
        absent = [p for p in images if not p.is_file()]
        if absent:
            problems.append(Problem(str(absent[0]), f"case {cid!r}: image of channel {images.index(absent[0])} does not exist"))
            continue
        cases.append(Case(cid, images[0], label, tuple(images[1:])))
    n = meta.get("numTraining")
    if isinstance(n, int) and labels_found and n != len(labels_found):
        problems.append(Problem(where, f"numTraining is {n} but labelsTr holds {len(labels_found)} label files"))
    tests = sorted(p for p in (root / "imagesTs").glob(f"*_0000{ending}")) if (root / "imagesTs").is_dir() else []
    if not modality or not labels:
        return None, problems
    spec = DatasetSpec(root, str(meta.get("name", root.name)), [modality[i] for i in sorted(modality)], labels, cases, tests)
    return spec, problems


def load_dataset(root: str | Path) -> DatasetSpec:
    """Read `dataset.json`, raising one error that lists every problem in it."""
    spec, problems = parse_dataset(root)
    if problems or spec is None:
        raise SegnasError(f"{Path(root) / 'dataset.json'}: dataset description is not usable", problems)
    return spec


def file_signature(path: Path) -> str:
    """Size and modification time of a file: enough to notice it was replaced or edited."""
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def data_signature(spec: DatasetSpec) -> dict[str, str]:
    """Case id → signature of its image and label files, plus `dataset.json` itself (written with the plan)."""
    out = {"dataset.json": file_signature(spec.root / "dataset.json")}
    for case in spec.cases:
        out[case.id] = " ".join(file_signature(f) for f in case.files)
    return out
