#!/usr/bin/env python3
"""Check a built folder's claim that its code compiles, independently of the builder.

    ./dev python benchmarks/check_compiled.py FOLDER [--ptxas]

For every config under FOLDER it counts rows by ``validation`` and, for rows that carry PTX,
checks that the PTX has a ``.visible .entry`` for the row's own forward kernel (and backward
kernel, when the row has one) and nothing else. With ``--ptxas`` every PTX is also assembled by
the CUDA toolkit's ``ptxas`` for the architecture recorded in the shard's metadata (the toolkit
is not a dependency of the project; this check needs one on PATH).

Warp 1.19's NVRTC (CUDA 13.4) writes ``.version 9.4``; an older ``ptxas`` refuses a newer PTX
ISA version outright ("Unsupported .version 9.4; current version is '9.0'"). Then the header line
alone is rewritten to the version ptxas names and the PTX assembled again: the instructions are
assembled as NVRTC wrote them, so a PTX that used a newer feature would still fail. The output
says how many needed that.

Exit status 0 when every row is ``compiled`` and every check passes, 1 otherwise.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq

KERNEL = re.compile(r'extern "C" __global__ void (\w+)\(')
ENTRY = re.compile(r"^\.visible \.entry (\w+)\(", re.MULTILINE)
VERSION = re.compile(r"^\.version \d+\.\d+$", re.MULTILINE)
UNSUPPORTED = re.compile(r"Unsupported \.version \S+; current version is '(\d+\.\d+)'")


def expected_entries(row: dict) -> set[str]:
    names = set(KERNEL.findall(row["forward_code"]))
    if row["backward_code"]:
        names |= set(KERNEL.findall(row["backward_code"]))
    return names


def assemble(ptx: str, arch: str, workdir: Path, name: str) -> tuple[str | None, str | None]:
    """(ptxas's message or None when it assembled, the ISA version the header was lowered to)."""
    path = workdir / f"{name}.ptx"
    lowered = None
    for _ in range(2):
        path.write_text(VERSION.sub(f".version {lowered}", ptx, count=1) if lowered else ptx)
        proc = subprocess.run(["ptxas", f"-arch={arch}", str(path), "-o", str(workdir / f"{name}.cubin")], capture_output=True, text=True)
        if proc.returncode == 0:
            return None, lowered
        too_new = UNSUPPORTED.search(proc.stderr)
        if lowered or not too_new:
            break
        lowered = too_new.group(1)
    return proc.stderr.strip() or f"ptxas exit {proc.returncode}", lowered


def check_config(folder: Path, use_ptxas: bool) -> bool:
    shards = sorted(folder.glob("*.parquet"))
    validation: Counter = Counter()
    failures: list[str] = []
    with_ptx = assembled = 0
    lowered: Counter = Counter()
    jobs = []
    with tempfile.TemporaryDirectory(prefix="wirds-ptxas-") as tmp, ThreadPoolExecutor() as pool:
        for shard in shards:
            arch = (pq.read_metadata(shard).metadata or {}).get(b"arch", b"sm_90").decode()
            table = pq.read_table(shard, columns=["id", "forward_code", "backward_code", "ptx", "validation"])
            for row in table.to_pylist():
                validation[row["validation"]] += 1
                if row["ptx"] is None:
                    continue
                with_ptx += 1
                entries, expected = set(ENTRY.findall(row["ptx"])), expected_entries(row)
                if entries != expected:
                    failures.append(f"{shard.name} {row['id']}: PTX entries {sorted(entries)} != kernels {sorted(expected)}")
                if use_ptxas:
                    jobs.append((shard.name, row["id"], pool.submit(assemble, row["ptx"], arch, Path(tmp), f"{shard.stem}-{row['id']}")))
        for shard_name, row_id, job in jobs:
            message, isa = job.result()
            lowered[isa] += isa is not None
            if message is None:
                assembled += 1
            else:
                failures.append(f"{shard_name} {row_id}: ptxas: {message.splitlines()[0]}")
    rows = sum(validation.values())
    line = f"{folder.name}: {rows} rows in {len(shards)} shards; validation {dict(sorted(validation.items()))}; {with_ptx} with PTX, entry points checked"
    if use_ptxas:
        line += f"; {assembled}/{with_ptx} assembled by ptxas"
        line += "".join(f" ({n} with the .version header lowered to {isa})" for isa, n in sorted(lowered.items()) if isa and n)
    print(line)
    for failure in failures[:20]:
        print("  FAIL", failure)
    return rows > 0 and validation.get("compiled", 0) == rows and not failures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--ptxas", action="store_true", help="assemble every PTX with the CUDA toolkit's ptxas")
    args = ap.parse_args()
    configs = [p for p in sorted(args.folder.iterdir()) if p.is_dir() and any(p.glob("*.parquet"))] if args.folder.is_dir() else []
    if not configs:
        sys.exit(f"check_compiled: no config folders with shards under {args.folder}")
    if args.ptxas and shutil.which("ptxas") is None:
        sys.exit("check_compiled: --ptxas needs ptxas (CUDA toolkit) on PATH")
    ok = [check_config(folder, args.ptxas) for folder in configs]
    sys.exit(0 if all(ok) else 1)


if __name__ == "__main__":
    main()
