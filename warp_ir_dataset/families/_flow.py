"""Random structured statements (branches, loops, early exits) over a KernelWriter.

Shared by the control-flow flavoured families. A :class:`Flow` owns a few *targets*:
mutable variables defined before any block, which statements inside blocks update, so every
value computed in a branch or loop body flows into something live after it.
"""
from __future__ import annotations

import random
import re

from ._kit import KernelWriter, Value, literal

# How a target of each type is updated with an expression ``{e}`` of the same type.
UPDATES = {
    "float": ("{t} = {t} + {e}", "{t} += {e}", "{t} -= {e}", "{t} = {t} * {lit} + {e}",
              "{t} = wp.max({t}, {e})", "{t} = wp.min({t}, {e})", "{t} = wp.lerp({t}, {e}, {lit})",
              "{t} *= {lit}", "{t} = {t} + {lit} * {e}"),
    "int": ("{t} += {e}", "{t} = {t} ^ {e}", "{t} = wp.max({t}, {e})", "{t} -= {e}",
            "{t} = ({t} * 31 + {e}) % 65521", "{t} = {t} | ({e} & 255)", "{t} += 1"),
    "vec2": ("{t} = {t} + {e}", "{t} += {e}", "{t} -= {e}", "{t} = wp.lerp({t}, {e}, {lit})"),
    "vec3": ("{t} = {t} + {e}", "{t} += {e}", "{t} -= {e}", "{t} = wp.lerp({t}, {e}, {lit})",
             "{t} = wp.max({t}, {e})", "{t} = {t} * {lit} + {e}", "{t} = wp.cw_mul({t}, {e})"),
    "vec4": ("{t} = {t} + {e}", "{t} += {e}", "{t} = wp.lerp({t}, {e}, {lit})"),
    "mat33": ("{t} = {t} + {e}", "{t} = {t} @ {e}", "{t} += {e}"),
    "mat22": ("{t} = {t} + {e}", "{t} = {t} @ {e}"),
    "quat": ("{t} = wp.normalize({t} * {e})", "{t} = wp.quat_slerp({t}, {e}, {lit})"),
}

INIT = {
    "float": ("0.0", "1.0", None),
    "int": ("0", "1", None),
    "vec2": ("wp.vec2(0.0)", None),
    "vec3": ("wp.vec3(0.0)", "wp.vec3(0.0, 0.0, 0.0)", None),
    "vec4": ("wp.vec4(0.0)", None),
    "mat33": ("wp.mat33(0.0)", "wp.identity(n=3, dtype=float)", None),
    "mat22": ("wp.identity(n=2, dtype=float)", None),
    "quat": ("wp.quat_identity()", None),
}


class Flow:
    """Emits nested random statements into ``w``.

    ``weights`` maps statement kinds to weights: compute, update, if, ifelse, elif, where,
    ternary, for_const, for_dyn, while, break, continue, return, gather, flag.
    ``bounds`` are int expressions usable as dynamic loop bounds; ``gathers`` are
    ``(array, dtype)`` pairs read at data-dependent indices inside loops; ``on_return`` is
    called to store an early result before a ``return``.
    """

    def __init__(self, w: KernelWriter, weights: dict[str, float], types: tuple[str, ...] = ("float",),
                 bounds: list[str] | None = None, gathers: list[tuple[str, str]] | None = None,
                 index: str = "i", on_return=None):
        self.w = w
        self.rng: random.Random = w.rng
        self.weights = weights
        self.types = types
        self.bounds = bounds or []
        self.gathers = gathers or []
        self.index = index
        self.on_return = on_return
        self.targets: list[Value] = []
        self.loops: list[str] = []  # kinds of the enclosing loops, innermost last
        self.loop_vars: set[str] = set()
        self.unrolled = False  # inside a loop Warp unrolls

    # -- targets ------------------------------------------------------------------------
    def target(self, t: str, hint: str | None = None, init: str | None = None) -> Value:
        if init is None:
            init = self.rng.choice(INIT.get(t, (None,)))
        v = self.w.mutable(t, init, hint)
        v.known = init is not None
        self.targets.append(v)
        return v

    def update(self, target: Value | None = None, depth: int | None = None) -> None:
        t = target or self.rng.choice(self.targets)
        # a target still at its initial constant (0, 1, the identity) is not yet multiplied:
        # ``t * e`` would lose ``e`` or the multiplication itself
        fmt = self.rng.choice([f for f in UPDATES[t.type] if not t.known or not re.search(r"\*|@|cw_mul", f)])
        e = self.w.exprs.expr(t.type, depth if depth is not None else self.rng.randint(1, 2))
        if e == t.name:  # ``t -= t`` zeroes it, ``t = wp.max(t, t)`` does nothing: update with something else
            e = self.w.exprs.constant(t.type)
        self.w.line(fmt.format(t=t.name, e=e, lit=literal(self.rng)))
        t.known = False

    def close(self, mark: int) -> None:
        """Fold the block's unread values into a target."""
        if any(v.reads == 0 for v in self.w.values[mark:]):
            t = self.rng.choice(self.targets)
            self.w.line(f"{t.name} = {self.w.fold_unused(t.name, t.type, since=mark)}")
            t.known = False

    def result(self, t: str) -> str:
        """An expression of type ``t`` reading every target and every unread value."""
        for v in self.targets:
            v.reads = 0
        return self.w.fold_unused(self.w.exprs.expr(t, 1), t)

    # -- statements ---------------------------------------------------------------------
    def stmts(self, depth: int, lo: int = 1, hi: int = 3) -> None:
        for _ in range(self.rng.randint(lo, hi)):
            self.stmt(depth)

    def _kinds(self, depth: int) -> list[tuple[str, float]]:
        ks = []
        for k, wt in self.weights.items():
            if k in ("if", "ifelse", "elif", "for_const", "for_dyn", "while") and depth <= 0:
                continue
            if k in ("break", "continue") and not self.loops:
                continue
            if k == "continue" and self.loops and self.loops[-1] == "while_tail":
                continue
            if k == "return" and (self.on_return is None or self.loops):
                continue
            if k == "for_dyn" and not self.bounds:
                continue
            if k == "gather" and not (self.gathers and self.loops):
                continue
            ks.append((k, wt))
        return ks

    def stmt(self, depth: int) -> None:
        """One statement of a kind drawn by the weights."""
        ks = self._kinds(depth)
        self.statement(self.rng.choices([k for k, _ in ks], [wt for _, wt in ks])[0], depth)

    def statement(self, kind: str, depth: int) -> None:
        """One statement of ``kind`` (a key of the weights: ``"if"``, ``"for_const"``, ...), whatever
        the weights say: for a family that shapes its kernel itself."""
        getattr(self, "_" + kind)(depth)

    def _body(self, depth: int, mark: int, lo: int = 1, hi: int = 3) -> None:
        if self.unrolled:
            hi = min(hi, 2)
        self.stmts(depth - 1, lo, hi)
        if self.rng.random() < 0.6:
            self.update()
        self.close(mark)

    def live_expr(self, t: str, depth: int) -> str:
        return self.w.exprs.live(t, depth)

    def _compute(self, depth):
        t = self.rng.choice(self.types)
        self.w.compute_live(t, self.rng.randint(1, 3))

    def _update(self, depth):
        self.update()

    def _flag(self, depth):
        self.w.assign(self.live_expr("bool", 2), "bool", hint=self.rng.choice(("inside", "active", "hit", "valid", "mask", "flag")))

    def _cond(self) -> str:
        c = self.live_expr("bool", self.rng.randint(1, 2))
        return c[1:-1] if c.startswith("(") and c.endswith(")") and c.count("(") == 1 else c

    def _if(self, depth):
        with self.w.block(f"if {self._cond()}:") as m:
            self._body(depth, m)

    def _ifelse(self, depth):
        known = self._known()
        with self.w.block(f"if {self._cond()}:") as m:
            self._body(depth, m, 1, 2)
        ends = [self._known()]
        self._set_known(known)
        with self.w.block("else:") as m:
            self._body(depth, m, 1, 2)
        self._set_known(self._known().intersection(*ends))

    def _elif(self, depth):
        known = self._known()
        with self.w.block(f"if {self._cond()}:") as m:
            self._body(depth, m, 1, 2)
        ends = [self._known()]
        for _ in range(self.rng.choice((1, 1, 2))):
            self._set_known(known)
            with self.w.block(f"elif {self._cond()}:") as m:
                self._body(depth, m, 1, 2)
            ends.append(self._known())
        self._set_known(known)
        if self.rng.random() < 0.7:
            with self.w.block("else:") as m:
                self._body(depth, m, 1, 2)
        self._set_known(self._known().intersection(*ends))

    # Each branch of a chain starts from what the targets held before it (an update in one
    # branch is not seen by the next); after the chain a target still holds its constant only
    # where no branch updated it.
    def _known(self) -> set[str]:
        return {v.name for v in self.targets if v.known}

    def _set_known(self, names: set[str]) -> None:
        for v in self.targets:
            v.known = v.name in names

    def _where(self, depth):
        t = self.rng.choice(self.types)
        a, b = self.w.exprs.expr(t, 1), self.w.exprs.expr(t, 2)
        self.w.assign(f"wp.where({self._cond()}, {a}, {b})", t)

    def _ternary(self, depth):
        t = self.rng.choice(self.types)
        a, b = self.w.exprs.expr(t, 1), self.w.exprs.expr(t, 1)
        self.w.assign(f"{a} if {self._cond()} else {b}", t)

    def _loop_var(self) -> str:
        return self.w.names.fresh(self.rng.choice(("it", "s", "m", "p", "q", "n", "c", "step", "iter", "sub")))

    def _loop(self, header: str, var: str | None, depth: int, kind: str, pre=None):
        self.loops.append(kind)
        with self.w.block(header) as m:
            if var:
                self.w.values.append(Value(var, "int"))
                self.loop_vars.add(var)
            if pre:
                pre()
            self._body(depth, m)
        self.loops.pop()

    def _for_const(self, depth):
        """A constant-range loop. Warp unrolls constant ranges of up to 16 iterations, which
        copies the body into the generated code once per iteration, so unrolled loops stay
        short (2-4 trips) and are never nested in another unrolled loop; other constant loops
        run more than 16 trips (kept as real loops by Warp)."""
        k = self._loop_var()
        r = self.rng
        if self.unrolled or r.random() < 0.3:
            rng_expr = r.choice((f"{r.choice((17, 20, 24, 32, 48, 64, 100, 128))}", f"1, {r.randint(18, 40)}",
                                 f"0, {r.choice((64, 96, 128, 256))}, {r.choice((2, 4))}"))
            self._loop(f"for {k} in range({rng_expr}):", k, depth, "for")
            return
        rng_expr = r.choice((f"{r.randint(2, 4)}", f"{r.randint(2, 3)}", f"1, {r.randint(3, 4)}", f"0, {r.randint(4, 8)}, {r.choice((2, 3, 4))}"))
        self.unrolled = True
        try:
            self._loop(f"for {k} in range({rng_expr}):", k, depth, "for")
        finally:
            self.unrolled = False

    def _for_dyn(self, depth):
        k = self._loop_var()
        b = self.rng.choice(self.bounds)
        rng_expr = self.rng.choice((b, b, f"wp.min({b}, {self.rng.randint(4, 64)})", f"1, {b}", f"{b} - 1, -1, -1"))
        self._loop(f"for {k} in range({rng_expr}):", k, depth, "for")

    def _while(self, depth):
        r = self.rng
        cnt = self.w.mutable("int", "0", hint=r.choice(("iters", "count", "n_steps", "tries")))
        cnt.read()
        limit = r.choice(self.bounds + [str(r.randint(3, 16))])
        cond = f"{cnt.name} < {limit}"
        if r.random() < 0.5 and any(t.type == "float" for t in self.targets):
            t = r.choice([t for t in self.targets if t.type == "float"])
            cond += f" and wp.abs({t.name}) < {r.choice(('100.0', '1.0e3', '50.0', '1.0e6'))}"
        # Increment first so a later ``continue`` cannot skip it.
        self._loop(f"while {cond}:", None, depth, "while", pre=lambda: self.w.line(f"{cnt.name} += 1"))
        cnt.reads = 0

    def _break(self, depth):
        with self.w.block(f"if {self._cond()}:") as m:
            if self.rng.random() < 0.5:
                self.update(depth=1)
            self.close(m)
            self.w.line("break")

    def _continue(self, depth):
        with self.w.block(f"if {self._cond()}:") as m:
            if self.rng.random() < 0.4:
                self.update(depth=1)
            self.close(m)
            self.w.line("continue")

    def _return(self, depth):
        with self.w.block(f"if {self._cond()}:") as m:
            self.on_return(self)
            self.w.line("return")

    def _gather(self, depth):
        arr, dtype = self.rng.choice(self.gathers)
        var = next((v for v in reversed(self.w.values) if v.type == "int" and v.name in self.loop_vars), None)
        if var is not None:
            var.read()
        k = var.name if var is not None else self.index
        idx = self.rng.choice((f"({self.index} + {k}) % {arr}.shape[0]", f"wp.min({k}, {arr}.shape[0] - 1)",
                               f"({k} * {self.rng.randint(2, 7)} + {self.index}) % {arr}.shape[0]"))
        self.w.load(arr, dtype, idx)
