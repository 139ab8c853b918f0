"""The reconstruction of a live kernel's source, checked on every generator family: a generated
kernel imported from a file is written back out by `reconstruct`, and the text must give the
kernel's own code (the check `extract` applies to every real kernel)."""
from __future__ import annotations

import importlib.util
import sys

from hypothesis import example, given, settings
from hypothesis import strategies as st
import warp as wp

from warp_ir_dataset import _warp
from warp_ir_dataset.generate import generate_kernel
from warp_ir_dataset.reconstruct import comparable_code, differs_from_original, reconstruct

from helpers import examples


def _import(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _only_kernel(tmp_path, name: str, text: str):
    """The one kernel a module of ``text`` registers, imported from a file as ``name``."""
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    _warp.init()
    (kernel,) = _warp.registered_kernels(_import(path, name).__name__)
    return kernel


@settings(max_examples=examples(40))
@given(seed=st.integers(0, 2**62))
@example(seed=43852)  # a factory-made kernel (found exploring): written back at module level, under its own name
def test_a_generated_kernel_written_back_out_gives_its_own_code(tmp_path_factory, seed):
    _warp.init()
    spec = generate_kernel(seed)
    folder = tmp_path_factory.mktemp("user")
    name = f"user_kernel_{seed}"
    path = folder / f"{name}.py"
    path.write_text(spec.python_source)
    _import(path, name)
    (kernel,) = [k for k in _warp.registered_kernels(name) if k.key == spec.kernel_name]
    made = reconstruct(kernel)
    assert made.kernel_name == spec.kernel_name.rpartition("__locals__")[2]  # a factory's kernel is written out at module level
    try:
        _warp.original_forward_code(kernel)
    except Exception:  # noqa: BLE001 - a kernel Warp itself cannot build: the builder skips it too
        return
    assert differs_from_original(kernel, made, f"wirds_check_{seed}") is None
    # what the generator wrote is already self-contained: every Warp definition it uses comes
    # back (one it defines and never uses, e.g. a spare struct of the structs family, need not;
    # a factory function is not one: the kernel it made is written out with what it captured)
    import re

    lines = spec.python_source.splitlines()
    for before, line in zip([""] + lines, lines):
        if line.startswith(("def ", "class ")) and before.startswith("@"):
            name = re.match(r"(?:def|class) (\w+)", line).group(1)
            if len(re.findall(rf"\b{name}\b", spec.python_source)) > 1:
                assert line in made.python_source


def test_comparable_code_keeps_what_matters_and_drops_where_and_when():
    a = "void k_abc1234f_cpu(){ // x = f(y)   <L 12>\n var_3 = normalize_2(var_1); }"
    b = "void k_99887766_cpu(){ // x = f(y)   <L 40>\n var_3 = normalize_0(var_1); }"
    assert comparable_code(a, "k_abc1234f") == comparable_code(b, "k_99887766")
    c = b.replace("normalize", "length")
    assert comparable_code(a, "k_abc1234f") != comparable_code(c, "k_99887766")
    # a private generic function's overloads are numbered in the order a module's kernels made
    # them (nvalchemiops' `_cn_counting_1`, alone in its row's module `_cn_counting_0`)
    assert comparable_code(a.replace("normalize", "_cn_counting"), "k_abc1234f") == comparable_code(b.replace("normalize", "_cn_counting"), "k_99887766")
    assert comparable_code(a.replace("normalize", "_cn_counting"), "k_abc1234f") != comparable_code(b.replace("normalize", "_cn_count"), "k_99887766")


def test_a_value_that_cannot_be_written_is_named_without_its_address():
    from warp_ir_dataset.reconstruct import _shown

    class Options:
        pass

    shown = _shown(Options(), 1000)
    assert "Options object" in shown and "0x" not in shown


def test_a_name_read_through_import_star_and_imported_by_name_elsewhere_is_one_definition(tmp_path, monkeypatch):
    # warpSPHCore's pattern: a kernel's module takes `scalar_t` with `from ..type_config import *`,
    # a helper's module imports it by name; both are the one statement of type_config.py (33 of
    # its 40 kernels were rejected as name conflicts).
    pkg = tmp_path / "wirds_star_pkg"
    (pkg / "kernels").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "kernels" / "__init__.py").write_text("")
    (pkg / "type_config.py").write_text("import warp as wp\n\nscalar_t = wp.float32\nvec_t = wp.vec3\n")
    (pkg / "helpers.py").write_text("import warp as wp\n\nfrom .type_config import scalar_t\n\n\n"
                                    "@wp.func\ndef twice(x: scalar_t) -> scalar_t:\n    return scalar_t(2.0) * x\n")
    # and, as warpSPHCore's wp_sqrt.py does, a module that star-imports itself
    (pkg / "kernels" / "scale.py").write_text("import warp as wp\n\nfrom ..type_config import *\nfrom .scale import *\nfrom ..helpers import twice\n\n\n"
                                              "@wp.kernel\ndef scale(a: wp.array(dtype=scalar_t)):\n    i = wp.tid()\n"
                                              "    a[i] = twice(a[i]) + scalar_t(1.0)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _warp.init()
    importlib.import_module("wirds_star_pkg.kernels.scale")
    (kernel,) = _warp.registered_kernels("wirds_star_pkg.kernels.scale")
    made = reconstruct(kernel)
    assert made.python_source.count("scalar_t = wp.float32") == 1 and "vec_t" not in made.python_source
    assert differs_from_original(kernel, made, "wirds_check_star") is None


def test_a_name_last_bound_under_a_condition_that_did_not_hold_is_written_as_its_value(tmp_path, monkeypatch):
    # warpSPHCore's type_config.py: `scalar_t` rebound under `if _pre_precision is not None:`, a
    # branch that did not run; writing that statement made the rebuilt module raise on import (6 of
    # its 40 kernels). A name bound in a `try` that ran is written as its value too, and one
    # bound unconditionally after the condition keeps its own statement.
    kernel = _only_kernel(tmp_path, "wirds_conditional", "import warp as wp\n\n\ndef _resolve(v):\n    if v != 'half':\n        raise ValueError(v)\n    return wp.float16\n\n\n"
                                                         "_pre = None\nscalar_t = wp.float32\nif _pre is not None:\n    scalar_t = _resolve(str(_pre))\n"
                                                         "try:\n    width = int('4')\nexcept ValueError:\n    width = 5\n"
                                                         "if True:\n    scale = 2.0\nscale = 3.0\n\n\n"
                                                         "@wp.kernel\ndef k(a: wp.array(dtype=scalar_t)):\n    i = wp.tid()\n    a[i] = scalar_t(scale) * a[i] + scalar_t(width)\n")
    made = reconstruct(kernel)
    assert "scalar_t = wp.float32" in made.python_source and "_resolve" not in made.python_source
    assert "width = 4" in made.python_source and "scale = 3.0" in made.python_source
    assert differs_from_original(kernel, made, "wirds_check_conditional") is None


def test_the_fields_a_generic_kernel_reads_of_an_argument_include_those_its_functions_read(tmp_path):
    # What picks a struct for an `Any` argument (a generic kernel without wp.overload): warpSPHCore
    # passes its state structs to helper functions that read their fields.
    path = tmp_path / "wirds_fields_read.py"
    path.write_text("import warp as wp\nfrom typing import Any\n\n\n@wp.func\ndef mass_of(s: Any, i: int):\n    return s.masses[i]\n\n\n"
                    "@wp.func\ndef weight(p: Any, i: int):\n    return mass_of(p, i) * 2.0\n\n\n"
                    "@wp.kernel\ndef total(state: Any, out: wp.array(dtype=float)):\n    i = wp.tid()\n"
                    "    out[i] = wp.length(state.positions[i]) * weight(state, i)\n")
    module = _import(path, "wirds_fields_read")
    assert _warp._fields_read(module.total)["state"] == {"positions", "masses"}


def test_a_kernel_with_a_library_backed_tile_builtin_is_built_as_warp_builds_it_without_a_device(tmp_path):
    # `tile_matmul` reads the build's target architecture, which Warp sets only when it builds for
    # a device: nvalchemiops' two tile_matmul kernels were `codegen-error` (KeyError 'output_arch').
    kernel = _only_kernel(tmp_path, "wirds_tile_matmul", "import warp as wp\n\nTILE = 8\n\n\n@wp.kernel\ndef mm(a: wp.array2d(dtype=float), b: wp.array2d(dtype=float), c: wp.array2d(dtype=float)):\n"
                                                         "    i, j = wp.tid()\n    acc = wp.tile_zeros(shape=(TILE, TILE), dtype=float)\n"
                                                         "    wp.tile_matmul(wp.tile_load(a, shape=(TILE, TILE)), wp.tile_load(b, shape=(TILE, TILE)), acc)\n"
                                                         "    wp.tile_store(c, acc)\n")
    made = reconstruct(kernel)
    assert differs_from_original(kernel, made, "wirds_check_tile_matmul") is None
    with _warp.LoadedKernel(made.python_source, "wirds_tile_matmul_row", made.kernel_name) as loaded:
        code = loaded.codegen_devices({"cpu": True, "cuda": True})
    assert all("tile_matmul" in c.forward_code for c in code.values())


def test_an_any_value_the_kernel_indexes_or_measures_is_tried_as_a_vector_or_a_matrix_first(tmp_path):
    # nvalchemiops' integrators: `v = velocities[i]; v[0]`, `wp.determinant(cell)`, a pressure
    # tensor stored as 9 values, a helper reading its argument as a matrix, an output holding an
    # inverse; 50 of its generic kernels without wp.overload failed with float32 for every Any.
    kernel = _only_kernel(tmp_path, "wirds_any_kinds", "import warp as wp\nfrom typing import Any\n\n\n@wp.func\ndef drag(h: Any, v: Any):\n    return h[0, 0] * v\n\n\n@wp.kernel\n"
                                                       "def kinetic(velocities: wp.array(dtype=Any), masses: wp.array(dtype=Any), cells: wp.array(dtype=Any),\n"
                                                       "            scale: Any, tensors: wp.array(dtype=Any), h_dot: wp.array(dtype=Any), out: wp.array2d(dtype=Any),\n"
                                                       "            inverses: wp.array(dtype=Any), tensors_out: wp.array(dtype=Any)):\n"
                                                       "    i = wp.tid()\n    v = velocities[i]\n    m = masses[i]\n    p = tensors[i]\n"
                                                       "    out[i, 0] = m * v[0] * v[1] * wp.determinant(cells[i]) + wp.length(scale) + cells[i][0][1] + p[8] + drag(h_dot[0], m)\n"
                                                       "    inverses[i] = wp.inverse(cells[i])\n    tensors_out[i] = type(p)(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8])\n")
    assert _warp._value_kinds(kernel) == {"velocities": ("vector", 3), "cells": ("matrix",), "scale": ("vector", 3), "tensors": ("vector", 9),
                                          "h_dot": ("matrix",), "inverses": ("matrix",), "tensors_out": ("vector", 9)}
    first = next(_warp.default_overloads(kernel))
    vec9 = wp.types.vector(length=9, dtype=wp.float32)
    assert [_warp.type_name(a.type) for a in first.adj.args] == [_warp.type_name(t) for t in (
        wp.array(dtype=wp.vec3f), wp.array(dtype=wp.float32), wp.array(dtype=wp.mat33f), wp.vec3f, wp.array(dtype=vec9),
        wp.array(dtype=wp.mat33f), wp.array2d(dtype=wp.float32), wp.array(dtype=wp.mat33f), wp.array(dtype=vec9))]
    made = reconstruct(first)
    assert differs_from_original(first, made, "wirds_check_any_kinds") is None
