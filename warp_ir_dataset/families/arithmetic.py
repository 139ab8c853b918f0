from . import GeneratedKernel, family
from ._kit import KernelWriter

SCALAR_DTYPES = ("float32", "float64", "float16", "int32", "int64", "int8", "uint8", "uint32")


@family("arithmetic")
def arithmetic(rng) -> GeneratedKernel:
    """Element-wise scalar arithmetic over arrays of mixed dtypes."""
    w = KernelWriter(rng)
    n_in = rng.randint(1, 3)
    ins = [(w.array_arg(d := rng.choice(SCALAR_DTYPES)), d) for _ in range(n_in)]
    out_dtype = rng.choice(("float32", "float64", "float16"))
    out = w.array_arg(out_dtype, hint="out")
    if rng.random() < 0.5:
        w.scalar_arg("float")
    (i,) = w.tid()
    for a, d in ins:
        w.load(a, d, i)
    for _ in range(rng.randint(1, 4)):
        w.compute(rng.choice(("float", "float", "int")), depth=rng.randint(1, 3))
    result = w.compute("float", depth=rng.randint(1, 2))
    w.store(out, out_dtype, i, w.fold_unused(result.name, "float"))
    return GeneratedKernel(name := w.names.kernel_name(), w.render(name))
