"""What every command of the command line shares: the app, its consoles, error reporting, common options and parsers."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler

from segnas.errors import SegnasError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
                  help="Neural architecture search for medical image segmentation (SCNAS, RONASMIS, Thrifty NAS).")
out = Console()
err = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")


def reports_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a SegnasError into a red message on stderr and its exit code."""
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except SegnasError as e:
            err.print(f"[bold red]error:[/] {e}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(e.exit_code) from None
    return wrapper


@app.callback()
def _setup(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s",
                        handlers=[RichHandler(console=err, show_path=False)])


Work = Annotated[Path, typer.Option("--work", "-w", help="Work folder (plan, preprocessed cases, runs).")]
Workers = Annotated[int, typer.Option("--workers", "-j", min=1, help="Worker processes.")]


Settings = Annotated[list[str] | None, typer.Option("--set", help="Override any setting: KEY=VALUE (repeatable; `segnas settings` lists them).")]


Predictions = Annotated[Path, typer.Option("--pred", help="Folder of predicted label maps (e.g. WORK/predictions/scnas/fold0).")]
References = Annotated[Path, typer.Option("--ref", help="Folder of reference label maps (same file names).")]


def parse_patch(text: str) -> list[int]:
    """'128x128x128' or '128,128,128' → [128, 128, 128]."""
    try:
        patch = [int(v) for v in text.replace(",", "x").split("x")]
    except ValueError:
        raise SegnasError(f"--patch {text!r}: expected sizes like 128x128x128") from None
    if not 2 <= len(patch) <= 3 or min(patch) < 1:
        raise SegnasError(f"--patch {text!r}: expected 2 or 3 positive sizes")
    return patch


def torch_threads(n: int) -> None:
    """Let torch use `n` CPU threads (intra-op) in this process."""
    import torch
    torch.set_num_threads(n)


def parse_folds(text: str | None) -> list[int] | None:
    """'all' or None → None (every fold); '0,2' → [0, 2]."""
    if text is None or text == "all":
        return None
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise SegnasError(f"--fold {text!r}: expected a fold number, a list like 0,2, or all") from None
