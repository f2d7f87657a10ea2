"""Errors that blame the input: every message names the file and what is wrong with it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SegnasError(Exception):
    """Bad input or a failed stage; the CLI prints it and exits with `exit_code`."""

    exit_code = 1

    def __init__(self, message: str, problems: list[Problem] | None = None, path: str | Path | None = None) -> None:
        self.path: str | None = str(path) if path is not None else None
        self.reason = message
        if path is not None:
            message = f"{path}: {message}"
        self.problems = list(problems or [])
        if self.problems:
            message = message + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(message)


class WorkFolderBusy(SegnasError):
    """Another process holds the work folder's lock: a script that starts lanes side by side may wait and retry."""


def file_error(path: str | Path, message: str) -> SegnasError:
    """An error about one file, formatted as 'PATH: message'."""
    return SegnasError(message, path=path)


def as_problem(error: SegnasError, fallback: str | Path) -> Problem:
    """The error as a Problem of its file (or of `fallback` when it names none)."""
    return Problem(error.path or str(fallback), error.reason if error.path else str(error))


def short_repr(v: Any) -> str:
    """A value for a message, cut to a readable length (a hand-edited file may hold a 4000-digit number)."""
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "…"
