"""The three worlds of DESIGN.md stay apart: the data world imports no NAS code, spaces and strategies not each other."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "segnas"
DATA_WORLD = {"io", "msd", "validate", "plan", "preprocess", "splits", "data", "synthetic", "workspace", "parallel", "errors",
              "metrics", "evaluate", "losses", "lock"}
FORBIDDEN = {
    "data": {"segnas.spaces", "segnas.strategies", "segnas.search", "segnas.arch"},
    "spaces": {"segnas.strategies", "segnas.search"} | {f"segnas.{m}" for m in DATA_WORLD - {"errors"}},
    "strategies": {"segnas.spaces", "segnas.search"} | {f"segnas.{m}" for m in DATA_WORLD - {"errors"}},
}


def imports_of(path: Path) -> set[str]:
    """Every module a file imports (absolute names)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def world_of(path: Path) -> str | None:
    rel = path.relative_to(PACKAGE)
    if rel.parts[0] in ("spaces", "strategies"):
        return rel.parts[0]
    return "data" if rel.stem in DATA_WORLD else None


def test_worlds_do_not_import_each_other() -> None:
    offences = []
    files = list(PACKAGE.rglob("*.py"))
    assert len(files) > 5
    for f in files:
        world = world_of(f)
        for name in imports_of(f) if world else ():
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[world]):
                offences.append(f"{f.relative_to(PACKAGE)} imports {name}")
    assert not offences, offences


def test_architecture_module_needs_no_torch() -> None:
    import subprocess
    import sys
    code = "import sys, segnas.arch; assert 'torch' not in sys.modules, 'segnas.arch imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)
