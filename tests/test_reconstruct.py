"""The reconstruction of a live kernel's source, checked on every generator family: a generated
kernel imported from a file is written back out by `reconstruct`, and the text must give the
kernel's own code (the check `extract` applies to every real kernel)."""
from __future__ import annotations

import importlib.util
import sys

from hypothesis import example, given, settings
from hypothesis import strategies as st

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
