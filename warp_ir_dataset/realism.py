"""How the synthetic rows compare with kernels people wrote (the `real` split).

Everything here is read from ``python_source`` with Python's ``ast``: which Warp language
features a function uses (:data:`FEATURES`), how dense its code is in literals, conditional
expressions, comparisons, branches and loops (:data:`DENSITY`), how long kernels and ``@wp.func``s are, how many
arguments and statements a kernel has, whether it calls a user function or takes a struct.
:class:`RealismAcc` adds rows up; :func:`compare` sets the synthetic figures beside the real
ones. Real functions are counted once each (a helper used by many kernels of a file appears in
many rows' sources); synthetic figures are shares of rows.
"""
from __future__ import annotations

import ast
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .distribution import distribution

WARP_DECORATORS = ("kernel", "func", "func_native", "func_grad", "func_replay", "struct")


def _decorator_name(d: ast.expr) -> str:
    d = d.func if isinstance(d, ast.Call) else d
    return d.attr if isinstance(d, ast.Attribute) else d.id if isinstance(d, ast.Name) else ""


def _call_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        f = node.func
        return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
    return None


def _kwarg(decorator: ast.expr, name: str) -> ast.expr | None:
    if isinstance(decorator, ast.Call):
        return next((k.value for k in decorator.keywords if k.arg == name), None)
    return None


@dataclass
class Function:
    """One ``@wp.kernel`` or ``@wp.func`` (and its variants) of a source."""

    kind: str  # "kernel" or "func"
    node: ast.FunctionDef
    decorator: ast.expr
    source: "Source"
    _nodes: list | None = None
    in_factory: bool = False  # defined in the body of a plain function that returns it

    @property
    def lines(self) -> int:
        return self.node.end_lineno - self.node.lineno + 1

    @property
    def statements(self) -> int:
        return sum(isinstance(n, ast.stmt) for n in self.walk()) - 1

    @property
    def args(self) -> int:
        a = self.node.args
        return len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs)

    def walk(self) -> list[ast.AST]:
        if self._nodes is None:  # every feature test walks the same nodes: collect them once
            self._nodes = list(ast.walk(self.node))
        return self._nodes


@dataclass
class Source:
    tree: ast.Module
    functions: list[Function]
    user_functions: set[str]
    structs: set[str]

    @classmethod
    def parse(cls, text: str) -> "Source | None":
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return None
        src = cls(tree, [], set(), set())
        src._collect(tree.body, in_factory=False)
        return src

    def _collect(self, body: list[ast.stmt], in_factory: bool) -> None:
        """Warp's decorated functions and structs of ``body``, and those a plain function
        defines in its body (a factory: it makes kernels and functions closing over its arguments)."""
        for node in body:
            names = [_decorator_name(d) for d in getattr(node, "decorator_list", [])]
            if isinstance(node, ast.ClassDef) and "struct" in names:
                self.structs.add(node.name)
            elif isinstance(node, ast.FunctionDef) and any(n in WARP_DECORATORS for n in names):
                d = next(d for d in node.decorator_list if _decorator_name(d) in WARP_DECORATORS)
                name = _decorator_name(d)
                self.functions.append(Function("kernel" if name == "kernel" else "func", node, d, self, in_factory=in_factory))
                if name != "kernel":
                    self.user_functions.add(node.name)
            elif isinstance(node, ast.FunctionDef):
                self._collect(node.body, in_factory=True)


def _any(fn: Function, test: Callable[[ast.AST], bool]) -> bool:
    return any(test(n) for n in fn.walk())


def _annotations(fn: Function):
    a = fn.node.args
    return [x.annotation for x in a.posonlyargs + a.args + a.kwonlyargs if x.annotation is not None]


def _has_elif(fn: Function) -> bool:
    return _any(fn, lambda n: isinstance(n, ast.If) and len(n.orelse) == 1 and isinstance(n.orelse[0], ast.If))


def _nested_store(n: ast.AST) -> bool:
    targets = n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, ast.AugAssign) else []
    return any(isinstance(t, (ast.Subscript, ast.Attribute)) and isinstance(t.value, (ast.Subscript, ast.Attribute)) for t in targets)


# Each feature: a test of one function. Module-level ones look at the function's source.
FEATURES: dict[str, Callable[[Function], bool]] = {
    "for loop": lambda f: _any(f, lambda n: isinstance(n, ast.For)),
    "for over range(wp.static(...))": lambda f: _any(f, lambda n: isinstance(n, ast.For) and _call_name(n.iter) == "range" and any(_call_name(a) == "static" for a in n.iter.args)),
    "while loop": lambda f: _any(f, lambda n: isinstance(n, ast.While)),
    "break / continue": lambda f: _any(f, lambda n: isinstance(n, (ast.Break, ast.Continue))),
    "if": lambda f: _any(f, lambda n: isinstance(n, ast.If)),
    "elif chain": _has_elif,
    "conditional expression (a if c else b)": lambda f: _any(f, lambda n: isinstance(n, ast.IfExp)),
    "early return in a kernel": lambda f: f.kind == "kernel" and _any(f, lambda n: isinstance(n, ast.Return)),
    "tuple return from a function": lambda f: f.kind == "func" and _any(f, lambda n: isinstance(n, ast.Return) and isinstance(n.value, ast.Tuple)),
    "augmented assignment (+=)": lambda f: _any(f, lambda n: isinstance(n, ast.AugAssign)),
    "tuple unpacking": lambda f: _any(f, lambda n: isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Tuple)),
    "multi-dimensional wp.tid()": lambda f: _any(f, lambda n: isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Tuple) and _call_name(n.value) == "tid"),
    "write through a nested subscript or attribute": lambda f: _any(f, _nested_store),
    "array slicing": lambda f: _any(f, lambda n: isinstance(n, ast.Subscript) and (isinstance(n.slice, ast.Slice) or (isinstance(n.slice, ast.Tuple) and any(isinstance(e, ast.Slice) for e in n.slice.elts)))),
    "bool(...) cast": lambda f: _any(f, lambda n: _call_name(n) == "bool"),
    "wp.static(...)": lambda f: _any(f, lambda n: _call_name(n) == "static"),
    "calls a user @wp.func": lambda f: _any(f, lambda n: _call_name(n) in f.source.user_functions),
    "takes a struct": lambda f: any(isinstance(n, ast.Name) and n.id in f.source.structs for a in _annotations(f) for n in ast.walk(a)),
    "generic argument (typing.Any)": lambda f: any(isinstance(n, (ast.Name, ast.Attribute)) and (getattr(n, "id", None) == "Any" or getattr(n, "attr", None) == "Any") for a in _annotations(f) for n in ast.walk(a)),
    "default argument value": lambda f: bool(f.node.args.defaults or any(f.node.args.kw_defaults)),
    "12 or more arguments": lambda f: f.args >= 12,
    "60 or more statements": lambda f: f.statements >= 60,
    "@wp.kernel(enable_backward=False)": lambda f: f.kind == "kernel" and isinstance(_kwarg(f.decorator, "enable_backward"), ast.Constant) and _kwarg(f.decorator, "enable_backward").value is False,
    '@wp.kernel(module="unique")': lambda f: f.kind == "kernel" and isinstance(_kwarg(f.decorator, "module"), ast.Constant),
    "kernel launch options (grid_stride, module_options, launch_bounds)": lambda f: f.kind == "kernel" and any(_kwarg(f.decorator, k) is not None for k in ("grid_stride", "module_options", "launch_bounds")),
    "@wp.func_native": lambda f: _decorator_name(f.decorator) == "func_native",
    "made by a factory function (closure)": lambda f: f.in_factory,
    "len(...)": lambda f: _any(f, lambda n: _call_name(n) == "len"),
    "keyword argument in a call to a user function": lambda f: _any(f, lambda n: _call_name(n) in f.source.user_functions and bool(n.keywords)),
    "wp.constant(...) in the source": lambda f: "constant" in _module_calls(f.source),
    "@wp.func_grad": lambda f: _decorator_name(f.decorator) == "func_grad",
    "custom vector/matrix type (wp.types.vector/matrix)": lambda f: _module_calls(f.source) & {"vector", "matrix"} != set(),
    "wp.overload": lambda f: "overload" in _module_calls(f.source),
    "wp.set_module_options": lambda f: "set_module_options" in _module_calls(f.source),
    "@wp.struct in the source": lambda f: bool(f.source.structs),
    "atomic operation": lambda f: _any(f, lambda n: (_call_name(n) or "").startswith("atomic_")),
    "tile operation": lambda f: _any(f, lambda n: (_call_name(n) or "").startswith("tile")),
    "print / printf": lambda f: _any(f, lambda n: _call_name(n) in ("print", "printf")),
    "expect_eq / expect_neq": lambda f: _any(f, lambda n: _call_name(n) in ("expect_eq", "expect_neq", "expect_near")),
}


# Constructs counted per 100 statements of function bodies: how dense synthetic code is in what
# real code uses sparingly (generator 9's composed kernels held 6 times the float literals and 2.6
# times the conditional expressions of mujoco-warp's functions, per statement).
DENSITY: dict[str, Callable[[ast.AST], bool]] = {
    "float literals": lambda n: isinstance(n, ast.Constant) and isinstance(n.value, float),
    "conditional expressions (wp.where, x if c else y)": lambda n: isinstance(n, ast.IfExp) or _call_name(n) == "where",
    "comparisons": lambda n: isinstance(n, ast.Compare),
    "if statements": lambda n: isinstance(n, ast.If),
    "loops": lambda n: isinstance(n, (ast.For, ast.While)),
}


def _module_calls(src: Source) -> set[str]:
    """Names called at module level (``wp.overload(...)``, ``vec5 = wp.types.vector(...)``)."""
    calls = set()
    for stmt in src.tree.body:
        if not isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
            calls |= {_call_name(n) for n in ast.walk(stmt) if isinstance(n, ast.Call)}
    return calls


@dataclass
class RealismAcc:
    """Adds up rows of one kind (synthetic, or real)."""

    rows: int = 0
    functions: int = 0  # real: distinct functions; synthetic: the rows' kernels
    features: Counter = field(default_factory=Counter)
    kernel_lines: list[int] = field(default_factory=list)
    func_lines: list[int] = field(default_factory=list)
    kernel_args: list[int] = field(default_factory=list)
    kernel_statements: list[int] = field(default_factory=list)
    calls_user_func: int = 0
    takes_struct: int = 0
    builtin_rows: Counter = field(default_factory=Counter)  # rows calling each builtin
    statements: int = 0  # in the functions whose constructs are counted (the feature sample)
    constructs: Counter = field(default_factory=Counter)  # DENSITY's constructs in those functions
    seen: set = field(default_factory=set)

    def add(self, python_source: str, kernel_name: str, builtins: list[str], per_function: bool, features: bool = True) -> None:
        """One row; ``features=False`` counts its lengths only (feature tests are the costly part)."""
        src = Source.parse(python_source)
        if src is None:
            return
        self.rows += 1
        self.builtin_rows.update(builtins)
        kernel = next((f for f in src.functions if f.kind == "kernel" and f.node.name == kernel_name), None)
        if kernel is not None:
            self.kernel_lines.append(kernel.lines)
            self.kernel_args.append(kernel.args)
            self.kernel_statements.append(kernel.statements)
            self.calls_user_func += FEATURES["calls a user @wp.func"](kernel)
            self.takes_struct += FEATURES["takes a struct"](kernel)
        if not features:  # synthetic rows outside the feature sample: lengths only
            self.func_lines += [f.lines for f in src.functions if f.kind == "func"]
            return
        if per_function:  # each distinct function once, wherever it appears
            for f in src.functions:
                digest = hashlib.sha256(ast.dump(f.node).encode()).digest()
                if digest in self.seen:
                    continue
                self.seen.add(digest)
                self._count(f)
        else:  # a row uses a feature when any of its functions does
            used = {name for f in src.functions for name, test in FEATURES.items() if test(f)}
            self.features.update(used)
            self.functions += 1
            self.func_lines += [f.lines for f in src.functions if f.kind == "func"]
            for f in src.functions:
                self._count_constructs(f)

    def _count(self, f: Function) -> None:
        self.functions += 1
        if f.kind == "func":
            self.func_lines.append(f.lines)
        self.features.update(name for name, test in FEATURES.items() if test(f))
        self._count_constructs(f)

    def _count_constructs(self, f: Function) -> None:
        self.statements += f.statements
        self.constructs.update(name for n in f.walk() for name, test in DENSITY.items() if test(n))


def _dist(values: list[int]) -> dict:
    return distribution(np.asarray(values, dtype=np.int64))


def summary(acc: RealismAcc) -> dict:
    share = lambda n, d: round(n / d, 6) if d else 0.0  # noqa: E731
    kernels = len(acc.kernel_lines)
    return {
        "rows": acc.rows,
        "functions": acc.functions,
        "feature_share": {name: share(acc.features[name], acc.functions) for name in FEATURES},
        "kernel_lines": _dist(acc.kernel_lines),
        "func_lines": _dist(acc.func_lines),
        "kernel_args": _dist(acc.kernel_args),
        "kernel_statements": _dist(acc.kernel_statements),
        "kernels_calling_a_user_func": share(acc.calls_user_func, kernels),
        "kernels_taking_a_struct": share(acc.takes_struct, kernels),
        "builtin_rows": dict(sorted(acc.builtin_rows.items())),
        "per_100_statements": {name: round(100 * acc.constructs[name] / acc.statements, 2) if acc.statements else 0.0 for name in DENSITY},
    }


# A feature real code uses in at least COMMON_SHARE of its functions should be in at least
# PRESENT_SHARE of the synthetic rows. 0.1%, not 0.5%: one body of real code undercounts what
# other code uses often (default values, native snippets: 0.2% and 0.4% of the real split).
COMMON_SHARE, PRESENT_SHARE = 0.001, 0.002


def compare(synthetic: dict, real: dict, common_share: float = COMMON_SHARE, present_share: float = PRESENT_SHARE) -> dict:
    """The synthetic figures beside the real ones: which features real functions use (at least
    ``common_share`` of them) appear in at least ``present_share`` of synthetic rows, and which
    of the builtins real code calls the synthetic rows call (distinct and weighted by calls)."""
    common = [f for f, s in real["feature_share"].items() if s >= common_share]
    covered = [f for f in common if synthetic["feature_share"].get(f, 0.0) >= present_share]
    real_calls = real["builtin_rows"]
    called = [b for b in real_calls if b in synthetic["builtin_rows"]]
    weight = sum(real_calls.values())
    return {
        "common_features": len(common),
        "common_features_in_synthetic": len(covered),
        "feature_coverage": round(len(covered) / len(common), 6) if common else 0.0,
        "features_missing": sorted(set(common) - set(covered)),
        "real_builtins": len(real_calls),
        "real_builtins_in_synthetic": len(called),
        "builtin_coverage": round(len(called) / len(real_calls), 6) if real_calls else 0.0,
        "builtin_coverage_by_calls": round(sum(real_calls[b] for b in called) / weight, 6) if weight else 0.0,
        "builtins_missing": sorted(set(real_calls) - set(called)),
    }
