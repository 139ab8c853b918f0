"""Stage 2: kernel source → Warp's own generated code for one device, as a dataset row."""
from __future__ import annotations

from . import _warp
from .generate import GENERATOR_VERSION, KernelSpec, source_id


def extract(
    spec: KernelSpec, device: str, *, enable_backward: bool = True, with_module: bool = True
) -> tuple[dict, _warp.KernelCode]:
    """Run Warp's codegen for ``device`` on the spec's source; return the row and the raw code.

    ``with_module`` also renders the whole module (headers and all), which only compiling needs.

    Raises whatever Warp raises when the source does not build: the caller decides whether to
    retry with another seed.
    """
    kid = source_id(spec.python_source)
    # The module name depends on the source only, so generated text never depends on where a
    # kernel sits in a batch or which process built it.
    with _warp.LoadedKernel(spec.python_source, f"wirds_{kid}", spec.kernel_name) as loaded:
        code = loaded.codegen(device, enable_backward=enable_backward, with_module=with_module)
    row = {
        "id": kid,
        "kernel_name": code.kernel_name,
        "family": spec.family,
        "seed": spec.seed,
        "python_source": spec.python_source,
        "device": device,
        "forward_code": code.forward_code,
        "backward_code": code.backward_code,
        "helper_code": code.helper_code,
        "ptx": None,
        "arg_names": code.arg_names,
        "arg_types": code.arg_types,
        "builtins": _warp.builtins_called(spec.python_source),
        "validation": "unchecked",
        "warp_version": _warp.WARP_VERSION,
        "generator_version": GENERATOR_VERSION,
    }
    return row, code
