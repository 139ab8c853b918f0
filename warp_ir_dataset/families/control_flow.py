"""Data-dependent branching: if/elif/else chains, nested branches, wp.where and conditional
expressions, boolean flags, and early ``return`` after storing a result."""
from . import GeneratedKernel, family
from ._flow import Flow
from ._kit import KernelWriter

IN_DTYPES = ("float32", "float32", "float64", "vec3", "vec2", "int32", "float16", "vec4")
OUT_TYPES = {"float": "float32", "vec3": "vec3", "int": "int32", "vec2": "vec2"}


@family("control_flow")
def control_flow(rng) -> GeneratedKernel:
    w = KernelWriter(rng)
    ins = [(w.array_arg(d := rng.choice(IN_DTYPES)), d) for _ in range(rng.randint(1, 3))]
    out_t = rng.choice(("float", "float", "vec3", "int", "vec2"))
    out_dtype = OUT_TYPES[out_t]
    if out_dtype == "float32" and rng.random() < 0.3:
        out_dtype = rng.choice(("float64", "float16"))
    out = w.array_arg(out_dtype, hint="out")
    for _ in range(rng.randint(0, 2)):
        w.scalar_arg(rng.choice(("float", "float", "int")), hint=rng.choice(("thresh", "limit", "eps", "scale", "mode", "level", None)))
    (i,) = w.tid()
    for a, d in ins:
        w.load(a, d, i)
    types = tuple(sorted({"float", out_t, *(rng.sample(("vec3", "int", "float"), rng.randint(0, 2)))}))

    def early(flow: Flow):
        w.store(out, out_dtype, i, flow.result(out_t))

    flow = Flow(w, {"compute": 2, "update": 2, "if": 2, "ifelse": 2, "elif": 1.5, "where": 1.5,
                    "ternary": 0.7, "flag": 0.5, "return": 0.5}, types=types, on_return=early)
    for _ in range(rng.randint(0, 2)):
        flow.statement("compute", 0)
    flow.target(out_t, hint=rng.choice(("result", "acc", "value", "response", None)))
    for _ in range(rng.randint(0, 2)):
        flow.target(rng.choice(types))
    depth = rng.randint(1, 3)
    flow.statement(rng.choice(("if", "ifelse", "elif", "elif")), depth)
    flow.stmts(depth, 0, 3)
    w.store(out, out_dtype, i, flow.result(out_t))
    return GeneratedKernel(name := w.names.kernel_name(), w.render(name))
