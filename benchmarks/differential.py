#!/usr/bin/env python3
"""Agreement of relaunched rows with what they recorded, per family, at a ladder of tolerances.

    ./dev python benchmarks/differential.py RUN.json [RUN.json ...] [--markdown]

Each RUN.json is what ``python -m warp_ir_dataset.run ... --json RUN.json`` wrote: every row's
verdict and the relative tolerance it needs to agree (``needed_rtol``, at the run's ``atol``).
One launch thus answers for every tolerance: the differential test of Warp's backends (``--device
cuda`` against the outputs recorded on the cpu) differs by rounding where the GPU's
transcendental functions round differently, and by more where a kernel's result depends on the
order of its atomic updates. A row that failed or disagrees in kind (an integer, a NaN, a shape)
needs an infinite tolerance and agrees at none.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

LADDER = (0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2)


def load(paths: list[Path]) -> tuple[list[dict], dict]:
    verdicts, runs = [], []
    for path in paths:
        run = json.loads(path.read_text())
        runs.append({k: run[k] for k in ("config", "split", "device", "atol")})
        verdicts += run["verdicts"]
    if len({(r["config"], r["device"], r["atol"]) for r in runs}) > 1:
        raise SystemExit(f"differential: the runs differ in config, device or atol: {runs}")
    return verdicts, {**runs[0], "split": ", ".join(r["split"] for r in runs)}


def agreement(verdicts: list[dict]) -> dict:
    """Per family (and ``all``): rows, and how many agree at each tolerance of the ladder."""
    groups = defaultdict(list)
    for v in verdicts:
        groups[v["family"]].append(v["needed_rtol"])
        groups["all"].append(v["needed_rtol"])
    return {family: {"rows": len(needed), **{f"rtol<={t:g}": sum(n <= t for n in needed) for t in LADDER}}
            for family, needed in sorted(groups.items(), key=lambda kv: (kv[0] == "all", kv[0]))}


def markdown(table: dict, run: dict) -> str:
    head = [f"rtol ≤ {t:g}" if t else "within atol" for t in LADDER]
    lines = [f"{run['config']} rows ({run['split']}) launched on {run['device']} (atol {run['atol']:g}): rows agreeing at each relative tolerance",
             "", "| family | rows | " + " | ".join(head) + " |", "|---|---:|" + "---:|" * len(LADDER)]
    for family, counts in table.items():
        cells = [str(counts[f"rtol<={t:g}"]) for t in LADDER]
        lines.append(f"| {'**all**' if family == 'all' else family} | {counts['rows']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--markdown", action="store_true", help="A table instead of JSON.")
    args = parser.parse_args()
    verdicts, run = load(args.runs)
    table = agreement(verdicts)
    print(markdown(table, run) if args.markdown else json.dumps({**run, "agreement": table}, indent=1))


if __name__ == "__main__":
    main()
