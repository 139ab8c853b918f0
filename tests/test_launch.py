"""Composed kernels run on the inputs their launch contract describes, with Warp's bounds checks on."""
import os
import random
import subprocess
import sys
from functools import lru_cache

from helpers import ROOT

from warp_ir_dataset.families import registry
from warp_ir_dataset.launch import extents

# Stages whose indexing the contract must get right, by a text they leave in the source.
STAGE_MARKS = {
    "neighbour loop through offset/count arrays": "range(adr",
    "array slice": ":]",
    "slice of a fixed length": " : ",
    "range(wp.static(N))": "range(wp.static(",
    "struct with fields": "@wp.struct",
    "custom vector type": "wp.types.vector(",
    "custom matrix type": "wp.types.matrix(",
    "generic kernel with its overload": "wp.overload(",
    "bool flags": "bool(",
}

RUN = """
import importlib.util, pathlib, random, sys, tempfile
import warp as wp
wp.config.mode = "debug"  # bounds-checked array access: an index outside an array aborts
wp.config.quiet = True
from warp_ir_dataset.families import registry
from warp_ir_dataset.launch import inputs
folder = pathlib.Path(tempfile.mkdtemp())
for s in map(int, sys.argv[1:]):
    g = registry()["simulation"].generate(random.Random(s))
    path = folder / f"k{s}.py"
    path.write_text(g.python_source)
    spec = importlib.util.spec_from_file_location(f"k{s}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dims, args = inputs(g.contract, vars(module), seed=s)
    wp.launch(getattr(module, g.kernel_name), dim=dims, inputs=args, device="cpu")
    wp.synchronize()
    print("ran", s, flush=True)
"""


@lru_cache(maxsize=1)
def _shortest_seed_per_stage() -> dict[str, int]:
    best: dict[str, tuple[int, int]] = {}
    for s in range(600):
        source = registry()["simulation"].generate(random.Random(s)).python_source
        for stage, mark in STAGE_MARKS.items():
            if mark in source and (stage not in best or len(source) < best[stage][1]):
                best[stage] = (s, len(source))
    assert set(best) == set(STAGE_MARKS), f"no kernel in 600 seeds with {set(STAGE_MARKS) - set(best)}"
    return {stage: s for stage, (s, _) in best.items()}


def test_composed_kernels_run_within_bounds_on_inputs_from_their_contract(tmp_path):
    seeds = sorted(set(_shortest_seed_per_stage().values()))
    # A kernel cache of its own: Warp compiling the same module in two processes at once into
    # one cache (another test file builds these kernels too) failed once with LLVM's
    # "IO failure on output stream: Bad file descriptor".
    env = {**os.environ, "WARP_CACHE_PATH": str(tmp_path / "warp-cache")}
    proc = subprocess.run([sys.executable, "-c", RUN, *map(str, seeds)], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    ran = [int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("ran ")]
    assert proc.returncode == 0 and ran == seeds, (proc.returncode, ran, proc.stderr[-2000:])
    assert "Assertion failed" not in proc.stderr


def test_extents_come_from_the_contract_and_are_seeded():
    import numpy as np

    g = registry()["simulation"].generate(random.Random(_shortest_seed_per_stage()["range(wp.static(N))"]))
    sizes = extents(g.contract, np.random.default_rng(0))
    assert all(sizes[name] == value for name, value in g.contract["constants"].items())
    assert set(g.contract["launch"]) <= set(sizes)
    assert sizes == extents(g.contract, np.random.default_rng(0))
