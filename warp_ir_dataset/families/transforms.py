from . import GeneratedKernel, family
from ._kit import KernelWriter


@family("transforms")
def transforms(rng) -> GeneratedKernel:
    """Quaternion and rigid-transform algebra: rotate, compose, invert, convert."""
    w = KernelWriter(rng)
    kind = rng.choice(("quat", "transform"))
    poses = w.array_arg(kind)
    pts = w.array_arg("vec3")
    out_t = rng.choice(("vec3", kind, "quat", "mat33"))
    out = w.array_arg(out_t, hint="out")
    (i,) = w.tid()
    w.load(poses, kind, i)
    w.load(pts, "vec3", i)
    for _ in range(rng.randint(1, 4)):
        w.compute(rng.choice(("vec3", "quat", kind, "float")), depth=rng.randint(1, 3))
    result = w.compute(out_t, depth=2)
    w.store(out, out_t, i, w.fold_unused(result.name, out_t))
    return GeneratedKernel(name := w.names.kernel_name(), w.render(name))
