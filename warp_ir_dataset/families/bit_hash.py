"""Integer bit manipulation: hash functions (PCG/xorshift/murmur-style mixing) on uint32,
bit counting, shifts/masks, Morton codes for spatial sorting, and hashing positions to cells."""
from . import GeneratedKernel, family
from ._kit import KernelWriter

MIX = (
    "{x} = {x} ^ ({x} >> wp.uint32({a}))",
    "{x} = {x} * wp.uint32({m})",
    "{x} = ({x} << wp.uint32({a})) | ({x} >> wp.uint32({b}))",
    "{x} = {x} + wp.uint32({m})",
    "{x} = {x} ^ wp.uint32({m})",
    "{x} = wp.bit_xor({x}, wp.rshift({x}, wp.uint32({a})))",
    "{x} = wp.bit_and({x}, wp.uint32(0xFFFFFF))",
    "{x} = wp.bit_or(wp.lshift({x}, wp.uint32(1)), wp.uint32(1))",
    "{x} = ~{x}",
)
PRIMES = ("0x85EBCA6B", "0xC2B2AE35", "0x9E3779B9", "747796405", "2891336453", "0x27D4EB2D", "0x165667B1", "73856093", "19349663", "83492791")


@family("bit_hash", 0.9)
def bit_hash(rng) -> GeneratedKernel:
    w = KernelWriter(rng)
    src_dt = rng.choice(("int32", "uint32", "vec3", "float32", "int64"))
    src = w.array_arg(src_dt, hint=rng.choice(("keys", "ids", "positions", "values")))
    out_kind = rng.choice(("uint32", "int32", "float32"))
    out = w.array_arg(out_kind, hint=rng.choice(("hashes", "out", "codes", "cells")))
    counts = w.array_arg("int32", hint="bit_counts") if rng.random() < 0.3 else None
    if rng.random() < 0.4:
        w.scalar_arg("int", hint=rng.choice(("seed", "salt", "level")))
    (i,) = w.tid()
    h = w.names.fresh(rng.choice(("h", "x", "key", "state")))
    if src_dt == "vec3":
        p = w.names.fresh("p")
        w.line(f"{p} = {src}[{i}]")
        cs = [w.names.fresh(c) for c in ("cx", "cy", "cz")]
        for n, c in enumerate(cs):
            w.line(f"{c} = wp.uint32(wp.int32(wp.floor({p}[{n}] * {rng.choice(('4.0', '16.0', '1.0', '32.0'))})) & {rng.choice((1023, 255, 2047))})")
        if rng.random() < 0.5:
            # Morton-style interleave
            for c in cs:
                for sh, mask in ((16, "0x030000FF"), (8, "0x0300F00F"), (4, "0x030C30C3"), (2, "0x09249249")):
                    w.line(f"{c} = ({c} | ({c} << wp.uint32({sh}))) & wp.uint32({mask})")
            w.line(f"{h} = {cs[0]} | ({cs[1]} << wp.uint32(1)) | ({cs[2]} << wp.uint32(2))")
        else:
            w.line(f"{h} = ({cs[0]} * wp.uint32({rng.choice(PRIMES)})) ^ ({cs[1]} * wp.uint32({rng.choice(PRIMES)})) ^ ({cs[2]} * wp.uint32({rng.choice(PRIMES)}))")
    elif src_dt == "float32":
        w.line(f"{h} = wp.uint32(wp.int32({src}[{i}] * {rng.choice(('1000.0', '65536.0', '255.0'))}))")
    else:
        w.line(f"{h} = wp.uint32({src}[{i}])")
    salt = next((v for v in w.values if v.type == "int"), None)
    if salt:
        salt.read()
        w.line(f"{h} = {h} ^ wp.uint32({salt.name})")
    rounds = rng.randint(1, 3)
    loop = rng.random() < 0.4
    if loop:
        r = w.names.fresh("r")
        w.line(f"for {r} in range({rounds + 1}):")
        w.indent += 1
    for _ in range(rng.randint(2, 6)):
        w.line(rng.choice(MIX).format(x=h, a=rng.randint(1, 16), b=rng.randint(16, 31), m=rng.choice(PRIMES)))
    if loop:
        w.line(f"{h} = {h} + wp.uint32({r})")
        w.indent -= 1
    if counts:
        w.line(f"{counts}[{i}] = wp.bit_count({h})")
    if out_kind == "uint32":
        w.line(f"{out}[{i}] = {h}")
    elif out_kind == "int32":
        w.line(f"{out}[{i}] = wp.int32({h} % wp.uint32({rng.choice((64, 1024, 4096, 65536))}))")
    else:
        w.line(f"{out}[{i}] = wp.float32({h}) * {rng.choice(('2.3283064e-10', '1.0 / 4294967296.0'))}")
    return GeneratedKernel(name := w.names.kernel_name(rng.choice(("hash", "key", "morton", "cell"))), w.render(name))
