"""The command line: each command parses flags and calls one library function; no logic lives here.

The commands live by world (`data_commands`, `model_commands`, `result_commands`, `race_command`); importing them
registers them on `app`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from segnas.app import data_commands, model_commands, result_commands  # noqa: F401  (registers their commands)
from segnas.app.cli_base import Workers, app, out, reports_errors


@app.command()
@reports_errors
def settings(
    preset: Annotated[str | None, typer.Option("--preset", "-p", help="Show a paper's values (scnas, ronasmis, thrifty, darts).")] = None,
) -> None:
    """Every search and training setting with its value and meaning: the keys of --set, --search-set, --train-set.

    Example: [bold]segnas settings --preset thrifty[/]
    """
    from rich.table import Table

    from segnas.config import SearchConfig, TrainConfig, describe_settings
    for title, kind, flag in (("search", SearchConfig, "search --set / run --search-set"),
                              ("training", TrainConfig, "train --set / run --train-set")):
        table = Table(title=f"{title} settings ({flag}), preset {preset or 'none'}", title_justify="left")
        for column in ("key", "value", "meaning"):
            table.add_column(column)
        for key, value, meaning in describe_settings(kind, preset):
            table.add_row(key, json.dumps(value), meaning)
        out.print(table)


@app.command()
@reports_errors
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the demo's data and work.")] = Path("demo_run"),
    cases: Annotated[int, typer.Option("--cases", min=4, help="Synthetic cases.")] = 12,
    dims: Annotated[int, typer.Option("--dims", help="2 or 3.")] = 3,
    workers: Workers = 2,
    quick: Annotated[bool, typer.Option("--quick", help="One short epoch per stage: a smoke test, not a result.")] = False,
) -> None:
    """The whole pipeline on fresh synthetic data: synth → validate → plan → preprocess → search → train → predict → evaluate.

    Example: [bold]segnas demo --out demo_run[/]
    """
    from segnas.app.demo import run_demo
    run_demo(out_dir, cases, dims, workers, out, quick)


def _race_command() -> None:
    from segnas.app.race_command import race_command
    app.command("race")(reports_errors(race_command))


_race_command()


def main() -> None:
    """Entry point of the `segnas` script."""
    app(prog_name="segnas")


if __name__ == "__main__":
    main()
    sys.exit(0)
