"""What the builder adds to Warp's work per row before Warp sees the kernel: drawing it (family and
size budget) and its structural fingerprint, timed in one process.

    ./dev python benchmarks/generation.py --kernels 400
    ./dev python benchmarks/generation.py --kernels 400 --repo /path/to/an/older/checkout

``--repo`` times another checkout's generator (one without this script too), so two versions can
be compared on the same machine in one session: alternate the two commands, as the machine's
speed drifts. Prints ms per kernel, averaged over ``--kernels`` seeds derived from ``--seed``.
``--same-as CHECKOUT`` also prints the share of those seeds for which the other checkout's
generator draws the very same kernel.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernels", type=int, default=400)
    ap.add_argument("--seed", default="generation-benchmark")
    ap.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--same-as", type=Path, help="another checkout: the share of seeds giving the same kernel")
    ap.add_argument("--print-hashes", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sys.path.insert(0, str(args.repo.resolve()))
    from warp_ir_dataset.fingerprint import fingerprint
    from warp_ir_dataset.generate import GENERATOR_VERSION, derive_seed, generate_kernel

    seeds = [derive_seed(args.seed, i) for i in range(args.kernels)]
    if args.print_hashes:
        print(json.dumps([hashlib.sha256(generate_kernel(s).python_source.encode()).hexdigest() for s in seeds]))
        return
    generate_kernel(seeds[0])  # imports every family once, outside the timing
    generating = fingerprinting = 0.0
    for seed in seeds:
        started = time.perf_counter()
        source = generate_kernel(seed).python_source
        drawn = time.perf_counter()
        fingerprint(source)
        generating += drawn - started
        fingerprinting += time.perf_counter() - drawn
    n = len(seeds)
    if args.same_as:
        own = [hashlib.sha256(generate_kernel(s).python_source.encode()).hexdigest() for s in seeds]
        other = json.loads(subprocess.run(
            [sys.executable, __file__, "--repo", str(args.same_as), "--kernels", str(n), "--seed", args.seed, "--print-hashes"],
            capture_output=True, text=True, check=True,
        ).stdout)
        same = sum(a == b for a, b in zip(own, other))
        print(f"same_kernel_as_other_checkout={same}/{n} ({same / n:.1%})")
    print(
        f"generator_version={GENERATOR_VERSION} kernels={n} generate_ms={generating / n * 1e3:.2f} "
        f"fingerprint_ms={fingerprinting / n * 1e3:.2f} total_ms={(generating + fingerprinting) / n * 1e3:.2f}"
    )


if __name__ == "__main__":
    main()
