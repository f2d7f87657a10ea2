"""The Python API, for notebooks and scripts: each stage as one function on paths, with the same settings as the
command line (`segnas settings` lists them; dotted keys as `**{"space_settings.channels": 32}`).

    from segnas import api
    api.plan("data/Task02_Heart", "work/heart")
    api.preprocess("work/heart")
    found = api.search("work/heart", preset="scnas", fold=0, epochs=20)
    model = api.train("work/heart", RunFolder(found).arch, preset="scnas", fold=0, steps=3000)
    api.predict(model, "data/Task02_Heart/imagesTs", "preds")
    api.evaluate("preds", "refs")["mean_foreground_dice"]

(The names are the modules' too — `segnas.nas.search` is the search module — so they live here, not in `segnas`.)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from segnas.data.plan import Plan


def plan(data: str | Path, work: str | Path, num_folds: int | None = None, group_pattern: str | None = None,
         workers: int = 2) -> Plan:
    """Validate and fingerprint a dataset (MSD or nnU-Net v2 raw) and write plan.json, splits.json; returns the plan."""
    from segnas.data.plan import plan_dataset
    return plan_dataset(data, work, workers=workers, folds=num_folds, group_pattern=group_pattern)


def preprocess(work: str | Path, workers: int = 2) -> dict[str, int]:
    """Crop, normalise and resample every case as plan.json says → {"done": n, "cached": m}."""
    from segnas.data.preprocess import preprocess_dataset
    return preprocess_dataset(work, workers)


def search(work: str | Path, preset: str = "scnas", fold: int = 0, resume: bool = False, placebo: bool = False,
           **settings: Any) -> Path:
    """Search an architecture on a fold's search split; returns the run folder (its `arch.json` is the find).
    Given `minutes` and no `strategy`, the search by training, as `segnas search` runs it (`default_search`).
    `placebo`: the same search on the fold's training labels shuffled across cases (`WORK/placebo/`); once a search
    and its placebo have both finished, `placebo.json` beside the search's `arch.json` compares them."""
    from segnas.app.pipeline import default_search
    from segnas.config import make_config
    from segnas.data.plan import planned
    from segnas.runtime.workspace import Workspace
    from segnas.selection import placebo as control
    from segnas.selection.searches import search as run_search
    ws = Workspace(Path(work))
    cfg = make_config(preset, {**default_search(planned(ws), preset, settings), "fold": fold})
    run = (control.placebo_search if placebo else run_search)(work, cfg, resume=resume)
    control.report(work, cfg)
    return run


def train(work: str | Path, arch: str | Path, preset: str = "scnas", fold: int = 0, steps: int | None = None,
          run: str | Path | None = None, resume: bool = False, **settings: Any) -> Path:
    """Train an architecture (`arch.json`, or a baseline's name: monai_unet, monai_dynunet) on a fold; `steps`
    sets the epochs for that many steps in all; returns the run folder (a model for `predict`)."""
    from segnas.config import TrainConfig, make_config, steps_to_epochs
    from segnas.runtime.workspace import Workspace
    from segnas.training.train import baseline_file
    from segnas.training.train import train as run_train
    cfg = make_config(preset, {**settings, "fold": fold}, TrainConfig)
    if steps is not None:
        cfg.epochs = steps_to_epochs(steps, cfg.steps_per_epoch)
    arch_path = Path(arch) if Path(arch).exists() else baseline_file(Workspace(Path(work)), str(arch))
    return run_train(work, arch_path, cfg, run, resume=resume, show_progress=True)


def predict(model: str | Path | Sequence[str | Path], inputs: str | Path, output: str | Path, overwrite: bool = False,
            postprocessing: str | Path | None = None, **options: Any) -> list[Path]:
    """Predict a NIfTI image or a folder of them with a trained run folder (several: their mean probabilities);
    label maps on each input's grid. `postprocessing`: a postprocessing.json to apply; `options`: mode, tta,
    save_probabilities, skip_existing (see `segnas predict --help`)."""
    from segnas.inference.postprocess import load_rule
    from segnas.inference.predict import input_files, predict_files
    from segnas.networks.model import load_model
    runs = [model] if isinstance(model, (str, Path)) else list(model)
    rule = load_rule(postprocessing) if postprocessing is not None else None
    return predict_files([load_model(r) for r in runs], input_files(inputs), output, overwrite=overwrite,
                         postprocessing=rule, **options)


def evaluate(predictions: str | Path, references: str | Path, dataset: str | Path | None = None) -> dict[str, Any]:
    """Dice and HD95 per case and class of a folder of predictions against one of references (PRED/metrics.json)."""
    from segnas.inference.evaluate import evaluate_folders
    return evaluate_folders(predictions, references, dataset)


def run(data: str | Path, work: str | Path, preset: str = "scnas", folds: Sequence[int] | None = None,
        search_settings: dict[str, Any] | None = None, train_settings: dict[str, Any] | None = None,
        force: str | None = None, workers: int = 2) -> dict[str, Any]:
    """Every stage (as `segnas run`); returns the cross-validation summary."""
    from segnas.app.pipeline import run_pipeline
    return run_pipeline(data, work, preset, folds, search_settings, train_settings, None, force, workers)
