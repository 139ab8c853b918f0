#!/usr/bin/env python3
"""How many extracted (``real``) rows could carry a launch contract today? Measured on a built folder.

    ./dev python benchmarks/real_contracts.py DIR --config cpu [--sample 300] [--seed 0] [--json]

Extracted rows are not executed by the builder: their contract would come from inference alone
(``contract.infer`` with no family to state sizes, counts and value domains). This launches a
seeded sample of the real split as the builder launches a generated row (one process per core,
Warp in debug mode, a time limit) and counts where each row ends: no contract can be inferred
(``no-contract``, with the reasons), the launch fails (``launch-error``), crashes (an index
outside an array aborts in debug mode: ``launch-crashed``) or hangs, or it runs and its outputs
are finite and repeatable, something is written and the arrays only read are unchanged
(``executable``), per package.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from behaviour import launch_all  # noqa: E402
from warp_ir_dataset.execute import Failure, Request  # noqa: E402
from warp_ir_dataset.replay import split_rows  # noqa: E402


def outcome(result) -> str:
    """The failure's reason, "executable" (``Behaviour.executable``), or which of its conditions failed."""
    if isinstance(result, Failure):
        return result.reason
    if result.executable:
        return "executable"
    if not result.outputs:
        return "writes-nothing"
    if result.non_finite:
        return "non-finite"
    if not result.deterministic:
        return "not-repeatable"
    return "read-only-changed"


def _reason(result) -> str:
    """A failure's message without its names: reasons that differ only by an argument's name count together."""
    first = result.message.splitlines()[0] if result.message else ""
    return re.sub(r"'\w+'|\b\d+\b", "_", first)[:120]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--config", default="cpu")
    ap.add_argument("--sample", type=int, default=300, help="real rows launched (a seeded sample)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds for one kernel (compile, two launches, the adjoint)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = split_rows(args.folder, args.config, "real")
    picked = random.Random(args.seed).sample(rows, min(args.sample, len(rows)))
    requests = [Request(r["python_source"], r["kernel_name"], args.seed, f"wirds_{r['id']}", backward=r["backward_code"] is not None)
                for r in picked]
    results = launch_all(requests, args.timeout)
    outcomes = Counter()
    by_package: dict[str, Counter] = defaultdict(Counter)
    reasons = Counter()
    for row, result in zip(picked, results):
        o = outcome(result)
        outcomes[o] += 1
        by_package[row["origin"].split("==")[0].split(":")[0]][o] += 1
        if isinstance(result, Failure):
            reasons[f"{result.reason}: {_reason(result)}"] += 1
    report = {
        "folder": str(args.folder), "config": args.config, "real_rows": len(rows), "sampled": len(picked),
        "outcomes": dict(outcomes.most_common()),
        # a build or compile failure comes before the contract is inferred: not counted as inferred
        "contract_inferred": len(picked) - outcomes["no-contract"] - outcomes["build-error"] - outcomes["clang-error"],
        "executable_share": round(outcomes["executable"] / max(len(picked), 1), 4),
        "by_package": {p: dict(c.most_common()) for p, c in sorted(by_package.items())},
        "top_failure_reasons": dict(reasons.most_common(12)),
    }
    print(json.dumps(report, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
