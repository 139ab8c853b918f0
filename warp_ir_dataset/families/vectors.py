from . import GeneratedKernel, family
from ._kit import KernelWriter


@family("vectors")
def vectors(rng) -> GeneratedKernel:
    """Vector algebra: cross/dot products, normalization, component access."""
    w = KernelWriter(rng)
    vt = rng.choice(("vec3", "vec3", "vec2", "vec4"))
    ins = [w.array_arg(vt) for _ in range(rng.randint(1, 3))]
    out_t = rng.choice((vt, "float", "vec3"))
    out = w.array_arg(out_t if out_t != "float" else "float32", hint="out")
    if rng.random() < 0.6:
        w.scalar_arg("float")
    (i,) = w.tid()
    for a in ins:
        w.load(a, vt, i)
    for _ in range(rng.randint(1, 4)):
        w.compute(rng.choice((vt, vt, "float", "vec3")), depth=rng.randint(1, 3))
    result = w.compute(out_t, depth=2)
    w.store(out, "float32" if out_t == "float" else out_t, i, w.fold_unused(result.name, out_t))
    return GeneratedKernel(name := w.names.kernel_name(), w.render(name))
