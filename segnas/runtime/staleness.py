"""Whether a kept stage output still fits what would be made now: the same settings, the same inputs and the
same format. `segnas run` keeps a stage only then; otherwise it names what differs and stops."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from segnas.errors import Problem, SegnasError, short_repr

FORMAT = 1  # of the stage records (config.json "format"); raise it when kept outputs would no longer be valid
FREE_SETTINGS = frozenset({"workers", "device"})  # settings that may change between runs without changing results
FREE = FREE_SETTINGS | {"ranks", "work", "space_settings_resolved", "strategy_options_resolved", "budget"}  # and what config.json records beside them
_MISSING = object()


def setting_changes(saved: Mapping[str, Any], now: Mapping[str, Any], free: Iterable[str] = FREE) -> list[str]:
    """'key: old → new' for every setting that differs (a key missing on one side counts, except `free` ones)."""
    keys = sorted((set(saved) | set(now)) - set(free))
    return [f"{k}: {short_repr(saved.get(k, '(none)'))} → {short_repr(now.get(k, '(none)'))}"
            for k in keys if saved.get(k, _MISSING) != now.get(k, _MISSING)]


def signature_changes(saved: Mapping[str, str], now: Mapping[str, str], shown: int = 5) -> list[str]:
    """Which cases were added, removed or changed (the first `shown` of each named)."""
    def named(what: str, keys: list[str]) -> list[str]:
        more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
        return [f"{what}: {', '.join(keys[:shown])}{more}"] if keys else []
    return (named("added", sorted(set(now) - set(saved))) + named("removed", sorted(set(saved) - set(now)))
            + named("changed", sorted(k for k in set(saved) & set(now) if saved[k] != now[k])))


def stale(stage: str, where: Path, changes: list[str]) -> SegnasError:
    """The error of a kept stage that no longer fits."""
    return SegnasError(f"{where}: the {stage} kept from an earlier run does not fit this one; redo it with "
                       f"--force {stage} (and every stage after it) or use another --work",
                       [Problem(str(where), c) for c in changes])
