"""Random number generation: ``wp.rand_init`` per thread (with offsets), uniform/int/normal
draws, geometric samplers (sphere, disk, hemisphere, triangle, ring, cube), Poisson draws,
inverse-CDF sampling, and Monte-Carlo estimates accumulated over sample loops."""
from . import GeneratedKernel, family
from ._flow import Flow
from ._kit import KernelWriter


def _draws(s: str) -> dict:
    return {
        "float": [(f"wp.randf({s})", ()), (f"wp.randf({s}, {{0}}, {{0}} + 1.0)", ("float",)), (f"wp.randn({s})", ()),
                  (f"wp.float32(wp.poisson({s}, wp.abs({{0}}) + 0.5))", ("float",)), (f"wp.randf({s}, -1.0, 1.0)", ())],
        "int": [(f"wp.randi({s})", ()), (f"wp.randi({s}, 0, {{lit_i}})", ()), (f"wp.int32(wp.randu({s}) % wp.uint32(1024))", ())],
        "vec3": [(f"wp.sample_unit_sphere({s})", ()), (f"wp.sample_unit_sphere_surface({s})", ()),
                 (f"wp.sample_unit_hemisphere({s})", ()), (f"wp.sample_unit_hemisphere_surface({s})", ()),
                 (f"wp.sample_unit_cube({s})", ())],
        "vec2": [(f"wp.sample_unit_disk({s})", ()), (f"wp.sample_triangle({s})", ()), (f"wp.sample_unit_ring({s})", ()),
                 (f"wp.sample_unit_square({s})", ())],
    }


@family("random", 1.2)
def random_sampling(rng) -> GeneratedKernel:
    w = KernelWriter(rng)
    seed = w.names.fresh(rng.choice(("seed", "rng_seed", "frame_seed")))
    w.raw_arg(f"{seed}: int")
    ins = [(w.array_arg(d := rng.choice(("float32", "vec3", "vec2", "float32"))), d) for _ in range(rng.randint(0, 2))]
    cdf = w.array_arg("float32", hint=rng.choice(("cdf", "cumulative"))) if rng.random() < 0.2 else None
    bounds = [w.scalar_arg("int", hint=rng.choice(("num_samples", "spp", "n_trials")))] if rng.random() < 0.6 else []
    out_t = rng.choice(("float", "float", "vec3", "vec2", "int"))
    out = w.array_arg({"float": "float32", "int": "int32"}.get(out_t, out_t), hint="out")
    (i,) = w.tid()
    st = w.names.fresh(rng.choice(("state", "rng", "rstate")))
    w.line(rng.choice((f"{st} = wp.rand_init({seed}, {i})", f"{st} = wp.rand_init({seed}, {i})",
                       f"{st} = wp.rand_init({seed} + {rng.randint(1, 99)}, {i} * {rng.randint(2, 9)})",
                       f"{st} = wp.rand_init({seed}, {i} + {rng.randint(1, 5000)} * {rng.randint(1, 8)})", f"{st} = wp.rand_init({seed} * {rng.randint(1000, 99999)} + {i})")))
    for a, d in ins:
        w.load(a, d, i)
    w.exprs.extra = _draws(st)
    w.exprs.extra_p = 0.45
    if cdf:
        w.exprs.extra["int"].append((f"wp.int32(wp.sample_cdf({st}, {cdf}))", ()))
    types = tuple(sorted({"float", out_t, rng.choice(("vec3", "vec2", "float"))}))
    flow = Flow(w, {"compute": 3, "update": 2, "if": 1, "ifelse": 0.7, "where": 0.5, "for_const": 0.6,
                    "for_dyn": 1, "while": 0.3, "break": 0.3, "continue": 0.3}, types=types, bounds=bounds, index=i)
    for _ in range(rng.randint(0, 2)):
        flow.statement("compute", 0)
    acc = flow.target(out_t, hint=rng.choice(("estimate", "acc", "total", "hits", None)))
    if rng.random() < 0.2:
        flow.target("int", hint="hits")
    depth = rng.randint(1, 2)
    if bounds and rng.random() < 0.7:
        k = w.names.fresh("s")
        flow.loops.append("for")
        with w.block(f"for {k} in range({bounds[0]}):") as m:
            flow.stmts(depth - 1, 1, 3)
            flow.update(acc)
            flow.close(m)
        flow.loops.pop()
        if out_t in ("float", "vec3", "vec2"):
            w.line(f"{acc.name} = {acc.name} / wp.float32(wp.max({bounds[0]}, 1))")
    else:
        flow.stmts(depth, 1, 4)
    w.store(out, {"float": "float32", "int": "int32"}.get(out_t, out_t), i, flow.result(out_t))
    return GeneratedKernel(name := w.names.kernel_name(), w.render(name))
