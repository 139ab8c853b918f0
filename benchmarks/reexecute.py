"""Do rows' sources give their rows' code when a user runs them? (not part of the tests)

Each sampled row's ``python_source`` is written to a file of its own and imported from it in a
fresh Python process, as a user would; the kernel it registers goes through Warp's code
generator for the row's device, and its code is compared with the row's, byte for byte: with
the row's ``forward_code``, or, for a kernel that turns its backward pass on itself
(``@wp.kernel(enable_backward=True)``, which Warp then generates whatever the module says), with
``forward_code + backward_code``. ``--alone N`` rows get a process each; the others share a few
processes, each row imported under its own module name with Warp's function counters as a
fresh process has them (what the builder does).

    ./dev python benchmarks/reexecute.py data/production --config cpu --split real --sample 500 --alone 40

Prints one line: rows checked, how many matched, the share, and the first mismatches.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

CHILD = r"""
import importlib.util, json, sys
from warp_ir_dataset import _warp
_warp.init()
out = []
for path, kernel_name, device in json.load(open(sys.argv[1])):
    _warp._fresh_function_names()
    name = "user_" + path.rsplit("/", 1)[-1][:-3]
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        kernel = next(k for k in _warp.registered_kernels(name) if k.func.__name__ == kernel_name)
        if _warp.is_generic(kernel):
            (kernel,) = _warp.concrete_overloads(kernel)
        out.append(_warp.original_forward_code(kernel, device))
    except Exception as e:  # noqa: BLE001 - reported as a mismatch
        out.append(f"ERROR {type(e).__name__}: {e}")
json.dump(out, open(sys.argv[2], "w"))
"""


def run(rows: list[dict], workdir: str) -> list[str]:
    jobs = []
    for r in rows:
        path = os.path.join(workdir, f"k_{r['id']}.py")
        Path(path).write_text(r["python_source"])
        jobs.append((path, r["kernel_name"], r["device"]))
    request, result = os.path.join(workdir, "jobs.json"), os.path.join(workdir, "out.json")
    Path(request).write_text(json.dumps(jobs))
    subprocess.run([sys.executable, "-c", CHILD, request, result], check=True, cwd=workdir)
    return json.loads(Path(result).read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--config", default="cpu")
    p.add_argument("--split", default="real")
    p.add_argument("--sample", type=int, default=500, help="rows to check (0: all)")
    p.add_argument("--alone", type=int, default=20, help="of those, rows run in a process of their own")
    p.add_argument("--batch", type=int, default=100, help="rows per shared process")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    files = sorted((args.folder / args.config).glob(f"{args.split}-*.parquet"))
    rows = [r for f in files for r in pq.read_table(f, columns=["id", "kernel_name", "device", "python_source", "forward_code", "backward_code"]).to_pylist()]
    if args.sample and args.sample < len(rows):
        rows = random.Random(args.seed).sample(rows, args.sample)
    alone, shared = rows[: args.alone], rows[args.alone :]
    got: list[str] = []
    with tempfile.TemporaryDirectory(prefix="wirds-reexec-") as tmp:
        for r in alone:
            with tempfile.TemporaryDirectory(dir=tmp) as one:
                got += run([r], one)
        for start in range(0, len(shared), args.batch):
            with tempfile.TemporaryDirectory(dir=tmp) as many:
                got += run(shared[start : start + args.batch], many)
    same = [g in (r["forward_code"], r["forward_code"] + (r["backward_code"] or "")) for g, r in zip(got, rows)]
    alone_same = sum(same[: len(alone)])
    misses = [f"{r['kernel_name']}({r['id']}): {g[:120]!r}" for g, r, s in zip(got, rows, same) if not s][:5]
    print(
        f"folder={args.folder} config={args.config} split={args.split} rows_checked={len(rows)} same_forward_code={sum(same)} "
        f"share={sum(same) / max(len(rows), 1):.4f} alone={len(alone)} alone_same={alone_same} first_mismatches={misses}"
    )


if __name__ == "__main__":
    main()
