"""A composition layer: long kernels in the shape of simulation code, built from small parts.

A :class:`Composition` is one kernel module being drawn: a launch (``wp.tid()`` over elements,
or over worlds × elements), typed arguments grouped the way simulation code groups them
("Model", "Data in", "Data out"), module-level pieces (module options, constants, custom vector
and matrix types, structs, ``@wp.func`` helpers, the ``wp.overload`` of a generic kernel) and a
body of *stages*. A stage is a small function ``(Composition) -> None`` that adds a few
statements through the public methods below; families pick stages from a weighted table and
decide how many, so a new kind of step is one new function.

**Launch contract.** Every array argument states its shape in terms of named extents
(:class:`Arg.shape`): the launch's own dimensions (``"worlds"``, the element kind) and free sizes
(another element kind, or an integer). An integer array whose values are used as indices says
which array dimension they index (:class:`Arg.indexes`), and an offset array read with a count
array says so (:attr:`Arg.span`): entries ``[offset, offset + count)`` stay inside that
dimension. :meth:`Composition.contract` returns it as a plain record, enough to allocate inputs
and launch the kernel.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from ._flow import Flow
from ._kit import ARRAY_DTYPES, STORE_CAST, WARP_TYPE, KernelWriter, Value, dtype_spelling

WORLDS = "worlds"
BATCH = "worlds or 1"  # model data shared by all worlds or given per world: read at world % shape[0]

ELEMENT_KINDS = ("body", "geom", "jnt", "dof", "site", "particle", "edge", "tri", "cell", "contact",
                 "actuator", "tendon", "sensor", "flex", "vert", "light", "cam", "eq", "shape", "node")
FIELD_WORDS = ("pos", "vel", "mass", "invweight", "quat", "xform", "force", "torque", "damping", "stiffness",
               "frictionloss", "margin", "gap", "size", "rbound", "length", "armature", "gain", "bias", "range",
               "solref", "solimp", "xpos", "xmat", "xquat", "cvel", "cacc", "cfrc", "qfrc", "efc_force", "dist",
               "normal", "frame", "weight", "scale", "radius", "inertia", "ipos", "com", "lambda", "residual")


@dataclass(frozen=True)
class IndexInto:
    """An int array's values are indices into dimension ``dim`` of ``array``; with ``count``
    (another int array's entry, or a fixed length), entries ``[value, value + count)`` are."""

    array: str
    dim: int
    count: str | int | None = None


@dataclass(frozen=True)
class Arg:
    name: str
    annotation: str  # as written in the signature
    group: str  # "Model", "Data in", "In", "Data out", "Out"
    dtype: str | None = None  # array element dtype (a key of ARRAY_DTYPES, "bool" or a custom type)
    shape: tuple = ()  # arrays: extent per dimension (WORLDS, an element kind, or an int)
    indexes: IndexInto | None = None
    bound: str | None = None  # int scalars: the extent it does not exceed
    value: int | None = None  # int scalars: the value every launch passes (a word of flags)
    fields: dict | None = None  # struct arguments: field -> value type, "array:<dtype>" for array fields


GROUP_ORDER = ("Model", "Data in", "In", "Data out", "Out")


@dataclass
class Helper:
    name: str
    params: tuple[str, ...]  # value types, "array:<name>" for a model array passed through, "index"
    returns: str | tuple[str, ...]


@dataclass
class Composition:
    rng: random.Random
    worlds: bool = True  # a 2-d launch over (worlds, elements)
    element: str = ""
    bracket_style: bool = False  # ``wp.array2d[float]`` rather than ``wp.array2d(dtype=float)``
    group_comments: bool = True
    w: KernelWriter = field(init=False)
    args: list[Arg] = field(default_factory=list)
    imports: set[str] = field(default_factory=set)
    module_options: dict = field(default_factory=dict)
    module_lines: list[str] = field(default_factory=list)
    constants: dict[str, int] = field(default_factory=dict)
    kernel_options: dict = field(default_factory=dict)
    generic: bool = False  # array/scalar arguments typed ``Any``; the source declares one overload
    helpers: list[Helper] = field(default_factory=list)
    outputs: list[Arg] = field(default_factory=list)
    world_var: str | None = None
    elem_var: str = ""

    def __post_init__(self):
        self.w = KernelWriter(self.rng)
        self.element = self.element or self.rng.choice(ELEMENT_KINDS)
        self.w.names.used.update({"worldid", f"{self.element}id", "Any", "Tuple"})

    # -- arguments ----------------------------------------------------------------------
    def _annotation(self, dtype: str, ndim: int, generic: bool) -> str:
        spelled = "Any" if generic else ("bool" if dtype == "bool" else dtype_spelling(dtype) if dtype in WARP_TYPE or dtype in ("float", "int") else self._custom_or_wp(dtype))
        if self.bracket_style and not generic:
            return f"wp.array{'' if ndim == 1 else f'{ndim}d'}[{spelled}]"
        return f"wp.array{'' if ndim == 1 else f'{ndim}d'}(dtype={spelled})"

    def _custom_or_wp(self, dtype: str) -> str:
        return dtype if self.declares(dtype) else f"wp.{dtype}"

    def declares(self, name: str) -> bool:
        """Whether a module-level line already assigns ``name`` (a constant or a custom type)."""
        return any(line.startswith(f"{name} = ") for line in self.module_lines)

    def array(self, dtype: str, shape: tuple, group: str, hint: str | None = None,
              indexes: IndexInto | None = None, generic: bool = False) -> Arg:
        suffix = {"Data in": "_in", "Data out": "_out"}.get(group, "")
        name = self.w.names.fresh(hint or f"{self.element}_{self.rng.choice(FIELD_WORDS)}{suffix}")
        arg = Arg(name, self._annotation(dtype, len(shape), generic and self.generic), group, dtype, tuple(shape), indexes)
        if generic and self.generic:
            self.imports.add("from typing import Any")
        self.args.append(arg)
        return arg

    def scalar(self, t: str, group: str = "Model", hint: str | None = None, bound: str | None = None,
               value: int | None = None) -> Value:
        name = self.w.names.fresh(hint)
        self.args.append(Arg(name, WARP_TYPE[t], group, bound=bound, value=value))
        v = Value(name, t)
        self.w.values.append(v)
        return v

    def struct_arg(self, name: str, struct: str, fields: dict, group: str = "In") -> None:
        self.args.append(Arg(name, struct, group, fields=dict(fields)))

    def at(self, arg: Arg, *rest: str) -> str:
        """The subscript that reads ``arg`` at this thread's element (and ``rest`` beyond)."""
        idx = []
        for extent in arg.shape[: len(arg.shape) - len(rest)]:
            if extent == WORLDS:
                idx.append(self.world_var)
            elif extent == BATCH:
                idx.append(f"{self.world_var} % {arg.name}.shape[0]")
            elif extent == self.element:
                idx.append(self.elem_var)
            else:
                idx.append("0")
        return f"{arg.name}[{', '.join(idx + list(rest))}]"

    def load(self, arg: Arg, *rest: str, hint: str | None = None) -> Value:
        if arg.dtype == "bool":
            return self.w.assign(self.at(arg, *rest), "bool", hint)
        if arg.dtype not in ARRAY_DTYPES:  # custom vector/matrix type: the caller reads components
            return self.w.assign(self.at(arg, *rest), arg.dtype, hint)
        t, cast = ARRAY_DTYPES[arg.dtype]
        return self.w.assign(cast.format(x=self.at(arg, *rest)), t, hint)

    def element_shape(self) -> tuple:
        return (WORLDS, self.element) if self.worlds else (self.element,)

    def launch(self) -> None:
        if self.worlds:
            self.world_var, self.elem_var = "worldid", f"{self.element}id"
            self.w.line(f"{self.world_var}, {self.elem_var} = wp.tid()")
            self.w.values.append(Value(self.elem_var, "int", reads=1))
        else:
            self.elem_var = f"{self.element}id" if self.rng.random() < 0.5 else "tid"
            self.w.names.used.add(self.elem_var)
            self.w.line(f"{self.elem_var} = wp.tid()")
            self.w.values.append(Value(self.elem_var, "int", reads=1))

    # -- outputs ------------------------------------------------------------------------
    def output(self, t: str, hint: str | None = None) -> Arg:
        dtype = {"float": "float32", "int": "int32"}.get(t, t)
        arg = self.array(dtype, self.element_shape(), "Data out" if self.worlds else "Out", hint)
        self.outputs.append(arg)
        return arg

    def store(self, arg: Arg, expr: str, op: str = "=") -> None:
        cast = STORE_CAST.get(arg.dtype)
        self.w.line(f"{self.at(arg)} {op} {cast.format(x=expr) if cast and op == '=' else expr}")

    def on_early_return(self) -> None:
        """What a thread that leaves early writes: zeros into the outputs, as simulation code
        clears what it owns before returning."""
        for arg in self.outputs:
            t = ARRAY_DTYPES.get(arg.dtype, (arg.dtype,))[0]
            if self.rng.random() < 0.6:
                self.store(arg, self.w.exprs.constant(t) if t not in ("float", "int") else ("0.0" if t == "float" else "0"))

    # -- helpers --------------------------------------------------------------------------
    def add_helper(self, source: str, helper: Helper) -> None:
        self.w.preamble.append(source)
        self.helpers.append(helper)
        if isinstance(helper.returns, str) and all(p in WARP_TYPE for p in helper.params):
            fmt = f"{helper.name}(" + ", ".join(f"{{{n}}}" for n in range(len(helper.params))) + ")"
            self.w.exprs.extra.setdefault(helper.returns, []).append((fmt, helper.params))

    # -- module level ---------------------------------------------------------------------
    def constant(self, hint: str, value: int) -> str:
        name = self.w.names.fresh(hint)
        self.module_lines.append(f"{name} = {value}")
        self.constants[name] = value
        return name

    def flow(self, weights: dict, types: tuple[str, ...], bounds: list[str] | None = None,
             gathers: list[tuple[str, str]] | None = None) -> Flow:
        return Flow(self.w, weights, types=types, bounds=bounds, gathers=gathers, index=self.elem_var,
                    on_return=lambda flow: self.on_early_return())

    # -- rendering ------------------------------------------------------------------------
    def finish(self) -> None:
        """Every output written with everything computed and not yet read folded into it."""
        for n, arg in enumerate(self.outputs):
            t = ARRAY_DTYPES.get(arg.dtype, (arg.dtype,))[0]
            expr = self.w.exprs.live(t, self.rng.randint(1, 2))
            if n == len(self.outputs) - 1:
                expr = self.w.fold_unused(expr, t)
            self.store(arg, expr, "+=" if t in ("float", "vec3") and self.rng.random() < 0.25 else "=")

    def _signature(self) -> list[str]:
        lines = []
        order = sorted(self.args, key=lambda a: GROUP_ORDER.index(a.group))
        current = None
        for a in order:
            if self.group_comments and a.group != current:
                lines.append(f"    # {a.group}:")
                current = a.group
            lines.append(f"    {a.name}: {a.annotation},")
        return lines

    def render(self, kernel_name: str, overload: list[str] | None = None) -> str:
        head = sorted(self.imports) + ["import warp as wp", ""]
        if self.module_options:
            opts = ", ".join(f"{k!r}: {v!r}" for k, v in self.module_options.items())
            head += ["", f"wp.set_module_options({{{opts}}})", ""]
        if self.module_lines:
            head += [""] + self.module_lines + [""]
        parts = head
        for block in self.w.preamble:
            parts += ["", block.rstrip("\n"), ""]
        options = ", ".join(f"{k}={v!r}" for k, v in self.kernel_options.items())
        decorator = f"@wp.kernel({options})" if options else "@wp.kernel"
        parts += ["", decorator, f"def {kernel_name}(", *self._signature(), "):"]
        parts += self.w.body
        if overload is not None:
            parts += ["", "", f"wp.overload({kernel_name}, [{', '.join(overload)}])"]
        return "\n".join(parts) + "\n"

    def concrete_annotations(self) -> list[str]:
        """Each argument's annotation with ``Any`` replaced by the type the kernel was drawn for
        (the one overload a generic kernel's source declares)."""
        out = []
        for a in sorted(self.args, key=lambda a: GROUP_ORDER.index(a.group)):
            if "Any" not in a.annotation:
                ann = a.annotation
                if "[" in ann and "(" not in ann:  # bracket style is not accepted inside overload lists
                    base, inner = ann.split("[", 1)
                    ann = f"{base}(dtype={inner[:-1]})"
                out.append(ann)
            elif a.dtype is None:
                out.append("wp.float32")
            else:
                spelled = "wp.bool" if a.dtype == "bool" else f"wp.{a.dtype}" if a.dtype in ARRAY_DTYPES else a.dtype
                nd = len(a.shape)
                out.append(f"wp.array{'' if nd == 1 else f'{nd}d'}(dtype={spelled})")
        return out

    def contract(self) -> dict:
        """The launch contract as a plain record (see the module docstring)."""
        return {
            "launch": [WORLDS, self.element] if self.worlds else [self.element],
            "constants": dict(self.constants),
            "args": [
                {"name": a.name, "group": a.group, "type": a.annotation if a.dtype is None and not a.fields else None,
                 "dtype": a.dtype, "shape": list(a.shape),
                 "indexes": None if a.indexes is None else {"array": a.indexes.array, "dim": a.indexes.dim, "count": a.indexes.count},
                 "bound": a.bound, "value": a.value, "fields": a.fields, "struct": a.annotation if a.fields is not None else None}
                for a in sorted(self.args, key=lambda a: GROUP_ORDER.index(a.group))
            ],
        }
