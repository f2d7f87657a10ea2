"""Which ops a search's α moves towards: per op, its mean probability over the op decisions at the end of each
search, as a multiple of uniform (issue 21: is the drift the data's, or a bias every search shares, placebo included?).

    python op_drift.py SEARCH_RUN [SEARCH_RUN ...]      # folders with the search's log.jsonl and arch.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from _common import header, read_log

from segnas.nas.arch import OpChoice, load_architecture
from segnas.nas.spaces import get_space


def drift(run: Path) -> dict[str, Any]:
    """The search's last probabilities, averaged per op name over its op decisions, ÷ uniform; and its epochs."""
    arch = load_architecture(run / "arch.json")
    candidates = {c.label: c.candidates for c in get_space(arch.space).choices(**arch.settings) if isinstance(c, OpChoice)}
    records = read_log(run / "log.jsonl")
    last = [r for r in records if r.get("probabilities")][-1]
    per_op: dict[str, list[float]] = {}
    for label, probs in last["probabilities"].items():
        if label in candidates:
            for name, p in zip(candidates[label], probs):
                per_op.setdefault(name, []).append(p * len(probs))
    return {"run": str(run), "epoch": last["epoch"], "decisions": sum(label in candidates for label in last["probabilities"]),
            "ops": {name: statistics.fmean(v) for name, v in per_op.items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", type=Path, nargs="+")
    p.add_argument("--json", type=Path, help="also write the figures here")
    a = p.parse_args()
    rows = [drift(r) for r in a.runs]
    ops = list(dict.fromkeys(name for r in rows for name in r["ops"]))
    print(header("op drift"))
    print("| search | epoch | op decisions | " + " | ".join(ops) + " |")
    print("|---|---:|---:|" + "---:|" * len(ops))
    for r in rows:
        cells = " | ".join(f"{r['ops'][o]:.2f}" if o in r["ops"] else "" for o in ops)
        print(f"| {r['run']} | {r['epoch'] + 1} | {r['decisions']} | {cells} |")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
