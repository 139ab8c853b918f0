"""Imports one user module in a process of its own and lists the kernels Warp registered from it.

Someone else's module may raise, crash the interpreter or never finish importing, so it is never
imported in a process that matters: ``ImportServer.probe(target, timeout)`` has a warm server
process fork a child that imports the module alone and leaves its result as JSON. What went wrong
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
import select
import shutil
import subprocess
import sys
import tempfile
import time
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
    "sys.path.remove(sys.argv[1]); probe.serve()"
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


class ImportServer:
    """A warm process that has imported Warp and forks a fresh child for each module to import.

    Starting an interpreter and importing Warp cost ~0.5 s, more than importing most modules;
    the server pays it once (per shard) and each module gets a child forked from it, which has
    imported nothing of anyone's yet and ends after one module, so no state passes from one
    module to the next. The server imports Warp but does not initialise it (that would start
    CUDA, which does not survive a fork): each child does. A child that raises, crashes or hangs
    (it is killed) costs its module only; a child that takes the server down costs its module,
    and the next module starts a new server.
    """

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._buffer = b""
        self._folder = tempfile.TemporaryDirectory(prefix="wirds-probe-")

    def __enter__(self) -> ImportServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stop_server()
        self._folder.cleanup()

    def probe(self, target: ModuleTarget, timeout: float) -> ProbeResult:
        """Import ``target`` in a fresh child (at most ``timeout`` seconds) and collect its kernels."""
        folder = tempfile.mkdtemp(dir=self._folder.name)
        try:
            return self._probe(target, timeout, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _probe(self, target: ModuleTarget, timeout: float, folder: str) -> ProbeResult:
        request, result = os.path.join(folder, "request.json"), os.path.join(folder, "result.json")
        with open(request, "w", encoding="utf-8") as f:
            json.dump(asdict(target), f)
        try:
            self._send({"folder": folder, "request": request, "result": result})
            pid = self._reply(None)["pid"]
            status = self._reply(timeout)
            if status is None:
                _kill(pid)
                self._reply(None)
                return _failed(target, "import-timeout", f"still importing after {timeout:g}s; stopped (--module-timeout sets the limit)")
            exit_code = status["exit"]
        except (_ServerGone, OSError):  # the module's process ended the server: it costs that module only
            self._stop_server()
            return _failed(target, "import-crashed", "the importing process ended the process that started it")
        if os.path.exists(result):
            with open(result, encoding="utf-8") as f:
                return ProbeResult(**json.load(f))
        with open(os.path.join(folder, "stderr"), encoding="utf-8", errors="replace") as f:
            tail = _portable(target, f.read().strip())[-MESSAGE_CHARS:]
        how = f"killed by {signal.Signals(-exit_code).name}" if exit_code < 0 else f"exit status {exit_code}"
        return _failed(target, "import-crashed", f"the importing process died ({how})" + (f": {tail}" if tail else ""))

    def _send(self, message: dict) -> None:
        if self._proc is None:
            env = lifeline.child_env({**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"})
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP, _PACKAGE_PARENT],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=self._folder.name, env=env,
            )
            self._buffer = b""
        self._proc.stdin.write(json.dumps(message).encode() + b"\n")
        self._proc.stdin.flush()

    def _reply(self, timeout: float | None) -> dict | None:
        """The server's next line, or None after ``timeout`` seconds without one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([fd], [], [], wait)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                raise _ServerGone()
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def _stop_server(self) -> None:
        if self._proc is not None:
            proc, self._proc = self._proc, None
            proc.kill()  # its child, if one is running, dies with it (die_with_parent)
            proc.wait()
            proc.stdin.close()
            proc.stdout.close()


class _ServerGone(Exception):
    pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


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
            # A generic kernel gets its concrete types at launch; one that declared no wp.overload
            # is made concrete as launches most often make it (the first of _warp.default_overloads
            # that builds), and its row's source says so with the wp.overload it was given.
            reject = {"kernel": kernel.key, "reason": "generic-without-overload", "message": "a generic kernel with no wp.overload and a generic type other than Any: no concrete types to generate code for", "origin": where}
            for concrete in _warp.default_overloads(kernel):
                row, reject = _extract_overload(kernel, concrete, target, where, defaulted=True)
                if row is not None:
                    out.kernels.append(row)
                    break
                _warp.drop_overload(kernel, concrete)
            else:
                out.rejects.append(reject)
            continue
        for concrete in _warp.concrete_overloads(kernel) if _warp.is_generic(kernel) else [kernel]:
            row, reject = _extract_overload(kernel, concrete, target, where, defaulted=False)
            (out.kernels if row is not None else out.rejects).append(row or reject)
    return out


def _extract_overload(kernel, concrete, target: ModuleTarget, where: str, defaulted: bool) -> tuple[dict | None, dict | None]:
    """A row for one concrete kernel (written out, checked to give the original's code), or the reject saying why not."""
    from .generate import source_id
    from .reconstruct import ReconstructionError, differs_from_original, reconstruct

    try:
        made = reconstruct(concrete, (target.tree,) if target.tree else ())
        # Named by its text, as the pipeline names it: Warp caches per module name.
        differs = differs_from_original(concrete, made, f"wirds_{source_id(made.python_source)}")
    except Exception as e:  # noqa: BLE001 - a user object can fail in any way while read
        reason, message = (e.reason, str(e)) if isinstance(e, ReconstructionError) else ("reconstruction-error", f"{type(e).__name__}: {e}")
        if defaulted and reason in ("codegen-error", "reconstruction-error"):  # the types were ours, not the author's
            reason, message = "generic-without-overload", f"a generic kernel with no wp.overload builds with none of the types tried for its Any arguments: {message}"
        return None, {"kernel": kernel.key, "reason": reason, "message": message[:MESSAGE_CHARS], "origin": where}
    if differs is not None:  # a row's code must be the code of the kernel it names
        return None, {"kernel": kernel.key, "reason": "differs-from-original", "message": differs, "origin": where}
    return {"kernel_name": made.kernel_name, "python_source": made.python_source, "origin": where}, None


def serve() -> None:
    """The server's loop: for each request line, fork a child that imports the module, answer
    its pid, wait for it and answer how it ended. Ends when its parent closes the pipe or ends."""
    lifeline.die_with_parent()
    import warp  # noqa: F401 - what every child would otherwise import again
    from . import _warp, generate, reconstruct  # noqa: F401 - and what _collect imports

    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # Warp or a child must never write into the replies
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(job, replies.fileno())
        print(json.dumps({"pid": pid}), file=replies, flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"exit": os.waitstatus_to_exitcode(status)}), file=replies, flush=True)


def _child(job: dict, replies_fd: int) -> None:
    """In a child of the server: import one module, write its result file, and leave."""
    try:
        os.close(replies_fd)  # a child left hanging must not hold the replies open
        os.chdir(job["folder"])
        null = os.open(os.devnull, os.O_RDWR)
        err = os.open("stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(err, 2)
        lifeline.die_with_parent()  # before any of the module's code runs
        _import_and_collect(job["request"], job["result"])
    except BaseException:  # noqa: BLE001 - nothing may return into the server's loop
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)


def _import_and_collect(request: str, result: str) -> None:
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
