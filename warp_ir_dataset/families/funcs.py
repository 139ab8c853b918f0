"""User ``@wp.func`` helpers: 1-3 typed helpers (some calling an earlier one, some with early
returns, loops, array parameters or two return values), whose bodies are random expressions
over their parameters, called from the kernel."""
from . import GeneratedKernel, family
from ._flow import Flow
from ._kit import WARP_TYPE, KernelWriter, Value

TYPES = ("float", "float", "float", "vec3", "vec3", "int", "vec2", "mat33", "quat", "vec4")
RETS = ("float", "float", "vec3", "vec3", "vec2", "int", "mat33", "quat")
IN_DTYPES = ("float32", "float32", "vec3", "vec3", "int32", "float64", "vec2", "mat33", "quat")
OUT = {"float": "float32", "int": "int32"}


def _helper(w: KernelWriter, rng, callable_rules: dict) -> tuple[str, list[str], str | tuple, str]:
    fname = w.names.kernel_name()
    fw = KernelWriter(rng)
    fw.names = w.names
    fw.exprs.extra = {t: list(r) for t, r in callable_rules.items()}
    fw.exprs.extra_p = 0.4
    params, sig = [], []
    arr = None
    if rng.random() < 0.2:
        arr = w.names.fresh(rng.choice(("table", "samples", "lut", "data")))
        sig.append(f"{arr}: wp.array(dtype=float)")
        params.append("array")
    for _ in range(rng.randint(1, 4)):
        t = rng.choice(TYPES)
        p = fw.scalar_arg(t, hint=rng.choice((None, None, "x", "a", "b", "p", "v", "n", "q", "s")))
        sig.append(fw.args.pop())
        params.append(t)
    ret = rng.choice(RETS)
    two = rng.random() < 0.15
    if arr:
        iv = fw.assign(f"{arr}[{fw.exprs.expr('int', 1)} % {arr}.shape[0]]", "float", hint="entry")
    for _ in range(rng.randint(0, 3)):
        fw.compute_live(rng.choice((ret, ret, "float", *params[-2:])).replace("array", "float"), depth=rng.randint(1, 3))
    style = rng.choice(("plain", "plain", "branch", "loop"))
    if style == "branch" and not two:
        with fw.block(f"if {fw.exprs.live('bool', 1)}:") as m:
            fw.line(f"return {fw.fold_unused(fw.exprs.live(ret, 1), ret, since=m)}")
    elif style == "loop" and ret in ("float", "vec3", "int", "vec2"):
        flow = Flow(fw, {"compute": 1, "update": 2, "if": 0.5}, types=(ret, "float"))
        flow.target(ret, hint=rng.choice(("acc", "total", "res")))
        flow.statement("for_const", 1)
        for v in flow.targets:
            v.reads = 0
    if two:
        ret2 = rng.choice(("float", "vec3", "int"))
        a = fw.assign(fw.fold_unused(fw.exprs.live(ret, 2), ret), ret)
        fw.line(f"return {a.name}, {fw.exprs.expr(ret2, 1)}")
        rets: str | tuple = (ret, ret2)
    else:
        fw.line(f"return {fw.fold_unused(fw.exprs.live(ret, 2), ret)}")
        rets = ret
    ann = "" if (rng.random() < 0.2 or two) else f" -> {WARP_TYPE[ret]}"
    if two and rng.random() < 0.6:
        ann = f" -> tuple[{WARP_TYPE[ret]}, {WARP_TYPE[ret2]}]"
    src = "@wp.func\ndef " + fname + "(" + ", ".join(sig) + f"){ann}:\n" + "\n".join(fw.body) + "\n"
    w.preamble.append(src)
    return fname, params, rets, arr


@family("funcs", 1.3)
def funcs(rng) -> GeneratedKernel:
    w = KernelWriter(rng)
    rules: dict = {}
    helpers = []
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        fname, params, rets, arr = _helper(w, rng, rules)
        helpers.append((fname, params, rets))
        if isinstance(rets, str) and "array" not in params:
            rules.setdefault(rets, []).append((f"{fname}(" + ", ".join(f"{{{n}}}" for n in range(len(params))) + ")", tuple(params)))
    ins = [(w.array_arg(d := rng.choice(IN_DTYPES)), d) for _ in range(rng.randint(1, 3))]
    tables = [w.array_arg("float32", hint=rng.choice(("table", "lut", "weights")))] if any("array" in p for _, p, _ in helpers) else []
    out_t = rng.choice(("float", "vec3", "float", "int", "quat", "vec2"))
    out = w.array_arg(OUT.get(out_t, out_t), hint="out")
    if rng.random() < 0.4:
        w.scalar_arg(rng.choice(("float", "int")))
    (i,) = w.tid()
    for a, d in ins:
        w.load(a, d, i)
    w.exprs.extra = rules
    w.exprs.extra_p = 0.35
    order = list(helpers)
    rng.shuffle(order)
    for fname, params, rets in order:
        args = [tables[0] if p == "array" else w.exprs.live(p, rng.randint(0, 2)) for p in params]
        call = f"{fname}({', '.join(args)})"
        if isinstance(rets, tuple):
            a, b = w.names.fresh(), w.names.fresh()
            w.line(f"{a}, {b} = {call}")
            w.values += [Value(a, rets[0]), Value(b, rets[1])]
        else:
            w.assign(call, rets)
        if rng.random() < 0.5:
            w.compute_live(rng.choice(("float", out_t)), depth=rng.randint(1, 2))
    res = w.compute_live(out_t, depth=rng.randint(1, 2))
    w.store(out, OUT.get(out_t, out_t), i, w.fold_unused(res.name, out_t))
    return GeneratedKernel(name := w.names.kernel_name(), w.render(name))
