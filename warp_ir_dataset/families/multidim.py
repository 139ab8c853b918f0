"""Multi-dimensional launches (2D-4D ``wp.tid()``) over ndim=2..4 arrays: finite-difference
stencils with clamped, one-sided or periodic neighbour indexing, boundary guards with early
return, convolution windows, per-axis coefficient arrays and shape queries."""
from . import GeneratedKernel, family
from ._kit import ARRAY_DTYPES, KernelWriter

FIELD_DTYPES = ("float32", "float32", "float32", "vec3", "vec2", "float64")
SPELL = {2: "wp.array2d", 3: "wp.array3d", 4: "wp.array4d"}


def _field_arg(w, rng, dtype: str, ndim: int, hint=None) -> str:
    if rng.random() < 0.5:
        return w.array_arg(dtype, ndim=ndim, hint=hint)
    name = w.names.fresh(hint)
    spelled = dtype if dtype in ("float", "int") else f"wp.{dtype}"
    if rng.random() < 0.3 and dtype == "float32":
        spelled = "float"
    w.raw_arg(f"{name}: {SPELL[ndim]}(dtype={spelled})")
    return name


def _nbr(rng, idx: list[str], axis: int, d: int, arr: str, mode: str) -> str:
    v = idx[axis]
    size = f"{arr}.shape[{axis}]"
    sd = f"+ {d}" if d > 0 else f"- {-d}"
    e = {
        "clamp": f"wp.clamp({v} {sd}, 0, {size} - 1)",
        "minmax": f"wp.min({v} {sd}, {size} - 1)" if d > 0 else f"wp.max({v} {sd}, 0)",
        "periodic": f"({v} {sd} + {size}) % {size}",
    }[mode]
    out = list(idx)
    out[axis] = e
    return ", ".join(out)


@family("multidim", 1.2)
def multidim(rng) -> GeneratedKernel:
    w = KernelWriter(rng)
    dim = rng.choice((2, 2, 2, 3, 3, 4))
    ft = rng.choice(FIELD_DTYPES)
    vt = {"float32": "float", "float64": "float"}.get(ft, ft)
    fields = [_field_arg(w, rng, ft, dim, rng.choice(("field", "phi", "u", "rho", "temp", "img", "vel", None)))
              for _ in range(rng.randint(1, 2))]
    coef = None
    if rng.random() < 0.35:
        coef = (w.array_arg("float32", hint=rng.choice(("coeff", "weights", "profile"))), rng.randrange(dim))
    kern = None
    if dim == 2 and rng.random() < 0.3:
        kern = _field_arg(w, rng, "float32", 2, rng.choice(("kernel_weights", "filter", "stencil")))
    out_t = rng.choice((vt, vt, "float"))
    out = _field_arg(w, rng, ft if out_t == vt else "float32", dim, "out")
    for _ in range(rng.randint(0, 2)):
        w.scalar_arg(rng.choice(("float", "float", "int")), hint=rng.choice(("h", "inv_dx", "dt", "alpha", "k_diff", "radius")))
    idx = w.tid(dim)
    here = ", ".join(idx)
    mode = rng.choice(("clamp", "clamp", "minmax", "periodic", "guard"))
    if mode == "guard" or rng.random() < 0.2:
        w_axes = rng.sample(range(dim), rng.randint(1, dim))
        conds = [rng.choice((f"{idx[a]} == 0 or {idx[a]} >= {out}.shape[{a}] - 1", f"{idx[a]} >= {fields[0]}.shape[{a}] - 1")) for a in w_axes]
        with w.block(f"if {' or '.join(conds)}:"):
            if rng.random() < 0.5:
                w.store(out, ft if out_t == vt else "float32", here, w.exprs.constant(out_t) if out_t != "float" else "0.0")
            w.line("return")
        if mode == "guard":
            mode = rng.choice(("clamp", "minmax", "periodic"))
    if rng.random() < 0.4:
        for a in rng.sample(range(dim), rng.randint(1, dim)):
            w.assign(f"{fields[0]}.shape[{a}]", "int", hint=("nx", "ny", "nz", "nw")[a])
    centers = [w.load(f, ft, here, hint="c") for f in fields]
    if coef:
        w.load(coef[0], "float32", f"{idx[coef[1]]} % {coef[0]}.shape[0]", hint="w")
    axes = rng.sample(range(dim), rng.randint(1, dim))
    stencil = rng.choice(("laplace", "grad", "upwind", "mixed"))
    for f, c in zip(fields, centers):
        if rng.random() < 0.3 and len(fields) > 1:
            continue
        terms = []
        for a in axes:
            lo = w.load(f, ft, _nbr(rng, idx, a, -1, f, mode))
            hi = w.load(f, ft, _nbr(rng, idx, a, 1, f, mode))
            lo.read(); hi.read()
            if stencil == "laplace" or (stencil == "mixed" and rng.random() < 0.5):
                terms.append(f"({lo.name} + {hi.name})")
            elif stencil == "grad":
                terms.append(f"({hi.name} - {lo.name}) * 0.5")
            else:
                terms.append(rng.choice((f"({c.name} - {lo.name})", f"({hi.name} - {c.name})")))
        if stencil == "laplace":
            c.read()
            e = " + ".join(terms) + f" - {c.name} * {float(2 * len(axes))}"
        else:
            e = " + ".join(terms)
        w.assign(e, vt, hint=rng.choice(("lap", "diff", "flux", "grad", "d")))
    if kern:
        r = rng.randint(1, 2)
        acc = w.mutable(vt, "0.0" if vt == "float" else f"wp.{vt}(0.0)", hint="conv")
        a0, a1 = w.names.fresh("di"), w.names.fresh("dj")
        with w.block(f"for {a0} in range({-r}, {r + 1}):"):
            with w.block(f"for {a1} in range({-r}, {r + 1}):"):
                src = rng.choice(fields)
                p = f"wp.clamp({idx[0]} + {a0}, 0, {src}.shape[0] - 1), wp.clamp({idx[1]} + {a1}, 0, {src}.shape[1] - 1)"
                ld = ARRAY_DTYPES[ft][1].format(x=f"{src}[{p}]")
                w.line(f"{acc.name} += {ld} * {kern}[{a0} + {r}, {a1} + {r}]")
    for _ in range(rng.randint(0, 3)):
        w.compute_live(rng.choice((vt, "float", "int")), depth=rng.randint(1, 2))
    res = w.compute_live(out_t, depth=rng.randint(1, 2))
    if rng.random() < 0.3 and len(idx) >= 2:
        res2 = w.assign(f"{res.name} * wp.float32({idx[0]} + {idx[1]})", out_t)
    res = w.values[-1]
    w.store(out, ft if out_t == vt else "float32", here, w.fold_unused(res.name, out_t))
    return GeneratedKernel(name := w.names.kernel_name(), w.render(name))
