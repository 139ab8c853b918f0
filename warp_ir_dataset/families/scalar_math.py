from . import GeneratedKernel, family
from ._kit import KernelWriter


@family("scalar_math")
def scalar_math(rng) -> GeneratedKernel:
    """Deep trees of transcendental and rounding functions on float values."""
    w = KernelWriter(rng)
    x_dtype = rng.choice(("float32", "float64"))
    x = w.array_arg(x_dtype)
    out = w.array_arg("float32", hint="out")
    for _ in range(rng.randint(0, 2)):
        w.scalar_arg("float")
    (i,) = w.tid()
    w.load(x, x_dtype, i)
    for _ in range(rng.randint(1, 3)):
        w.compute("float", depth=rng.randint(2, 4))
    w.store(out, "float32", i, w.fold_unused(w.values[-1].name, "float"))
    return GeneratedKernel(name := w.names.kernel_name(), w.render(name))
