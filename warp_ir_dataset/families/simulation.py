"""Simulation-style kernels, composed from stages: the size and shape of the kernels of a
physics engine written in Warp.

A launch over worlds × elements (or elements), a guard that leaves early, loads of model and
data arrays, then a long-tailed number of stages drawn from :data:`STAGES`: ``@wp.func`` helpers
(``elif`` chains of returns, tuple returns, ``bool(...)`` casts, generic ``Any`` parameters),
branches and loops, loops over an element's neighbours through offset/count arrays, loops over
``range(wp.static(N))``, custom vector and matrix types, array slices, struct parameters,
atomics. Kernels past a dozen stages turn the backward pass off, as real solvers do (with
``wp.set_module_options`` or on the decorator); some are generic with one ``wp.overload``, some
use ``module="unique"`` and launch options. Each kernel knows its launch contract
(:meth:`Composition.contract`).
"""
from __future__ import annotations

import math
from contextlib import contextmanager

from . import GeneratedKernel, family
from ._compose import BATCH, Composition, Helper, IndexInto
from ._flow import Flow
from ._kit import ARRAY_DTYPES, WARP_TYPE, KernelWriter, Value, literal

VALUE_DTYPES = ("float32", "float32", "float32", "vec3", "vec3", "vec3", "quat", "mat33", "int32", "vec2",
                "vec4", "float64", "transform", "spatial_vector", "mat22")
HELPER_TYPES = ("float", "float", "float", "vec3", "vec3", "int", "quat", "mat33", "vec2")
RETURN_TYPES = ("float", "float", "vec3", "vec3", "quat", "int", "vec2", "mat33")
COMPUTE_TYPES = ("float", "float", "vec3", "vec3", "int", "quat", "mat33", "vec2", "vec4")


def _input_shape(c: Composition, group: str) -> tuple:
    if group == "Data in":
        return c.element_shape()
    return (BATCH, c.element) if c.worlds and c.rng.random() < 0.35 else (c.element,)


# -- stages ------------------------------------------------------------------------------
def load_inputs(c: Composition) -> None:
    for _ in range(c.rng.randint(1, 3)):
        group = c.rng.choice(("Model", "Model", "Data in"))
        arg = c.array(c.rng.choice(VALUE_DTYPES), _input_shape(c, group), group, generic=True)
        c.load(arg)


def world_parameter(c: Composition) -> None:
    word = c.rng.choice(("timestep", "gravity", "wind", "density", "viscosity", "impratio", "tolerance", "magnetic"))
    if c.worlds:
        dtype = "vec3" if word in ("gravity", "wind", "magnetic") else "float32"
        c.load(c.array(dtype, (BATCH,), "Model", hint=f"opt_{word}"), hint=word)
    else:
        c.scalar("vec3" if word in ("gravity", "wind", "magnetic") else "float", "Model", hint=f"opt_{word}")


def compute(c: Composition) -> None:
    for _ in range(c.rng.randint(1, 3)):
        c.w.compute_live(c.rng.choice(COMPUTE_TYPES), depth=c.rng.randint(1, 3))


def helper_call(c: Composition) -> None:
    helper = _helper(c)
    args = []
    for p in helper.params:
        if p.startswith("array:"):
            args.append(p.split(":", 1)[1])
        elif p == "index":
            args.append(c.elem_var)
        else:
            args.append(c.w.exprs.live(p, c.rng.randint(0, 2)))
    call = f"{helper.name}({', '.join(args)})"
    if isinstance(helper.returns, tuple):
        names = [c.w.names.fresh() for _ in helper.returns]
        c.w.line(f"{', '.join(names)} = {call}")
        c.w.values.extend(Value(n, t) for n, t in zip(names, helper.returns))
    elif helper.returns == "bool":
        flow = _flow(c, {"compute": 2, "update": 2})
        with c.w.block(f"if {'not ' if c.rng.random() < 0.5 else ''}{call}:") as mark:
            flow.stmts(0, 1, 2)
            flow.update()
            flow.close(mark)
        _release(flow)
    else:
        c.w.assign(call, helper.returns)


def _flow(c: Composition, weights: dict, types: tuple[str, ...] | None = None, **kw) -> Flow:
    flow = c.flow(weights, types or (c.rng.choice(("float", "vec3", "float")),), **kw)
    if not flow.targets:
        flow.target(flow.types[0], hint=c.rng.choice(("acc", "total", "res", "sum", "f", "impulse", "delta")))
    return flow


def _release(flow: Flow) -> None:
    for v in flow.targets:  # read later (folded into an output) like any other value
        v.reads = 0


@contextmanager
def _loop(c: Composition, flow: Flow, header: str, var: str):
    """A ``for`` loop over ``var`` whose body (the ``with`` block) ends by updating the flow's
    target with what it computed."""
    flow.loops.append("for")
    with c.w.block(header) as mark:
        c.w.values.append(Value(var, "int", reads=1))
        yield
        flow.update()
        flow.close(mark)
    flow.loops.pop()


def branches(c: Composition) -> None:
    flow = _flow(c, {"compute": 2, "update": 2, "if": 1, "ifelse": 1, "elif": 1.5, "ternary": 0.6, "where": 0.4, "flag": 0.4})
    flow.stmts(2, 1, 3)
    _release(flow)


def loops(c: Composition) -> None:
    counts = [a.name for a in c.args if a.annotation == "int" and a.bound is None and a.name.startswith("n")]
    bound = counts[0] if counts else c.scalar("int", "Model", hint=f"n{c.rng.choice(('iter', 'step', 'sub', 'sample', 'pass'))}").name
    flow = _flow(c, {"compute": 2, "update": 2, "for_const": 1, "for_dyn": 1.5, "while": 0.6, "if": 1, "break": 0.5, "continue": 0.5},
                 bounds=[bound])
    flow.stmts(2, 1, 2)
    _release(flow)


def neighbours(c: Composition) -> None:
    """A loop over this element's entries of another kind, found through offset/count arrays."""
    r = c.rng
    other = r.choice([k for k in ("dof", "jnt", "geom", "site", "contact", "efc", "nbr", "vert", "edge") if k != c.element])
    dtype = r.choice(("float32", "float32", "vec3", "vec3", "float64", "quat"))
    data_shape = (c.element_shape()[0], other) if c.worlds else (other,)
    group = "Data in" if c.worlds else "In"
    data = c.array(dtype, data_shape, group, hint=f"{other}_{r.choice(('pos', 'vel', 'force', 'weight', 'dist', 'frc', 'acc'))}_in" if c.worlds else None)
    count = c.array("int32", (c.element,), "Model", hint=f"{c.element}_{other}num")
    offset_arg = c.array("int32", (c.element,), "Model", hint=f"{c.element}_{other}adr",
                         indexes=IndexInto(data.name, len(data_shape) - 1, count.name))
    adr = c.w.assign(f"{offset_arg.name}[{c.elem_var}]", "int", hint=r.choice(("adr", f"{other}adr", "start", "first")))
    num = c.w.assign(f"{count.name}[{c.elem_var}]", "int", hint=r.choice(("num", f"n{other}", "count")))
    adr.reads = num.reads = 1
    flow = _flow(c, {"compute": 2, "update": 3, "if": 1, "continue": 0.6, "break": 0.3})
    k = c.w.names.fresh(r.choice(("j", "k", f"{other}id", "n", "m", "e")))
    header = r.choice((f"for {k} in range({adr.name}, {adr.name} + {num.name}):", f"for {k} in range({num.name}):"))
    index = k if "+" in header else f"{adr.name} + {k}"
    with _loop(c, flow, header, k):
        t, cast = ARRAY_DTYPES[dtype]
        world = [c.world_var] if c.worlds else []
        c.w.assign(cast.format(x=f"{data.name}[{', '.join(world + [index])}]"), t, hint=r.choice(("x", "val", "v", "w", other)))
        flow.stmts(1, 1, 3)
    _release(flow)


def static_loop(c: Composition) -> None:
    """``for k in range(wp.static(N))`` over a module constant: a loop Warp unrolls."""
    r = c.rng
    n = c.constant(r.choice(("NCOMP", "NDIM", "NCON", "NSTAGE", "NBASIS", "NCORNER", "MAX_ITER", "NSAMPLE")), r.randint(2, 4))
    arr = c.array(r.choice(("float32", "float32", "vec3")), (c.element, n), "Model")
    flow = _flow(c, {"compute": 1, "update": 3})
    k = c.w.names.fresh(r.choice(("k", "c", "d", "s", "q")))
    flow.unrolled = True
    with _loop(c, flow, f"for {k} in range(wp.static({n})):", k):
        t, cast = ARRAY_DTYPES[arr.dtype]
        c.w.assign(cast.format(x=f"{arr.name}[{c.elem_var}, {k}]"), t)
        if r.random() < 0.4:
            c.w.compute_live("float", 1)
    flow.unrolled = False
    if r.random() < 0.5:
        c.w.compute_live("float", 1)
        c.w.assign(f"{flow.targets[0].name} * wp.static(1.0 / float({n}))", flow.targets[0].type)
    _release(flow)


def custom_type(c: Composition) -> None:
    """A custom vector (``wp.types.vector``) or matrix (``wp.types.matrix``) type."""
    r = c.rng
    if r.random() < 0.6:
        n = r.choice((5, 6, 6, 7, 8, 9))
        name = f"vec{n}{r.choice(('f', ''))}"
        if not c.declares(name):
            c.module_lines.append(f"{name} = wp.types.vector(length={n}, dtype={r.choice(('wp.float32', 'float'))})")
        group = r.choice(("Model", "Data in"))
        arr = c.array(name, _input_shape(c, group), group)
        x = c.load(arr)
        parts = [f"{x.name}[{r.randrange(n)}]" for _ in range(r.randint(2, 4))]
        a = c.w.assign(" + ".join(f"{p} * {literal(r)}" for p in parts), "float")
        comps = ", ".join(r.choice((a.name, literal(r), f"{x.name}[{i}]")) for i in range(n))
        y = c.w.assign(f"{name}({comps})", name)
        c.w.assign(r.choice((f"wp.dot({x.name}, {y.name})", f"wp.length({y.name} - {x.name})", f"wp.length_sq({y.name})")), "float")
        x.reads = y.reads = 1
        if r.random() < 0.4:
            out = c.array(name, c.element_shape(), "Data out" if c.worlds else "Out")
            c.w.line(f"{c.at(out)} = {y.name} * {a.name}")
    else:
        rows = r.choice((4, 5, 6, 6))
        name = f"mat{rows}3"
        if not c.declares(name):
            c.module_lines.append(f"{name} = wp.types.matrix(shape=({rows}, 3), dtype=wp.float32)")
        arr = c.array(name, (c.element,), "Model")
        jac = c.load(arr, hint=r.choice(("jac", "J", "basis", "frame")))
        v = c.w.exprs.live("vec3", 1)
        prod = c.w.assign(f"{jac.name} @ {v}", f"vec{rows}")
        terms = " + ".join(f"{prod.name}[{i}] * {prod.name}[{i}]" for i in range(min(rows, r.randint(2, rows))))
        c.w.assign(terms, "float")
        jac.reads = prod.reads = 1


def array_slice(c: Composition) -> None:
    """A view of part of an array (``a[adr : adr + n]``), then reads through the view."""
    r = c.rng
    k = r.randint(2, 4)
    data = c.array(r.choice(("float32", "vec3")), (r.choice(("efc", "coef", "sample", "knot")),), "Model")
    start = c.array("int32", (c.element,), "Model", hint=f"{c.element}_{r.choice(('adr', 'start', 'offset'))}",
                    indexes=IndexInto(data.name, 0, k))
    adr = c.w.assign(f"{start.name}[{c.elem_var}]", "int", hint="adr")
    adr.reads = 1
    view = c.w.names.fresh(r.choice(("seg", "view", "window", "coefs")))
    c.w.line(r.choice((f"{view} = {data.name}[{adr.name} : {adr.name} + {k}]", f"{view} = {data.name}[{adr.name}:]")))
    t = ARRAY_DTYPES[data.dtype][0]
    terms = [f"{view}[{i}]" for i in range(k)]
    if r.random() < 0.5:
        c.w.assign(" + ".join(f"{x} * {literal(r)}" for x in terms), t, hint="blend")
    else:
        flow = _flow(c, {"compute": 1, "update": 2}, types=(t,))
        j = c.w.names.fresh("j")
        with _loop(c, flow, f"for {j} in range({k}):", j):
            c.w.assign(f"{view}[{j}]", t)
        _release(flow)


def struct_parameters(c: Composition) -> None:
    r = c.rng
    name = c.w.names.fresh(r.choice(("SolverParams", "Options", "Contact", "Material", "Settings", "Integrator")))
    fields = {f: r.choice(("float", "float", "int", "vec3", "quat")) for f in r.sample(("gain", "bias", "tol", "iterations", "axis", "frame", "cone", "damping", "scale", "mode"), r.randint(2, 5))}
    lines = ["@wp.struct", f"class {name}:"] + [f"    {f}: {WARP_TYPE[t]}" for f, t in fields.items()]
    table = None
    if r.random() < 0.4:
        table = r.choice(("weights", "lut", "accum"))
        lines.append(f"    {table}: wp.array(dtype=float)")
    c.w.preamble.append("\n".join(lines) + "\n")
    prm = c.w.names.fresh(r.choice(("params", "opt", "cfg", "settings")))
    c.struct_arg(prm, name, {**fields, **({table: "array:float32"} if table else {})})
    for f in r.sample(list(fields), min(len(fields), r.randint(1, 3))):
        c.w.assign(f"{prm}.{f}", fields[f], hint=f)
    if table:
        if r.random() < 0.5:
            c.w.assign(f"{prm}.{table}[{c.elem_var} % {prm}.{table}.shape[0]]", "float", hint=table)
        else:  # written through the struct's array: a nested store
            c.w.line(f"{prm}.{table}[{c.elem_var} % {prm}.{table}.shape[0]] = {c.w.exprs.live('float', 1)}")


def atomic_accumulate(c: Composition) -> None:
    r = c.rng
    t = r.choice(("float", "float", "vec3"))
    total = c.array({"float": "float32"}.get(t, t), (c.element_shape()[0],) if c.worlds else (1,), "Data out" if c.worlds else "Out",
                    hint=r.choice(("energy_out", "total_out", "norm_out", "count_out", "residual_out")))
    index = c.world_var if c.worlds else "0"
    op = r.choice(("atomic_add", "atomic_add", "atomic_max", "atomic_min", "atomic_sub")) if t == "float" else "atomic_add"
    c.w.line(f"wp.{op}({total.name}, {index}, {c.w.exprs.live(t, r.randint(1, 2))})")


def early_exit(c: Composition) -> None:
    """A disabled element leaves early (``bool(...)`` of a flag array, or a bit of a flags word)."""
    r = c.rng
    if r.random() < 0.5:
        flags = c.array("bool", (c.element,), "Model", hint=f"{c.element}_{r.choice(('active', 'enabled', 'sleeping', 'static', 'fixed'))}")
        cond = f"{'not ' if r.random() < 0.5 else ''}bool({flags.name}[{c.elem_var}])" if r.random() < 0.7 else f"{flags.name}[{c.elem_var}]"
    else:
        bit, leaves_when = r.choice((1, 2, 4)), r.choice(("!=", "=="))
        # The word every launch passes keeps the elements running: with the bit that sends them
        # away, all threads would leave and the launch would show nothing of the kernel.
        runs = [w for w in range(1, 8) if bool(w & bit) == (leaves_when == "==")]
        word = c.scalar("int", "Model", hint=r.choice(("opt_disableflags", "opt_enableflags", "mode_flags")), value=r.choice(runs))
        word.reads = 1
        cond = f"({word.name} & {bit}) {leaves_when} 0"
    with c.w.block(f"if {cond}:"):
        c.on_early_return()
        c.w.line("return")


def report(c: Composition) -> None:
    """Debug output from one thread, as kernels under development print."""
    r = c.rng
    v = next((v for v in reversed(c.w.values) if v.type == "float"), None)
    if v is None:
        return
    first = f"{c.world_var} == 0 and {c.elem_var} == 0" if c.worlds else f"{c.elem_var} == 0"
    with c.w.block(f"if {first}:"):
        c.w.line(r.choice((f"print({v.name})", f"wp.print({v.name})", f'wp.printf("{c.element} %d: %f\\n", {c.elem_var}, {v.name})')))


def check(c: Composition) -> None:
    """A test kernel's assertion on values it computed (``wp.expect_eq`` / ``expect_neq``)."""
    r = c.rng
    t = r.choice(("int", "float", "vec3"))
    a = c.w.exprs.live(t, 1)
    c.w.line(f"wp.{r.choice(('expect_eq', 'expect_eq', 'expect_neq'))}({a}, {c.w.exprs.expr(t, 1)})")


# name: (stage, weight)
STAGES = {
    "load_inputs": (load_inputs, 3.0),
    "compute": (compute, 3.0),
    "helper_call": (helper_call, 3.0),
    "branches": (branches, 2.5),
    "loops": (loops, 1.2),
    "neighbours": (neighbours, 1.2),
    "static_loop": (static_loop, 0.5),
    "custom_type": (custom_type, 0.35),
    "array_slice": (array_slice, 0.25),
    "struct_parameters": (struct_parameters, 0.25),
    "atomic_accumulate": (atomic_accumulate, 0.5),
    "world_parameter": (world_parameter, 0.7),
    "report": (report, 0.03),
    "check": (check, 0.08),
}


# -- helpers -----------------------------------------------------------------------------
def _helper(c: Composition) -> Helper:
    """A ``@wp.func`` in the style of simulation code; returns how to call it."""
    r = c.rng
    fw = KernelWriter(r)
    fw.names = c.w.names
    fw.exprs.extra = {t: list(rules) for t, rules in c.w.exprs.extra.items()}
    fw.exprs.extra_p = 0.3
    name = ("_" if r.random() < 0.4 else "") + c.w.names.kernel_name()
    generic = r.random() < 0.12
    style = r.choices(("plain", "elif", "guard", "loop", "tuple", "flag"), (3, 2, 1.5, 1, 1.2, 0.4))[0]
    sig, params = [], []
    if style == "flag":
        arr = c.array("bool", (c.element,), "Model", hint=f"{c.element}_{r.choice(('has_limit', 'is_static', 'frozen', 'collides'))}")
        idx = c.w.names.fresh(r.choice(("idx", "id", "n")))
        source = (f"@wp.func\ndef {name}(\n    # Model:\n    {arr.name}: wp.array(dtype=bool),\n    # In:\n    {idx}: int,\n) -> bool:\n"
                  f"    return bool({arr.name}[{idx}])\n")
        helper = Helper(name, (f"array:{arr.name}", "index"), "bool")
        c.add_helper(source, helper)
        return helper
    if r.random() < 0.3:  # a model array passed through, read at an index
        arr = c.array(r.choice(("float32", "float32", "vec3")), (c.element,), "Model")
        sig.append(f"{arr.name}: {'wp.array(dtype=float)' if arr.dtype == 'float32' else 'wp.array(dtype=wp.vec3)'}")
        idx = c.w.names.fresh(r.choice(("idx", "i", "id")))
        sig.append(f"{idx}: int")
        params += [f"array:{arr.name}", "index"]
        fw.assign(f"{arr.name}[{idx}]", ARRAY_DTYPES[arr.dtype][0], hint="entry")
    for _ in range(r.randint(1, 4)):
        t = r.choice(("float", "vec3") if generic else HELPER_TYPES)
        p = fw.names.fresh(r.choice((None, None, "x", "a", "b", "p", "v", "n", "q", "s", "r")))
        fw.values.append(Value(p, t))
        sig.append(f"{p}: {'Any' if generic else WARP_TYPE[t]}")
        params.append(t)
    if generic:
        c.imports.add("from typing import Any")
    value_params = [p for p in params if p in WARP_TYPE]
    ret = r.choice(RETURN_TYPES if not generic else ("float",) + tuple(value_params))
    for _ in range(r.randint(0, 3)):
        fw.compute_live(r.choice((ret, ret, "float") + tuple(value_params)), depth=r.randint(1, 3))
    returns: str | tuple = ret
    if style == "elif":
        with fw.block(f"if {fw.exprs.live('bool', 1)}:") as m:
            fw.line(f"return {fw.fold_unused(fw.exprs.live(ret, 1), ret, since=m)}")
        for _ in range(r.randint(1, 3)):
            with fw.block(f"elif {fw.exprs.live('bool', 1)}:") as m:
                if r.random() < 0.4:
                    fw.compute_live(ret, 1)
                fw.line(f"return {fw.fold_unused(fw.exprs.live(ret, 1), ret, since=m)}")
    elif style == "guard":
        with fw.block(f"if {fw.exprs.live('bool', 1)}:"):
            fw.line(f"return {fw.exprs.constant(ret)}")
        fw.compute_live(ret, 2)
    elif style == "loop" and ret in ("float", "vec3", "int", "vec2"):
        flow = Flow(fw, {"compute": 1, "update": 2, "if": 0.5}, types=(ret, "float"))
        flow.target(ret, hint=r.choice(("acc", "total", "res")))
        flow.statement("for_const", 1)
        _release(flow)
    if style == "tuple":
        ret2 = r.choice(("float", "vec3", "int", "bool"))
        a = fw.assign(fw.fold_unused(fw.exprs.live(ret, 2), ret), ret)
        fw.line(f"return {a.name}, {fw.exprs.live(ret2, 1)}")
        returns = (ret, ret2)
        ann = f" -> {r.choice(('Tuple', 'tuple'))}[{WARP_TYPE[ret]}, {WARP_TYPE[ret2]}]"
        if "Tuple" in ann:
            c.imports.add("from typing import Tuple")
    else:
        fw.line(f"return {fw.fold_unused(fw.exprs.live(ret, 2), ret)}")
        ann = "" if generic or r.random() < 0.15 else f" -> {WARP_TYPE[ret]}"
    if generic:
        ann = ""
    if len(sig) >= 3 and r.random() < 0.6:
        header = f"def {name}(\n" + "".join(f"    {s},\n" for s in sig) + f"){ann}:\n"
    else:
        header = f"def {name}({', '.join(sig)}){ann}:\n"
    source = "@wp.func\n" + header + "\n".join(fw.body) + "\n"
    helper = Helper(name, tuple(params), returns)
    c.add_helper(source, helper)
    return helper


# -- the family --------------------------------------------------------------------------
def _stage_count(r) -> int:
    """Long-tailed, like real kernel lengths: median ~8 stages, one in a hundred past 100."""
    return max(4, min(160, round(math.exp(r.gauss(2.1, 1.15)))))


@family("simulation", 30.0, budget=110_000)
def simulation(r) -> GeneratedKernel:
    c = Composition(r, worlds=r.random() < 0.6, bracket_style=r.random() < 0.4, group_comments=r.random() < 0.6)
    n = _stage_count(r)
    long = n >= 10
    if n >= 8:
        c.w.exprs.max_depth = 1 if n >= 25 else 2
    if r.random() < (0.85 if long else 0.25):  # the backward pass off, as solvers turn it off
        if r.random() < 0.7:
            c.module_options["enable_backward"] = False
        else:
            c.kernel_options["enable_backward"] = False
    if r.random() < 0.35:
        c.module_options["default_grid_stride"] = False
    if r.random() < 0.06:
        c.kernel_options["module"] = "unique"
        if r.random() < 0.4:
            c.kernel_options[r.choice(("launch_bounds", "grid_stride", "module_options"))] = None
    if c.kernel_options.get("module") == "unique" and "enable_backward" in c.module_options:
        # A kernel in a module of its own does not see the file's module options.
        c.kernel_options["enable_backward"] = c.module_options.pop("enable_backward")
    c.generic = r.random() < 0.07
    for key in [k for k, v in c.kernel_options.items() if v is None]:
        c.kernel_options[key] = {"launch_bounds": r.choice((64, 128, 256)), "grid_stride": r.choice((True, False)),
                                 "module_options": {"fast_math": True}}[key]
    c.launch()
    for _ in range(r.choice((1, 1, 1, 2, 2, 3))):
        c.output(r.choice(("float", "float", "vec3", "vec3", "quat", "int", "mat33", "vec2")))
    if r.random() < 0.45:
        bound = c.scalar("int", "Model", hint=f"n{c.element}", bound=c.element)
        bound.reads = 1
        with c.w.block(f"if {c.elem_var} >= {bound.name}:"):
            c.w.line("return")
    elif r.random() < 0.3:
        early_exit(c)
    load_inputs(c)
    names = list(STAGES)
    weights = [STAGES[k][1] for k in names]
    for _ in range(n):
        STAGES[r.choices(names, weights)[0]][0](c)
    c.finish()
    kernel = ("_" if r.random() < 0.35 else "") + c.w.names.kernel_name(c.element)
    overload = c.concrete_annotations() if c.generic and any("Any" in a.annotation for a in c.args) else None
    if c.generic and overload is None:
        c.generic = False
    return GeneratedKernel(kernel, c.render(kernel, overload), c.contract())
