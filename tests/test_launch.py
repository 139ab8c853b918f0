"""Composed kernels run on the inputs their launch contract describes, with Warp's bounds checks on."""
import random
from functools import lru_cache

from warp_ir_dataset.contract import named_extents
from warp_ir_dataset.execute import Behaviour, Request, run_kernels
from warp_ir_dataset.families import registry
from warp_ir_dataset.generate import source_id

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


def test_composed_kernels_run_within_bounds_on_inputs_from_their_contract():
    # The launching process runs Warp in debug mode: an index outside an array aborts it.
    seeds = sorted(set(_shortest_seed_per_stage().values()))
    kernels = [registry()["simulation"].generate(random.Random(s)) for s in seeds]
    results = run_kernels([Request(g.python_source, g.kernel_name, s, f"wirds_{source_id(g.python_source)}", family_contract=g.contract)
                           for s, g in zip(seeds, kernels)])
    for s, result in zip(seeds, results):
        assert isinstance(result, Behaviour) and result.outputs, (s, result)


def test_extents_come_from_the_contract_and_are_seeded():
    import numpy as np

    g = registry()["simulation"].generate(random.Random(_shortest_seed_per_stage()["range(wp.static(N))"]))
    sizes = named_extents(g.contract, np.random.default_rng(0))
    assert all(sizes[name] == value for name, value in g.contract["constants"].items())
    assert set(g.contract["launch"]) <= set(sizes)
    assert sizes == named_extents(g.contract, np.random.default_rng(0))
