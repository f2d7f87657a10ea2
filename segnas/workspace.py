"""The work folder: where each stage reads and writes its readable artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from segnas.errors import SegnasError
from segnas.io import check_writable


@dataclass(frozen=True)
class Workspace:
    """Paths inside one work folder (one dataset, one plan)."""

    root: Path

    @property
    def fingerprint(self) -> Path:
        """Dataset fingerprint written by `plan`."""
        return self.root / "fingerprint.json"

    @property
    def plan(self) -> Path:
        """The editable plan written by `plan`."""
        return self.root / "plan.json"

    @property
    def splits(self) -> Path:
        """Cross-validation folds and search splits."""
        return self.root / "splits.json"

    @property
    def preprocessed(self) -> Path:
        """Folder of preprocessed cases."""
        return self.root / "preprocessed"

    def require(self, path: Path, stage: str) -> Path:
        """`path`, or an error saying which stage makes it."""
        if not path.exists():
            raise SegnasError(f"{path}: does not exist; run `segnas {stage}` first")
        return path

    def make(self) -> None:
        """Create the folder, with a clear error when it cannot be written."""
        check_writable(self.root, "work folder")
