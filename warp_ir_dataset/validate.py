"""Stage 3: prove generated code compiles with Warp's bundled toolchains, without a GPU.

``cpu`` rows are compiled by clang, ``cuda`` rows by NVRTC for one recorded architecture, down
to machine code (CUBIN) as Warp does for a real GPU: PTX alone would pass kernels that ptxas
then refuses (a kernel over the 48 KiB of static shared memory, for one). Kernels are compiled
many to a translation unit (each in its own namespace) so the cost of Warp's headers is paid
once per batch; a failing batch is bisected down to the rows that fail. With ``ptx`` every
cuda row that compiled is also compiled alone to PTX, so its PTX is the row's own.
"""
from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass

from . import _warp
from .generate import derive_seed

MODES = ("none", "sample", "all")
SAMPLE_EVERY = 20  # "sample" validates one row in this many, in every shard
DEFAULT_ARCH = 90
BATCH = 16


@dataclass(frozen=True)
class ValidationPlan:
    mode: str = "sample"
    arch: int = DEFAULT_ARCH
    ptx: bool = False
    execute: bool = True  # launch the rows it compiles, and every test row (stage 4)

    def selects(self, seed: int, shard_index: int, slot: int) -> bool:
        """Whether a slot's row is compiled: all rows, none, or every 20th from a seeded offset."""
        if self.ptx or self.mode == "all":
            return True
        if self.mode == "none":
            return False
        return slot % SAMPLE_EVERY == derive_seed("validate", seed, shard_index) % SAMPLE_EVERY


@dataclass(frozen=True)
class Outcome:
    ok: bool
    reason: str = ""  # short machine-readable cause when not ok
    message: str = ""  # the toolchain's own words
    ptx: str | None = None


def check(codes: list[_warp.KernelCode], device: str, plan: ValidationPlan) -> list[Outcome]:
    """Compile each kernel's module; one outcome per kernel, in order."""
    with tempfile.TemporaryDirectory(prefix="wirds-validate-") as workdir:
        outcomes: list[Outcome | None] = [None] * len(codes)
        for start in range(0, len(codes), BATCH):
            _bisect(codes, list(range(start, min(start + BATCH, len(codes)))), device, plan.arch, workdir, outcomes)
        if device == "cuda" and plan.ptx:
            outcomes = [_own_ptx(code, plan.arch, workdir) if o.ok else o for code, o in zip(codes, outcomes)]
        return outcomes  # type: ignore[return-value]


def _bisect(codes, indices, device, arch, workdir, outcomes) -> None:
    bodies = [_warp.module_body(codes[i].module_source, device) for i in indices]
    try:
        _warp.compile_unit(_warp.translation_unit(bodies, device), device, workdir, arch, output="cubin")
    except _warp.CompileError as e:
        if len(indices) == 1:
            outcomes[indices[0]] = Outcome(False, f"{_toolchain(device)}-error", str(e))
            return
        half = len(indices) // 2
        _bisect(codes, indices[:half], device, arch, workdir, outcomes)
        _bisect(codes, indices[half:], device, arch, workdir, outcomes)
        return
    for i in indices:
        outcomes[i] = Outcome(True)


def _own_ptx(code: _warp.KernelCode, arch: int, workdir: str) -> Outcome:
    try:
        ptx = _warp.compile_unit(code.module_source, "cuda", workdir, arch)
    except _warp.CompileError as e:
        return Outcome(False, "nvrtc-error", str(e))
    entries = set(re.findall(r"^\.visible \.entry (\w+)\(", ptx or "", re.MULTILINE))
    missing = [name for name in code.entry_points if name not in entries]
    if missing:
        return Outcome(False, "ptx-missing-entry", f"no .entry for {', '.join(missing)}")
    return Outcome(True, ptx=ptx)


def _toolchain(device: str) -> str:
    return "clang" if device == "cpu" else "nvrtc"
