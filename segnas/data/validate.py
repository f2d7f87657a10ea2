"""Check an MSD dataset and list every problem at once, each with its file; writes nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segnas.data.io import Geometry, read_header, read_image, read_label
from segnas.data.msd import Case, DatasetSpec, parse_dataset
from segnas.errors import Problem, SegnasError, as_problem

SPACING_OUTLIER = 10.0  # a case whose voxel size differs this much from the median along an axis is refused
THICK_SLICES = 4.0  # unit voxels on images this many times shorter along one axis than along another: a lost voxel size?


@dataclass
class CaseSummary:
    """What one readable case looks like."""

    id: str
    shape: tuple[int, ...]
    spacing: tuple[float, ...]
    channels: int
    labels_present: list[int]


@dataclass
class Report:
    """Outcome of `validate_dataset`: the spec (if readable), problems and per-case summaries."""

    root: Path
    spec: DatasetSpec | None
    problems: list[Problem] = field(default_factory=list)
    cases: list[CaseSummary] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth a look, but nothing to refuse the data for

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems and self.spec is not None


def check_case(case: Case, spec: DatasetSpec) -> tuple[CaseSummary | None, list[Problem]]:
    """Load one case fully and check it against the spec and itself."""
    problems: list[Problem] = []
    image = label = None
    try:
        image, igeom = read_image(case.images)
    except SegnasError as e:
        problems.append(as_problem(e, case.image))
    try:
        label, lgeom = read_label(case.label)
    except SegnasError as e:
        problems.append(Problem(str(case.label), str(e).split(": ", 1)[-1]))
    if image is not None:
        if image.shape[0] != spec.in_channels:
            hint = ""
            if image.ndim == 4 and spec.in_channels > 1 and image.shape[1] == spec.in_channels:
                hint = (f"; its first axis has {spec.in_channels}: the channels look stored first, but a 4D NIfTI keeps "
                        "them in its last axis (x, y, z, channel)")
            problems.append(Problem(str(case.image), f"has {image.shape[0]} channel(s) in its last axis but dataset.json "
                                    f"'modality' declares {spec.in_channels}{hint}"))
    if label is not None:
        present = [int(v) for v in np.unique(label)]
        undeclared = sorted(set(present) - set(spec.labels))
        if undeclared:
            shown = ", ".join(map(str, undeclared[:10])) + (f", … ({len(undeclared)} values)" if len(undeclared) > 10 else "")
            declared = ", ".join(map(str, sorted(spec.labels)[:10])) + (", …" if len(spec.labels) > 10 else "")
            problems.append(Problem(str(case.label), f"label values {shown} are not declared in dataset.json 'labels' (declared: {declared})"))
    if image is None or label is None:
        return None, problems
    if igeom.shape != lgeom.shape:
        problems.append(Problem(str(case.label), f"shape {lgeom.shape} differs from its image's {igeom.shape} ({case.image.name})"))
    elif lgeom.orientation != igeom.orientation:
        problems.append(Problem(str(case.label), f"orientation {lgeom.orientation} differs from its image's {igeom.orientation} ({case.image.name}): "
                                "the label is flipped or its axes permuted"))
    elif not np.allclose(igeom.affine_array, lgeom.affine_array, rtol=1e-4, atol=1e-3):
        problems.append(Problem(str(case.label), f"affine differs from its image's ({case.image.name}): the label is not on the same grid"))
    return CaseSummary(case.id, igeom.shape, igeom.spacing, image.shape[0], present), problems


def check_headers(case: Case) -> tuple[Geometry | None, list[Problem]]:
    """The image's geometry from its header, and what the image's and label's headers alone show is wrong
    (size over the voxel limit, bad spacing, voxel type): checked before any voxel is read."""
    problems: list[Problem] = []
    geoms: list[Geometry | None] = []
    for path in (case.image, case.label, *case.channels):
        try:
            geoms.append(read_header(path)[1])
        except SegnasError as e:
            problems.append(as_problem(e, path))
            geoms.append(None)
    return geoms[0], problems


def geometry_outliers(cases: list[tuple[Case, Geometry]]) -> list[Problem]:
    """Cases unlike the rest: a 2D image among 3D ones; a voxel size over SPACING_OUTLIER× off the median
    along an axis (a header in the wrong unit makes resampling blow a case up a thousandfold)."""
    problems = []
    flat = [min(g.shape) == 1 for _, g in cases]
    if sum(flat) < len(cases) / 2:
        for (case, g), is_flat in zip(cases, flat):
            if is_flat:
                problems.append(Problem(str(case.image), f"is a 2D image (shape {'×'.join(map(str, g.shape))}) but the "
                                        "dataset's other images are 3D"))
    for axis in range(3):
        along = [(case, g.spacing[axis]) for case, g in cases if g.shape[axis] > 1]
        if len(along) < 2:
            continue
        median = float(np.median([s for _, s in along]))
        for case, s in along:
            if s > SPACING_OUTLIER * median or s * SPACING_OUTLIER < median:
                problems.append(Problem(str(case.image), f"voxel size {s:.4g} mm along axis {axis} is over {SPACING_OUTLIER:g}× "
                                        f"{'larger' if s > median else 'smaller'} than the dataset's median {median:.4g} mm "
                                        "(a header in another unit?); resampling would change this case "
                                        f"{(s / median) ** 3 if s > median else (median / s) ** 3:,.0f}-fold"))
    return problems


def unit_spacing(spacings: list[Sequence[float]], shapes: list[Sequence[int]]) -> str | None:
    """A note when every 3D image's header gives 1×1×1 mm voxels on images much shorter along one axis: the voxel
    size of a thick-slice scan lost in conversion, so that planning treats its voxels as cubes (None otherwise)."""
    if len(spacings) < 2 or not np.allclose(np.asarray(spacings, float), 1.0, atol=1e-6):
        return None
    median = np.median(np.asarray(shapes, float), axis=0)
    if median.min() <= 1 or median.max() < THICK_SLICES * median.min():
        return None
    axis = int(np.argmin(median))
    return (f"every image's header gives 1×1×1 mm voxels, yet the images are {'×'.join(f'{s:.0f}' for s in median)} voxels "
            f"(median), {median.max() / median.min():.0f}× shorter along axis {axis}: is it a thick-slice scan whose voxel size was "
            "lost in conversion? Planning will treat its voxels as cubes (patch, pooling, resampling) and HD95 will be in "
            "voxels, not mm; if you know the voxel size, write it into the headers and plan again")


def validate_dataset(root: str | Path, progress: Callable[[int, int], None] | None = None) -> Report:
    """Check dataset.json, every case's headers (before any voxel is read), then every case's voxels;
    returns a Report (never raises for bad data) with its notes (what is odd but not wrong)."""
    root = Path(root)
    spec, problems = parse_dataset(root)
    report = Report(root, spec, list(problems))
    if spec is None:
        return report
    readable: list[tuple[Case, Geometry]] = []
    for case in spec.cases:
        geom, header_problems = check_headers(case)
        report.problems += header_problems
        if geom is not None and not header_problems:
            readable.append((case, geom))
    outliers = geometry_outliers(readable)
    report.problems += outliers
    note = unit_spacing([g.spacing for _, g in readable], [g.shape for _, g in readable])
    report.notes += [note] if note else []
    refused = {p.path for p in outliers}
    checked = [case for case, _ in readable if str(case.image) not in refused]
    for i, case in enumerate(checked):
        summary, case_problems = check_case(case, spec)
        report.problems += case_problems
        if summary is not None:
            report.cases.append(summary)
        if progress:
            progress(i + 1, len(checked))
    for t in spec.test_images:
        if not t.is_file():
            report.problems.append(Problem(str(t), "listed under 'test' in dataset.json but does not exist"))
    return report
