"""The composition layer and the simulation family: kernels that know their launch contract,
build for both devices with and without the backward pass, and look like simulation code."""
import ast
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from warp_ir_dataset import _warp
from warp_ir_dataset.families import registry
from warp_ir_dataset.families import simulation as sim
from warp_ir_dataset.generate import derive_seed, source_id

from helpers import examples

seeds = st.integers(min_value=0, max_value=2**63 - 1)


def _kernel_def(source: str, name: str) -> ast.FunctionDef:
    return next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == name)


@settings(max_examples=examples(150))
@given(seeds)
def test_the_contract_states_every_argument_and_its_shape(seed):
    g = registry()["simulation"].generate(random.Random(seed))
    kernel = _kernel_def(g.python_source, g.kernel_name)
    contract = g.contract
    assert [a.arg for a in kernel.args.args] == [a["name"] for a in contract["args"]]
    launch = contract["launch"]
    assert len(launch) == len(kernel.body[0].targets[0].elts) if isinstance(kernel.body[0].targets[0], ast.Tuple) else len(launch) == 1
    arrays = {a["name"]: a for a in contract["args"] if a["shape"]}
    for arg in kernel.args.args:
        ann = ast.unparse(arg.annotation)
        if arg.arg in arrays:
            ndim = int(ann[len("wp.array")]) if ann[len("wp.array")].isdigit() else 1
            assert ndim == len(arrays[arg.arg]["shape"]), (arg.arg, ann)
        else:
            assert not ann.startswith("wp.array"), (arg.arg, ann)
    for a in arrays.values():
        if a["indexes"]:  # an index array points at a dimension of an array of the same kernel
            target = arrays[a["indexes"]["array"]]
            assert a["dtype"] == "int32" and 0 <= a["indexes"]["dim"] < len(target["shape"])
            count = a["indexes"]["count"]
            assert count is None or (isinstance(count, int) and count > 0) or count in arrays
            # the dimension it indexes is not the launch's own (else no offsets would be needed)
            assert target["shape"][a["indexes"]["dim"]] not in ("worlds",)


@settings(max_examples=examples(8))
@given(seeds)
def test_simulation_kernels_build_for_both_devices_with_and_without_backward(seed):
    g = registry()["simulation"].generate(random.Random(seed))
    for device in ("cpu", "cuda"):
        with _warp.LoadedKernel(g.python_source, f"c_{source_id(g.python_source)}") as lk:
            declared = lk.codegen(device)
            forward_only = lk.codegen(device, enable_backward=False)
            both = lk.codegen(device, enable_backward=True)
        assert forward_only.forward_code and not forward_only.backward_code
        if "enable_backward=False" in g.python_source:  # the kernel's own option wins over the module's
            assert not declared.backward_code
        else:
            assert both.backward_code and both.forward_code
            assert declared.forward_code == (both if declared.backward_code else forward_only).forward_code


def test_stages_are_all_drawn_and_lengths_are_long_tailed():
    seen = set()
    original = dict(sim.STAGES)
    try:
        for name, (fn, weight) in original.items():
            def traced(c, fn=fn, name=name):
                seen.add(name)
                fn(c)
            sim.STAGES[name] = (traced, weight)
        lines = []
        for s in range(300):
            g = sim.simulation(random.Random(derive_seed("stages", s)))
            k = _kernel_def(g.python_source, g.kernel_name)
            lines.append(k.end_lineno - k.lineno + 1)
    finally:
        sim.STAGES.clear()
        sim.STAGES.update(original)
    assert seen == set(original), f"never drawn: {set(original) - seen}"
    lines.sort()
    assert lines[len(lines) // 2] >= 25 and lines[-1] >= 150, (lines[len(lines) // 2], lines[-1])


def test_generic_kernels_declare_their_one_overload():
    found = 0
    for s in range(400):
        g = registry()["simulation"].generate(random.Random(derive_seed("generic", s)))
        if "wp.overload(" not in g.python_source:
            continue
        found += 1
        with _warp.LoadedKernel(g.python_source, f"g_{s}") as lk:
            assert not _warp.is_generic(lk.kernel)  # the declared overload was selected
            assert lk.codegen("cpu").forward_code
    assert found >= 5
