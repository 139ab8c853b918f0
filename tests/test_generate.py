import ast
import random

from hypothesis import given, settings
from hypothesis import strategies as st

import hashlib
import json
import os
import re
from pathlib import Path

from warp_ir_dataset import _warp, families
from warp_ir_dataset.families import registry
from warp_ir_dataset.generate import GENERATOR_VERSION, derive_seed, family_for_seed, generate_kernel, source_id

from helpers import examples

GOLDEN = Path(__file__).with_name("golden_sources.json")

seeds = st.integers(min_value=0, max_value=2**63 - 1)


@settings(max_examples=examples(200))
@given(seeds)
def test_same_seed_same_kernel_and_valid_python(seed):
    a, b = generate_kernel(seed), generate_kernel(seed)
    assert a == b
    tree = ast.parse(a.python_source)
    made = {n.name: f"{n.name}__locals__" for n in tree.body if isinstance(n, ast.FunctionDef) and not n.decorator_list}  # factories
    kernels = [
        (made[parent.name] if parent is not tree else "") + n.name
        for parent in [tree, *[n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in made]]
        for n in (parent.body if parent is tree else ast.walk(parent))
        if isinstance(n, ast.FunctionDef) and any(ast.unparse(d.func if isinstance(d, ast.Call) else d) == "wp.kernel" for d in n.decorator_list)
    ]
    assert kernels == [a.kernel_name]  # Warp keys a kernel a factory makes factory__locals__name
    assert a.family == family_for_seed(seed)


def _constant_only(node: ast.AST) -> bool:
    """An expression that reads no variable: its value is fixed whatever the inputs."""
    return not any(isinstance(n, ast.Name) and n.id not in ("wp", "float", "int") for n in ast.walk(node))


def _is_zero(node: ast.AST) -> bool:
    """``0.0``, ``float(0)``, ``wp.vec3(0.0)``, ``wp.mat33()``: a value that is zero whatever the inputs."""
    if isinstance(node, ast.Constant):
        return node.value == 0 and not isinstance(node.value, bool)
    return (isinstance(node, ast.Call) and re.fullmatch(r"float|int|wp\.(vec\d|mat\d\d|float32|int32)", ast.unparse(node.func)) is not None
            and all(_is_zero(a) for a in node.args) and not node.keywords)


def _products_with_zero(tree: ast.Module) -> list[str]:
    """Products of a value with a variable that still holds the zero it was initialised with (an
    accumulator read before its first update): ``x * acc`` is 0, and ``x`` is lost."""
    found = []

    def written(stmt: ast.stmt) -> set[str]:
        """Assigned, or passed to a call, which may write it (``wp.volume_sample_grad(..., grad)``,
        ``while wp.bvh_query_next(query, item)``)."""
        names = {t.id for n in ast.walk(stmt) if isinstance(n, (ast.Assign, ast.AugAssign))
                 for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
        return names | {a.id for n in ast.walk(stmt) if isinstance(n, ast.Call) for a in n.args if isinstance(a, ast.Name)}

    def check(node: ast.AST, zero: set[str]) -> None:
        for n in ast.walk(node):
            if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Mult, ast.Div, ast.MatMult)):
                sides = (n.left, n.right)
                if any(isinstance(a, ast.Name) and a.id in zero and not _constant_only(b) for a, b in (sides, sides[::-1])):
                    found.append(f"a product with a value still zero: {ast.unparse(n)}")

    def visit(stmts: list, zero: set[str]) -> None:
        for stmt in stmts:
            if isinstance(stmt, (ast.For, ast.While)):
                zero -= written(stmt)  # a loop's later trips see what its body assigned
                visit(stmt.body, set(zero))
            elif isinstance(stmt, ast.If):
                check(stmt.test, zero)
                visit(stmt.body, set(zero))
                visit(stmt.orelse, set(zero))
            else:
                check(stmt, zero)
            zero -= written(stmt)
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) and _is_zero(stmt.value):
                zero.add(stmt.targets[0].id)

    for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        visit(fn.body, set())
    return found


def _value_losses(source: str) -> list[str]:
    """What in a kernel's source computes values its outputs can never show."""
    found = _products_with_zero(ast.parse(source))
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and _constant_only(node):
            found.append(f"a condition on constants: {ast.unparse(node)}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) and ast.dump(node.left) == ast.dump(node.right):
            found.append(f"a value minus itself: {ast.unparse(node)}")
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in ("wp.length", "wp.length_sq") and node.args:
            inner = node.args[0]
            if isinstance(inner, ast.Call) and ast.unparse(inner.func) in ("wp.normalize", "wp.quat_from_axis_angle", "wp.quat_rpy", "wp.quat_identity"):
                found.append(f"the length of a unit vector or rotation: {ast.unparse(node)}")
        elif isinstance(node, ast.BoolOp) and any(isinstance(v, ast.Constant) for v in node.values):
            found.append(f"a condition with a constant: {ast.unparse(node)}")
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Tuple) and len({ast.unparse(e) for e in node.slice.elts}) > 1:
            inner = ast.unparse(node.value)
            if "wp.identity(" in inner and "@" not in inner and "wp." not in inner.replace("wp.identity(", ""):
                found.append(f"off the diagonal of a multiple of the identity: {ast.unparse(node)}")
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Sub) and ast.dump(node.target).replace("Store", "Load") == ast.dump(node.value):
            found.append(f"a value minus itself: {ast.unparse(node)}")
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in ("wp.transform_vector", "wp.transform_get_rotation") and node.args:
            made = node.args[0]
            if isinstance(made, ast.Call) and ast.unparse(made) .endswith("wp.quat_identity())") and ast.unparse(made.func) == "wp.transform":
                found.append(f"a transform's rotation read where it is the identity: {ast.unparse(node)}")
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in ("wp.asin", "wp.acos") and node.args and re.fullmatch(r"wp\.clamp\(.*, -1\.0, 1\.0\)", ast.unparse(node.args[0])):
            found.append(f"a clamp to what {ast.unparse(node.func)} clamps to itself: {ast.unparse(node)}")
    return found


@settings(max_examples=examples(200))
@given(seeds)
def test_a_generated_kernel_computes_nothing_its_outputs_cannot_show(seed):
    # Rows are scored by what their code does: a value the outputs never show (a condition on
    # constants, the length of a unit vector) makes wrong code look right, and no input catches
    # a mutant of it. Measured by benchmarks/behaviour.py; these are its common causes.
    spec = generate_kernel(seed)
    assert not _value_losses(spec.python_source), (seed, spec.family, _value_losses(spec.python_source)[:3])


@settings(max_examples=examples(30))
@given(seeds)
def test_a_kernel_builds_on_both_devices_or_on_neither(seed):
    # Device-specific failures would desync the ids of the cpu and cuda configs.
    spec = generate_kernel(seed)
    outcomes = {}
    for device in ("cpu", "cuda"):
        try:
            with _warp.LoadedKernel(spec.python_source, f"t_{source_id(spec.python_source)}") as lk:
                outcomes[device] = lk.codegen(device)
        except Exception as e:  # noqa: BLE001 - compared below
            outcomes[device] = type(e).__name__
    cpu, cuda = outcomes["cpu"], outcomes["cuda"]
    if isinstance(cpu, str) or isinstance(cuda, str):
        assert cpu == cuda, f"seed {seed} ({spec.family}): cpu {cpu if isinstance(cpu, str) else 'built'}, cuda {cuda if isinstance(cuda, str) else 'built'}"
    else:
        assert cpu.forward_code and cuda.forward_code
        # The backward pass is there unless the source turns it off (as long solver kernels do).
        assert bool(cpu.backward_code) == bool(cuda.backward_code)
        if "enable_backward" not in spec.python_source:
            assert cpu.backward_code


def test_almost_every_seed_builds():
    built = 0
    for seed in range(60):
        spec = generate_kernel(derive_seed("builds", seed))
        try:
            with _warp.LoadedKernel(spec.python_source, f"b_{source_id(spec.python_source)}") as lk:
                lk.codegen("cpu", with_module=False)
            built += 1
        except Exception:  # noqa: BLE001 - counted: the builder replaces these with the next seed
            pass
    assert built >= 57, f"only {built} of 60 seeds build"


def test_every_family_builds_for_most_seeds():
    fams = registry()
    declared = [m for p in sorted(Path(families.__file__).parent.glob("*.py")) for m in re.findall(r'^@family\("(\w+)"', p.read_text(), re.M)]
    assert sorted(fams) == sorted(declared) and len(fams) >= 30  # every @family in the package registers, once
    for name, fam in fams.items():
        ok = 0
        sources = set()
        for s in range(25):
            g = fam.generate(random.Random(derive_seed("t", name, s)))
            sources.add(g.python_source)
            try:
                with _warp.LoadedKernel(g.python_source, f"f_{name}_{s}") as lk:
                    lk.codegen("cpu")
                ok += 1
            except Exception:  # noqa: BLE001
                pass
        assert ok >= 22, f"family {name}: only {ok}/25 kernels build"
        assert len(sources) >= 24, f"family {name}: repeats itself ({len(sources)} distinct of 25)"


def test_derived_seeds_are_stable_63_bit():
    assert derive_seed(0, 0, 0, 0) == derive_seed("0", "0", 0, 0)
    values = {derive_seed(1, s, i, 0) for s in range(10) for i in range(100)}
    assert len(values) == 1000 and all(0 <= v < 2**63 for v in values)


def _golden_now() -> dict:
    return {
        "generator_version": GENERATOR_VERSION,
        "sha256": {f"{family}:{seed}": hashlib.sha256(generate_kernel(seed, family).python_source.encode()).hexdigest() for family in sorted(registry()) for seed in (1, 2)},
    }


def test_fixed_seeds_give_fixed_sources_until_the_generator_version_changes():
    # A change to what a seed generates must bump GENERATOR_VERSION (rows record it); then
    # regenerate the file: WIRDS_UPDATE_GOLDEN=1 ./dev test tests/test_generate.py
    now = _golden_now()
    if os.environ.get("WIRDS_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert golden["generator_version"] == GENERATOR_VERSION, "GENERATOR_VERSION changed: regenerate tests/golden_sources.json"
    changed = sorted(k for k, v in now["sha256"].items() if golden["sha256"].get(k) != v)
    assert not changed, f"same GENERATOR_VERSION, different kernels for {changed[:5]}: bump GENERATOR_VERSION"
    assert set(golden["sha256"]) == set(now["sha256"])


def test_the_registry_is_complete_whatever_was_imported_first():
    import subprocess
    import sys

    code = (
        "import warp_ir_dataset.families.simulation; from warp_ir_dataset.families import registry; "
        "import pathlib, re, warp_ir_dataset.families as f; "
        "declared = [m for p in pathlib.Path(f.__file__).parent.glob('*.py') for m in re.findall(r'^@family\\(\"(\\w+)\"', p.read_text(), re.M)]; "
        "assert sorted(registry()) == sorted(declared), sorted(registry())"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-800:]
