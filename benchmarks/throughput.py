#!/usr/bin/env python3
"""Builder throughput against Warp's own floor, worker scaling, and memory as the target grows.

    ./dev python benchmarks/throughput.py [--target-mb 20] [--large-target-mb 100] [--json]

For each config it builds a fixed seed and target with ``--validate none --no-execute`` (timed
as a user runs it: a fresh process, imports and start-up included; the floor is Warp's codegen,
so the builder is timed without the compiles and launches of its test rows, which
``benchmarks/execution.py`` measures; ``--execute`` times them in), then runs
``../shared/bench/warp_floor.py`` on the same shards. It prints, per config:

* rows/s and MB/s with 1 and 2 workers, and the scaling factor 2 workers / 1 worker; each
  timed step runs ``--repeats`` times (builder and floor alternating) and the fastest run counts;
* ``ratio``: builder rows/s per worker (1 worker) divided by the floor's rows/s;
* ``floor_scaling_2_over_1``: two floors run at once, summed, over one: what the machine itself
  allows two busy processes, to read the builder's scaling against;
* peak resident memory per worker at the 2-worker build's target and at a fresh build of
  ``--large-target-mb`` (it must not grow with the target);
* whether the 1- and 2-worker builds wrote byte-identical shards.

``--ratio-only`` runs the 1-worker builds and the floors alone (more repeats in the same time);
``ratio_median_per_run`` is the median of each builder run over the floor run right after it.

Timings are noisy on shared machines: read the ratios, not the absolute numbers.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOOR = ROOT.parent / "shared" / "bench" / "warp_floor.py"


def build(out: Path, config: str, target_mb: float, workers: int, seed: int, execute: bool = False) -> dict:
    summary = out / "summary.json"
    cmd = [
        sys.executable, "-m", "warp_ir_dataset.build", "--config", config, "--target-mb", str(target_mb),
        "--out", str(out), "--seed", str(seed), "--workers", str(workers), "--validate", "none", "--quiet",
        "--summary-json", str(summary), "--execute" if execute else "--no-execute",
    ]
    started = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    wall = time.perf_counter() - started
    report = json.loads(summary.read_text())
    return {
        "rows": report["rows"],
        "mb": report["bytes"] / 1e6,
        "wall_s": wall,
        "rows_per_s": report["rows"] / wall,
        "mb_per_s": report["bytes"] / 1e6 / wall,
        "peak_rss_mb_per_worker": report["counts"]["peak_rss_mb"],
    }


def floor(folder: Path, config: str, limit: int) -> dict:
    proc = subprocess.run(
        [sys.executable, str(FLOOR), str(folder), "--device", config, "--limit", str(limit), "--json"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def floor_pair(folder: Path, config: str, limit: int) -> float:
    """Two floors at once on the same rows: the summed rows/s says how far two busy processes
    scale on this machine at all (shared caches, memory bandwidth, the VM's other tenants)."""
    cmd = [sys.executable, str(FLOOR), str(folder), "--device", config, "--limit", str(limit), "--json"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [proc.communicate()[0] for proc in procs]
    if any(proc.returncode for proc in procs):
        raise RuntimeError("warp_floor.py failed")
    return sum(json.loads(out.strip().splitlines()[-1])["rows_per_s"] for out in outs)


def _text(value) -> str:
    """A value of the one-line ``key=value`` output: lists without spaces, so lines split on them."""
    return json.dumps(value, separators=(",", ":")) if isinstance(value, list) else str(value)


def fastest(runs: list[dict]) -> dict:
    return max(runs, key=lambda run: run["rows_per_s"])


def same_shards(a: Path, b: Path) -> bool:
    """Whether two build folders hold byte-identical shards (1 and 2 workers must agree)."""
    files = sorted(p.name for p in a.glob("*.parquet"))
    return files == sorted(p.name for p in b.glob("*.parquet")) and all(
        (a / name).read_bytes() == (b / name).read_bytes() for name in files
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="cpu,cuda")
    ap.add_argument("--target-mb", type=float, default=20.0)
    ap.add_argument("--large-target-mb", type=float, default=100.0, help="a second 2-worker build whose peak memory per worker is compared")
    ap.add_argument("--repeats", type=int, default=2, help="runs of each timed step, interleaved; the fastest counts")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--ratio-only", action="store_true", help="only the 1-worker builds and their floors")
    ap.add_argument("--execute", action="store_true", help="build with --execute (the test rows compiled and launched)")
    ap.add_argument("--json", action="store_true", help="one JSON object per config instead of text")
    args = ap.parse_args()
    if not FLOOR.exists():
        sys.exit(f"throughput: {FLOOR} not found (it ships in the shared/ folder beside the project)")
    small, large = args.target_mb, args.large_target_mb
    for config in args.configs.split(","):
        with tempfile.TemporaryDirectory(prefix="wirds-bench-") as tmp:
            ones, twos, floors = [], [], []
            # Builder and floor alternate, so a slow spell of the shared machine hits both.
            for r in range(args.repeats):
                ones.append(build(Path(tmp) / f"w1-{r}", config, small, 1, args.seed, args.execute))
                floors.append(floor(Path(tmp) / "w1-0" / config, config, ones[0]["rows"]))
                if not args.ratio_only:
                    twos.append(build(Path(tmp) / f"w2-{r}", config, small, 2, args.seed, args.execute))
            if not args.ratio_only:
                identical = same_shards(Path(tmp) / "w1-0" / config, Path(tmp) / "w2-0" / config)
                pair = floor_pair(Path(tmp) / "w1-0" / config, config, ones[0]["rows"])
                mem_large = build(Path(tmp) / "m2", config, large, 2, args.seed, args.execute)["peak_rss_mb_per_worker"]
        one, fl = fastest(ones), fastest(floors)
        per_run = [o["rows_per_s"] / f["rows_per_s"] for o, f in zip(ones, floors)]
        result = {
            "config": config,
            "target_mb": args.target_mb,
            "rows": one["rows"],
            "repeats": args.repeats,
            "workers1_rows_per_s": round(one["rows_per_s"], 1),
            "workers1_mb_per_s": round(one["mb_per_s"], 3),
            "floor_rows_per_s": fl["rows_per_s"],
            "ratio_per_worker_to_floor": round(one["rows_per_s"] / fl["rows_per_s"], 2),
            # Each run's builder against the floor run right after it: the spread is the noise.
            "ratio_per_run": [round(r, 2) for r in per_run],
            "ratio_median_per_run": round(statistics.median(per_run), 2),
            "warp_version": fl["warp_version"],
            "execute": args.execute,
        }
        if not args.ratio_only:
            two = fastest(twos)
            result |= {
                "workers2_rows_per_s": round(two["rows_per_s"], 1),
                "workers2_mb_per_s": round(two["mb_per_s"], 3),
                "scaling_2_over_1": round(two["rows_per_s"] / one["rows_per_s"], 2),
                "floor_scaling_2_over_1": round(pair / fl["rows_per_s"], 2),
                f"peak_rss_mb_per_worker_at_{small:g}mb": round(max(t["peak_rss_mb_per_worker"] for t in twos), 1),
                f"peak_rss_mb_per_worker_at_{large:g}mb": round(mem_large, 1),
                "same_shards_1_and_2_workers": identical,
            }
        print(json.dumps(result) if args.json else " ".join(f"{k}={_text(v)}" for k, v in result.items()), flush=True)


if __name__ == "__main__":
    main()
