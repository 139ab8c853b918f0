#!/usr/bin/env python3
"""Both configs in one pass against one build per config, and where a kernel's time goes.

    ./dev python benchmarks/one_pass.py [--target-mb 10] [--validate none,sample] [--json]

For each validation mode it builds the same seed and target (2 workers, fresh processes, timed
as a user runs them) as ``--config all`` and as ``--config cpu`` followed by ``--config cuda``,
in the order one-pass, apart, apart, one-pass when ``--repeats 2`` (the fastest of each counts),
and prints per mode:

* ``speedup``: wall time of the two builds over the one-pass build's;
* peak resident memory per worker of each (``one_pass_over_single``: the one-pass worker's peak
  over the larger single-config worker's);
* whether each config's shards are byte-identical between the two ways;
* the compilers' share: worker seconds validating per config (``--validate sample``).

With ``--real`` it also extracts the ``real`` split (the published Warp code of ``build --real``,
``--validate sample``) both ways, ``extract --config all`` against ``--config cpu`` then
``--config cuda``, and prints the wall times, their ratio and whether the files are identical.

Then the per-stage split that explains the figure, measured in this process on ``--kernels``
generated kernels: generating the source, exec'ing it, Warp's build (parse, types, adjoint),
code generation per device, and encoding rows to Parquet, in ms per kernel. Warp's build is
derived from three codegen runs on a fresh build each (cpu alone, cuda alone, both):
build = cpu + cuda - both.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ("cpu", "cuda")


def build(out: Path, config: str, target_mb: float, validate: str, seed: int, workers: int, execute: bool = True) -> tuple[float, dict]:
    summary = out.parent / f"{out.name}-{config.replace(',', '+')}.json"
    cmd = [
        sys.executable, "-m", "warp_ir_dataset.build", "--config", config, "--target-mb", str(target_mb), "--out", str(out),
        "--seed", str(seed), "--workers", str(workers), "--validate", validate, "--quiet", "--summary-json", str(summary),
        "--execute" if execute else "--no-execute",
    ]
    started = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started, json.loads(summary.read_text())


def digest(folder: Path, split: str | None = None) -> str:
    """The files of a config's folder (those of one extracted split: not its timed report)."""
    h = hashlib.sha256()
    for p in sorted(folder.glob("*")):
        if p.is_file() and not p.name.startswith(".") and (split is None or split in p.name and not p.name.startswith("extraction-")):
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def compare(target_mb: float, validate: str, seed: int, workers: int, repeats: int, execute: bool = True) -> dict:
    one_runs, apart_runs = [], []
    with tempfile.TemporaryDirectory(prefix="wirds-onepass-") as tmp:
        order = ["one", "apart", "apart", "one"][: 2 * repeats] if repeats > 1 else ["one", "apart"]
        for n, kind in enumerate(order):
            out = Path(tmp) / f"{kind}-{n}"
            if kind == "one":
                wall, report = build(out, "all", target_mb, validate, seed, workers, execute)
                per_config = report["configs"]
                one_runs.append({"wall_s": wall, "reports": per_config, "digests": {c: digest(out / c) for c in CONFIGS}})
            else:
                runs = {c: build(out, c, target_mb, validate, seed, workers, execute) for c in CONFIGS}
                apart_runs.append({
                    "wall_s": sum(w for w, _ in runs.values()), "reports": {c: r for c, (_, r) in runs.items()},
                    "digests": {c: digest(out / c) for c in CONFIGS},
                })
    one, apart = min(one_runs, key=lambda r: r["wall_s"]), min(apart_runs, key=lambda r: r["wall_s"])
    peak = lambda run, c: run["reports"][c]["counts"]["peak_rss_mb"]  # noqa: E731
    rows = {c: one["reports"][c]["rows"] for c in CONFIGS}
    result = {
        "validate": validate,
        "execute": execute,
        "target_mb_per_config": target_mb,
        "workers": workers,
        "rows": rows,
        "one_pass_wall_s": round(one["wall_s"], 1),
        "apart_wall_s": round(apart["wall_s"], 1),
        "speedup": round(apart["wall_s"] / one["wall_s"], 2),
        "speedup_per_run": [round(a["wall_s"] / o["wall_s"], 2) for o, a in zip(one_runs, apart_runs)],
        "one_pass_mb_per_s": round(sum(one["reports"][c]["bytes"] for c in CONFIGS) / 1e6 / one["wall_s"], 3),
        "apart_mb_per_s": round(sum(apart["reports"][c]["bytes"] for c in CONFIGS) / 1e6 / apart["wall_s"], 3),
        "peak_rss_mb_per_worker_one_pass": round(peak(one, "cpu"), 1),
        "peak_rss_mb_per_worker_apart": {c: round(peak(apart, c), 1) for c in CONFIGS},
        "one_pass_over_single_memory": round(peak(one, "cpu") / max(peak(apart, c) for c in CONFIGS), 2),
        "byte_identical": {c: one["digests"][c] == apart["digests"][c] for c in CONFIGS},
    }
    # Compiles are per config either way (clang for cpu, NVRTC for cuda): with --validate none
    # they are the test rows' compiles for their launch, which one pass shares (one launch).
    counts = lambda run, c, key: run["reports"][c]["counts"][key]  # noqa: E731
    for kind, run in (("one_pass", one), ("apart", apart)):
        result[f"compile_and_launch_worker_s_{kind}"] = {
            c: round(counts(run, c, "validation_seconds") + counts(run, c, "execution_seconds"), 1) for c in CONFIGS}
    result["validated_rows"] = {c: counts(one, c, "validated") for c in CONFIGS}
    result["executed_rows"] = {c: counts(one, c, "executed") for c in CONFIGS}
    return result


def compare_real(workers: int) -> dict:
    """The real split extracted in one pass and one config at a time (one run each, one-pass first)."""
    sys.path.insert(0, str(ROOT))
    from warp_ir_dataset.sources import REAL_SPLIT, real_sources

    walls = {}
    with tempfile.TemporaryDirectory(prefix="wirds-onepass-real-") as tmp:
        for kind, configs in (("one", ["all"]), ("apart", list(CONFIGS))):
            out = Path(tmp) / kind
            started = time.perf_counter()
            for config in configs:
                cmd = [sys.executable, "-m", "warp_ir_dataset.extract", *real_sources(), "--config", config, "--out", str(out),
                       "--split", REAL_SPLIT, "--workers", str(workers), "--quiet"]
                subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
            walls[kind] = time.perf_counter() - started
        same = {c: digest(Path(tmp) / "one" / c, REAL_SPLIT) == digest(Path(tmp) / "apart" / c, REAL_SPLIT) for c in CONFIGS}
    return {
        "real_split": True, "workers": workers, "one_pass_wall_s": round(walls["one"], 1), "apart_wall_s": round(walls["apart"], 1),
        "speedup": round(walls["apart"] / walls["one"], 2), "byte_identical": same,
    }


def stages(kernels: int, seed: int) -> dict:
    """Milliseconds per kernel of each stage, over ``kernels`` generated kernels (those Warp
    cannot build are skipped)."""
    sys.path.insert(0, str(ROOT))
    from warp_ir_dataset import _warp
    from warp_ir_dataset.engines import prepare_process
    from warp_ir_dataset.codegen import kernel_rows
    from warp_ir_dataset.generate import derive_seed, generate_kernel, source_id
    from warp_ir_dataset.schema import META_KEYS, rows_to_table
    from warp_ir_dataset.write import encode_shard

    prepare_process()
    totals = dict.fromkeys(("generate", "exec", "cpu_alone", "cuda_alone", "both"), 0.0)
    rows_by_config: dict[str, list[dict]] = {"cpu": [], "cuda": []}
    done = 0
    for k in range(kernels):
        t0 = time.perf_counter()
        spec = generate_kernel(derive_seed(seed, "stages", k))
        t1 = time.perf_counter()
        name = f"wirds_{source_id(spec.python_source)}"
        try:
            times = {}
            for key, devices in (("cpu_alone", {"cpu": False}), ("cuda_alone", {"cuda": False}), ("both", {"cpu": False, "cuda": False})):
                started = time.perf_counter()
                with _warp.LoadedKernel(spec.python_source, name, spec.kernel_name) as loaded:
                    loaded_at = time.perf_counter()
                    loaded.codegen_devices(devices)
                times[key] = time.perf_counter() - loaded_at
                times.setdefault("exec", loaded_at - started)
            rows = kernel_rows(spec, {"cpu": False, "cuda": False})
        except Exception:  # noqa: BLE001 - a kernel Warp cannot build is replaced in a build, skipped here
            continue
        for config, (row, _) in rows.items():
            rows_by_config[config].append(row)
        totals["generate"] += t1 - t0
        for key, value in times.items():
            totals[key] += value
        done += 1
    if not done:
        raise SystemExit("one_pass: no kernel built")
    encode_started = time.perf_counter()
    for rows in rows_by_config.values():
        encode_shard(rows_to_table(rows), dict.fromkeys(META_KEYS, ""))
    totals["parquet_per_config"] = (time.perf_counter() - encode_started) / len(rows_by_config)
    ms = {key: 1000 * value / done for key, value in totals.items()}
    build_ms = ms["cpu_alone"] + ms["cuda_alone"] - ms["both"]
    split = {
        "kernels": done,
        "generate_ms": ms["generate"],
        "exec_ms": ms["exec"],
        "warp_build_ms": build_ms,
        "codegen_cpu_ms": ms["both"] - ms["cuda_alone"],
        "codegen_cuda_ms": ms["both"] - ms["cpu_alone"],
        "parquet_ms_per_config": ms["parquet_per_config"],
    }
    shared = split["generate_ms"] + split["exec_ms"] + split["warp_build_ms"]
    per_config = split["codegen_cpu_ms"] + split["codegen_cuda_ms"] + 2 * split["parquet_ms_per_config"]
    split["expected_speedup_without_validation"] = (2 * shared + per_config) / (shared + per_config)
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in split.items()}


def _text(value) -> str:
    return json.dumps(value, separators=(",", ":")) if isinstance(value, (list, dict)) else str(value)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target-mb", type=float, default=10.0, help="per config")
    ap.add_argument("--validate", default="none,sample", help="validation modes to compare, comma-separated")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1, help="2: one-pass, apart, apart, one-pass; the fastest of each counts")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--kernels", type=int, default=300, help="kernels timed stage by stage (0: skip)")
    ap.add_argument("--real", action="store_true", help="also extract the real split both ways (about 10 minutes here)")
    ap.add_argument("--no-execute", action="store_true", help="build with --no-execute (no test row compiled and launched)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    def show(result: dict) -> None:
        print(json.dumps(result) if args.json else " ".join(f"{k}={_text(v)}" for k, v in result.items()), flush=True)

    if args.kernels:
        show({"stages_ms_per_kernel": stages(args.kernels, args.seed)})
    if args.real:
        show(compare_real(args.workers))
    for mode in args.validate.split(","):
        if mode:
            show(compare(args.target_mb, mode, args.seed, args.workers, args.repeats, not args.no_execute))


if __name__ == "__main__":
    main()
