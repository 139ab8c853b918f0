"""Building blocks shared by the generator families.

A family draws a kernel from a ``random.Random`` using three tools:

* :class:`Names` hands out readable, non-clashing identifiers;
* :class:`ExprGen` grows random, well-typed expression trees over the values in scope;
* :class:`KernelWriter` collects arguments, statements, helper functions and structs and
  renders one self-contained Python module.

Every value a statement computes is tracked, and :meth:`KernelWriter.fold_unused` folds the
ones no later statement read into the kernel's output, so generated kernels carry no dead code.
"""
from __future__ import annotations

import random
import re
from contextlib import contextmanager
from dataclasses import dataclass, field

# Value types the expression generator understands, with their Warp spelling.
WARP_TYPE = {
    "float": "float",
    "int": "int",
    "vec2": "wp.vec2",
    "vec3": "wp.vec3",
    "vec4": "wp.vec4",
    "mat22": "wp.mat22",
    "mat33": "wp.mat33",
    "mat44": "wp.mat44",
    "quat": "wp.quat",
    "transform": "wp.transform",
    "bool": "bool",
}
# Rules whose result shows little of their operands (a clamp, a comparison, a rounding, a
# direction): a change to an operand mostly leaves the result as it was.
_ABSORBING = re.compile(r"wp\.(min|max|clamp|sign|step|nonzero|floor|ceil|round|trunc|frac|where|normalize|arg\w+|smoothstep|"
                        r"isnan|isfinite|int32)\(|[<>]=?|==|!=| % | & | \| | >> | << | // ")
_PLACEHOLDER = re.compile(r"\{\w+\}")  # ``{lit}``, ``{bound}`` in a rule: constants, not names
_NOT_READS = frozenset(("wp", "float", "int", "True", "False"))
_READ = re.compile(r"(?<![.\w])[A-Za-z_]\w*(?![\w(])(?!\s*=[^=])")  # a name read: not a call, not ``n=`` of a keyword argument
VEC_LEN = {"vec2": 2, "vec3": 3, "vec4": 4}
MAT_DIM = {"mat22": 2, "mat33": 3, "mat44": 4}

# Array element dtypes a kernel argument may use, and how a loaded element becomes a value type.
ARRAY_DTYPES = {
    "float32": ("float", "{x}"),
    "float64": ("float", "wp.float32({x})"),
    "float16": ("float", "wp.float32({x})"),
    "int32": ("int", "{x}"),
    "int64": ("int", "wp.int32({x})"),
    "int16": ("int", "wp.int32({x})"),
    "int8": ("int", "wp.int32({x})"),
    "uint8": ("int", "wp.int32({x})"),
    "uint16": ("int", "wp.int32({x})"),
    "uint32": ("int", "wp.int32({x})"),
    "vec2": ("vec2", "{x}"),
    "vec3": ("vec3", "{x}"),
    "vec4": ("vec4", "{x}"),
    "mat22": ("mat22", "{x}"),
    "mat33": ("mat33", "{x}"),
    "mat44": ("mat44", "{x}"),
    "quat": ("quat", "{x}"),
    "transform": ("transform", "{x}"),
    "spatial_vector": ("spatial_vector", "{x}"),
    "spatial_matrix": ("spatial_matrix", "{x}"),
}
# How a value type is stored into an array of the given dtype.
STORE_CAST = {
    "float64": "wp.float64({x})",
    "float16": "wp.float16({x})",
    "int64": "wp.int64({x})",
    "int16": "wp.int16({x})",
    "int8": "wp.int8({x})",
    "uint8": "wp.uint8({x})",
    "uint16": "wp.uint16({x})",
    "uint32": "wp.uint32({x})",
}


def dtype_spelling(dtype: str) -> str:
    return dtype if dtype in ("float", "int") else f"wp.{dtype}"


_NOUNS = (
    "pos vel acc force mass density pressure temp energy weight score dist normal dir axis "
    "offset scale bias gain damping stiffness radius height width depth phase freq amp signal "
    "value field grad flux charge torque impulse spring target source sample noise color alpha "
    "rot orient frame pose delta step rate cost loss error residual coeff state input output "
    "limit thresh angle theta omega sigma mu kappa lam gamma eta tau rho"
).split()
_VERBS = (
    "compute update apply integrate accumulate scatter gather blend project advect relax "
    "solve smooth filter transform rotate normalize clamp reduce evaluate sample estimate "
    "propagate correct predict warp mix scale shift fold remap resolve"
).split()


class Names:
    """Readable identifiers drawn from word lists; never the same name twice in one kernel."""

    RESERVED = {"wp", "i", "j", "k", "l", "tid", "float", "int", "bool", "range", "len", "min", "max", "abs"}

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set(self.RESERVED)

    def fresh(self, hint: str | None = None) -> str:
        base = hint or self.rng.choice(_NOUNS)
        name = base
        n = 1
        while name in self.used:
            name = f"{base}_{self.rng.choice(_NOUNS)}" if n == 1 else f"{base}{n}"
            n += 1
        self.used.add(name)
        return name

    def kernel_name(self, topic: str | None = None) -> str:
        return self.fresh(f"{self.rng.choice(_VERBS)}_{topic or self.rng.choice(_NOUNS)}")


# Clamp bounds: wide enough that the values the inputs give (magnitudes 0.25-2, and what
# kernels make of them) pass through often; a bound of 0.01 would swallow every change upstream.
BOUNDS = ("0.5", "0.75", "1.0", "1.5", "2.0", "3.0")
# What a value is compared with: near the values a kernel computes from inputs of magnitude
# about 1, so a branch goes both ways among a launch's threads (a threshold of 10 would leave
# one side dead, and every change inside it unseen). The inputs hold these values too, so a
# ``<`` written for ``<=`` shows where a value read equals its threshold.
THRESHOLDS = ("0.0", "0.25", "0.5", "0.75", "1.0", "1.5", "-0.5")
# What ``asin``/``acos`` arguments are clamped to: inside +-1, which Warp clamps to itself.
UNIT_BOUNDS = ("0.5", "0.75", "0.9")


def literal(rng: random.Random, kind: str = "float") -> str:
    if kind == "int":
        return str(rng.choice((1, 2, 3, 4, 5, 7, 8, 11, 13, 16, 31, 64)))
    return rng.choice(("0.5", "2.0", "1.5", "0.25", "3.0", "0.1", "0.01", "1.0e-3", "0.75", "4.0", "0.9", "1.25", "0.333", "10.0", "0.05", "6.2831853"))


@dataclass
class Value:
    name: str
    type: str
    reads: int = 0
    unit: bool = False  # a normalized vector: its length is 1, whatever it was made of
    # Holds a constant so far (an accumulator before its first update): an expression reading
    # it would compute with a known value (a product with 0.0, a rotation by the identity) and
    # lose what it multiplies.
    known: bool = False

    def read(self) -> None:
        """Mark one use: a value never read would be dead code, so writers read every value."""
        self.reads += 1


class ExprGen:
    """Random, well-typed Warp expressions over the values in scope."""

    def __init__(self, rng: random.Random, values: list[Value]):
        self.rng = rng
        self.values = values
        # Family-specific rules (e.g. calls to generated @wp.func helpers, random draws),
        # chosen with probability ``extra_p`` wherever one of the right type exists.
        self.extra: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        self.extra_p = 0.3
        self._in_extra = False
        # Long kernels keep their expressions shallow, as people write them line by line.
        self.max_depth: int | None = None
        self.leaf_reads = 0  # leaves that named a value in scope, for :meth:`live`

    def spread(self, parts: list[str], args: tuple) -> None:
        """Operands of a wide rule that came out as the very same variable (``f(x, x, x)``)
        are offset by constants so they stay distinct."""
        seen = set()
        for n, (p, a) in enumerate(zip(parts, args)):
            if p in seen and (a == "float" or a in VEC_LEN) and self.reads_value(p):
                parts[n] = self.rng.choice((f"({p} + {self.constant(a)})", f"({p} * {literal(self.rng)})", f"({p} - {self.constant(a)})"))
            seen.add(p)

    # -- leaves -------------------------------------------------------------------------
    def readable(self) -> list[Value]:
        """The values in scope an expression may read: not those still holding a known constant."""
        return [v for v in self.values if not v.known]

    def _leaf(self, t: str) -> str:
        cands = [v for v in self.readable() if v.type == t]
        if t == "bool" and not cands:
            # A constant True/False condition looks artificial (and makes a branch dead code):
            # compare a value instead.
            return self._comparison()
        if cands and self.rng.random() < 0.85:
            # Prefer values nobody has read yet, so data flows forward.
            unread = [v for v in cands if v.reads == 0]
            v = self.rng.choice(unread if unread and self.rng.random() < 0.7 else cands)
            v.read()
            self.leaf_reads += 1
            return v.name
        if not cands and t not in ("float", "int") and self.values and self.rng.random() < 0.6:
            # No value of a compound type in scope: derive one from a value that is, rather
            # than spelling out a constant matrix/transform literal.
            src = [v for v in self.readable() if v.type in REDUCIBLE]
            if src:
                unread = [v for v in src if v.reads == 0]
                v = self.rng.choice(unread if unread and self.rng.random() < 0.7 else src)
                v.read()
                self.leaf_reads += 1
                return reduce_to(v.name, v.type, t)
        return self._comparison() if t == "bool" else self.constant(t)

    def constant(self, t: str) -> str:
        r = self.rng
        if t == "float":
            return literal(r)
        if t == "int":
            return literal(r, "int")
        if t == "bool":
            return r.choice(("True", "False"))
        if t in VEC_LEN:
            return f"wp.{t}({', '.join(literal(r) for _ in range(VEC_LEN[t]))})"
        if t in MAT_DIM:
            n = MAT_DIM[t]
            return r.choice((f"wp.identity(n={n}, dtype=float)", f"wp.{t}({', '.join(literal(r) for _ in range(n * n))})"))
        if t == "quat":
            # never the identity: a product with it, or a transform's rotation read back, would show nothing
            return r.choice((f"wp.quat_from_axis_angle(wp.vec3(0.0, 0.0, 1.0), {literal(r)})", f"wp.quat_rpy({literal(r)}, {literal(r)}, {literal(r)})"))
        if t == "transform":
            return f"wp.transform(wp.vec3({literal(r)}, {literal(r)}, {literal(r)}), wp.quat_identity())"
        if t == "spatial_vector":
            return f"wp.spatial_vector({', '.join(literal(r) for _ in range(6))})"
        if t == "spatial_matrix":
            return "wp.identity(n=6, dtype=float)"
        raise ValueError(t)

    def _comparison(self) -> str:
        x = self.live("float", 1)
        src = [v for v in self.readable() if v.type in REDUCIBLE]
        if not self.reads_value(x) and src:  # no float rule found for the values in scope
            v = self.rng.choice(src)
            v.read()
            x = reduce_to(v.name, v.type, "float")
        return f"({x} {self.rng.choice(('>', '<'))} {self.rng.choice(THRESHOLDS)})"

    def reads_value(self, text: str) -> bool:
        return bool({v.name for v in self.values} & set(_READ.findall(text)))

    def _constant(self, fmt: str, parts: list[str]) -> bool:
        """Whether a rule reads nothing: no operand names a value, and the rule itself names
        nothing but Warp (a family rule may name an argument, a random state)."""
        return not any(self.reads_value(p) for p in parts) and not set(_READ.findall(_PLACEHOLDER.sub("", fmt))) - _NOT_READS

    def _measured(self, fmt: str, part: str) -> bool:
        """Whether ``fmt`` takes the length of ``part`` when that is a unit vector or a rotation:
        always 1, so every operation that made it would be lost."""
        if not fmt.startswith(("wp.length(", "wp.length_sq(")):
            return False
        return part.startswith("wp.normalize(") or any(v.unit and v.name == part for v in self.values)

    def _instead(self, t: str, reads: list[int]) -> str:
        """A leaf in place of a rule whose value shows nothing of its operands: the values they
        read are unread again, so they still reach an output."""
        for v, n in zip(self.values, reads):
            v.reads = n
        return self._leaf(t)

    # -- trees --------------------------------------------------------------------------
    def live(self, t: str, depth: int = 2, tries: int = 8) -> str:
        """Like :meth:`expr`, but retried until the tree reads at least one value in scope
        (constant conditions look artificial, and Warp rejects a bare literal assigned inside
        a dynamic loop). Falls back to a ``float(...)``/``int(...)`` wrapped tree."""
        names = None
        e = ""
        for _ in range(tries):
            reads = self.leaf_reads
            e = self.expr(t, depth)
            if self.leaf_reads > reads:  # a leaf named a value: the tree reads it
                return e
            # Family rules may name values themselves: look for them in the text.
            names = names or {v.name for v in self.values}
            if names & set(_READ.findall(e)):
                return e
        if self.extra.get(t) and not self._in_extra:  # a family's own rules read its state (a random draw)
            p, self.extra_p = self.extra_p, 1.0
            try:
                e = self.expr(t, max(depth, 1))
            finally:
                self.extra_p = p
            if self.reads_value(e):
                return e
        return f"{t}({e})" if t in ("float", "int") else e

    def expr(self, t: str, depth: int = 2) -> str:
        if self.max_depth is not None:
            depth = min(depth, self.max_depth)
        if depth <= 0 or self.rng.random() < 0.2:
            return self._leaf(t)
        reads = [v.reads for v in self.values]
        if self.extra.get(t) and not self._in_extra and self.rng.random() < self.extra_p:
            # Family rules are often heavy (wide geometric predicates, Python-implemented
            # builtins): never nest one inside another, and keep wide ones' operands shallow.
            fmt, args = self.rng.choice(self.extra[t])
            self._in_extra = True
            try:
                parts = [self.expr(a, min(depth - 1, 1 if len(args) <= 2 else 0)) for a in args]
            finally:
                self._in_extra = False
            self.spread(parts, args)
            if args and self._constant(fmt, parts):
                return self._comparison() if t == "bool" else self.constant(t)
        else:
            fmt, args = self.rng.choice(RULES[t])
            parts = [self.expr(a, depth - 1) for a in args]
            if _ABSORBING.search(fmt):
                # A clamp, a comparison, a rounding... shows little of its operands: the values
                # it read stay unread, so they also reach an output (folded in, or read again).
                for v, n in zip(self.values, reads):
                    v.reads = n
            if self._constant(fmt, parts):
                # Operations on constants only: code writes their value (a mutated constant
                # inside, or a condition, would change nothing a kernel's inputs can show).
                return self._comparison() if t == "bool" else self.constant(t)
            for n, (part, a) in enumerate(zip(parts, args)):
                if fmt.count(f"{{{n}}}") > 1 and not self.reads_value(part):
                    # A constant written out twice (``c[0], c[1]``): a change to one copy's
                    # unused component would show nowhere.
                    parts[n] = self.live(a, 1)
            if t == "bool" and args == ("float", "float"):
                parts = [p if self.reads_value(p) else self.rng.choice(THRESHOLDS) for p in parts]
            if "wp.identity(" in parts[0] and fmt in ("{0}[1, 2]", "{0}[0, 1]"):
                fmt = "{0}[1, 1]"  # off the diagonal of a multiple of the identity: always 0
            if self._measured(fmt, parts[0]):
                fmt = "{0}[0]"  # one component of a unit vector: its direction, not its length of 1
            if "wp.arg" in fmt and not any(v.name == parts[0] and v.type in VEC_LEN for v in self.values):
                # The largest component of ``wp.vec3(x)`` (what a scalar becomes) is always the first.
                return self._instead(t, reads)
        return self.render(t, fmt, args, parts, reads)

    def render(self, t: str, fmt: str, args: tuple, parts: list[str], reads: list[int]) -> str:
        """Rule ``fmt`` applied to ``parts`` (``reads``: the values' reads before the parts were
        made), unless it would show nothing of them."""
        if fmt.startswith("wp.transform_vector(") and parts[0].endswith("wp.quat_identity())"):
            fmt = fmt.replace("wp.transform_vector(", "wp.transform_point(", 1)  # a vector ignores the translation: all that made it would be lost
        if (fmt.startswith("wp.transform_get_rotation(") and parts[0].endswith("wp.quat_identity())")) or (
                fmt.startswith("wp.quat_from_matrix(") and parts[0].startswith("(wp.identity(")):
            # the identity rotation, whatever made the transform or the multiple of the identity
            return self._instead(t, reads)
        for m in range(1, len(parts)):
            if any(args[n] == args[m] and parts[n] == parts[m] for n in range(m)):
                # ``x > x``, ``x - x``, ``wp.cross(v, v)``, ``wp.where(c, x, x)``: trivially
                # constant or blind to one operand; read something else there.
                others = [v for v in self.readable() if v.type == args[m] and v.name not in parts[:m]]
                parts[m] = self.rng.choice(others).name if others else self._comparison() if args[m] == "bool" else self.constant(args[m])
        return fmt.format(*parts, lit=literal(self.rng), lit_i=literal(self.rng, "int"), bound=self.rng.choice(BOUNDS), unit=self.rng.choice(UNIT_BOUNDS))


# Each rule: (format, argument types). "{lit}" inserts a float literal.
RULES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "float": [
        ("({0} + {1})", ("float", "float")),
        ("({0} - {1})", ("float", "float")),
        ("({0} * {1})", ("float", "float")),
        ("({0} / (wp.abs({1}) + {lit}))", ("float", "float")),
        ("wp.sin({0})", ("float",)),
        ("wp.cos({0})", ("float",)),
        ("wp.tan({0})", ("float",)),
        ("wp.tanh({0})", ("float",)),
        ("wp.sinh({0})", ("float",)),
        ("wp.cosh({0})", ("float",)),
        ("wp.atan({0})", ("float",)),
        ("wp.asin(wp.clamp({0}, -{unit}, {unit}))", ("float",)),
        ("wp.acos(wp.clamp({0}, -{unit}, {unit}))", ("float",)),
        ("wp.sqrt(wp.abs({0}))", ("float",)),
        ("wp.cbrt({0})", ("float",)),
        ("wp.exp(-wp.abs({0}))", ("float",)),
        ("wp.log(wp.abs({0}) + 1.0)", ("float",)),
        ("wp.log2(wp.abs({0}) + {lit})", ("float",)),
        ("wp.log10(wp.abs({0}) + {lit})", ("float",)),
        ("wp.pow(wp.abs({0}), {1})", ("float", "float")),
        ("wp.atan2({0}, {1})", ("float", "float")),
        ("wp.min({0}, {1})", ("float", "float")),
        ("wp.max({0}, {1})", ("float", "float")),
        ("wp.clamp({0}, -{bound}, {bound})", ("float",)),
        ("wp.abs({0})", ("float",)),
        ("wp.sign({0})", ("float",)),
        ("wp.floor({0})", ("float",)),
        ("wp.ceil({0})", ("float",)),
        ("wp.round({0})", ("float",)),
        ("wp.trunc({0})", ("float",)),
        ("wp.frac({0})", ("float",)),
        ("wp.step({0})", ("float",)),
        ("wp.nonzero({0})", ("float",)),
        ("wp.lerp({0}, {1}, {2})", ("float", "float", "float")),
        ("wp.smoothstep(0.0, 1.0, {0})", ("float",)),
        ("wp.degrees({0})", ("float",)),
        ("wp.radians({0})", ("float",)),
        ("wp.erf({0})", ("float",)),
        ("wp.dot({0}, {1})", ("vec3", "vec3")),
        ("wp.dot({0}, {1})", ("vec2", "vec2")),
        ("wp.dot({0}, {1})", ("vec4", "vec4")),
        ("wp.length({0})", ("vec3",)),
        ("wp.length_sq({0})", ("vec3",)),
        ("wp.length({0})", ("vec2",)),
        ("wp.length({0})", ("vec4",)),
        ("{0}[0]", ("vec3",)),
        ("{0}[1]", ("vec3",)),
        ("{0}[2]", ("vec3",)),
        ("{0}[1]", ("vec2",)),
        ("{0}[3]", ("vec4",)),
        ("wp.max({0})", ("vec3",)),
        ("wp.min({0})", ("vec3",)),
        ("wp.determinant({0})", ("mat33",)),
        ("wp.determinant({0})", ("mat22",)),
        ("wp.trace({0})", ("mat33",)),
        ("wp.trace({0})", ("mat44",)),
        ("wp.ddot({0}, {1})", ("mat33", "mat33")),
        ("{0}[1, 2]", ("mat33",)),
        ("{0}[0, 1]", ("mat22",)),
        ("wp.float32({0})", ("int",)),
        ("wp.dot({0}, {1})", ("quat", "quat")),
        ("{0}[3]", ("quat",)),
        ("wp.where({0}, {1}, {2})", ("bool", "float", "float")),
    ],
    "int": [
        ("({0} + {1})", ("int", "int")),
        ("({0} * {1})", ("int", "int")),
        ("({0} - {1})", ("int", "int")),
        ("({0} % {lit_i})", ("int",)),
        ("({0} // {lit_i})", ("int",)),
        ("({0} & {1})", ("int", "int")),
        ("({0} | {1})", ("int", "int")),
        ("({0} ^ {1})", ("int", "int")),
        ("({0} << 2)", ("int",)),
        ("({0} >> 1)", ("int",)),
        ("wp.min({0}, {1})", ("int", "int")),
        ("wp.max({0}, {1})", ("int", "int")),
        ("wp.abs({0})", ("int",)),
        ("wp.clamp({0}, 0, 255)", ("int",)),
        ("wp.int32({0} * 100.0)", ("float",)),
        ("wp.sign({0})", ("int",)),
        ("wp.int32(wp.argmax({0}))", ("vec3",)),
        ("wp.int32(wp.argmin({0}))", ("vec4",)),
    ],
    "bool": [
        ("({0} > {1})", ("float", "float")),
        ("({0} < {1})", ("float", "float")),
        ("({0} >= {1})", ("int", "int")),
        ("({0} == {1})", ("int", "int")),
        ("({0} and {1})", ("bool", "bool")),
        ("({0} or {1})", ("bool", "bool")),
        ("(not {0})", ("bool",)),
        ("wp.isfinite(wp.log({0}))", ("float",)),
        ("wp.isnan(wp.sqrt({0}))", ("float",)),
    ],
    "vec2": [
        ("({0} + {1})", ("vec2", "vec2")),
        ("({0} - {1})", ("vec2", "vec2")),
        ("({0} * {1})", ("vec2", "float")),
        ("wp.vec2({0}, {1})", ("float", "float")),
        ("wp.normalize({0})", ("vec2",)),
        ("wp.cw_mul({0}, {1})", ("vec2", "vec2")),
        ("({0} @ {1})", ("mat22", "vec2")),
        ("wp.vec2({0}[0], {0}[2])", ("vec3",)),
    ],
    "vec3": [
        ("({0} + {1})", ("vec3", "vec3")),
        ("({0} - {1})", ("vec3", "vec3")),
        ("({0} * {1})", ("vec3", "float")),
        ("({0} * {1})", ("float", "vec3")),
        ("({0} / (wp.abs({1}) + {lit}))", ("vec3", "float")),
        ("(-{0})", ("vec3",)),
        ("wp.cross({0}, {1})", ("vec3", "vec3")),
        ("wp.normalize({0})", ("vec3",)),
        ("wp.vec3({0}, {1}, {2})", ("float", "float", "float")),
        ("wp.cw_mul({0}, {1})", ("vec3", "vec3")),
        ("wp.cw_div({0}, {1} + wp.vec3(1.0))", ("vec3", "vec3")),
        ("wp.min({0}, {1})", ("vec3", "vec3")),
        ("wp.max({0}, {1})", ("vec3", "vec3")),
        ("wp.abs({0})", ("vec3",)),
        ("wp.lerp({0}, {1}, {2})", ("vec3", "vec3", "float")),
        ("({0} @ {1})", ("mat33", "vec3")),
        ("(wp.transpose({0}) @ {1})", ("mat33", "vec3")),
        ("wp.quat_rotate({0}, {1})", ("quat", "vec3")),
        ("wp.quat_rotate_inv({0}, {1})", ("quat", "vec3")),
        ("wp.transform_point({0}, {1})", ("transform", "vec3")),
        ("wp.transform_vector({0}, {1})", ("transform", "vec3")),
        ("wp.transform_get_translation({0})", ("transform",)),
        ("wp.vec3({0}[0], {0}[1], {0}[2])", ("vec4",)),
        ("wp.vec3({0}[0], {0}[1], {1})", ("vec2", "float")),
        ("wp.get_diag({0})", ("mat33",)),
        ("wp.where({0}, {1}, {2})", ("bool", "vec3", "vec3")),
    ],
    "vec4": [
        ("({0} + {1})", ("vec4", "vec4")),
        ("({0} * {1})", ("vec4", "float")),
        ("wp.vec4({0}[0], {0}[1], {0}[2], {1})", ("vec3", "float")),
        ("wp.normalize({0})", ("vec4",)),
        ("({0} @ {1})", ("mat44", "vec4")),
        ("wp.cw_mul({0}, {1})", ("vec4", "vec4")),
    ],
    "mat22": [
        ("({0} + {1})", ("mat22", "mat22")),
        ("({0} @ {1})", ("mat22", "mat22")),
        ("({0} * {1})", ("mat22", "float")),
        ("wp.transpose({0})", ("mat22",)),
        ("wp.outer({0}, {1})", ("vec2", "vec2")),
        ("wp.mat22({0}, {1}, {2}, {3})", ("float", "float", "float", "float")),
    ],
    "mat33": [
        ("({0} + {1})", ("mat33", "mat33")),
        ("({0} - {1})", ("mat33", "mat33")),
        ("({0} @ {1})", ("mat33", "mat33")),
        ("({0} * {1})", ("mat33", "float")),
        ("wp.transpose({0})", ("mat33",)),
        ("wp.outer({0}, {1})", ("vec3", "vec3")),
        ("wp.skew({0})", ("vec3",)),
        ("wp.quat_to_matrix({0})", ("quat",)),
        ("wp.diag({0})", ("vec3",)),
        ("wp.matrix_from_cols({0}, {1}, {2})", ("vec3", "vec3", "vec3")),
        ("wp.matrix_from_rows({0}, {1}, {2})", ("vec3", "vec3", "vec3")),
        ("(wp.identity(n=3, dtype=float) * {0})", ("float",)),
    ],
    "mat44": [
        ("({0} @ {1})", ("mat44", "mat44")),
        ("wp.transpose({0})", ("mat44",)),
        ("wp.outer({0}, {1})", ("vec4", "vec4")),
        ("({0} * {1})", ("mat44", "float")),
        ("wp.transform_to_matrix({0})", ("transform",)),
    ],
    "quat": [
        ("({0} * {1})", ("quat", "quat")),
        ("wp.quat_inverse({0})", ("quat",)),
        ("wp.normalize({0})", ("quat",)),
        ("wp.quat_from_axis_angle(wp.normalize({0}), {1})", ("vec3", "float")),
        ("wp.quat_rpy({0}, {1}, {2})", ("float", "float", "float")),
        ("wp.quat_from_matrix({0})", ("mat33",)),
        ("wp.quat_slerp({0}, {1}, {2})", ("quat", "quat", "float")),
        ("wp.transform_get_rotation({0})", ("transform",)),
    ],
    "spatial_vector": [
        ("({0} + {1})", ("spatial_vector", "spatial_vector")),
        ("({0} * {1})", ("spatial_vector", "float")),
        ("wp.spatial_vector({0}, {1})", ("vec3", "vec3")),
        ("wp.spatial_cross({0}, {1})", ("spatial_vector", "spatial_vector")),
        ("wp.spatial_cross_dual({0}, {1})", ("spatial_vector", "spatial_vector")),
        ("({0} @ {1})", ("spatial_matrix", "spatial_vector")),
    ],
    "spatial_matrix": [
        ("({0} + {1})", ("spatial_matrix", "spatial_matrix")),
        ("({0} @ {1})", ("spatial_matrix", "spatial_matrix")),
        ("wp.transpose({0})", ("spatial_matrix",)),
        ("wp.spatial_adjoint({0}, {1})", ("mat33", "mat33")),
        ("wp.outer({0}, {1})", ("spatial_vector", "spatial_vector")),
    ],
    "transform": [
        ("wp.transform({0}, {1})", ("vec3", "quat")),
        ("wp.transform_multiply({0}, {1})", ("transform", "transform")),
        ("wp.transform_inverse({0})", ("transform",)),
        ("({0} * {1})", ("transform", "transform")),
    ],
}
REDUCIBLE = frozenset(("float", "int", "bool", "vec2", "vec3", "vec4", "mat22", "mat33", "mat44", "quat", "transform",
                       "spatial_vector", "spatial_matrix"))


def reduce_to(expr: str, src: str, dst: str) -> str:
    """An expression of type ``dst`` that depends on ``expr`` of type ``src``."""
    if src == dst:
        return expr
    scalar = {
        "float": expr,
        "int": f"wp.float32({expr})",
        "bool": f"wp.where({expr}, 1.0, 0.0)",
        "vec2": f"wp.length({expr})",
        "vec3": f"wp.length({expr})",
        "vec4": f"wp.length({expr})",
        "mat22": f"wp.determinant({expr})",
        "mat33": f"wp.trace({expr})",
        "mat44": f"wp.trace({expr})",
        "quat": f"wp.quat_rotate({expr}, wp.vec3(1.0, 2.0, 3.0))[0]",
        "transform": f"wp.length(wp.transform_get_translation({expr}))",
        "spatial_vector": f"wp.length({expr})",
        "spatial_matrix": f"wp.trace({expr})",
    }[src]
    if dst == "float":
        return scalar
    if dst == "int":
        return f"wp.int32({scalar} * 100.0)"  # most values are under 1: their integer part alone is 0
    if dst in VEC_LEN:
        return f"wp.{dst}({scalar})"
    if dst in MAT_DIM:
        return f"(wp.identity(n={MAT_DIM[dst]}, dtype=float) * {scalar})"
    if dst == "quat":
        return f"wp.quat_from_axis_angle(wp.vec3(0.0, 1.0, 0.0), {scalar})"
    if dst == "transform":
        return f"wp.transform(wp.vec3({scalar}), wp.quat_identity())"
    if dst == "spatial_vector":
        return f"wp.spatial_vector({', '.join([scalar] + ['0.0'] * 5)})"
    if dst == "spatial_matrix":
        return f"(wp.identity(n=6, dtype=float) * {scalar})"
    raise ValueError(dst)


@dataclass
class KernelWriter:
    """Collects the pieces of one generated kernel module and renders its source."""

    rng: random.Random
    names: Names = field(init=False)
    args: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    preamble: list[str] = field(default_factory=list)  # @wp.func / @wp.struct blocks
    values: list[Value] = field(default_factory=list)
    indent: int = 1
    dim: int = 1

    def __post_init__(self):
        self.names = Names(self.rng)
        self.exprs = ExprGen(self.rng, self.values)

    # -- signature ----------------------------------------------------------------------
    def array_arg(self, dtype: str, ndim: int = 1, hint: str | None = None) -> str:
        name = self.names.fresh(hint)
        spelled = dtype_spelling(dtype) if dtype in WARP_TYPE else f"wp.{dtype}"
        nd = "" if ndim == 1 else f", ndim={ndim}"
        self.args.append(f"{name}: wp.array(dtype={spelled}{nd})")
        return name

    def scalar_arg(self, t: str = "float", hint: str | None = None) -> str:
        name = self.names.fresh(hint)
        self.args.append(f"{name}: {WARP_TYPE[t]}")
        self.values.append(Value(name, t))
        return name

    def raw_arg(self, decl: str) -> None:
        self.args.append(decl)

    # -- body ---------------------------------------------------------------------------
    def line(self, text: str) -> None:
        self.body.append("    " * self.indent + text)

    def tid(self, dim: int = 1) -> list[str]:
        self.dim = dim
        idx = ["i", "j", "k", "l"][:dim]
        self.line(f"{', '.join(idx)} = wp.tid()")
        return idx

    def load(self, array: str, dtype: str, index: str, hint: str | None = None) -> Value:
        t, cast = ARRAY_DTYPES[dtype]
        return self.assign(cast.format(x=f"{array}[{index}]"), t, hint)

    def assign(self, expr: str, t: str, hint: str | None = None) -> Value:
        name = self.names.fresh(hint)
        self.line(f"{name} = {expr}")
        v = Value(name, t, unit=expr.startswith("wp.normalize("))
        self.values.append(v)
        return v

    def compute(self, t: str, depth: int = 2, hint: str | None = None) -> Value:
        return self.assign(self.exprs.expr(t, depth), t, hint)

    def compute_live(self, t: str, depth: int = 2, hint: str | None = None) -> Value:
        """Like :meth:`compute`, but the expression reads at least one value in scope."""
        return self.assign(self.exprs.live(t, depth), t, hint)

    def fold_unused(self, into: str, t: str, since: int = 0) -> str:
        """``into`` extended with every computed value no statement has read yet.

        ``since`` limits the folding to values defined after that index of ``values`` (e.g.
        the values of the innermost :meth:`block`).
        """
        terms = [into]
        for v in self.values[since:]:
            if v.reads == 0 and v.name != into and not v.name.startswith("_"):
                v.read()
                terms.append(reduce_to(v.name, v.type, t) if t not in ("bool",) else v.name)
        if len(terms) == 1:
            return into
        if t in ("int", "float", "spatial_vector", "spatial_matrix") or t in VEC_LEN or t in MAT_DIM:
            return " + ".join(terms)
        if t == "quat":
            return " * ".join(f"wp.normalize({x})" for x in terms)
        if t == "transform":
            return " * ".join(terms)
        return terms[0]

    def mutable(self, t: str, expr: str | None = None, hint: str | None = None) -> Value:
        """A variable that later blocks may reassign (Warp needs ``float(...)``/``int(...)``
        around a literal before a dynamic loop may mutate it)."""
        expr = expr if expr is not None else self.exprs.expr(t, 1)
        if t in ("float", "int"):
            expr = f"{t}({expr})"
        return self.assign(expr, t, hint)

    @contextmanager
    def block(self, header: str):
        """An indented block (``if ...:``, ``for ...:``, ``else:``). Values defined inside go
        out of scope when it ends; fold the unread ones (``fold_unused(..., since=mark)``)
        before leaving. Yields ``mark``, the index in ``values`` where the block starts."""
        self.line(header)
        self.indent += 1
        mark, n_lines = len(self.values), len(self.body)
        try:
            yield mark
        finally:
            if len(self.body) == n_lines:
                self.line("pass")
            self.indent -= 1
            del self.values[mark:]

    def store(self, array: str, dtype: str, index: str, expr: str) -> None:
        cast = STORE_CAST.get(dtype)
        self.line(f"{array}[{index}] = {cast.format(x=expr) if cast else expr}")

    # -- rendering ----------------------------------------------------------------------
    def render(self, kernel_name: str) -> str:
        parts = ["import warp as wp", ""]
        for block in self.preamble:
            parts += ["", block.rstrip("\n"), ""]
        parts += ["", "@wp.kernel", f"def {kernel_name}(", *[f"    {a}," for a in self.args], "):"]
        parts += self.body
        return "\n".join(parts) + "\n"
