"""Every use of Warp's private internals (``warp._src``) lives here.

A Warp upgrade should touch this file only. The rest of the package talks to Warp through
these functions and plain data.
"""
from __future__ import annotations

import ast
import contextlib
import functools
import io
import linecache
import os
import re
import sys
import tempfile
import warnings
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version


def _installed_warp_version() -> str:
    # Read without importing Warp where possible: a build's driver process only schedules and
    # writes shards, and importing Warp there would delay starting the workers for nothing.
    try:
        return version("warp-lang")
    except PackageNotFoundError:  # Warp from a source checkout, without package metadata
        import warp

        return warp.__version__


WARP_VERSION = _installed_warp_version()

_initialized = False
_function_counts_at_start: dict[str, int] = {}


@contextlib.contextmanager
def fd_redirected(fd: int, target: int):
    """Point file descriptor ``fd`` (1 or 2) at ``target`` for the block: native code (Warp's
    runtime, clang, NVRTC, a user's extension) writes to the descriptor, not to ``sys.stderr``."""
    stream = sys.stdout if fd == 1 else sys.stderr
    stream.flush()
    saved = os.dup(fd)
    os.dup2(target, fd)
    try:
        yield
    finally:
        stream.flush()
        os.dup2(saved, fd)
        os.close(saved)


@contextlib.contextmanager
def _native_stderr_silenced():
    with open(os.devnull, "w") as null, fd_redirected(2, null.fileno()):
        yield


def init() -> None:
    """Initialise Warp once per process, quietly and without needing a GPU."""
    global _initialized, _function_counts_at_start
    if not _initialized:
        import warp as wp
        from warp._src import context

        wp.config.quiet = True
        wp.config.log_level = wp.LOG_ERROR  # no banner on every worker start
        with _native_stderr_silenced():  # the native "no CUDA driver" warning is expected here
            wp.init()
        _function_counts_at_start = dict(context.function_key_counts)
        _initialized = True


def kernel_cache_dir() -> str:
    """Warp's kernel cache folder (``WARP_CACHE_PATH`` or Warp's default), after :func:`init`."""
    import warp as wp

    init()
    return wp.config.kernel_cache_dir


def _fresh_function_names() -> None:
    """Warp names a user function's native code ``<name>_<n>``, with ``n`` counting the
    functions of that name created so far in the process: a second kernel with a ``@wp.func
    scale`` would get ``scale_1``, so text would depend on what the process built before.
    Each kernel is built with the counts of a freshly initialised Warp instead, as a user
    re-running the row's source alone would see."""
    from warp._src import context

    context.function_key_counts.clear()
    context.function_key_counts.update(_function_counts_at_start)


@dataclass(frozen=True)
class KernelCode:
    kernel_name: str
    forward_code: str
    backward_code: str | None
    helper_code: str
    arg_names: list[str]
    arg_types: list[str]
    module_source: str | None  # the whole generated module, headers included; only when asked
    entry_points: list[str]  # symbol names of the kernel's forward/backward entry points


class LoadedKernel:
    """A kernel module exec'd from source, registered under a name of our choosing.

    The module name must depend only on the source, so generated symbols (which embed a hash)
    and ``// <L n>`` comments are the same wherever a kernel sits in a batch. Use as a context
    manager: leaving it unregisters the module so memory stays flat over long builds.
    """

    def __init__(self, source: str, module_name: str, kernel_name: str | None = None):
        import warp as wp

        self.module_name = module_name
        self.filename = f"<{module_name}>"
        init()
        _fresh_function_names()
        linecache.cache[self.filename] = (len(source), None, source.splitlines(True), self.filename)
        namespace: dict = {"__name__": module_name}
        self._own_modules: list = []
        try:
            exec(compile(source, self.filename, "exec", dont_inherit=True), namespace)
        except BaseException:
            self.close()
            raise
        kernels = [v for v in namespace.values() if isinstance(v, wp.Kernel)]
        self._own_modules = [k.module for k in kernels if k.module.name != module_name]
        if kernel_name is not None:
            kernels = [k for k in kernels if k.key == kernel_name]
        if len(kernels) != 1:
            self.close()
            raise ValueError(f"expected exactly one @wp.kernel in the source, found {len(kernels)}")
        self.kernel = kernels[0]
        if self.kernel.is_generic:  # a generic kernel's source declares the one overload it stands for
            overloads = list(self.kernel.overloads.values())
            if len(overloads) != 1:
                self.close()
                raise ValueError(f"generic kernel {self.kernel.key} declares {len(overloads)} overloads, expected 1")
            self.kernel = overloads[0]

    def close(self) -> None:
        from warp._src import context

        # A `module="unique"` kernel lives in a module of its own, registered under a name made
        # from its hash: left registered, a later kernel of the same text would reuse it.
        names = [self.module_name] + [m.name for m in self._own_modules]
        for name in names:
            module = context.user_modules.get(name)
            if module is not None and (name == self.module_name or module in self._own_modules):
                del context.user_modules[name]
                # A kernel calling a Warp function written in Python (``transform_compose`` ...)
                # is recorded among that library module's dependents: without this the library
                # would keep every such kernel, its ASTs and its code alive for the process's life.
                module._detach_references()
        linecache.cache.pop(self.filename, None)

    def __enter__(self) -> "LoadedKernel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def codegen(self, device: str, enable_backward: bool | None = None, with_module: bool = True) -> KernelCode:
        """Warp's code for ``device``; the backward pass as the kernel declares it (its own
        ``enable_backward``, else its module's), unless ``enable_backward`` overrides it."""
        return self.codegen_devices({device: with_module}, enable_backward)[device]

    def codegen_devices(self, with_module: dict[str, bool], enable_backward: bool | None = None) -> dict[str, KernelCode]:
        """Warp's code for each device of ``with_module`` from one build of the kernel (parse,
        types, adjoint); ``with_module[device]``: also render that device's whole module.

        Warp's build does not depend on the device it is for: ``ModuleBuilder``'s ``target``
        only chooses a warning of ``tile_matmul``; what differs per device (the ``output_arch``
        and ``block_dim`` options that library-backed tile builtins read) comes from the module
        options, the same for both here. ``tests/test_extract.py`` checks the code equals each
        device's own build over every family.
        """
        from warp._src import context

        kernel = self.kernel
        options = _codegen_options(kernel.module.options)
        if enable_backward is None:
            enable_backward = bool(kernel.options.get("enable_backward", options["enable_backward"]))
        options["enable_backward"] = enable_backward
        builder = context.ModuleBuilder(kernel.module, options, target=next(iter(with_module)))
        return {device: self._codegen(builder, options, device, module) for device, module in with_module.items()}

    def _codegen(self, builder, options: dict, device: str, with_module: bool) -> KernelCode:
        from warp._src import codegen

        kernel = self.kernel
        enable_backward = options["enable_backward"]
        mangled = kernel.get_mangled_name()
        forward, backward = _kernel_functions(kernel, options, device)
        helpers = "".join(codegen.codegen_struct(s) for s in _unique_structs(builder))
        functions = list(builder.functions)
        helpers += builder._codegen_functions(functions, device, forward_only=True)
        if enable_backward:
            helpers += builder._codegen_functions(functions, device, reverse_only=True)
        if device == "cuda":
            entries = [f"{mangled}_cuda_kernel_forward"] + ([f"{mangled}_cuda_kernel_backward"] if enable_backward else [])
        else:
            entries = [f"{mangled}_cpu_forward"] + ([f"{mangled}_cpu_backward"] if enable_backward else [])
        return KernelCode(
            kernel_name=kernel.key,
            forward_code=portable_code(forward),
            backward_code=None if backward is None else portable_code(backward),
            helper_code=portable_code(helpers),
            arg_names=[a.label for a in kernel.adj.args],
            arg_types=[type_name(a.type) for a in kernel.adj.args],
            module_source=portable_code(builder.codegen(device)) if with_module else None,
            entry_points=entries,
        )


def _kernel_functions(kernel, options: dict, device: str) -> tuple[str, str | None]:
    """The kernel's forward and (with ``enable_backward``) backward function, as Warp writes them
    for a module built with ``options``."""
    from warp._src import codegen

    forward_only = options | {"enable_backward": False}
    if not options["enable_backward"]:
        return codegen.codegen_kernel(kernel, device=device, options=forward_only), None
    mangled = kernel.get_mangled_name()
    return _split_kernel_code(
        codegen.codegen_kernel(kernel, device=device, options=options),
        f"{mangled}_cuda_kernel_backward(" if device == "cuda" else f"{mangled}_cpu_kernel_backward(",
        lambda: codegen.codegen_kernel(kernel, device=device, options=forward_only),
    )


# Where Warp writes the file a function came from: a comment above every function it generates,
# and ``#line`` directives where line information is on (debug mode, ``lineinfo``).
_SOURCE_COMMENT = re.compile(r"^(// )(.+)(:\d+)$", re.M)
_LINE_DIRECTIVE = re.compile(r'^(#line \d+ ")(.*)(")$', re.M)
# What an absolute path there starts with (POSIX, or a Windows drive); without any of them the
# code names no absolute path, and the regular expressions need not run (every row, every device).
_ABSOLUTE_PATH_MARKS = ("// /", "#line", ":\\", ":/")


def portable_code(code: str) -> str:
    """Warp's generated code with every file path it names made :func:`portable_path`: the code of
    a function written in Python (Warp's own ``quat_to_rpy``, a library's helper) names the
    absolute path of its file, which would make a row's bytes depend on where the build ran."""
    if not any(mark in code for mark in _ABSOLUTE_PATH_MARKS):
        return code
    code = _SOURCE_COMMENT.sub(lambda m: m.group(1) + portable_path(m.group(2)) + m.group(3), code)
    return _LINE_DIRECTIVE.sub(lambda m: m.group(1) + portable_path(m.group(2)) + m.group(3), code)


def portable_path(path: str) -> str:
    """``path`` as any machine would write it: an absolute path is made relative to the longest
    import root (``sys.path`` entry) holding it, so Warp's ``.../site-packages/warp/_src/math.py``
    is ``warp/_src/math.py`` wherever Warp is installed; an absolute path under no import root
    keeps its file name only. A relative path or a name such as ``<wirds_…>`` stays."""
    if not (os.path.isabs(path) or path.startswith("/")):
        return path
    for candidate in dict.fromkeys((path, os.path.realpath(path))):
        for root in _import_roots(tuple(sys.path)):
            if candidate.startswith(root) and len(candidate) > len(root):
                return candidate[len(root):].replace(os.sep, "/")
    return os.path.basename(path.replace("\\", "/"))


def portable_text(text: str, roots: tuple[str, ...] = ()) -> str:
    """An error message (Warp's, Python's, a user module's traceback) with every path under an
    import root, or under one of ``roots`` (a source tree's folders), written relative to it."""
    if "/" not in text and "\\" not in text:
        return text
    extra = {os.path.abspath(r).rstrip(os.sep) + os.sep for r in roots if r}
    for root in sorted(extra | set(_import_roots(tuple(sys.path))), key=len, reverse=True):
        text = text.replace(root, "")
    return text


@functools.lru_cache(maxsize=8)
def _import_roots(sys_path: tuple[str, ...]) -> tuple[str, ...]:
    """The import roots as written and resolved (a symlinked venv names its files either way),
    each ending in a separator, longest first (a venv inside a checkout: site-packages wins)."""
    roots = set()
    for entry in sys_path:
        if entry and os.path.isdir(entry):
            for root in (os.path.abspath(entry), os.path.realpath(entry)):
                if os.path.dirname(root) != root:  # the file system's root would keep the whole path
                    roots.add(root.rstrip(os.sep) + os.sep)
    return tuple(sorted(roots, key=len, reverse=True))


def _split_kernel_code(both: str, backward_signature: str, forward_alone) -> tuple[str, str]:
    """Warp's kernel code with backward enabled is the forward kernel's text followed by the
    backward kernel's. Cut it where the backward kernel begins (Warp's templates end the
    forward kernel with ``}\n\n`` and open the backward one with ``\n\n``) instead of
    generating the forward kernel a second time; if the text is not shaped that way, fall
    back to generating the forward kernel alone."""
    signature = both.rfind(backward_signature)
    boundary = both.rfind("}\n\n\n\n", 0, signature) if signature >= 0 else -1
    if boundary >= 0:
        cut = boundary + 3
        return both[:cut], both[cut:]
    forward = forward_alone()
    if not both.startswith(forward):
        raise RuntimeError("Warp's backward kernel does not extend its forward kernel")
    return forward, both[len(forward):]


class CompileError(Exception):
    """The toolchain rejected a translation unit; the message is the compiler's output."""


@contextlib.contextmanager
def _native_stderr_captured(into: list[str]):
    """Collects what native code (clang, NVRTC) prints on fd 2 while the block runs."""
    with tempfile.TemporaryFile(mode="w+b") as sink:
        try:
            with fd_redirected(2, sink.fileno()):
                yield
        finally:
            sink.seek(0)
            into.append(sink.read().decode("utf-8", "replace"))


def _module_prelude(device: str, block_dim: int = 256) -> str:
    from warp._src import codegen

    header = codegen.cpu_module_header if device == "cpu" else codegen.cuda_module_header
    return header.format(block_dim=block_dim) + codegen.codegen_cast_macros


def module_body(module_source: str, device: str) -> str:
    """The module's code without Warp's headers, so several modules can share one unit."""
    prelude = _module_prelude(device)
    at = module_source.find(prelude)
    if at < 0:
        raise ValueError("generated module does not start with Warp's module header")
    return module_source[at + len(prelude):]


def translation_unit(bodies: list[str], device: str) -> str:
    """One compilable unit holding several kernels' code, each in its own C++ namespace so
    helper functions and structs of different kernels cannot clash."""
    no_bf16 = "" if any("bfloat16" in b for b in bodies) else "#define WP_NO_BFLOAT16\n"
    wrapped = "".join(f"namespace wirds_{i} {{\n{body}\n}}\n" for i, body in enumerate(bodies))
    return no_bf16 + _module_prelude(device) + wrapped


def nvrtc_archs() -> frozenset[int]:
    """The ``sm_<N>`` architectures Warp's bundled NVRTC compiles for (no GPU needed)."""
    from warp._src import context

    init()
    return frozenset(context.runtime.nvrtc_supported_archs)


def compile_unit(source: str, device: str, workdir: str, arch: int = 90, output: str = "ptx") -> str | None:
    """Compile with Warp's bundled toolchain: clang for ``cpu`` (object code), NVRTC for
    ``cuda``, to PTX for ``sm_<arch>`` (returned) or, with ``output="cubin"``, on to machine
    code as Warp does for a real GPU (NVRTC runs ptxas, so register and shared-memory limits
    are checked too; nothing is returned). Raises :class:`CompileError`.

    Everything is written under ``workdir``: Warp's kernel cache is never read or written.
    """
    from warp._src import build, context

    init()
    ext = "cpp" if device == "cpu" else "cu"
    src_path = os.path.join(workdir, f"unit.{ext}")
    out_path = os.path.join(workdir, "unit.o" if device == "cpu" else f"unit.{output}")
    with open(src_path, "w") as f:
        f.write(source)
    messages: list[str] = []
    try:
        with _native_stderr_captured(messages):
            if device == "cpu":
                build.build_cpu(
                    out_path, src_path, use_precompiled_headers=True, pch_dir=context.runtime.get_clang_pch_dir()
                )
            else:
                build.build_cuda(src_path, arch, out_path, pch_dir=context.runtime.get_nvrtc_pch_dir())
    except Exception as e:  # noqa: BLE001 - Warp raises a bare Exception with an error code
        # Keep the diagnostics, once each, without the temp folder's (random) name.
        lines = "".join(messages).replace(workdir + os.sep, "").splitlines()
        errors = list(dict.fromkeys(line for line in lines if "error" in line.lower()))
        raise CompileError("\n".join(errors[:20]) or str(e)) from None
    if device == "cpu" or output != "ptx":
        return None
    with open(out_path, "rb") as f:
        return f.read().rstrip(b"\0").decode()  # NVRTC ends its PTX buffer with a NUL


def _unique_structs(builder) -> list:
    seen, out = set(), []
    for s in builder.structs:
        if s.hash not in seen:
            seen.add(s.hash)
            out.append(s)
    return out


def type_name(t) -> str:
    """Warp's own spelling of an argument type, e.g. ``array(ndim=1, dtype=vec3f)``."""
    from warp._src import types

    return types.type_repr(t)


@functools.lru_cache(maxsize=1)
def kernel_builtins() -> frozenset[str]:
    """Names of the Warp builtins that can be called from a kernel (from Warp's registry)."""
    from warp._src import context

    def documented(fn) -> bool:
        return any(not overload.hidden for overload in (getattr(fn, "overloads", None) or [fn]))

    return frozenset(name for name, fn in context.builtin_functions.items() if documented(fn))


@functools.lru_cache(maxsize=1)
def builtin_groups() -> dict[str, str]:
    """Each kernel-callable builtin's group in Warp's registry (e.g. "Vector Math", "Geometry")."""
    from warp._src import context

    return {name: getattr(context.builtin_functions[name], "group", None) or "Other" for name in sorted(kernel_builtins())}


_WP_CALL = re.compile(r"\bwp\.(\w+)[ \t]*\(")


def builtins_called(source: str) -> list[str]:
    """Sorted, unique ``wp.<builtin>`` names the source calls, per Warp's registry.

    Annotations are not calls, so ``x: wp.array(dtype=float)`` in a signature or a struct does
    not count. (A regular expression, not an AST walk: this runs for every row.)
    """
    known = kernel_builtins()
    names = set()
    for m in _WP_CALL.finditer(source):
        name = m.group(1)
        if name in known and name not in names:
            before = m.start()
            while before and source[before - 1] in " \t":
                before -= 1
            annotation = source[before - 1:before] == ":" or source[max(before - 2, 0):before] == "->"
            if not annotation:
                names.add(name)
    return sorted(names)


# -- kernels registered by someone's module (extraction of real code) -------------------------
# Where the pinned warp-lang keeps its own Warp code (the `real` split's share of it): its
# examples and tests, and the libraries written in Warp. A Warp upgrade may move them.
WARP_PUBLISHED_CODE = ("warp.examples", "warp._src.fem", "warp._src.sparse", "warp._src.optim", "warp._src.render", "warp._src.geometry", "warp.tests")

def registered_kernels(python_module: str) -> list:
    """Kernels Warp registered whose function was defined in ``python_module``, in source
    order: module-level ones, and those factories made while it was imported."""
    from warp._src import context

    found = {id(k): k for m in list(context.user_modules.values()) for k in m.kernels.values() if k.func.__module__ == python_module}
    return sorted(found.values(), key=lambda k: (k.func.__code__.co_firstlineno, k.key, k.module.name))


def _codegen_options(module_options: dict) -> dict:
    """A module's options as a build without a device gives them: Warp adds ``output_arch`` when
    it builds for one, and the tile builtins backed by libraries (``tile_matmul``, ``tile_fft``,
    ``tile_cholesky``) read it; None is Warp's own value for a cpu build and, for cuda, its code
    without MathDx (the one it generates when MathDx is off)."""
    return {"output_arch": None} | dict(module_options)


def original_forward_code(kernel, device: str = "cpu") -> str:
    """The forward code Warp generates for a kernel as its own module registered it (built
    alone: another kernel of the module that fails to build must not stop this one)."""
    from warp._src import codegen, context

    options = _codegen_options(kernel.module.options) | {"enable_backward": False}
    hasher = context.ModuleHasher([kernel], options)
    context.ModuleBuilder(kernel.module, options, hasher=hasher, target=device)
    return portable_code(codegen.codegen_kernel(kernel, device=device, options=options))


def mangled_name(kernel) -> str:
    return kernel.get_mangled_name()


def is_generic(kernel) -> bool:
    return bool(kernel.is_generic)


def concrete_overloads(kernel) -> list:
    """The overloads a generic kernel declared (``wp.overload``), in signature order."""
    return [kernel.overloads[sig] for sig in sorted(kernel.overloads)]


def default_overloads(kernel, most: int = 12):
    """Concrete overloads to try, most likely first, for a generic kernel that declared none:
    typed as launches most often type it. Every ``Any`` scalar argument or array dtype is
    ``float32``, except an ``Any`` argument whose fields the kernel reads (``state.positions``):
    that one is first each of the user's structs in the kernel's globals that has those fields;
    and one whose values the kernel uses as vectors or matrices (:func:`_value_kinds`): first
    ``vec3f`` (or as long as it is indexed) or ``mat33f``. All ``float32`` is tried last. Yields
    at most ``most``, each registered while the caller tries it (:func:`drop_overload` removes a
    failed one); nothing when another generic type (a vector of ``Any`` length) has no default."""
    import itertools
    import typing

    import warp as wp
    from warp._src import codegen, types

    fields = _fields_read(kernel)
    kinds = _value_kinds(kernel)
    structs = sorted({id(v): v for v in kernel.func.__globals__.values() if isinstance(v, codegen.Struct)}.values(), key=lambda s: s.key)
    options = []
    for arg in kernel.adj.args:
        t = arg.type
        if t is typing.Any:
            read = fields.get(arg.label)
            options.append([s for s in structs if read <= set(s.vars)] + [wp.float32] if read else _likely_types(kinds.get(arg.label)))
        elif types.is_array(t) and t.dtype is typing.Any:
            try:
                options.append([type(t)(dtype=d, ndim=t.ndim) for d in _likely_types(kinds.get(arg.label))])
            except Exception:  # noqa: BLE001 - an array kind whose constructor takes other arguments
                return
        elif types.type_is_generic(t):
            return
        else:
            options.append([t])
    fallback = tuple(o[-1] for o in options)  # float32 for every Any: tried last, its error is the reject's
    tried = [c for c in itertools.islice(itertools.product(*options), most) if c != fallback][: most - 1]
    for concrete in [*tried, fallback]:
        yield wp.overload(kernel, list(concrete))


def _likely_types(kind: tuple | None) -> list:
    """The types to try, most likely first, for an ``Any`` value of a kind (:func:`_value_kinds`)."""
    import warp as wp

    if kind is None:
        return [wp.float32]
    if kind[0] == "matrix":
        return [wp.mat33f, wp.float32]
    return [wp.vec3f if kind[1] == 3 else wp.types.vector(length=kind[1], dtype=wp.float32), wp.float32]


_VECTOR_BUILTINS = frozenset({"length", "length_sq", "normalize", "dot", "cross", "outer"})
_MATRIX_BUILTINS = frozenset({"determinant", "inverse", "transpose", "trace", "ddot"})
_SAME_KIND_BUILTINS = frozenset({"normalize", "inverse", "transpose", "abs", "neg"})  # what they return is of their argument's kind


def _value_kinds(kernel) -> dict[str, tuple]:
    """``("vector", length)`` or ``("matrix",)`` for each ``Any`` argument whose values the kernel
    uses as one: an element (the argument itself, or an array argument indexed, or a name given
    either) indexed once more (``v[0]``: vector, of one more than the largest constant index and
    at least 3; ``m[0][1]``, ``m[0, 1]``: matrix), passed to a builtin taking only those
    (``wp.length``; ``wp.determinant``) or to a Warp function that uses its parameter so, or an
    array that such a value is stored into (``out[i] = wp.inverse(m)``). What a generic kernel's
    launch types them as is unknown here: these are its most likely types."""
    import typing

    from warp._src import types

    ndims = {a.label: (a.type.ndim if types.is_array(a.type) else 0) for a in kernel.adj.args
             if a.type is typing.Any or (types.is_array(a.type) and a.type.dtype is typing.Any)}
    return _kinds_used(kernel.func, tuple(sorted(ndims.items())), FIELDS_FOLLOWED_CALLS)


@functools.lru_cache(maxsize=1024)
def _kinds_used(fn, roots: tuple[tuple[str, int], ...], depth: int) -> dict[str, tuple]:
    import inspect

    tree = _function_tree(fn)
    if tree is None:
        return {}
    ndims = dict(roots)

    def source(node) -> str | None:
        """The root whose element (or itself, for a scalar) ``node`` is, or None."""
        if isinstance(node, ast.Name):
            return elements.get(node.id)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and ndims.get(node.value.id):
            indices = len(node.slice.elts) if isinstance(node.slice, ast.Tuple) else 1
            return node.value.id if indices == ndims[node.value.id] else None
        return None

    elements = {name: name for name, ndim in ndims.items() if ndim == 0}
    for node in ast.walk(tree):  # `v = velocities[i]`: v is an element of velocities
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if (root := source(node.value)) is not None:
                elements[node.targets[0].id] = root
    kinds: dict[str, tuple] = {}

    def used_as(root: str, kind: tuple) -> None:
        had = kinds.get(root)
        if had is None or had[0] == "vector" and (kind[0] == "matrix" or kind[1] > had[1]):
            kinds[root] = kind

    def vector(index) -> tuple:
        return ("vector", max(3, index.value + 1 if isinstance(index, ast.Constant) and isinstance(index.value, int) else 0))

    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            if (root := source(node.value)) is not None:  # e[k], or e[k, l]
                used_as(root, ("matrix",) if isinstance(node.slice, ast.Tuple) and len(node.slice.elts) == 2 else vector(node.slice))
            elif isinstance(node.value, ast.Subscript) and (root := source(node.value.value)) is not None:  # e[k][l]
                used_as(root, ("matrix",))
        elif isinstance(node, ast.Call) and node.args:
            name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id if isinstance(node.func, ast.Name) else None
            if isinstance(node.func, ast.Attribute) and (root := source(node.args[0])) is not None:
                if name in _MATRIX_BUILTINS:
                    used_as(root, ("matrix",))
                elif name in _VECTOR_BUILTINS:
                    used_as(root, ("vector", 3))
            callee = getattr(fn, "__globals__", {}).get(name) if isinstance(node.func, ast.Name) else None
            if depth and is_user_function(callee):
                params = list(inspect.signature(callee.func).parameters)
                passed = [(p, source(a)) for p, a in zip(params, node.args)]
                inner = _kinds_used(callee.func, tuple(sorted((p, 0) for p, root in passed if root is not None)), depth - 1)
                for param, root in passed:
                    if root is not None and param in inner:
                        used_as(root, inner[param])

    def kind_of(value) -> tuple | None:
        """The kind of what an expression gives, where it is an element or made from one."""
        if (root := source(value)) is not None:
            return kinds.get(root)
        if isinstance(value, ast.BinOp) and isinstance(value.op, (ast.Add, ast.Sub)):
            return kind_of(value.left) or kind_of(value.right)
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in _SAME_KIND_BUILTINS and value.args:
            return kind_of(value.args[0])
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Call) and getattr(value.func.func, "id", None) == "type" and value.func.args:
            return kind_of(value.func.args[0])  # `type(vir)(p0, ..., p8)`: made as its model is
        return None

    for node in ast.walk(tree):  # `inv_cell[i] = wp.inverse(cell[i])`: what is stored says what the array holds
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and (root := source(node.targets[0])) is not None and ndims[root]:
            if (kind := kind_of(node.value)) is not None:
                used_as(root, kind)
    return kinds


def _fields_read(kernel) -> dict[str, set[str]]:
    """The attributes read of each argument (``state.positions``) by the kernel's body and by the
    Warp functions it passes the argument to (``position(state, i)`` reading ``state.positions``)."""
    return _fields_read_by(kernel.func, FIELDS_FOLLOWED_CALLS)


FIELDS_FOLLOWED_CALLS = 3  # how deep calls are followed: a helper of a helper of a helper


@functools.lru_cache(maxsize=1024)
def _function_tree(fn) -> ast.AST | None:
    """A Python function's parsed source (read once for the fields and the kinds it uses), or None."""
    import inspect
    import textwrap

    try:
        return ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None


@functools.lru_cache(maxsize=1024)
def _fields_read_by(fn, depth: int) -> dict[str, set[str]]:
    import inspect

    tree = _function_tree(fn)
    if tree is None:
        return {}
    read: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            read.setdefault(node.value.id, set()).add(node.attr)
        elif depth and isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            callee = getattr(fn, "__globals__", {}).get(node.func.id)
            if not is_user_function(callee):
                continue
            params = list(inspect.signature(callee.func).parameters)
            callee_reads = _fields_read_by(callee.func, depth - 1)
            for param, arg in zip(params, node.args):
                if isinstance(arg, ast.Name) and callee_reads.get(param):
                    read.setdefault(arg.id, set()).update(callee_reads[param])
    return read


def drop_overload(kernel, overload) -> None:
    """Forget a concrete overload that :func:`default_overloads` registered and that failed."""
    for sig, o in list(kernel.overloads.items()):
        if o is overload:
            del kernel.overloads[sig]


def kernel_function(kernel):
    return kernel.func


def argument_types(kernel) -> dict:
    """Each argument's type as Warp evaluated its annotation (concrete, for an overload)."""
    return {a.label: a.type for a in kernel.adj.args}


_DECORATOR_OPTIONS = ("enable_backward", "launch_bounds", "cuda_max_registers", "enable_cuda_smem_spilling", "cluster_dim", "entry_point_abi", "grid_stride")


@functools.lru_cache(maxsize=1)
def _default_module_options() -> dict:
    from warp._src import context

    init()
    return dict(context.Module("wirds_defaults", None).options)


def kernel_declaration(kernel) -> tuple[dict, dict, list | None]:
    """What a source must state for Warp to build ``kernel`` as it was built: the decorator's
    keyword arguments, the module options to set (``wp.set_module_options``) for a kernel of a
    shared module, and the argument types of the overload when it is one of a generic kernel."""
    module = kernel.module
    unique = re.fullmatch(re.escape(kernel.key) + r"_[0-9a-f]{8}", module.name) is not None
    changed = {k: v for k, v in sorted(module.options.items()) if _default_module_options().get(k, object()) != v}
    args: dict = {"module": "unique"} if unique else {}
    for option in _DECORATOR_OPTIONS:
        if option in kernel.options:
            args[option] = kernel.options[option]
    if unique and changed:
        args["module_options"] = changed
    overload = [a.type for a in kernel.adj.args] if kernel.generic_parent is not None else None
    return args, ({} if unique else changed), overload


def is_user_function(value) -> bool:
    import warp as wp

    return isinstance(value, wp.Function) and getattr(value, "func", None) is not None and not value.is_builtin()


def python_object(value):
    """The Python function or class behind a Warp function, struct or kernel (or the value
    itself when it is a plain function or class); None for anything else."""
    import inspect

    import warp as wp
    from warp._src import codegen

    if isinstance(value, wp.Function):
        return value.func if is_user_function(value) else None
    if isinstance(value, codegen.Struct):
        return value.cls
    if isinstance(value, wp.Kernel):
        return value.func
    return value if inspect.isfunction(value) or inspect.isclass(value) else None


@functools.lru_cache(maxsize=1)
def _public_warp_names() -> dict[int, str]:
    import warp as wp

    names: dict[int, str] = {}
    for name, value in sorted(vars(wp).items(), key=lambda kv: (len(kv[0]), kv[0]), reverse=True):
        if not name.startswith("_"):
            names[id(value)] = f"wp.{name}"  # shortest name last: it wins (wp.vec3 over wp.vec3f)
    return names


def type_expression(value, struct_name) -> str | None:
    """Source text for a Warp type or public Warp object (``wp.float32``, ``wp.array(dtype=
    wp.vec3f, ndim=2)``, ``wp.types.vector(length=5, dtype=wp.float32)``); ``struct_name(cls)``
    names a user struct. None when there is no such text."""
    from warp._src import codegen, types

    if value in (float, int, bool):
        return value.__name__
    public = _public_warp_names().get(id(value))
    if public is not None:
        return public
    if isinstance(value, codegen.Struct):
        return struct_name(value.cls)
    concrete = value._concrete_cls if isinstance(value, types._ArrayAnnotationBase) else type(value)
    if types.is_array(value) and concrete.__name__ in ("array", "indexedarray", "fabricarray", "indexedfabricarray"):
        dtype = type_expression(value.dtype, struct_name)
        return None if dtype is None else f"wp.{concrete.__name__}(dtype={dtype}, ndim={value.ndim})"
    if isinstance(value, type) and hasattr(value, "_wp_scalar_type_"):
        dtype = type_expression(value._wp_scalar_type_, struct_name)
        if dtype is None:
            return None
        if types.type_is_quaternion(value):
            return f"wp.types.quaternion(dtype={dtype})"
        if types.type_is_transformation(value):
            return f"wp.types.transformation(dtype={dtype})"
        if types.type_is_vector(value):
            return f"wp.types.vector(length={value._shape_[0]}, dtype={dtype})"
        if types.type_is_matrix(value):
            return f"wp.types.matrix(shape={tuple(value._shape_)}, dtype={dtype})"
    return None


# -- launching: what a kernel's arguments are, by names that outlive a process -------------------
def argument_access(kernel) -> list[tuple[str, object, bool, bool]]:
    """``(name, type, read, written)`` of each argument, as Warp's build of the kernel marks them
    (arrays only: Warp follows them through helper functions and atomics; other kinds read)."""
    from warp._src import context, types

    # Warp marks reads and writes only for its autograd access check; its warnings are not ours.
    options = dict(kernel.module.options) | {"verify_autograd_array_access": True}
    with _native_stderr_silenced(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        context.ModuleBuilder(kernel.module, options, target="cpu")
    return [(a.label, a.type, bool(a.is_read) or not types.is_array(a.type), bool(a.is_write)) for a in kernel.adj.args]


def describe_type(t) -> dict:
    """A Warp argument type as plain data: ``{"kind": "array", "dtype": "vec3f", "ndim": 1}``,
    ``{"kind": "value", "dtype": "float32"}``, ``{"kind": "struct", "dtype": name, "fields": [...]}``."""
    from warp._src import codegen, types

    if types.is_array(t):
        concrete = t._concrete_cls.__name__ if isinstance(t, types._ArrayAnnotationBase) else type(t).__name__
        if concrete != "array":
            return {"kind": concrete}  # indexedarray, fabricarray …: not made by a contract
        inner = describe_type(t.dtype)
        if inner["kind"] not in ("value", "struct"):
            return {"kind": f"array of {inner['kind']}"}
        return {**inner, "kind": "array", "ndim": t.ndim}
    if isinstance(t, codegen.Struct):
        fields = []
        for name, var in t.vars.items():
            inner = describe_type(var.type)
            if inner["kind"] not in ("value", "array", "struct"):
                return {"kind": f"struct with a {inner['kind']}"}
            fields.append({"name": name, "dtype": inner["dtype"], **({"ndim": inner["ndim"]} if inner["kind"] == "array" else {}),
                           **({"fields": inner["fields"]} if inner["kind"] == "struct" else {})})
        return {"kind": "struct", "dtype": t.key, "fields": fields}
    name = value_type_name(t)
    return {"kind": "value", "dtype": name} if name is not None else {"kind": getattr(t, "__name__", str(t))}


_SCALARS = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64")


def value_type_name(t) -> str | None:
    """``float32``, ``vector(3,float32)``, ``matrix(3,3,float32)``, ``quat(float32)``,
    ``transform(float32)``; None for anything else."""
    if t is float:
        return "float32"
    if t is int:
        return "int32"
    if t is bool:
        return "bool"
    name = getattr(t, "__name__", None)
    if name in _SCALARS:
        return name
    generic = getattr(t, "_wp_generic_type_str_", None)
    scalar = getattr(getattr(t, "_wp_scalar_type_", None), "__name__", None)
    if scalar not in _SCALARS:
        return None
    if generic == "vec_t":
        return f"vector({t._length_},{scalar})"
    if generic == "mat_t":
        return f"matrix({t._shape_[0]},{t._shape_[1]},{scalar})"
    if generic == "quat_t":
        return f"quat({scalar})"
    if generic == "transform_t":
        return f"transform({scalar})"
    return None


def value_type(name: str):
    """The Warp type :func:`value_type_name` names."""
    import warp as wp

    if name in _SCALARS:
        return getattr(wp, name)
    kind, _, params = name.partition("(")
    parts = params.rstrip(")").split(",")
    scalar = getattr(wp, parts[-1])
    if kind == "vector":
        return wp.types.vector(int(parts[0]), scalar)
    if kind == "matrix":
        return wp.types.matrix((int(parts[0]), int(parts[1])), scalar)
    if kind == "quat":
        return wp.types.quaternion(scalar)
    if kind == "transform":
        return wp.types.transformation(scalar)
    raise ValueError(f"not a Warp value type: {name}")


def struct_field_types(struct) -> dict:
    """A ``@wp.struct``'s fields and their Warp types."""
    return {name: var.type for name, var in struct.vars.items()}


def has_backward(kernel) -> bool:
    """Whether Warp generates the kernel's adjoint (its own option, else its module's)."""
    return bool(kernel.options.get("enable_backward", kernel.module.options.get("enable_backward", True)))


def array_dtype(array_type):
    """The element type of a Warp array type."""
    return array_type.dtype


def cuda_available() -> bool:
    """Whether a CUDA device (a GPU and its driver) can launch kernels here."""
    import warp as wp

    init()
    return wp.is_cuda_available()


def load_module(kernel, device: str = "cpu") -> None:
    """Build and load the kernel's module for ``device`` (compiling it unless Warp's kernel cache
    has it); raises what the compiler reported. On the cpu, the build its launches use: block
    size 1 (the module's default, 256, is another build, with another compile: loading it first
    compiled every launched cpu kernel twice)."""
    messages: list[str] = []
    try:
        with _native_stderr_captured(messages):
            if device == "cpu":
                kernel.module.load(device, block_dim=1)
            else:
                kernel.module.load(device)
    except Exception as e:
        errors = compiler_errors("".join(messages))
        if not errors:
            raise
        try:
            detailed = type(e)(f"{e}: {errors}")
        except Exception:  # noqa: BLE001 - an exception type built from other arguments: keep Warp's own
            raise e from None
        raise detailed from None


_SOURCE_PATH = re.compile(r"[^\s:'\"]*/(?=[^/\s:'\"]+\.(?:cpp|cu|h)\b)")


def compiler_errors(output: str, most: int = 3) -> str:
    """The compiler's first error lines (clang prints them on fd 2, where Warp's exception says only
    "failed with error code -1"), each with the source line it points at; files by name only."""
    lines = _SOURCE_PATH.sub("", output).splitlines()
    picked: dict[str, str] = {}  # Warp compiles again without precompiled headers: the same errors twice
    for i, line in enumerate(lines):
        if "error:" in line and len(picked) < most:
            picked.setdefault(line.strip(), lines[i + 1].strip() if i + 1 < len(lines) else "")
    return " | ".join(f"{error} {at}".strip() for error, at in picked.items())


def share_precompiled_headers(folder: str) -> None:
    """Keep the compilers' precompiled headers of this thread in ``folder`` (Warp makes a fresh
    temp folder per process and rebuilds them there, ~2.5 s). A process started again after a
    crash, given the same folder, finds them built."""
    import threading
    import types

    from warp._src import context

    init()
    with context.runtime._pch_dirs_lock:
        context.runtime._pch_dirs[threading.get_ident()] = types.SimpleNamespace(name=folder)


_LINE_DIRECTIVE_LINE = re.compile(r'^#line \d+ "[^"\n]*"\n', re.M)


class CodeNotFound(Exception):
    """The code to replace is not in the module Warp generates (another Warp, another row)."""


_TILE_SHAPE = re.compile(r"\btile_shape_t<([^<>]*)>")


def _block_size_translated(code: str, row_code: str, built_code: str, row_block_dim: int, block_dim: int) -> str:
    """``code`` (written like ``row_code``: for a module built with block size ``row_block_dim``)
    for a build with block size ``block_dim`` (``built_code``: Warp's own function there). A
    tile made from one value per thread (``wp.tile(x)``, a tiled BVH or mesh query) is as wide
    as the block, and Warp writes that width into the tile's declaration
    (``wp::tile_shape_t<256>``): the same kernel's cpu launch builds block size 1. Each line
    of the row's code that differs from a line of Warp's own function only in that width is
    written as Warp writes it for this build, wherever ``code`` has it; nothing else changes."""
    if row_block_dim == block_dim:
        return code

    def narrowed(line: str) -> str:
        return _TILE_SHAPE.sub(lambda m: "tile_shape_t<" + ",".join(
            str(block_dim) if d.strip() == str(row_block_dim) else d for d in m.group(1).split(",")) + ">", line)

    built_lines = set(built_code.splitlines())
    lines = {}
    for line in row_code.splitlines():
        if "tile_shape_t<" in line:
            translated = narrowed(line)
            if translated != line and translated in built_lines:
                lines[line] = translated
    if not lines:
        return code
    return "\n".join(lines.get(line, line) for line in code.split("\n"))


@contextlib.contextmanager
def generated_code_replaced(kernel, replacements: list[tuple[str, str, str]]):
    """While open, every module Warp compiles has ``kernel``'s functions swapped for predicted
    ones: ``(part, original, replacement)`` with ``part`` ``forward`` or ``backward`` and the
    original as rows store it (:func:`portable_code`). A build with other options (a cpu
    launch builds for block size 1, which adds a faster path for contiguous arrays to the
    forward function) has its own version of the function: that is what is swapped, with the
    block-wide tile declarations of the prediction written for that build's block size
    (:func:`_block_size_translated`). Warp's kernel cache is neither read nor trusted: two
    predictions for one kernel share its hash."""
    import warp as wp
    from warp._src import context

    original_codegen = context.ModuleBuilder.codegen

    def codegen(builder, device):
        if builder.module is not kernel.module:  # another module built meanwhile (a Volume's or a Mesh's own kernels)
            return original_codegen(builder, device)
        # Rows hold code without the ``#line`` directives debug builds add: they locate, not compute.
        source = _LINE_DIRECTIVE_LINE.sub("", portable_code(original_codegen(builder, device)))
        built = None
        for part, original, replacement in replacements:
            if original not in source:
                built = built or dict(zip(("forward", "backward"), _kernel_functions(kernel, builder.options, device)))
                here = _LINE_DIRECTIVE_LINE.sub("", portable_code(built[part] or ""))
                if not here or here not in source:
                    raise CodeNotFound("the row's code is not in the module this Warp generates for it")
                # the row's code is for the module's block size; this build's may be another
                replacement = _block_size_translated(replacement, original, here, kernel.module.options["block_dim"], builder.options["block_dim"])
                original = here
            source = source.replace(original, replacement)
        return source

    cached = wp.config.cache_kernels
    context.ModuleBuilder.codegen = codegen
    wp.config.cache_kernels = False
    try:
        yield
    finally:
        context.ModuleBuilder.codegen = original_codegen
        wp.config.cache_kernels = cached
