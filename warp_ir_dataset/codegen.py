"""Stage 2: a kernel's source → Warp's own generated code for each device, as dataset rows."""
from __future__ import annotations

from . import _warp
from .generate import GENERATOR_VERSION, KernelSpec, source_id


def kernel_row(
    spec: KernelSpec, device: str, *, enable_backward: bool | None = None, with_module: bool = True
) -> tuple[dict, _warp.KernelCode]:
    """Run Warp's codegen for ``device`` on the spec's source; return the row and the raw code.

    ``with_module`` also renders the whole module (headers and all), which only compiling needs.

    Raises whatever Warp raises when the source does not build: the caller decides whether to
    retry with another seed.
    """
    return kernel_rows(spec, {device: with_module}, enable_backward=enable_backward)[device]


def kernel_rows(
    spec: KernelSpec, with_module: dict[str, bool], *, enable_backward: bool | None = None
) -> dict[str, tuple[dict, _warp.KernelCode]]:
    """:func:`kernel_row` for each device of ``with_module`` from one Warp build of the kernel."""
    kid = source_id(spec.python_source)
    # The module name depends on the source only, so generated text never depends on where a
    # kernel sits in a batch or which process built it.
    with _warp.LoadedKernel(spec.python_source, f"wirds_{kid}", spec.kernel_name) as loaded:
        codes = loaded.codegen_devices(with_module, enable_backward=enable_backward)
    builtins = _warp.builtins_called(spec.python_source)
    return {device: (_row(spec, kid, device, code, builtins), code) for device, code in codes.items()}


def _row(spec: KernelSpec, kid: str, device: str, code: _warp.KernelCode, builtins: list[str]) -> dict:
    return {
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
        "builtins": list(builtins),
        "validation": "unchecked",
        "warp_version": _warp.WARP_VERSION,
        "generator_version": GENERATOR_VERSION if spec.seed is not None else "",
        "origin": spec.origin,
        "license": spec.license,
        # what it does: filled in for the rows that are executed (stage 4)
        "contract": None,
        "inputs": None,
        "outputs": None,
        "output_grads": None,
        "input_grads": None,
    }
