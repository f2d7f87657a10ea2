"""The worlds of DESIGN.md stay apart, read from the folders alone: each folder of `segnas/` may import only the
folders below it. A new module is checked by where it is put; there is no list of names to keep."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "segnas"

# What each part may import besides itself and `segnas.errors` (prefixes of module names). Bottom to top.
ALLOWED: dict[str, set[str]] = {
    "segnas.runtime": set(),
    "segnas.data": {"segnas.runtime"},
    "segnas.nas.arch": {"segnas.runtime"},
    "segnas.nas.decisions": set(),
    "segnas.nas.spaces": {"segnas.nas.arch"},
    "segnas.nas.strategies": {"segnas.nas.arch"},
    "segnas.config": set(),
    "segnas.networks": {"segnas.runtime", "segnas.data", "segnas.nas.arch", "segnas.nas.spaces"},
    "segnas.inference": {"segnas.runtime", "segnas.data", "segnas.nas.arch", "segnas.networks"},
    "segnas.training": {"segnas.runtime", "segnas.data", "segnas.nas.arch", "segnas.nas.spaces", "segnas.networks",
                        "segnas.inference", "segnas.config"},
    "segnas.nas": {"segnas.runtime", "segnas.data", "segnas.networks", "segnas.inference.metrics", "segnas.training.losses",
                   "segnas.config"},  # the search: the meeting point of the parts below
    "segnas.selection": {"segnas.runtime", "segnas.data", "segnas.nas", "segnas.networks", "segnas.inference", "segnas.training",
                         "segnas.config"},  # the race: candidates from a search, trained and pruned
    "segnas.app": {"segnas"},  # the user-facing layer may use everything
    "segnas.api": {"segnas"},
    "segnas.__main__": {"segnas.app"},
}


def module_name(path: Path) -> str:
    """`segnas/nas/spaces/cell.py` → `segnas.nas.spaces.cell`."""
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def part_of(module: str) -> str | None:
    """The most specific entry of ALLOWED that `module` belongs to."""
    found = [p for p in ALLOWED if module == p or module.startswith(p + ".")]
    return max(found, key=len) if found else None


def imports_of(path: Path) -> set[str]:
    """Every segnas module a file imports (absolute names; `from segnas import x` as `segnas.x`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {f"{node.module}.{a.name}" for a in node.names} if node.module == "segnas" else {node.module}
    return {n for n in names if n == "segnas" or n.startswith("segnas.")}


def package_imports() -> dict[str, set[str]]:
    """Module name → the segnas modules it imports, for every file of the package."""
    return {module_name(f): imports_of(f) for f in sorted(PACKAGE.rglob("*.py"))}


def offences(graph: dict[str, set[str]]) -> list[str]:
    """Imports that point to a part not allowed, and modules that belong to no part."""
    found = []
    for me, imported in graph.items():
        if me in ("segnas", "segnas.errors"):
            continue
        part = part_of(me)
        if part is None:
            found.append(f"{me} belongs to no part of the package: put it in a folder (or name it in ALLOWED)")
            continue
        for name in imported:
            ok = {part, "segnas.errors"} | ALLOWED[part]
            if not any(name == p or name.startswith(p + ".") for p in ok):
                found.append(f"{me} ({part}) imports {name}")
    return found


def test_each_folder_imports_only_the_folders_below_it() -> None:
    assert len(list(PACKAGE.rglob("*.py"))) > 40
    found = offences(package_imports())
    assert not found, "\n".join(found)


def test_spaces_and_strategies_do_not_know_each_other() -> None:
    for me, imported in package_imports().items():
        for a, b in (("spaces", "strategies"), ("strategies", "spaces")):
            if me.startswith(f"segnas.nas.{a}"):
                assert not any(n.startswith(f"segnas.nas.{b}") for n in imported), f"{me} imports segnas.nas.{b}"


def test_the_rule_catches_an_upward_import_and_a_module_outside_the_folders() -> None:
    graph = {"segnas.data.probe": {"segnas.nas.search"}, "segnas.runtime.ok": {"segnas.errors", "segnas.runtime.files"},
             "segnas.stray": set(), "segnas.nas.spaces.x": {"segnas.nas.arch", "segnas.data.io"}}
    assert offences(graph) == ["segnas.data.probe (segnas.data) imports segnas.nas.search",
                               "segnas.stray belongs to no part of the package: put it in a folder (or name it in ALLOWED)",
                               "segnas.nas.spaces.x (segnas.nas.spaces) imports segnas.data.io"]


def test_architecture_module_needs_no_torch() -> None:
    import subprocess
    import sys
    code = "import sys, segnas.nas.arch; assert 'torch' not in sys.modules, 'segnas.nas.arch imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)
