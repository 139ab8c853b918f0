from . import GeneratedKernel, family
from ._kit import KernelWriter


@family("matrices")
def matrices(rng) -> GeneratedKernel:
    """Matrix products, transposes, outer products and determinants."""
    w = KernelWriter(rng)
    mt = rng.choice(("mat33", "mat33", "mat22"))
    vt = {"mat33": "vec3", "mat22": "vec2"}[mt]
    m = w.array_arg(mt)
    v = w.array_arg(vt) if rng.random() < 0.7 else None
    out_t = rng.choice((mt, vt, "float"))
    out = w.array_arg("float32" if out_t == "float" else out_t, hint="out")
    (i,) = w.tid()
    w.load(m, mt, i)
    if v:
        w.load(v, vt, i)
    for _ in range(rng.randint(1, 4)):
        w.compute(rng.choice((mt, vt, "float")), depth=rng.randint(1, 3))
    result = w.compute(out_t, depth=2)
    w.store(out, "float32" if out_t == "float" else out_t, i, w.fold_unused(result.name, out_t))
    return GeneratedKernel(name := w.names.kernel_name(), w.render(name))
