"""A cheap, codegen-free estimate of how much C++ Warp generates for a kernel source, used to
keep generated kernels small.

Warp emits a few hundred bytes of forward + adjoint code per operation, copies the body of a
constant-range loop of up to 16 trips once per trip (it unrolls them), and emits the bodies of
Python-implemented builtins (``quat_to_euler`` ...) as helper functions once per kernel. The
estimate counts operations (calls, operators, subscripts, comparisons) with unrolled loops
multiplied out, times :data:`BYTES_PER_OP`, plus a fixed size per heavy builtin. It tracks
the real size (``forward + backward + helper`` code, cpu) to within about +-40%.
"""
from __future__ import annotations

import ast

from ..syntax import parse

BYTES_PER_OP = 336
MAX_UNROLL = 16  # Warp's default ``max_unroll``

# Helper code (forward + adjoint) of builtins Warp implements as Python functions, in bytes.
HEAVY = {
    "quat_to_euler": 63000, "quat_from_euler": 25000, "transform_compose": 15000, "quat_to_rpy": 13000,
    "transform_to_matrix": 11000, "quat_twist": 5800, "norm_pseudo_huber": 5900, "transform_wrench": 5500,
    "transform_twist": 5500, "norm_l1": 4500, "quat_twist_angle": 4400, "quat_twist_angle_signed": 4200,
    "norm_huber": 4100, "transform_from_matrix": 4000, "transform_decompose": 23000, "smooth_normalize": 3700,
    "velocity_at_point": 2400, "norm_l2": 1400,
}
_OPS = (ast.Call, ast.BinOp, ast.Compare, ast.Subscript, ast.UnaryOp, ast.BoolOp, ast.IfExp, ast.AugAssign)


def _trips(it: ast.expr) -> int:
    """How many times Warp copies the body of ``for _ in <it>`` (1 unless it unrolls)."""
    if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"):
        return 1
    vals = []
    for a in it.args:
        if isinstance(a, ast.UnaryOp) and isinstance(a.op, ast.USub):
            a, sign = a.operand, -1
        else:
            sign = 1
        if not (isinstance(a, ast.Constant) and isinstance(a.value, int)):
            return 1
        vals.append(sign * a.value)
    n = len(range(*vals))
    return n if 0 < n <= MAX_UNROLL else 1


_OP_TYPES = frozenset(_OPS)
# Nodes with no operation below them; most of a kernel's nodes are names and constants.
_LEAVES = frozenset({ast.Name, ast.Constant, ast.Load, ast.Store, ast.Del})


def _inner_nodes(node: ast.AST) -> list[ast.AST]:
    """The subtree's nodes except names and constants: what ``ast.walk`` yields that can hold
    an operation, for under half its cost (this runs for every kernel drawn)."""
    nodes = []
    stack = [node]
    pop, push = stack.pop, stack.append
    while stack:
        sub = pop()
        cls = type(sub)
        if cls in _LEAVES:
            continue
        nodes.append(sub)
        for field in cls._fields:
            value = getattr(sub, field, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        push(item)
            elif isinstance(value, ast.AST):
                push(value)
    return nodes


def _ops(node: ast.AST) -> int:
    """Operations in the subtree."""
    return len([sub for sub in _inner_nodes(node) if type(sub) in _OP_TYPES])


def _cost(stmts: list, mult: int = 1) -> int:
    c = 0
    for st in stmts:
        if isinstance(st, ast.For):
            c += _ops(st.iter) * mult + 2
            c += _cost(st.body, mult * _trips(st.iter))
        elif isinstance(st, (ast.If, ast.While)):
            c += (_ops(st.test) + 2) * mult + _cost(st.body, mult) + _cost(st.orelse, mult)
        elif isinstance(st, (ast.FunctionDef, ast.ClassDef)):
            c += _cost(st.body, mult)
        else:
            c += (_ops(st) + 1) * mult
    return c


def estimate(source: str) -> tuple[int, int]:
    """``(body, helpers)``: estimated bytes of code from the kernel's own operations and
    from the heavy builtins it calls."""
    tree = parse(source)
    # Heavy builtins are always called as ``wp.<name>``: a text search finds the candidates,
    # the AST confirms them (a name in a comment or string does not count).
    candidates = {name for name in HEAVY if name in source}
    heavy = _wp_attributes(tree, candidates) if candidates else set()
    if "enable_backward" not in source:
        return BYTES_PER_OP * _cost(tree.body), sum(HEAVY[h] for h in heavy)
    # Without the backward pass Warp emits about a third of the code: for every function when
    # the module turns it off (not for a kernel in a module="unique" of its own), for the kernel
    # alone when its decorator does.
    module_off = any(_turns_backward_off(stmt) for stmt in tree.body if isinstance(stmt, ast.Expr))
    body = 0.0
    for stmt in tree.body:
        decorators = stmt.decorator_list if isinstance(stmt, ast.FunctionDef) else []
        own_module = any("module" in {k.arg for k in getattr(d, "keywords", [])} for d in decorators)
        off = (module_off and not own_module) or any(_turns_backward_off(d) for d in decorators)
        body += _cost([stmt]) * (FORWARD_SHARE if off else 1.0)
    return int(BYTES_PER_OP * body), sum(HEAVY[h] for h in heavy)


FORWARD_SHARE = 0.35  # forward code / (forward + backward), measured on simulation kernels


def _turns_backward_off(node: ast.AST) -> bool:
    """``@wp.kernel(enable_backward=False)`` or ``wp.set_module_options({"enable_backward": False})``."""
    call = node.value if isinstance(node, ast.Expr) else node
    if not isinstance(call, ast.Call):
        return False
    pairs = [(k.arg, k.value) for k in call.keywords]
    for a in call.args:
        if isinstance(a, ast.Dict):
            pairs += [(k.value if isinstance(k, ast.Constant) else None, v) for k, v in zip(a.keys, a.values)]
    return any(k == "enable_backward" and isinstance(v, ast.Constant) and v.value is False for k, v in pairs)


def _wp_attributes(tree: ast.AST, names: set[str]) -> set[str]:
    """Which of ``names`` occur as ``wp.<name>`` in the tree (in code, not comments or strings)."""
    return {
        sub.attr
        for sub in _inner_nodes(tree)
        if type(sub) is ast.Attribute and sub.attr in names and type(sub.value) is ast.Name and sub.value.id == "wp"
    }


# A kernel is redrawn (from the same rng, so still deterministic) while its estimate is over
# these; after MAX_TRIES the smallest draw is kept.
BODY_LIMIT = 50_000
TOTAL_LIMIT = 80_000
MAX_TRIES = 6


def within_budget(fn, total: int | None = None):
    """``fn`` redrawn while over budget. A family's own ``total`` under TOTAL_LIMIT lowers the
    budget; above it (long kernels without a backward pass) it raises both limits to ``total``."""
    total = total or TOTAL_LIMIT
    body_limit = BODY_LIMIT if total <= TOTAL_LIMIT else total

    def generate(rng):
        best = None
        for _ in range(MAX_TRIES):
            k = fn(rng)
            body, helpers = estimate(k.python_source)
            if body <= min(body_limit, total) and body + helpers <= total:
                return k
            if best is None or body + helpers < best[0]:
                best = (body + helpers, k)
        return best[1]

    generate.__name__ = getattr(fn, "__name__", "generate")
    generate.__doc__ = fn.__doc__
    return generate
