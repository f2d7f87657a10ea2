"""Commands on predictions and results: predict, postprocess, evaluate, cv, compare, report, export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from segnas.app.cli_base import Predictions, References, Workers, app, out, reports_errors


@app.command()
@reports_errors
def predict(
    model: Annotated[list[Path], typer.Option("--model", "-m", help="A training run folder (holds arch.json, plan.json, best.pt); several (-m FOLD0 "
                                                                    "-m FOLD1 …) average their probabilities.")],
    inputs: Annotated[Path, typer.Option("--input", "-i", help="A NIfTI image or a folder of them.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the predicted label maps (not the input folder).")],
    mode: Annotated[str | None, typer.Option("--mode", help="sliding (50% overlap, Gaussian weights) or whole (one pass over the volume); default: "
                                                            "the model's.")] = None,
    tta: Annotated[bool, typer.Option("--tta", help="Average over mirrorings along every axis.")] = False,
    checkpoint: Annotated[str, typer.Option("--checkpoint", help="best (the training's selected weights: the last epoch unless it ran with "
                                                                 "select=inner or val) or last.")] = "best",
    save_probabilities: Annotated[bool, typer.Option("--save-probabilities", help="Also write class probabilities (.npz, float16).")] = False,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:1 …")] = "auto",
    keep: Annotated[bool, typer.Option("--continue", help="Keep predictions already in OUTPUT (an interrupted run's) and predict the rest.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace predictions already in OUTPUT (refused without "
                                                                  "this or --continue).")] = False,
    postprocessing: Annotated[Path | None, typer.Option("--postprocessing", help="A postprocessing.json (from `segnas postprocess`) "
                                                                                    "to apply.")] = None,
) -> None:
    """Predict label maps, written as NIfTI with exactly each input's shape and affine.

    Example: [bold]segnas predict -m work/la/runs/train_scnas_fold0 -m work/la/runs/train_scnas_fold1 -i data/imagesTs -o preds[/]
    """
    from segnas.inference.postprocess import load_rule
    from segnas.inference.predict import input_files, predict_files
    from segnas.networks.model import load_model
    rule = load_rule(postprocessing) if postprocessing is not None else None
    loaded = [load_model(m, checkpoint, device) for m in model]
    written = predict_files(loaded, input_files(inputs), output, mode, tta, save_probabilities, skip_existing=keep,
                            overwrite=overwrite, postprocessing=rule)
    out.print(f"wrote {len(written)} prediction(s) to [bold]{output}[/]" + (f" (mean of {len(loaded)} models)" if len(loaded) > 1 else ""))


@app.command()
@reports_errors
def postprocess(
    pred: Predictions,
    ref: References,
    out_file: Annotated[Path | None, typer.Option("--out", help="Where to write the rule (default PRED/postprocessing.json).")] = None,
) -> None:
    """Decide nnU-Net's post-processing on validation predictions: keep the largest connected component (foreground,
    then each class) where that raises the mean Dice. Apply it with `predict --postprocessing`.

    Example: [bold]segnas postprocess --pred work/la/predictions/scnas/fold0 --ref data/labelsTr[/]
    """
    from segnas.inference.postprocess import decide_folder
    rule = decide_folder(pred, ref, out_file)
    kept = (["foreground as one"] if rule["foreground_as_one"] else []) + [f"class {c}" for c in rule["classes"]]
    out.print(f"largest component kept for: {', '.join(kept) or 'nothing (it did not raise the Dice)'}; mean Dice per class "
              + ", ".join(f"{c}: {rule['dice_before'][c]:.3f} → {rule['dice_after'][c]:.3f}" for c in rule["dice_before"]))
    out.print(f"wrote [bold]{out_file or pred / 'postprocessing.json'}[/]")


@app.command()
@reports_errors
def evaluate(
    pred: Predictions,
    ref: References,
    dataset: Annotated[Path | None, typer.Option("--dataset", help="dataset.json (or its folder) for the class names.")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Where to write the metrics (default PRED/metrics.json).")] = None,
    workers: Workers = 2,
) -> None:
    """Dice and HD95 per case and class → metrics.json and a table; missing or misaligned predictions are errors.

    Example: [bold]segnas evaluate --pred preds --ref data/labelsTr --dataset data/dataset.json[/]
    """
    from segnas.inference.evaluate import evaluate_folders, metrics_table
    summary = evaluate_folders(pred, ref, dataset, out_file, workers)
    out.print(metrics_table(summary, f"{pred} vs {ref}"))
    out.print(f"wrote [bold]{out_file or pred / 'metrics.json'}[/]")


@app.command()
@reports_errors
def cv(folder: Annotated[Path, typer.Argument(metavar="FOLDER", help="Folder with fold*/metrics.json, e.g. WORK/predictions/scnas.")]) -> None:
    """Aggregate the folds' metrics: mean ± sd per class over all held-out cases → cv_summary.json.

    Example: [bold]segnas cv work/la/predictions/scnas[/]
    """
    from segnas.inference.evaluate import cross_validation, cv_table
    out.print(cv_table(cross_validation(folder), str(folder)))
    out.print(f"wrote [bold]{folder / 'cv_summary.json'}[/]")


@app.command()
@reports_errors
def compare(
    first: Annotated[Path, typer.Argument(metavar="FIRST", help="metrics.json of one model's held-out predictions, or a folder of "
                                                                  "fold*/metrics.json (e.g. WORK/predictions/scnas).")],
    second: Annotated[Path, typer.Argument(metavar="SECOND", help="The same for the other model, on the same cases.")],
    names: Annotated[tuple[str, str] | None, typer.Option("--names", help="What to call the two (default: their paths).")] = None,
    group: Annotated[str | None, typer.Option("--group", help="A regex whose first group names a case's patient (e.g. "
                                                              "'patient(\\d+)'): also compare per patient, as cases of one "
                                                              "patient are not independent.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for compare.json and compare.png (default: print only).")] = None,
) -> None:
    """Is one model better than another on the same cases? Per class and for the mean foreground Dice: both means,
    the paired difference (mean, median), the cases each wins, and the Wilcoxon signed-rank p.

    Example: [bold]segnas compare preds_unet/metrics.json preds_scnas/metrics.json --names unet scnas --out cmp[/]
    """
    from segnas.inference.compare import MEAN, compare_results, compare_table, paired_panel
    from segnas.runtime.files import write_json
    from segnas.runtime.plots import plot_paired

    called = names or (str(first), str(second))
    summary = compare_results(first, second, group)
    out.print(compare_table(summary, called))
    if out_dir is None:
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "compare.json", {**summary, "names": list(called)})
    per_case = summary["per_case"]
    plot_paired([paired_panel({c: v[0] for c, v in per_case.items()}, {c: v[1] for c, v in per_case.items()},
                              (f"{called[0]}: {MEAN} Dice", f"{called[1]}: {MEAN} Dice"))], out_dir / "compare.png")
    out.print(f"wrote [bold]{out_dir / 'compare.json'}[/] and compare.png")


@app.command()
@reports_errors
def report(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="A search or training run folder.")],
    metrics: Annotated[Path | None, typer.Option("--metrics", help="metrics.json of the run's held-out predictions (default: the one `segnas run` "
                                                                   "wrote for it, if any).")] = None,
) -> None:
    """One HTML page for a run: plots, summary, found cells, per-case metrics, overlays of the best, median and worst case.

    Example: [bold]segnas report work/la/runs/train_scnas_fold0[/]
    """
    from segnas.app.run_report import write_report
    page = write_report(run, metrics)
    out.print(f"wrote [bold]{page}[/] (open it in a browser)")


@app.command()
@reports_errors
def export(
    model: Annotated[Path, typer.Argument(metavar="RUN", help="A training run folder.")],
    out_file: Annotated[Path | None, typer.Option("--out", help="TorchScript file (default RUN/model.ts).")] = None,
    checkpoint: Annotated[str, typer.Option("--checkpoint", help="best or last.")] = "best",
) -> None:
    """Write TorchScript models (run with torch alone): the network, checked against the eager one, and the network with its preprocessing.

    Example: [bold]segnas export work/la/runs/train_scnas_fold0[/]
    """
    from segnas.inference.export import export_model
    info = export_model(model, out_file, checkpoint)
    target = out_file or model / "model.ts"
    out.print(f"wrote [bold]{target}[/] and its .json; max difference to the eager model "
              f"{info['max_abs_difference_vs_eager']:.2g}; with its preprocessing, for use without segnas: "
              f"[bold]{target.with_name(info['with_preprocessing']['file'])}[/]")
