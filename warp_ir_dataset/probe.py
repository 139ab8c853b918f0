"""Imports one user module in a process of its own and lists the kernels Warp registered from it.

Someone else's module may raise, crash the interpreter or never finish importing, so it is never
imported in a process that matters: ``probe(target, timeout)`` runs
``python -m warp_ir_dataset.probe REQUEST RESULT`` and reads the JSON it leaves. What went wrong
is one reject with a reason (``import-error``, ``import-crashed``, ``import-timeout``) and the
module's own message; every kernel found becomes a reconstructed source
(:mod:`~warp_ir_dataset.reconstruct`) or a reject of its own.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import traceback
from dataclasses import asdict, dataclass, field

from . import lifeline

MESSAGE_CHARS = 2000  # of a module's own error output, kept in a reject
# The importing process runs this package's own code, wherever it is imported from (a checkout,
# a venv, a copy): its folder is on sys.path only until the package is imported, so nothing else
# in that folder can shadow a module the user's code imports.
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); import warp_ir_dataset.probe as probe; "
    "sys.path.remove(sys.argv[1]); probe.main(sys.argv[2], sys.argv[3])"
)


@dataclass(frozen=True)
class ModuleTarget:
    """One module to import: by dotted name from ``sys_path``, or from its file (a script)."""

    name: str
    path: str
    sys_path: str  # the folders to put first on sys.path, os.pathsep between them
    by_path: bool
    origin: str  # where its rows say they came from, without the line: "dist==1.0:pkg/mod.py"
    license: str | None = None
    tree: str = ""  # the import root of the source tree given (a folder, not an installed package): its code is the user's


@dataclass
class ProbeResult:
    kernels: list[dict] = field(default_factory=list)  # kernel_name, python_source, origin
    rejects: list[dict] = field(default_factory=list)  # kernel (or None for the module), reason, message, origin


def probe(target: ModuleTarget, timeout: float) -> ProbeResult:
    """Import ``target`` in a fresh interpreter (at most ``timeout`` seconds) and collect its kernels."""
    with tempfile.TemporaryDirectory(prefix="wirds-probe-") as tmp:
        request, result = os.path.join(tmp, "request.json"), os.path.join(tmp, "result.json")
        with open(request, "w", encoding="utf-8") as f:
            json.dump(asdict(target), f)
        env = lifeline.child_env({**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"})
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _BOOTSTRAP, _PACKAGE_PARENT, request, result],
                capture_output=True, text=True, errors="replace", timeout=timeout, cwd=tmp, env=env, stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return _failed(target, "import-timeout", f"still importing after {timeout:g}s; stopped")
        if os.path.exists(result):
            with open(result, encoding="utf-8") as f:
                return ProbeResult(**json.load(f))
        tail = _portable(target, (proc.stderr or "").strip())[-MESSAGE_CHARS:]
        how = f"killed by {signal.Signals(-proc.returncode).name}" if proc.returncode < 0 else f"exit status {proc.returncode}"
        return _failed(target, "import-crashed", f"the importing process died ({how})" + (f": {tail}" if tail else ""))


def _portable(target: ModuleTarget, message: str) -> str:
    """A message without the folders of this machine: those the module was imported from (the
    source tree's import root among them) and the import roots'."""
    from . import _warp

    return _warp.portable_text(message, tuple(target.sys_path.split(os.pathsep)))


def _failed(target: ModuleTarget, reason: str, message: str) -> ProbeResult:
    return ProbeResult(rejects=[{"kernel": None, "reason": reason, "message": message, "origin": target.origin}])


# -- inside the probing process ----------------------------------------------------------------
def _import(target: ModuleTarget):
    sys.path[0:0] = target.sys_path.split(os.pathsep)
    if not target.by_path:
        return importlib.import_module(target.name)
    spec = importlib.util.spec_from_file_location(target.name, target.path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[target.name] = module
    spec.loader.exec_module(module)
    return module


def _collect(target: ModuleTarget) -> ProbeResult:
    from . import _warp
    from .generate import source_id
    from .reconstruct import ReconstructionError, differs_from_original, reconstruct

    _warp.init()
    out = ProbeResult()
    try:
        with _warp.fd_redirected(1, 2):  # a module's prints can never be mistaken for a result
            _import(target)
    except BaseException as e:  # noqa: BLE001 - someone else's module: anything can come out of it
        message = "".join(traceback.format_exception_only(type(e), e)).strip()[-MESSAGE_CHARS:]
        return _failed(target, "import-error", message)
    for kernel in _warp.registered_kernels(target.name):
        line = _warp.kernel_function(kernel).__code__.co_firstlineno
        where = f"{target.origin}:{line}"
        if _warp.is_generic(kernel) and not _warp.concrete_overloads(kernel):
            out.rejects.append({"kernel": kernel.key, "reason": "generic-without-overload", "message": "a generic kernel with no wp.overload: no concrete types to generate code for", "origin": where})
            continue
        for concrete in _warp.concrete_overloads(kernel) if _warp.is_generic(kernel) else [kernel]:
            try:
                made = reconstruct(concrete, (target.tree,) if target.tree else ())
                # Named by its text, as the pipeline names it: Warp caches per module name.
                differs = differs_from_original(concrete, made, f"wirds_{source_id(made.python_source)}")
            except ReconstructionError as e:
                out.rejects.append({"kernel": kernel.key, "reason": e.reason, "message": str(e), "origin": where})
                continue
            except Exception as e:  # noqa: BLE001 - a user object can fail in any way while read
                out.rejects.append({"kernel": kernel.key, "reason": "reconstruction-error", "message": f"{type(e).__name__}: {e}"[:MESSAGE_CHARS], "origin": where})
                continue
            if differs is not None:  # a row's code must be the code of the kernel it names
                out.rejects.append({"kernel": kernel.key, "reason": "differs-from-original", "message": differs, "origin": where})
                continue
            out.kernels.append({"kernel_name": made.kernel_name, "python_source": made.python_source, "origin": where})
    return out


def main(request: str, result: str) -> None:
    lifeline.die_with_parent()  # before any of the module's code runs
    with open(request, encoding="utf-8") as f:
        target = ModuleTarget(**json.load(f))
    out = _collect(target)
    for reject in out.rejects:
        reject["message"] = _portable(target, reject["message"])
    tmp = result + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(asdict(out), f)
    os.replace(tmp, result)  # a result file is whole or absent
    # Leave at once: a module's threads or atexit hooks must not turn success into a hang.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
