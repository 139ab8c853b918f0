"""A kernel skeleton for "themed" families: a family supplies extra expression rules (the
builtins it covers) and array dtypes; the skeleton picks inputs, an output, and one of a few
structures (straight-line, branchy, looped) so themed kernels still vary in shape."""
from __future__ import annotations

from . import GeneratedKernel
from ._flow import Flow
from ._budget import HEAVY
from ._kit import KernelWriter

STORE_DTYPE = {"float": "float32", "int": "int32"}


def themed(rng, *, rules: dict, in_dtypes: tuple, out_types: tuple, extra_p: float = 0.5,
           topic: str | None = None, setup=None, min_calls: int = 1, scalars: tuple = ("float",),
           out_dtypes: dict | None = None) -> GeneratedKernel:
    """``setup(w, i)`` may add arguments/statements after ``wp.tid()`` (e.g. a query handle)
    and may return extra rules to merge."""
    w = KernelWriter(rng)
    ins = [(w.array_arg(d := rng.choice(in_dtypes)), d) for _ in range(rng.randint(1, 3))]
    out_t = rng.choice(out_types)
    out_dtype = (out_dtypes or {}).get(out_t) or STORE_DTYPE.get(out_t, out_t)
    out = w.array_arg(out_dtype, hint="out")
    for _ in range(rng.randint(0, 2)):
        w.scalar_arg(rng.choice(scalars), hint=rng.choice((None, "scale", "eps", "dt", "k")))
    (i,) = w.tid()
    for a, d in ins:
        w.load(a, d, i)
    all_rules = {t: list(r) for t, r in rules.items()}
    if setup:
        for t, r in (setup(w, i) or {}).items():
            all_rules.setdefault(t, []).extend(r)
    # Each kernel uses a random subset of the theme's rules: kernels of one family differ in
    # which builtins they combine, and heavy rules rarely pile up in one kernel.
    all_rules = {t: rng.sample(r, rng.randint(1, max(1, (len(r) * 2 + 2) // 3))) for t, r in all_rules.items() if r}
    # Builtins Warp implements as Python functions compile to large helpers: mostly one per kernel.
    heavy = 0
    for t, r in all_rules.items():
        keep = []
        for rule in r:
            if any(f"wp.{h}(" in rule[0] for h in HEAVY):
                if heavy and rng.random() < 0.8:
                    continue
                heavy += 1
            keep.append(rule)
        all_rules[t] = keep
    all_rules = {t: r for t, r in all_rules.items() if r}
    w.exprs.extra = all_rules
    w.exprs.extra_p = extra_p
    # Guarantee the theme shows up: a few direct calls of its rules.
    theme_types = list(all_rules)
    for _ in range(min_calls + rng.randint(0, 1)):
        for _ in range(8):  # a call on constants only would compute a constant: find one on values
            t = rng.choice(theme_types)
            fmt, args = rng.choice(all_rules[t])
            reads = [v.reads for v in w.values]
            parts = [w.exprs.live(a, rng.randint(0, 1 if len(args) <= 2 else 0)) for a in args]
            if w.exprs.reads_value(" ".join(parts)):
                break
        w.exprs.spread(parts, args)
        w.assign(w.exprs.render(t, fmt, args, parts, reads), t)
    shape = rng.choice(("straight", "straight", "branch", "loop"))
    types = tuple(sorted({"float", out_t, *rng.sample([t for t in all_rules if t != "bool"], 1)}))
    flow = Flow(w, {"compute": 3, "update": 1.5, "if": 1, "ifelse": 1, "where": 0.7, "for_const": 0.8},
                types=types, index=i)
    if shape == "straight":
        for _ in range(rng.randint(1, 3)):
            flow.statement("compute", 0)
    else:
        flow.target(out_t if out_t in ("float", "int", "vec3", "vec2", "vec4", "mat33", "quat") else "float")
        flow.statement("if" if shape == "branch" and rng.random() < 0.5 else "ifelse" if shape == "branch" else "for_const", rng.randint(1, 2))
        flow.stmts(1, 0, 2)
    res = w.compute_live(out_t, depth=rng.randint(1, 2))
    w.store(out, out_dtype, i, flow.result(out_t) if flow.targets else w.fold_unused(res.name, out_t))
    return GeneratedKernel(name := w.names.kernel_name(topic), w.render(name))
