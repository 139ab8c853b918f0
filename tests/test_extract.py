import subprocess
import sys
from pathlib import Path

import pytest

from warp_ir_dataset.codegen import kernel_row
from warp_ir_dataset.generate import generate_kernel

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_text_does_not_depend_on_batch_position(device):
    specs = [generate_kernel(s) for s in range(8)]
    alone = kernel_row(specs[5], device)[0]
    for spec in specs:  # other kernels built first must not change line comments or hashes
        try:
            kernel_row(spec, device)
        except Exception:  # noqa: BLE001
            pass
    assert kernel_row(specs[5], device)[0] == alone


def _kernel_with_backward(start: int):
    """The first generated kernel from seed ``start`` on that keeps Warp's backward pass."""
    return next(spec for s in range(start, start + 100) if "enable_backward" not in (spec := generate_kernel(s)).python_source)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_columns_hold_what_they_say(device):
    row, code = kernel_row(_kernel_with_backward(11), device)
    marker = "_cuda_kernel_" if device == "cuda" else "_cpu_kernel_"
    assert marker + "forward" in row["forward_code"] and marker + "backward" not in row["forward_code"]
    assert marker + "backward" in row["backward_code"]
    assert "__global__" in row["forward_code"] if device == "cuda" else "__global__" not in row["forward_code"]
    assert row["forward_code"] in code.module_source and row["backward_code"] in code.module_source
    assert len(row["arg_names"]) == len(row["arg_types"]) and row["arg_names"]
    import hashlib

    assert row["id"] == hashlib.sha256(row["python_source"].encode()).hexdigest()[:16]


def test_rerunning_source_in_a_new_process_gives_the_same_code():
    spec = generate_kernel(123)
    row, _ = kernel_row(spec, "cpu")
    script = (
        "import sys, json; from warp_ir_dataset.codegen import kernel_row; from warp_ir_dataset.generate import KernelSpec;"
        "spec = KernelSpec(**json.load(sys.stdin)); print(kernel_row(spec, 'cpu')[0]['forward_code'], end='')"
    )
    import json

    out = subprocess.run(
        [sys.executable, "-c", script], input=json.dumps(spec.__dict__), capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout
    assert out == row["forward_code"]


def test_warp_internals_are_used_in_one_module_only():
    users = [p.name for p in (ROOT / "warp_ir_dataset").rglob("*.py") if "warp._src" in p.read_text() or "_src import" in p.read_text()]
    assert users == ["_warp.py"]


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_forward_code_cut_from_the_combined_kernel_equals_the_forward_kernel_alone(device):
    # The extractor generates forward+backward once and cuts it; the cut must be exactly
    # what Warp generates for the forward kernel with backward disabled, for every family.
    from warp_ir_dataset import _warp
    from warp_ir_dataset.families import registry
    from warp_ir_dataset.generate import source_id

    checked = 0
    for family in sorted(registry()):
        spec = generate_kernel(4242, family)
        with _warp.LoadedKernel(spec.python_source, f"wirds_{source_id(spec.python_source)}") as loaded:
            try:
                both = loaded.codegen(device, enable_backward=True, with_module=False)
            except Exception:  # noqa: BLE001 - a kernel Warp rejects is retried by the builder
                continue
            if "enable_backward=False" in spec.python_source:  # the kernel's own option wins: no backward to cut
                continue
            alone = loaded.codegen(device, enable_backward=False, with_module=False)
        assert both.forward_code == alone.forward_code, family
        assert both.backward_code.lstrip("\n") and not both.backward_code.startswith(both.forward_code)
        checked += 1
    assert checked >= len(registry()) - 2


SAME_NAMED_FUNC = '''import warp as wp


@wp.func
def scale_op(x: float):
    return x * {factor}


@wp.kernel
def scaled(a: wp.array(dtype=float)):
    i = wp.tid()
    a[i] = scale_op(a[i])
'''


def test_code_does_not_depend_on_what_the_process_built_before():
    # Warp numbers user functions per name across the whole process (scale_op_0, scale_op_1,
    # ...): every kernel must be built as if it were the first.
    from warp_ir_dataset.codegen import kernel_row
    from warp_ir_dataset.generate import KernelSpec

    def build(factor: str) -> str:
        spec = KernelSpec(0, "test", "scaled", SAME_NAMED_FUNC.format(factor=factor))
        return kernel_row(spec, "cpu", with_module=False)[1].helper_code

    first = build("2.0")
    others = [build("3.0"), build("4.0")]
    again = build("2.0")
    assert again == first and "scale_op_0(" in first
    assert all("scale_op_0(" in h and "scale_op_1" not in h for h in others)


CALLS_A_WARP_LIBRARY_FUNCTION = '''
import warp as wp

@wp.kernel
def composed(xs: wp.array(dtype=wp.transform), out: wp.array(dtype=wp.mat44)):
    i = wp.tid()
    out[i] = wp.transform_to_matrix(wp.transform_multiply(xs[i], xs[i]))
'''


def test_nothing_of_a_kernel_outlives_its_extraction():
    # Warp records a kernel that calls a library function written in Python among that
    # library module's dependents; unless the kernel's module is detached, every such kernel
    # (ASTs, code, adjoints) stays alive and a worker's memory grows with the target.
    import gc
    import weakref

    from warp_ir_dataset import _warp
    from warp_ir_dataset.generate import source_id

    alive = []
    for device in ("cpu", "cuda"):
        source = CALLS_A_WARP_LIBRARY_FUNCTION + f"# {device}\n"
        with _warp.LoadedKernel(source, f"wirds_{source_id(source)}") as loaded:
            code = loaded.codegen(device, with_module=False)
            alive += [weakref.ref(loaded.kernel), weakref.ref(loaded.kernel.module), weakref.ref(loaded.kernel.adj)]
        assert "transform_to_matrix" in code.forward_code + code.helper_code
        del loaded
    gc.collect()
    assert [ref() for ref in alive] == [None] * len(alive)


def test_one_build_gives_each_devices_own_code_for_every_family():
    from warp_ir_dataset import _warp

    # Warp's build (parse, types, adjoint) is shared between devices: the code generated for
    # each device from one build must equal what that device's own build gives.
    import random as _random

    from warp_ir_dataset.families import registry
    from warp_ir_dataset.generate import derive_seed as _derive_seed

    compared, failed = 0, []
    for name, fam in registry().items():
        for k in range(4 if name in ("simulation", "tile_layout", "tile_reduce", "tile_shared", "tiled_queries") else 2):
            g = fam.generate(_random.Random(_derive_seed("devices", name, k)))
            module = f"dev_{name}_{k}"
            try:
                with _warp.LoadedKernel(g.python_source, module) as lk:
                    shared = lk.codegen_devices({"cpu": True, "cuda": True})
            except Exception as e:  # noqa: BLE001 - a kernel that does not build has no code to compare
                failed.append(f"{name}: {type(e).__name__}: {e}"[:200])
                continue
            for device in ("cpu", "cuda"):
                with _warp.LoadedKernel(g.python_source, module) as lk:
                    assert lk.codegen(device) == shared[device], f"{name} seed {k}: {device} code differs when built once"
            compared += 1
    assert compared >= 60, failed[:3]
