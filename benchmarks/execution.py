#!/usr/bin/env python3
"""What executing rows adds to a build, side by side in one run.

    ./dev python benchmarks/execution.py [--config cpu] [--sample-mb 3] [--all-mb 0.5] [--json]

Builds the same seed four ways, whole processes timed as a user runs them, in the order
sample+exec, sample-no-exec, all+exec, all-no-exec: ``--validate sample`` (one row in 20 compiled,
and with execution every test row too) and ``--validate all`` (every row), each with and without
``--execute``. Prints per mode the wall times, execution's added share of the wall time and of
the compile time it rides on (worker seconds validating, from the summaries), and the per-stage
split of execution (compile inside the executing process, both launches, the adjoint, encoding
the values into rows).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(out: Path, config: str, target_mb: float, validate: str, execute: bool, seed: int, workers: int) -> tuple[float, dict]:
    summary = out.parent / f"{out.name}.json"
    cmd = [sys.executable, "-m", "warp_ir_dataset.build", "--config", config, "--target-mb", str(target_mb), "--out", str(out), "--seed", str(seed),
           "--workers", str(workers), "--validate", validate, "--quiet", "--summary-json", str(summary), "--execute" if execute else "--no-execute"]
    # A kernel cache of its own: launches compile through Warp's cache, and a build after another
    # of the same seed would find the rows compiled already.
    env = {**os.environ, "WARP_CACHE_PATH": str(out.parent / f"{out.name}-warp-cache")}
    started = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env=env)
    return time.perf_counter() - started, json.loads(summary.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="cpu")
    ap.add_argument("--sample-mb", type=float, default=3.0)
    ap.add_argument("--all-mb", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="wirds-exec-bench-") as tmp:
        for mode, mb in (("sample", args.sample_mb), ("all", args.all_mb)):
            runs = {}
            for execute in (True, False):
                wall, summary = build(Path(tmp) / f"{mode}-{execute}", args.config, mb, mode, execute, args.seed, args.workers)
                runs[execute] = (wall, summary)
            (wall_on, on), (wall_off, off) = runs[True], runs[False]
            counts_on, counts_off = on["counts"], off["counts"]
            compile_off = counts_off["validation_seconds"]
            work_on = counts_on["validation_seconds"] + counts_on["execution_seconds"]
            results.append({
                "config": args.config, "validate": mode, "target_mb": mb, "workers": args.workers,
                "rows": {"with_execution": on["rows"], "without": off["rows"]},
                "wall_s": {"with_execution": round(wall_on, 1), "without": round(wall_off, 1)},
                "wall_added": round(wall_on / wall_off - 1, 3),
                "worker_s_compile_and_execute": round(work_on, 1), "worker_s_compile_only": round(compile_off, 1),
                "compile_time_added": round(work_on / compile_off - 1, 3) if compile_off else None,
                # With execution a sample build also compiles the test rows the sample did not pick:
                # per row compiled, what execution adds to the compile it rides on.
                "compile_time_added_per_row": round((work_on / max(counts_on["validated"], 1)) / (compile_off / max(counts_off["validated"], 1)) - 1, 3) if compile_off else None,
                "rows_compiled": {"with_execution": counts_on["validated"], "without": counts_off["validated"]},
                "rows_executed": counts_on["executed"],
                "execution_stage_s": {k: round(v, 1) for k, v in sorted(counts_on["execution_stage_seconds"].items())},
            })
    for r in results:
        print(json.dumps(r) if args.json else " ".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in r.items()), flush=True)


if __name__ == "__main__":
    main()
