"""A kernel that Warp registered from someone's module → one self-contained source text.

An extracted row's ``python_source`` must be the text a model needs in order to produce the
row's generated code. It is built from what Warp and Python know about the live kernel:
``import warp as wp``, the module's Warp options, then every definition the kernel uses,
transitively, each once, dependencies first, *as written in its file* (``@wp.func``s,
``@wp.struct``s, enums and other classes, constants, imports of other libraries), the values a
factory-made kernel captured (written as assignments), and last the kernel itself under a
decorator that states its options (``@wp.kernel(module="unique", enable_backward=False)``), with
the ``wp.overload`` of the one concrete overload the row stands for.

A name used through a module of the same package (``math.rot_vec_quat(...)``) stays as written:
the module becomes a small class holding the attributes used, so the kernel's text is unchanged.
"""
from __future__ import annotations

import ast
import builtins
import re
import importlib
import inspect
import os
import sys
import textwrap
import types as pytypes
from dataclasses import dataclass, field
from functools import lru_cache

from . import _warp

MAX_BLOCKS = 400  # a kernel needing more definitions than this drags in a whole program


class ReconstructionError(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Reconstructed:
    kernel_name: str
    python_source: str
    line: int  # first line of the kernel (its first decorator) in its file


# -- module sources, indexed by the names their top-level statements bind ----------------------
_MISSING = object()


@dataclass
class _ModuleIndex:
    source: str
    bindings: dict[str, ast.stmt]
    overloads: dict[str, list[ast.stmt]]  # a name defined by several `def`s (Warp function overloads)
    star_imports: list[ast.ImportFrom]  # `from x import *`, in the file's order
    conditional: frozenset[str]  # names whose last binding sits under an `if` or `try`: it may not have run


def _bound_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return [a.asname or a.name.split(".")[0] for a in stmt.names if a.name != "*"]
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def _top_level(body: list[ast.stmt], conditional: bool = False):
    """The module's statements with whether each sits under an ``if`` or ``try``."""
    for stmt in body:
        if isinstance(stmt, (ast.If, ast.Try)):  # `if TYPE_CHECKING:`, `try: import x` ...
            yield from _top_level(stmt.body, True)
            for handler in getattr(stmt, "handlers", []):
                yield from _top_level(handler.body, True)
            yield from _top_level(stmt.orelse, True)
        else:
            yield stmt, conditional


@lru_cache(maxsize=None)
def _index(module_name: str) -> _ModuleIndex | None:
    module = sys.modules.get(module_name)
    try:
        source = inspect.getsource(module) if module else None
    except (OSError, TypeError):
        source = None
    if source is None:
        return None
    bindings: dict[str, ast.stmt] = {}
    defs: dict[str, list[ast.stmt]] = {}
    stars: list[ast.ImportFrom] = []
    conditional: set[str] = set()
    for stmt, under_condition in _top_level(ast.parse(source).body):
        if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names):
            stars.append(stmt)
        for name in _bound_names(stmt):
            bindings[name] = stmt  # the last binding wins, as when Python runs the module
            (conditional.add if under_condition else conditional.discard)(name)
            if isinstance(stmt, ast.FunctionDef):
                defs.setdefault(name, []).append(stmt)
    return _ModuleIndex(source, bindings, {k: v for k, v in defs.items() if len(v) > 1}, stars, frozenset(conditional))


# -- names a piece of code reads ---------------------------------------------------------------
def _reads(nodes: list[ast.AST], local: set[str] = frozenset()) -> dict[str, set[str]]:
    """Free names read by ``nodes``, each with the first attributes read through it
    (``math.rot_vec_quat`` → ``{"math": {"rot_vec_quat"}}``)."""
    stored = set(local)
    for node in nodes:
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
                stored.add(n.id)
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n not in nodes:
                stored.add(n.name)
            elif isinstance(n, ast.arg):
                stored.add(n.arg)
            elif isinstance(n, (ast.Import, ast.ImportFrom)):
                stored.update(_bound_names(n))
            elif isinstance(n, ast.ExceptHandler) and n.name:
                stored.add(n.name)
    reads: dict[str, set[str]] = {}
    for node in nodes:
        for n in ast.walk(node):
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id not in stored:
                reads.setdefault(n.value.id, set()).add(n.attr)
            elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in stored:
                reads.setdefault(n.id, set())
    return reads


def _function_reads(fn: ast.FunctionDef, with_decorators: bool) -> dict[str, set[str]]:
    a = fn.args
    args = a.posonlyargs + a.args + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x]
    outer = [x.annotation for x in args if x.annotation] + [d for d in a.defaults + a.kw_defaults if d]
    outer += [fn.returns] if fn.returns else []
    outer += fn.decorator_list if with_decorators else []
    reads = _reads(fn.body, {x.arg for x in args})
    for name, attrs in _reads(outer).items():
        reads.setdefault(name, set()).update(attrs)
    return reads


def _statement_reads(stmt: ast.stmt) -> dict[str, set[str]]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return _function_reads(stmt, with_decorators=True)
    if isinstance(stmt, ast.ClassDef):
        own = {n for s in stmt.body for n in _bound_names(s)}
        return _reads(stmt.bases + [k.value for k in stmt.keywords] + stmt.decorator_list + stmt.body, own)
    return _reads([stmt])


def _parse_function(fn) -> tuple[str, ast.FunctionDef]:
    """A Python function's own source, dedented, and its ``def`` node."""
    try:
        text = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as e:
        raise ReconstructionError("no-source", f"{fn.__qualname__}: source not available ({e})") from None
    node = ast.parse(text).body[0]
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise ReconstructionError("no-source", f"{fn.__qualname__}: source is not a function definition")
    return text, node


def _without_decorators(text: str, node: ast.FunctionDef) -> str:
    return "".join(text.splitlines(True)[node.lineno - 1 :])


# -- the emitter -------------------------------------------------------------------------------
@dataclass
class _Scope:
    module: str  # where global names are looked up
    globals: dict
    closure: dict = field(default_factory=dict)


class _Emitter:
    def __init__(self, package: str, namespaces: dict[str, set[str]], trees: tuple[str, ...] = ()):
        self.package = package  # modules under this prefix are the user's: inlined, not imported
        self.trees = trees  # and so are modules whose files lie in these folders (the source tree given)
        self.namespaces = namespaces  # attributes read through each user module (from a first pass)
        self.blocks: list[str] = []
        self.imports: list[str] = []  # hoisted under `import warp as wp`: they depend on nothing
        self.bound: dict[str, object] = {}

    # A name is bound once; a second, different meaning for it cannot be written in one module.
    def bind(self, name: str, key: object, render) -> None:
        if name in self.bound:
            if self.bound[name] != key:
                raise ReconstructionError("name-conflict", f"{name!r} names two different things the kernel uses")
            return
        self.bound[name] = key
        if len(self.bound) > MAX_BLOCKS:
            raise ReconstructionError("too-many-dependencies", f"more than {MAX_BLOCKS} definitions needed")
        text = render()  # may emit what it depends on first
        if text:
            is_import = text.startswith(("import ", "from "))
            (self.imports if is_import else self.blocks).append(text.rstrip("\n") + "\n")

    def is_users(self, module_name: str) -> bool:
        if module_name == self.package or module_name.startswith(self.package + "."):
            return True
        file = getattr(sys.modules.get(module_name), "__file__", None) if self.trees else None
        return file is not None and any(os.path.abspath(file).startswith(tree.rstrip(os.sep) + os.sep) for tree in self.trees)

    def need_all(self, reads: dict[str, set[str]], scope: _Scope) -> None:
        # In the order the names are defined in the file, so the text reads as the file does.
        index = _index(scope.module)

        def written_at(name: str) -> int:
            stmt = index.bindings.get(name) if index and name not in scope.closure else None
            return stmt.lineno if stmt is not None else 0

        for name in sorted(reads, key=lambda n: (written_at(n), n)):
            self.need(name, reads[name], scope)

    def need(self, name: str, attrs: set[str], scope: _Scope) -> None:
        if name in scope.closure:
            self.value(name, scope.closure[name], attrs)
        elif name in scope.globals:
            self.global_name(name, scope.module, scope.globals[name], attrs)
        elif not hasattr(builtins, name):
            raise ReconstructionError("unresolved-name", f"{name!r} is not defined where the kernel reads it")

    # A module-level name: written as its file binds it.
    def global_name(self, name: str, module: str, value, attrs: set[str]) -> None:
        if value is sys.modules.get("warp"):
            if name != "wp":
                self.bind(name, ("object", name, _identity(value)), lambda: f"import warp as {name}")
            return
        index = _index(module)
        stmt = index.bindings.get(name) if index else None
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self.imported(name, module, stmt, value, attrs)
        elif index is not None and name in index.conditional and isinstance(stmt, (ast.Assign, ast.AnnAssign)) and _plain(value):
            # `if configured: scalar_t = ...`: the statement may be one that did not run; the value did.
            self.value(name, value, attrs)
        elif stmt is not None and self.is_users(module):
            # Every `@wp.func def name` of the file: Warp keeps them all as overloads of one function.
            stmts = index.overloads.get(name, [stmt]) if _warp.is_user_function(value) else [stmt]
            self.bind(name, ("def", module, stmt.lineno), lambda: "\n\n".join(self.statement(s, module, index) for s in stmts))
        elif stmt is None and (source := self.star_source(name, module, index, value)) is not None:
            # Written as the user's module that `import *` took it from binds it: a module that
            # imports it by name reaches the same statement, so the two agree.
            self.global_name(name, source, value, attrs)
        else:
            self.value(name, value, attrs)

    def star_source(self, name: str, module: str, index: _ModuleIndex | None, value) -> str | None:
        """The user's module whose statement binds ``name`` to ``value`` and which ``module`` reaches
        through ``import *`` (followed through other modules' ``import *``; the last import of a
        file wins, as when Python runs it), or None. A module may star-import itself, or two
        modules each other: each is visited once."""
        seen, stack = {module}, [(module, index)]
        while stack:
            current, current_index = stack.pop()
            for stmt in reversed(current_index.star_imports if current_index else []):  # the file's last import * first
                source = importlib.util.resolve_name("." * stmt.level + (stmt.module or ""), _package_of(current)) if stmt.level else stmt.module
                if source in seen or source not in sys.modules or not self.is_users(source) or vars(sys.modules[source]).get(name, _MISSING) is not value:
                    continue
                seen.add(source)
                source_index = _index(source)
                if source_index is not None and name in source_index.bindings:
                    return source
                stack.append((source, source_index))
        return None

    def statement(self, stmt: ast.stmt, module: str, index: _ModuleIndex) -> str:
        mod = sys.modules[module]
        for other in _bound_names(stmt):  # `a, b = ...` binds both
            self.bound.setdefault(other, ("def", module, stmt.lineno))
        self.need_all(_statement_reads(stmt), _Scope(module, vars(mod)))
        first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
        lines = index.source.splitlines(True)[first - 1 : stmt.end_lineno]
        return textwrap.dedent("".join(lines))

    def imported(self, name: str, module: str, stmt, value, attrs: set[str]) -> None:
        if isinstance(value, pytypes.ModuleType):
            if self.is_users(value.__name__):
                self.namespace(name, value, attrs)
            else:
                self.bind(name, ("object", name, _identity(value)), lambda: _import_text(stmt, name))
            return
        if isinstance(stmt, ast.ImportFrom):
            source_module = importlib.util.resolve_name("." * stmt.level + (stmt.module or ""), _package_of(module)) if stmt.level else stmt.module
            original = next(a.name for a in stmt.names if (a.asname or a.name) == name)
            if self.is_users(source_module) and source_module in sys.modules and original in vars(sys.modules[source_module]):
                self.global_name(original, source_module, vars(sys.modules[source_module])[original], attrs)
                if original != name:
                    self.bind(name, ("alias", source_module, original), lambda: f"{name} = {original}")
                return
        self.bind(name, ("object", name, _identity(value)), lambda: _import_text(stmt, name))

    def namespace(self, name: str, module: pytypes.ModuleType, attrs: set[str]) -> None:
        self.namespaces.setdefault(module.__name__, set()).update(attrs)
        attrs = sorted(self.namespaces[module.__name__])

        def render() -> str:
            for attr in attrs:
                if attr not in vars(module):
                    raise ReconstructionError("unresolved-name", f"{module.__name__}.{attr} does not exist")
                self.global_name(attr, module.__name__, vars(module)[attr], set())
            body = "".join(f"    {a} = {a}\n" for a in attrs) or "    pass\n"
            return f"class {name}:  # the names used from {module.__name__}\n{body}"

        self.bind(name, ("namespace", module.__name__), render)

    # A value with no statement to point at (captured by a closure, or made at run time).
    def value(self, name: str, value, attrs: set[str]) -> None:
        if isinstance(value, pytypes.ModuleType):
            if value is sys.modules.get("warp"):
                return self.global_name(name, "", value, attrs)
            if self.is_users(value.__name__):
                return self.namespace(name, value, attrs)
            return self.bind(name, ("object", name, _identity(value)), lambda: f"import {value.__name__} as {name}")
        defined = _definition_site(value)
        if defined is not None and self.is_users(defined[0]):
            module, own_name, fn = defined
            if fn is None:
                self.global_name(own_name, module, value, attrs)
            else:
                self.nested_function(own_name, value, fn)
            if own_name != name:
                self.bind(name, ("alias", module, own_name, id(value)), lambda: f"{name} = {own_name}")
            return
        self.bind(name, ("object", name, _identity(value)), lambda: f"{name} = {self.expression(value)}")

    def nested_function(self, own_name: str, value, fn) -> None:
        """A ``@wp.func`` (or plain function) made by a factory: its own text, its captures first."""

        def render() -> str:
            text, node = _parse_function(fn)
            scope = _Scope(fn.__module__, fn.__globals__, _closure(fn))
            self.need_all(_function_reads(node, with_decorators=False), scope)
            decorator = "@wp.func\n" if _warp.is_user_function(value) else ""
            return decorator + _without_decorators(text, node)

        self.bind(own_name, ("nested", fn.__module__, fn.__qualname__, id(value)), render)

    def expression(self, value) -> str:
        """Python text that evaluates to ``value`` here (types as ``wp.`` expressions)."""
        if value is None or isinstance(value, (bool, int, float, str)):
            return repr(value)
        numpy_type = value if isinstance(value, type) else type(value)
        if getattr(numpy_type, "__module__", None) == "numpy" and hasattr(sys.modules.get("numpy"), numpy_type.__name__):
            if value is numpy_type and hasattr(sys.modules["warp"], numpy_type.__name__):
                return f"wp.{numpy_type.__name__}"  # a NumPy scalar type where Warp wants its own
            self.bind("np", ("object", "np", _identity(sys.modules["numpy"])), lambda: "import numpy as np")
            return f"np.{numpy_type.__name__}" + ("" if value is numpy_type else f"({value.item()!r})")
        if isinstance(value, (tuple, list)):
            items = ", ".join(self.expression(v) for v in value)
            return f"({items},)" if isinstance(value, tuple) and len(value) == 1 else f"({items})" if isinstance(value, tuple) else f"[{items}]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{self.expression(k)}: {self.expression(v)}" for k, v in value.items()) + "}"
        text = _warp.type_expression(value, self.struct_name)
        if text is None:
            raise ReconstructionError("unrepresentable-value", f"cannot write {type(value).__name__} {_shown(value)} as source")
        return text

    def struct_name(self, cls) -> str:
        site = _definition_site(cls)
        if site is None or site[2] is not None:
            raise ReconstructionError("unrepresentable-value", f"struct {cls.__qualname__} is not defined at module level")
        module, own_name, _ = site
        self.global_name(own_name, module, vars(sys.modules[module])[own_name], set())
        return own_name


def _plain(value) -> bool:
    """A value `_Emitter.expression` writes as a literal or a Warp type, naming nothing of the user's."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    try:
        return _warp.type_expression(value, lambda cls: None) is not None
    except Exception:  # an object whose comparisons raise (a NumPy array) is no Warp type
        return False


def _annotation_values(fn: ast.FunctionDef, types: dict) -> dict:
    """Names that argument annotations read, with the values Warp's evaluated types imply:
    ``x: vec2`` → the type; ``x: wp.array(dtype=vec2)`` or ``wp.array[vec2]`` → its dtype."""
    out: dict = {}
    for arg in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs:
        t, ann = types.get(arg.arg), arg.annotation
        if t is None or ann is None:
            continue
        if isinstance(ann, ast.Name):
            out[ann.id] = t
        elif isinstance(ann, ast.Call):
            for kw in ann.keywords:
                if kw.arg == "dtype" and isinstance(kw.value, ast.Name) and getattr(t, "dtype", None) is not None:
                    out[kw.value.id] = t.dtype
        elif isinstance(ann, ast.Subscript) and isinstance(ann.slice, ast.Name) and getattr(t, "dtype", None) is not None:
            out[ann.slice.id] = t.dtype
    return out


def _package_of(module: str) -> str:
    mod = sys.modules.get(module)
    return (getattr(mod, "__package__", None) or module.rpartition(".")[0]) if mod else module.rpartition(".")[0]


def _import_text(stmt, name: str) -> str:
    """The one alias of an import statement that binds ``name``, as written."""
    alias = next(a for a in stmt.names if (a.asname or a.name.split(".")[0]) == name)
    spelled = alias.name + (f" as {alias.asname}" if alias.asname else "")
    if isinstance(stmt, ast.Import):
        return f"import {spelled}"
    return f"from {'.' * stmt.level}{stmt.module or ''} import {spelled}"


def _closure(fn) -> dict:
    cells = fn.__closure__ or ()
    return {name: cell.cell_contents for name, cell in zip(fn.__code__.co_freevars, cells) if _cell_full(cell)}


def _cell_full(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def _definition_site(value):
    """``(module, name, fn)`` for a function, struct or class: ``fn`` is the Python function
    when it is made inside another function (no module-level statement), else None."""
    target = _warp.python_object(value)
    if target is None or not hasattr(target, "__qualname__") or not hasattr(target, "__module__"):
        return None
    if "<locals>" in target.__qualname__ or "." in target.__qualname__:
        return (target.__module__, target.__name__, target) if inspect.isfunction(target) else None
    index = _index(target.__module__)
    if index is None or target.__name__ not in index.bindings:
        return None
    return target.__module__, target.__name__, None


def _identity(value) -> tuple:
    """What makes two bindings of a name the same: equal plain values, else the same object
    (an import and a value read through `import *` of the same object agree)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return ("value", type(value).__name__, repr(value))
    if isinstance(value, (tuple, list)):
        return ("items", type(value).__name__) + tuple(_identity(v) for v in value)
    return ("id", id(value))


# -- the kernel --------------------------------------------------------------------------------
def package_of(module_name: str) -> str:
    """The part of a module's name whose modules count as the same code base: the top-level
    package, except inside Warp itself, where it is the sub-package (fem, sparse, ...)."""
    parts = module_name.split(".")
    if parts[0] == "warp":
        return ".".join(parts[: 3 if len(parts) > 2 and parts[1] == "_src" else 2])
    return parts[0]


def reconstruct(kernel, trees: tuple[str, ...] = ()) -> Reconstructed:
    """The self-contained source of one concrete kernel (an overload, for a generic one).
    Definitions from the kernel's own package, and from modules whose files lie in ``trees``
    (the source tree a user gave, whose scripts import its packages), are written out; those
    of other installed libraries stay imports."""
    fn = _warp.kernel_function(kernel)
    text, node = _parse_function(fn)
    package = package_of(fn.__module__)
    namespaces: dict[str, set[str]] = {}
    # A module used as a namespace is written once, with every attribute read through it; a
    # pass can learn an attribute after writing the namespace, so repeat until nothing is new.
    for _ in range(8):
        learned = {k: set(v) for k, v in namespaces.items()}
        result = _emit(kernel, fn, text, node, package, namespaces, trees)
        if namespaces == learned:
            return result
    raise ReconstructionError("unstable", "the kernel's dependencies did not settle")


def _emit(kernel, fn, text, node, package, namespaces, trees) -> Reconstructed:
    out = _Emitter(package, namespaces, trees)
    out.bound["wp"] = ("object", "wp", _identity(sys.modules["warp"]))
    name = node.name
    decorator_args, module_options, overload = _warp.kernel_declaration(kernel)
    closure = _closure(fn)
    # A name read only by an annotation is evaluated where the kernel was defined (a factory's
    # local `vec2 = wp.types.vector(2, dtype)`), not captured: Warp's evaluated types say what it was.
    for read, value in _annotation_values(node, _warp.argument_types(kernel)).items():
        if read not in closure and read not in fn.__globals__ and not hasattr(builtins, read):
            closure[read] = value
    out.need_all(_function_reads(node, with_decorators=False), _Scope(fn.__module__, fn.__globals__, closure))
    out.bind(name, ("kernel",), lambda: "")
    header = "".join(sorted(set(out.imports) | {"import warp as wp\n"}, key=lambda line: (line.startswith("from"), line)))
    if module_options:
        header += f"\nwp.set_module_options({out.expression(module_options)})\n"
    args = ", ".join(f"{k}={out.expression(v)}" for k, v in decorator_args.items())
    kernel_text = f"@wp.kernel({args})\n" if args else "@wp.kernel\n"
    kernel_text += _without_decorators(text, node).rstrip("\n") + "\n"
    if overload is not None:
        kernel_text += f"\n\nwp.overload({name}, [{', '.join(out.expression(t) for t in overload)}])\n"
    source = "\n\n".join([header] + out.blocks + [kernel_text])
    return Reconstructed(name, source, fn.__code__.co_firstlineno)


# -- is the text faithful? ---------------------------------------------------------------------
_LINE_MARK = re.compile(r"<L \d+>")
_NUMBERED = re.compile(r"\b(_*[A-Za-z]\w*?)_\d+\b")  # `_cn_counting_1` too: a private function's overloads
_HASHED = re.compile(r"_[0-9a-f]{7,}\b")


# Warp names a function a factory defines ``factory__locals__name``; written out at module level
# (as reconstruction writes it) the same function is ``name``.
_FACTORY_SCOPE = re.compile(r"\b(?:[A-Za-z0-9_]+?__locals__)+")


def comparable_code(code: str, kernel_name: str) -> str:
    """Generated code without what only says where and when it was built: source line numbers
    (``<L 12>``), the kernel's own name and hash, hashes in struct names, the counters Warp
    appends to function and variable names (``normalize_2``, ``var_17``), and the factory a
    function was defined in."""
    code = _FACTORY_SCOPE.sub("", code.replace(kernel_name, "KERNEL"))
    return _NUMBERED.sub(r"\1_#", _HASHED.sub("_H", _LINE_MARK.sub("<L>", code)))


def differs_from_original(kernel, made: Reconstructed, module_name: str) -> str | None:
    """None when the reconstructed source gives the original kernel's forward code (compared
    as :func:`comparable_code`), else the first line where they part."""
    try:
        original = _warp.original_forward_code(kernel)
    except Exception as e:  # noqa: BLE001 - Warp's own error for the kernel as written is the reason
        raise ReconstructionError("codegen-error", f"{type(e).__name__}: {e}"[:2000]) from None
    try:
        with _warp.LoadedKernel(made.python_source, module_name, made.kernel_name) as loaded:
            rebuilt = loaded.codegen("cpu", enable_backward=False, with_module=False)
    except Exception as e:  # noqa: BLE001 - the written source lacks something the kernel needs
        raise ReconstructionError("rebuilt-source-fails", f"{type(e).__name__}: {e}"[:2000]) from None
    a = comparable_code(original, _warp.mangled_name(kernel)).splitlines()
    b = comparable_code(rebuilt.forward_code, _warp.mangled_name(loaded.kernel)).splitlines()
    if a == b:
        return None
    at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    show = lambda lines: lines[at].strip()[:160] if at < len(lines) else "<end>"  # noqa: E731
    return f"line {at + 1} of the forward code: original {show(a)!r}, rebuilt {show(b)!r}"


def _shown(value, chars: int = 80) -> str:
    """A value's repr for a message, without the memory address a default repr holds (which
    differs from run to run: a rejects file must be the same bytes every time)."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))[:chars]
