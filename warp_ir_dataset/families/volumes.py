"""Sparse NanoVDB volumes through ``wp.uint64`` handles: world/index transforms
(``volume_world_to_index``/``volume_index_to_world`` and their ``_dir`` forms), typed sampling
(``volume_sample_f``/``_v``/``_i`` and generic ``volume_sample(..., dtype=...)``), gradients
(``volume_sample_grad``/``_f``), voxel lookups (``volume_lookup``/``_f``/``_v``/``_i``),
index-grid access with external voxel arrays (``volume_lookup_index``/``volume_sample_index``/
``volume_sample_grad_index``, ``volume_voxel_count``), and writes (``volume_store``/``_f``/
``_v``/``_i``): SDF collision, advection of particles through velocity grids, splatting."""
from . import GeneratedKernel, family
from ._kit import KernelWriter

MODES = ("wp.Volume.LINEAR", "wp.Volume.CLOSEST")


@family("volumes", 1.1)
def volumes(rng) -> GeneratedKernel:
    w = KernelWriter(rng)
    kind = rng.choice(("f", "f", "v", "i"))
    vol = w.names.fresh({"f": rng.choice(("sdf", "density", "phi", "volume")), "v": rng.choice(("vel_grid", "flow", "wind")), "i": rng.choice(("labels", "occupancy", "ids"))}[kind])
    w.raw_arg(f"{vol}: wp.uint64")
    second = None
    if rng.random() < 0.35:
        second = (w.names.fresh(rng.choice(("aux", "field", "grid"))), rng.choice(("f", "v", "i")))
        w.raw_arg(f"{second[0]}: wp.uint64")
    pts = w.array_arg("vec3", hint=rng.choice(("points", "particles", "x", "samples")))
    vdata = w.array_arg(rng.choice(("float32", "float")), hint=rng.choice(("voxel_values", "leaf_data", "values"))) if rng.random() < 0.25 else None
    out_t = rng.choice(("float", "vec3", "float"))
    out = w.array_arg("float32" if out_t == "float" else "vec3", hint="out")
    if rng.random() < 0.5:
        w.scalar_arg("float", hint=rng.choice(("dt", "radius", "iso", "margin")))
    (i,) = w.tid()
    p = w.load(pts, "vec3", i, hint="p")
    uvw = w.assign(rng.choice((f"wp.volume_world_to_index({vol}, {p.name})", f"wp.volume_world_to_index({vol}, {p.name})", p.name)), "vec3", hint="uvw")
    p.reads = uvw.reads = 0
    ijk = None

    def cell():
        nonlocal ijk
        if ijk is None:
            ijk = [w.names.fresh(n) for n in ("ci", "cj", "ck")]
            fn = rng.choice(("wp.int32", "int"))
            for n, c in enumerate(ijk):
                w.line(f"{c} = {fn}(wp.floor({uvw.name}[{n}]))" if rng.random() < 0.7 else f"{c} = {fn}({uvw.name}[{n}])")
            uvw.read()
        return ", ".join(ijk)

    def sample(v: str, k: str):
        mode = rng.choice(MODES)
        c = rng.random()
        if k == "f":
            if c < 0.3:
                g = w.mutable("vec3", "wp.vec3()", hint="grad")
                fn = rng.choice((f"wp.volume_sample_grad_f({v}, {uvw.name}, {mode}, {g.name})", f"wp.volume_sample_grad({v}, {uvw.name}, {mode}, {g.name}, dtype=float)"))
                w.assign(fn, "float", hint="phi")
            elif c < 0.6:
                w.assign(rng.choice((f"wp.volume_sample_f({v}, {uvw.name}, {mode})", f"wp.volume_sample({v}, {uvw.name}, {mode}, dtype=float)")), "float", hint="phi")
            else:
                w.assign(rng.choice((f"wp.volume_lookup_f({v}, {cell()})", f"wp.volume_lookup({v}, {cell()}, dtype=float)")), "float", hint="voxel")
        elif k == "v":
            if c < 0.6:
                w.assign(rng.choice((f"wp.volume_sample_v({v}, {uvw.name}, {mode})", f"wp.volume_sample({v}, {uvw.name}, {mode}, dtype=wp.vec3)")), "vec3", hint="u")
            else:
                w.assign(rng.choice((f"wp.volume_lookup_v({v}, {cell()})", f"wp.volume_lookup({v}, {cell()}, dtype=wp.vec3)")), "vec3", hint="u_cell")
        else:
            if c < 0.5:
                w.assign(f"wp.volume_sample_i({v}, {uvw.name})", "int", hint="label")
            else:
                w.assign(rng.choice((f"wp.volume_lookup_i({v}, {cell()})", f"wp.volume_lookup({v}, {cell()}, dtype=int)")), "int", hint="label")

    for _ in range(rng.randint(1, 2)):
        sample(vol, kind)
    if second:
        sample(*second)
    if vdata:
        mode = rng.choice(MODES)
        c = rng.random()
        if c < 0.4:
            w.assign(f"wp.volume_sample_index({vol}, {uvw.name}, {mode}, {vdata}, {rng.choice(('0.0', '1.0', '-1.0'))})", "float", hint="val")
        elif c < 0.7:
            g = w.mutable("vec3", "wp.vec3()", hint="grad_i")
            w.assign(f"wp.volume_sample_grad_index({vol}, {uvw.name}, {mode}, {vdata}, 0.0, {g.name})", "float", hint="val")
        else:
            li = w.assign(f"wp.volume_lookup_index({vol}, {cell()})", "int", hint="lin")
            li.read()
            w.assign(f"wp.where({li.name} >= 0, {vdata}[wp.max({li.name}, 0)], 0.0)", "float", hint="val")
        if rng.random() < 0.4:
            w.assign(f"wp.float32(wp.volume_voxel_count({vol}))", "float", hint="n_vox")
    if rng.random() < 0.4:
        d = w.exprs.live("vec3", 1)
        w.assign(rng.choice((f"wp.volume_index_to_world({vol}, {d})", f"wp.volume_index_to_world_dir({vol}, {d})",
                             f"wp.volume_world_to_index_dir({vol}, {d})")), "vec3", hint="dir_w")
    for _ in range(rng.randint(1, 3)):
        w.compute_live(rng.choice(("float", "vec3", out_t)), depth=rng.randint(1, 2))
    if rng.random() < 0.35:
        # write back into the grid (splat / update)
        k = kind
        if k == "f":
            w.line(rng.choice(("wp.volume_store_f", "wp.volume_store")) + f"({vol}, {cell()}, {w.exprs.live('float', 1)})")
        elif k == "v":
            w.line(rng.choice(("wp.volume_store_v", "wp.volume_store")) + f"({vol}, {cell()}, {w.exprs.live('vec3', 1)})")
        else:
            w.line(rng.choice(("wp.volume_store_i", "wp.volume_store")) + f"({vol}, {cell()}, {w.exprs.live('int', 1)})")
    res = w.compute_live(out_t, depth=rng.randint(1, 2))
    w.store(out, "float32" if out_t == "float" else "vec3", i, w.fold_unused(res.name, out_t))
    return GeneratedKernel(name := w.names.kernel_name(rng.choice(("sdf", "field", "grid", "volume"))), w.render(name))
