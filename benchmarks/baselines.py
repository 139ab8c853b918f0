#!/usr/bin/env python3
"""Score the baselines that need no trained model on a built folder's test split: `predict`, then
`evaluate`, for each config, task and baseline, and write what they scored to one JSON file that
the card and the report read (``reports/baselines.json``).

    ./dev python benchmarks/baselines.py --data data/production [--configs cpu,cuda]
        [--tasks compile,decompile] [--baselines nearest,empty-body] [--limit N] [--workers 2]
        [--work /tmp/wirds-baselines] [--out reports/baselines.json]

A run that resumed evaluations can take their speeds from the report of the run it resumed
(``--speeds-from``). Results already in OUT for other configs, tasks or baselines are kept (``--baselines reference``
adds the rows' own answers, which must all pass, to the same table). Resumable: a finished evaluation (its summary and its wall time in WORK) is not run again, and an
interrupted one goes on where it stopped (``evaluate`` appends outcomes as they come); the wall
time of a resumed run is then only its last part, so the speed figure is left out for it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str]) -> None:
    subprocess.run([sys.executable, "-m", *args], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def score(data: Path, work: Path, config: str, task: str, baseline: str, limit: int | None, workers: int) -> dict:
    name = f"{baseline}.{config}.{task}"
    predictions, outcomes = work / f"{name}.jsonl", work / f"{name}.outcomes.jsonl"
    summary_path, wall_path = work / f"{name}.outcomes.summary.json", work / f"{name}.wall"
    if not predictions.exists():
        partial = predictions.with_suffix(".partial")
        _run(["warp_ir_dataset.predict", "--data", str(data), "--config", config, "--task", task, "--with", baseline,
              "--out", str(partial), *(["--limit", str(limit)] if limit else [])])
        partial.rename(predictions)
    resumed = outcomes.exists()
    if not (summary_path.exists() and wall_path.exists()):
        started = time.perf_counter()
        _run(["warp_ir_dataset.evaluate", str(predictions), "--data", str(data), "--config", config, "--task", task,
              "--workers", str(workers), "--out", str(outcomes), "--quiet"])
        wall = time.perf_counter() - started
        wall_path.write_text(json.dumps({"seconds": round(wall, 1), "resumed": resumed}))
    summary = json.loads(summary_path.read_text())
    timing = json.loads(wall_path.read_text())
    n = summary["candidates"]
    return {
        "config": config, "task": task, "baseline": baseline, "candidates": n,
        "outcomes": summary["outcomes"], "pass_rate": summary["pass_rate"], "checks": summary["checks"],
        "wall_seconds": None if timing["resumed"] else timing["seconds"],
        "candidates_per_second_per_worker": None if timing["resumed"] else round(n / timing["seconds"] / workers, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/production"))
    parser.add_argument("--configs", default="cpu,cuda")
    parser.add_argument("--tasks", default="compile,decompile")
    parser.add_argument("--baselines", default="nearest,empty-body")
    parser.add_argument("--limit", type=int, default=None, help="only the first N test rows (by id) of each config")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/wirds-baselines"))
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "baselines.json")
    parser.add_argument("--speeds-from", type=Path, default=None,
                        help="an earlier report whose speeds stand for the evaluations this run resumed (their own wall time is only their last part)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for config in args.configs.split(","):
        for task in args.tasks.split(","):
            for baseline in args.baselines.split(","):
                result = score(args.data, args.work, config, task, baseline, args.limit, args.workers)
                print(json.dumps(result), flush=True)
                results.append(result)
    speed_rows = None
    if args.speeds_from:
        earlier = json.loads(args.speeds_from.read_text())
        speeds = {(r["config"], r["task"], r["baseline"]): r["candidates_per_second_per_worker"] for r in earlier["results"]}
        for r in results:
            if r["candidates_per_second_per_worker"] is None and speeds.get((r["config"], r["task"], r["baseline"])) is not None:
                r["candidates_per_second_per_worker"] = speeds[(r["config"], r["task"], r["baseline"])]
                speed_rows = f"candidates/s per worker as measured on {earlier['rows']}, {args.workers} workers, which this run resumed"
    limit = f" --limit {args.limit}" if args.limit else ""
    report = {
        "commands": [
            f"python -m warp_ir_dataset.predict --data {args.data} --config CONFIG --task TASK --with BASELINE{limit} --out P",
            f"python -m warp_ir_dataset.evaluate P --data {args.data} --config CONFIG --task TASK --workers {args.workers}",
            f"or all of them: ./dev python benchmarks/baselines.py --baselines {args.baselines}" + (f" --limit {args.limit}" if args.limit else ""),
        ],
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, "
                   + ("a GPU" if Path("/dev/nvidia0").exists() else "no GPU (cuda compile candidates scored as far as NVRTC compiles them)"),
        "rows": "the whole test split" if not args.limit else f"the first {args.limit} test rows (by id) of each config",
        "results": results,
        **({"speed_rows": speed_rows} if speed_rows else {}),
    }
    before = json.loads(args.out.read_text()) if args.out.exists() else {}
    if before.get("rows") == report["rows"]:  # runs of other configs, tasks or baselines on the same rows are kept
        key = lambda r: (r["config"], r["task"], r["baseline"])  # noqa: E731
        ran = {key(r) for r in results}
        kept = [r for r in before["results"] if key(r) not in ran]
        order = {b: i for i, b in enumerate(("nearest", "empty-body", "reference"))}
        report["results"] = sorted(kept + results, key=lambda r: (r["config"], r["task"], order.get(r["baseline"], 9), r["baseline"]))
    args.out.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
