"""What enters a race: the search's architecture, the fastest network its trials do not rank below it (a search by
training's), its best other trials or samples of its final distribution, random draws of its space, networks given as
files (one found on another dataset: SCNAS's transfer) and the hand-designed baselines, each fitted to the dataset and
written once as an arch.json."""

from __future__ import annotations

import json
import logging
import random
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segnas.config import TrainConfig
from segnas.data.plan import Plan
from segnas.errors import SegnasError
from segnas.nas.arch import ZERO, Architecture, InputChoice, OpChoice, load_architecture
from segnas.nas.spaces import get_space
from segnas.networks.baselines import BASELINES, baseline_architecture
from segnas.networks.model import check_architecture, check_patch, fit_architecture
from segnas.runtime.files import read_json, write_json
from segnas.runtime.workspace import RaceFolder, RunFolder

if TYPE_CHECKING:
    from segnas.selection.race import RaceConfig

log = logging.getLogger(__name__)
SAMPLE_TRIES = 100  # draws of the search's distribution for a sample unlike every other candidate


def sample_from(probabilities: dict[str, list[float]], arch: Architecture, rng: random.Random) -> dict[str, Any]:
    """Values drawn from a search's final candidate probabilities (inputs uniformly among the sources; never `zero`).
    A table may list every candidate (α's) or every one but `zero` (a search by training's)."""
    choices = get_space(arch.space).choices(**arch.settings)
    values: dict[str, Any] = {}
    for c in choices:
        if isinstance(c, OpChoice):
            names = [n for n in c.candidates if n != ZERO]
            p = probabilities.get(c.label, [1.0] * len(c.candidates))
            listed = c.candidates if len(p) == len(c.candidates) else names
            values[c.label] = rng.choices(names, weights=[p[listed.index(n)] for n in names])[0]
        elif isinstance(c, InputChoice):
            values[c.label] = sorted(rng.sample(list(c.candidates), c.k), key=c.candidates.index)
    return values


def runners_up(records: list[dict[str, Any]], entered: list[Architecture], n: int) -> list[dict[str, Any]]:
    """A search by training's best-scoring trials unlike the networks already `entered` (distinct, best first, at most
    `n`): networks it trained and scored, where a one-shot search (no trials) has only samples of its distribution."""
    out: list[dict[str, Any]] = []
    for r in sorted((r for r in records if "trial" in r), key=lambda r: -r["score"]):
        if r["values"] not in out and all({k: a.values.get(k) for k in r["values"]} != r["values"] for a in entered):
            out.append(r["values"])
    return out[:n]


def given_architectures(cfg: RaceConfig) -> dict[str, tuple[Path, Architecture]]:
    """name → (file, architecture) of the networks entered as they are (`RaceConfig.given`), named by their file's stem;
    a name the race gives its own candidates, a repeated one, or a baseline's file is an error naming the file."""
    taken = {"searched", "fastest", *BASELINES}
    out: dict[str, tuple[Path, Architecture]] = {}
    for file in map(Path, cfg.given):
        name, arch = file.stem, load_architecture(file)
        if arch.space in BASELINES:
            raise SegnasError(f"{file}: a hand-designed network ({arch.space}); enter it with --baseline {arch.space}")
        check_architecture(arch, file)
        if name in taken or name in out or re.fullmatch(r"(trial|sample|random)\d+", name):
            raise SegnasError(f"{file}: the race already has a candidate named {name!r}; rename the file")
        out[name] = (file, arch)
    return out


def make_candidates(work: Path, search_run: Path, plan: Plan, train_cfg: TrainConfig, cfg: RaceConfig, folder: Path) -> dict[str, Path]:
    """name → arch.json of every candidate, written once into `folder/candidates/` (kept on resume)."""
    if unknown := [name for name in cfg.baselines if name not in BASELINES]:  # before anything is written
        raise SegnasError(f"unknown baseline {unknown[0]!r}; known: {', '.join(BASELINES)}")
    index = RaceFolder(folder).candidates
    found = load_architecture(RunFolder(search_run).arch)
    given = given_architectures(cfg)
    if index.is_file():
        kept = {name: Path(p) for name, p in read_json(index).items()}
        if load_architecture(kept["searched"]).values != found.values:
            raise SegnasError(f"{folder}: this race was made for another search result than {RunFolder(search_run).arch}; "
                              "remove the folder to race the new one")
        for name, (path, arch) in given.items():
            if name not in kept or load_architecture(kept[name]).values != arch.values:
                raise SegnasError(f"{folder}: this race was made without {path} as it is now; remove the folder to race it")
        return kept
    patch = list(train_cfg.patch_size or plan.patch_size)
    for path, arch in given.values():  # a network found for other patches may not fit the race's
        try:
            check_patch(patch, fit_architecture(arch, plan).settings, arch.space)
        except SegnasError as e:
            raise SegnasError(f"{path}: {e}") from None
    space = get_space(found.space)
    rng = random.Random(cfg.seed)
    archs: dict[str, Architecture] = {"searched": found}
    quick = found.provenance.get("fastest_plausible", {}).get("values", {})  # a search by training's (since its stakes)
    if cfg.samples and {k: found.values.get(k) for k in quick} != quick:  # it takes a sample's place: the race keeps its size
        archs["fastest"] = Architecture(found.space, found.settings, {**found.values, **quick})
    records = [json.loads(line) for line in RunFolder(search_run).log.read_text().splitlines() if line.strip()] \
        if RunFolder(search_run).log.is_file() else []
    slots = cfg.samples - (len(archs) - 1)
    ups = runners_up(records, list(archs.values()), slots)
    for i, values in enumerate(ups):
        archs[f"trial{i}"] = Architecture(found.space, found.settings, {**found.values, **values})
    probabilities = records[-1]["probabilities"] if records else {}
    wanted = slots - len(ups)
    for i in range(wanted):
        taken = [a.values for a in archs.values()]  # a sample that repeats a candidate would race it twice
        draws = (sample_from(probabilities, found, rng) for _ in range(SAMPLE_TRIES))
        if (drawn := next((v for v in draws if v not in taken), None)) is None:
            log.info("race: no sample of the search's distribution differs from the candidates in %d draws; "
                     "%d sample(s) fewer", SAMPLE_TRIES, wanted - i)
            break
        archs[f"sample{i}"] = Architecture(found.space, found.settings, drawn)
    for i in range(cfg.random):
        archs[f"random{i}"] = space.random(seed=cfg.seed + 1000 + i, **found.settings)
    archs.update({name: arch for name, (_, arch) in given.items()})
    out: dict[str, Path] = {}
    for name, arch in archs.items():
        path = folder / "candidates" / f"{name}.json"
        fit_architecture(Architecture(arch.space, arch.settings, arch.values), plan, train_cfg.width).save(path)
        out[name] = path
    for name in cfg.baselines:
        path = folder / "candidates" / f"{name}.json"
        baseline_architecture(name, plan, list(train_cfg.patch_size or plan.patch_size)).save(path)
        out[name] = path
    write_json(index, {k: str(v) for k, v in out.items()})
    return out
