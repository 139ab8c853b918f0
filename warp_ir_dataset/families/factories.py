"""Kernels made the way library code makes them: a factory *function* whose body defines the
``@wp.kernel`` (and, sometimes, a ``@wp.func`` of its own) closing over the factory's
arguments, called once at module level; helpers with default argument values, called with
and without them (positionally and by keyword); ``@wp.func_native`` helpers whose body is a
C++/CUDA snippet, with the snippet of their adjoint; and ``len(...)`` of arrays and vectors.

Warp keys a kernel made inside a function ``factory__locals__name``: that is the row's
``kernel_name``.
"""
from . import GeneratedKernel, family
from ._kit import KernelWriter, Value, literal

IN_DTYPES = ("float32", "float32", "vec3", "vec3", "float64", "vec2", "int32")
OUT_TYPES = ("float", "float", "vec3", "vec2")
OUT_DTYPE = {"float": "float32"}

# Native snippets: (name, body, adjoint body) over parameters a, b, c of type float. ``{a}`` …
# are the parameter names, so a snippet reads like hand-written C++.
NATIVE = (
    ("fused_madd", "return {a} * {b} + {c};", "adj_{a} += {b} * adj_ret;\nadj_{b} += {a} * adj_ret;\nadj_{c} += adj_ret;"),
    ("blend", "return {a} + ({b} - {a}) * {c};", "adj_{a} += (1.0f - {c}) * adj_ret;\nadj_{b} += {c} * adj_ret;\nadj_{c} += ({b} - {a}) * adj_ret;"),
    ("leaky", "return {a} > 0.0f ? {a} : {c} * {a};", "adj_{a} += ({a} > 0.0f ? 1.0f : {c}) * adj_ret;\nadj_{c} += ({a} > 0.0f ? 0.0f : {a}) * adj_ret;"),
    ("squared_product", "float t = {a} * {b};\nreturn t * t + {c};", "float t = {a} * {b};\nadj_{a} += 2.0f * t * {b} * adj_ret;\nadj_{b} += 2.0f * t * {a} * adj_ret;\nadj_{c} += adj_ret;"),
)


def _native_helper(w: KernelWriter, rng) -> tuple[str, int]:
    """A ``@wp.func_native`` of three floats (``c`` unused by some snippets); its name and arity."""
    hint, body, adjoint = rng.choice(NATIVE)
    name = w.names.fresh(hint)
    a, b, c = (w.names.fresh(h) for h in ("a", "b", "c"))
    snippet = body.format(a=a, b=b, c=c)
    adj = adjoint.format(a=a, b=b, c=c)
    w.preamble.append(
        f'@wp.func_native("""\n{snippet}\n""", adj_snippet="""\n{adj}\n""")\n'
        f"def {name}({a}: float, {b}: float, {c}: float) -> float: ...\n"
    )
    return name, 3


def _defaulted_helper(w: KernelWriter, rng) -> tuple[str, list[tuple[str, str]]]:
    """A ``@wp.func`` whose trailing parameters have default values: its name and its
    ``(parameter, default)`` list (the first has none)."""
    name = w.names.fresh(rng.choice(("damp", "soften", "shape", "bias_by")))
    fw = KernelWriter(rng)
    fw.names = w.names
    fw.scalar_arg("float", hint=rng.choice(("x", "v", "s")))
    params = [(fw.args.pop(), None)]
    for _ in range(rng.randint(1, 3)):
        p = fw.scalar_arg("float", hint=rng.choice(("rate", "floor", "scale", "eps", "gain")))
        params.append((fw.args.pop(), literal(rng)))
    for _ in range(rng.randint(0, 2)):
        fw.compute_live("float", depth=rng.randint(1, 2))
    fw.line(f"return {fw.fold_unused(fw.exprs.live('float', 2), 'float')}")
    sig = ", ".join(decl if default is None else f"{decl} = {default}" for decl, default in params)
    w.preamble.append(f"@wp.func\ndef {name}({sig}) -> float:\n" + "\n".join(fw.body) + "\n")
    return name, [(decl.split(":")[0], default) for decl, default in params]


def _call_with_defaults(w: KernelWriter, rng, name: str, params: list[tuple[str, str]]) -> str:
    """A call that leaves out some defaulted arguments, gives some positionally and some by keyword."""
    args = [w.exprs.live("float", 1)]
    optional = params[1:]
    given = rng.randint(0, len(optional))
    by_keyword = rng.random() < 0.5
    for k, (pname, _) in enumerate(optional[:given]):
        value = w.exprs.expr("float", 1)
        args.append(f"{pname}={value}" if by_keyword and k == given - 1 else value)
    return f"{name}({', '.join(args)})"


@family("factories", 1.0)
def factories(rng) -> GeneratedKernel:
    w = KernelWriter(rng)
    defaulted = _defaulted_helper(w, rng) if rng.random() < 0.8 else None
    native = _native_helper(w, rng) if rng.random() < 0.6 else None
    factory = w.names.fresh(rng.choice(("make", "build", "create"))) + "_kernel"
    # The factory's arguments: constants of the kernel it makes (closure variables).
    gain = w.names.fresh(rng.choice(("gain", "scale", "weight")))
    passes = w.names.fresh(rng.choice(("passes", "taps", "steps")))
    gain_value, passes_value = literal(rng), rng.randint(1, 3)
    local_func = None
    local_lines: list[str] = []
    if rng.random() < 0.5:  # a @wp.func of the factory's own, closing over its argument too
        local_func = w.names.fresh(rng.choice(("shaped", "scaled", "warp_by")))
        v = w.names.fresh("v")
        op = rng.choice(("{v} * {g}", "{v} + {g}", "wp.sin({v}) * {g}", "{v} / (wp.abs({g}) + 1.0)"))
        local_lines = ["    @wp.func", f"    def {local_func}({v}: float) -> float:", f"        return {op.format(v=v, g=gain)}", ""]

    ins = [(w.array_arg(d := rng.choice(IN_DTYPES)), d) for _ in range(rng.randint(1, 3))]
    out_t = rng.choice(OUT_TYPES)
    out = w.array_arg(OUT_DTYPE.get(out_t, out_t), hint="out")
    (i,) = w.tid()
    w.values.append(Value(gain, "float"))  # the closure variable, read like any value in scope
    first, dtype = ins[0]
    if rng.random() < 0.8:  # a neighbour, wrapped by the array's length
        n = w.assign(f"len({first})", "int", hint="n")
        n.read()
        w.load(first, dtype, f"({i} + {rng.randint(1, 3)}) % {n.name}", hint="next")
    for a, d in ins:
        w.load(a, d, f"{i} % len({a})" if rng.random() < 0.4 else i)
    if any(v.type in ("vec3", "vec2") for v in w.values) and rng.random() < 0.6:
        vec = next(v for v in w.values if v.type in ("vec3", "vec2"))
        w.assign(f"float(len({vec.name}))", "float", hint="width")
    acc = w.mutable("float", hint=rng.choice(("acc", "total", "sum")))
    with w.block(f"for _ in range({passes}):") as mark:
        terms = []
        if defaulted:
            terms.append(_call_with_defaults(w, rng, *defaulted))
        if native:
            terms.append(f"{native[0]}({', '.join(w.exprs.live('float', 1) for _ in range(native[1]))})")
        if local_func:
            terms.append(f"{local_func}({w.exprs.live('float', 1)})")
        if not terms:
            terms.append(w.exprs.live("float", 2))
        w.line(f"{acc.name} = {acc.name} + {w.fold_unused(' + '.join(terms), 'float', since=mark)}")
    acc.reads = 0  # read only by its own update so far: the output takes it
    res = w.compute_live(out_t, depth=rng.randint(1, 2))
    w.store(out, OUT_DTYPE.get(out_t, out_t), i, w.fold_unused(res.name, out_t))
    name = w.names.kernel_name()
    return GeneratedKernel(f"{factory}__locals__{name}", _render(w, name, factory, (gain, gain_value), (passes, passes_value), local_lines))


def _render(w: KernelWriter, name: str, factory: str, gain: tuple[str, str], passes: tuple[str, int], local_lines: list[str]) -> str:
    module = w.render(name)
    head, _, kernel = module.partition("\n@wp.kernel\n")
    inner = ["    " + line if line else "" for line in ("@wp.kernel\n" + kernel).rstrip("\n").split("\n")]
    parts = [head.rstrip("\n"), "", "", f"def {factory}({gain[0]}: float, {passes[0]}: int):", *local_lines, *inner, "", f"    return {name}", "", "",
             f"{name} = {factory}({gain[1]}, {passes[1]})", ""]
    return "\n".join(parts)
