"""Loops: constant and data-dependent ``for`` ranges, nested loops, ``while`` loops with
counters, accumulators carried across iterations, ``break``/``continue``, and gathers from
arrays at loop-dependent indices."""
from . import GeneratedKernel, family
from ._flow import Flow
from ._kit import KernelWriter

IN_DTYPES = ("float32", "float32", "float64", "vec3", "vec2", "int32", "vec4")
OUT_TYPES = {"float": "float32", "vec3": "vec3", "int": "int32", "vec4": "vec4"}


@family("loops")
def loops(rng) -> GeneratedKernel:
    w = KernelWriter(rng)
    ins = [(w.array_arg(d := rng.choice(IN_DTYPES)), d) for _ in range(rng.randint(1, 3))]
    bounds: list[str] = []
    counts = None
    if rng.random() < 0.5:
        counts = w.array_arg(cdt := rng.choice(("int32", "int32", "int64")), hint=rng.choice(("counts", "num_neighbors", "degree", "n_items")))
    if rng.random() < 0.6:
        bounds.append(w.scalar_arg("int", hint=rng.choice(("n", "num_iters", "max_steps", "count", "width"))))
    out_t = rng.choice(("float", "float", "vec3", "int", "vec4"))
    out = w.array_arg(OUT_TYPES[out_t], hint="out")
    for _ in range(rng.randint(0, 1)):
        w.scalar_arg("float", hint=rng.choice(("tol", "dt", "decay", "rate", None)))
    (i,) = w.tid()
    loaded = [w.load(a, d, i) for a, d in ins if rng.random() < 0.7]
    if counts:
        c = w.assign(f"wp.int32({counts}[{i}])" if (rng.random() < 0.5 or cdt == "int64") else f"{counts}[{i}]", "int", hint="num")
        c.read()
        bounds.append(c.name)
    bounds.append(f"{ins[0][0]}.shape[0]") if rng.random() < 0.4 else None
    if not loaded and not bounds:
        w.load(*ins[0], i)
    types = tuple(sorted({"float", out_t, *(rng.sample(("vec3", "int", "float"), rng.randint(0, 2)))}))
    flow = Flow(w, {"compute": 1.5, "update": 2, "if": 1, "ifelse": 0.5, "for_const": 1.5, "for_dyn": 2,
                    "while": 1, "break": 0.7, "continue": 0.5, "gather": 2.5},
                types=types, bounds=bounds, gathers=ins, index=i)
    flow.target(out_t, hint=rng.choice(("acc", "total", "sum", "state", None)))
    for _ in range(rng.randint(0, 2)):
        flow.target(rng.choice(types))
    depth = rng.randint(1, 3)
    flow.statement(rng.choice(("for_const", "for_dyn", "for_dyn", "while")) if bounds else "for_const", depth)
    flow.stmts(depth, 0, 2)
    w.store(out, OUT_TYPES[out_t], i, flow.result(out_t))
    return GeneratedKernel(name := w.names.kernel_name(), w.render(name))
