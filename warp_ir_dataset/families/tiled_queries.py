"""Block-cooperative spatial queries and texture reads: ``wp.tile_bvh_query_*`` /
``wp.tile_mesh_query_aabb`` walked with ``wp.tile_query_valid`` and ``*_next`` (and their
``*_tiled`` spellings), sphere queries stepped with ``wp.mesh_query_aabb_next``, and
``wp.texture_sample`` on 1-3D textures, with results scattered by atomics and scaled by
``wp.block_dim()``."""
from . import GeneratedKernel, family
from ._kit import KernelWriter

TILED = {
    "bvh_aabb": ("tile_bvh_query_aabb", "tile_bvh_query_next", "bvh_query_aabb_tiled", "bvh_query_next_tiled", "wp.uint64"),
    "bvh_ray": ("tile_bvh_query_ray", "tile_bvh_query_next", "bvh_query_ray_tiled", "bvh_query_next_tiled", "wp.uint64"),
    "mesh_aabb": ("tile_mesh_query_aabb", "tile_mesh_query_aabb_next", "mesh_query_aabb_tiled", "mesh_query_aabb_next_tiled", "wp.uint64"),
}
TEXTURES = {1: ("wp.Texture1D", "float"), 2: ("wp.Texture2D", "vec2"), 3: ("wp.Texture3D", "vec3")}


def _tiled_query(w: KernelWriter, rng, i: str) -> None:
    kind = rng.choice(list(TILED))
    start, step, start_alias, step_alias, id_type = TILED[kind]
    if rng.random() < 0.5:  # the older spellings, still accepted
        start, step = start_alias, step_alias
    ident = w.names.fresh(rng.choice(("bvh", "mesh", "accel", "scene")) + "_id")
    w.raw_arg(f"{ident}: {id_type}")
    pts = w.array_arg("vec3", hint=rng.choice(("points", "centers", "origins")))
    p = w.load(pts, "vec3", i, hint="p")
    p.read()
    ext = w.exprs.live("vec3", 1) if rng.random() < 0.5 else None
    if ext in (None, p.name):  # not ``p - p``: a box at the origin whatever the point
        ext = f"wp.vec3({w.scalar_arg('float', hint='radius')})"
    if kind == "bvh_ray":
        first, second = p.name, f"wp.normalize({ext} + wp.vec3(0.0, 0.0, 1.0))"
    else:
        first, second = f"{p.name} - {ext}", f"{p.name} + {ext}"
    hits = w.array_arg("int32", hint=rng.choice(("hits", "counts", "touched")))
    q = w.names.fresh("query")
    w.line(f"{q} = wp.{start}({ident}, {first}, {second})")
    with w.block(f"while wp.tile_query_valid({q}):"):
        t = w.names.fresh(rng.choice(("result_tile", "batch", "found")))
        w.line(f"{t} = wp.{step}({q})")
        idx = w.names.fresh("idx")
        w.line(f"{idx} = wp.untile({t})")
        with w.block(f"if {idx} >= 0:"):
            w.line(f"wp.atomic_add({hits}, {idx}, {rng.choice(('1', 'wp.block_dim()', '2'))})")


def _sphere_steps(w: KernelWriter, rng, i: str) -> None:
    mesh = w.names.fresh("mesh_id")
    w.raw_arg(f"{mesh}: wp.uint64")
    centers = w.array_arg("vec3", hint="centers")
    c = w.load(centers, "vec3", i, hint="center")
    c.read()
    radius = w.exprs.live("float", 1) if rng.random() < 0.4 else w.scalar_arg("float", hint="radius")
    out = w.array_arg("int32", hint=rng.choice(("hit_faces", "overlaps", "marks")))
    q = w.names.fresh("query")
    w.line(f"{q} = wp.mesh_query_sphere({mesh}, {c.name}, wp.abs({radius}) + 0.01)")
    face = w.names.fresh("face")
    w.line(f"{face} = int(0)")
    count = w.mutable("int", "0", hint="n_hits")
    count.read()
    with w.block(f"while wp.mesh_query_aabb_next({q}, {face}):"):
        w.line(f"{out}[{face}] = {rng.choice(('1', f'{i} + 1', 'wp.block_dim()'))}")
        w.line(f"{count.name} += 1")
    w.store(w.array_arg("int32", hint="hit_count"), "int32", i, count.name)


def _texture(w: KernelWriter, rng, i: str) -> None:
    dims = rng.choice((1, 2, 2, 3))
    ttype, coord = TEXTURES[dims]
    tex = w.names.fresh(rng.choice(("tex", "texture", "lut", "field")))
    w.raw_arg(f"{tex}: {ttype}")
    if dims == 1:
        u = w.load(w.array_arg("float32", hint="u"), "float32", i)
        u.read()
        where = u.name
    else:
        pos = w.load(w.array_arg(coord, hint=rng.choice(("uv", "coords", "pos"))), coord, i)
        pos.read()
        where = pos.name if rng.random() < 0.7 else ", ".join(f"{pos.name}[{n}]" for n in range(dims))
    lod = f", lod={w.exprs.live('float', 1)}" if rng.random() < 0.2 else ""
    s = w.assign(f"wp.texture_sample({tex}, {where}, dtype=float{lod})", "float", hint="sample")
    s.read()
    out = w.array_arg("float32", hint="out")
    scale = " * float(wp.block_dim())" if rng.random() < 0.3 else ""
    w.store(out, "float32", i, f"{w.fold_unused(w.exprs.live('float', 1), 'float')} + {s.name}{scale}")


@family("tiled_queries", 1.0)
def tiled_queries(rng) -> GeneratedKernel:
    w = KernelWriter(rng)
    (i,) = w.tid()
    kind = rng.choices(("tiled", "sphere", "texture"), (3, 1, 2))[0]
    {"tiled": _tiled_query, "sphere": _sphere_steps, "texture": _texture}[kind](w, rng, i)
    if rng.random() < 0.15:
        with w.block(f"if {i} == 0:"):
            w.line(f"{rng.choice(('print', 'wp.print'))}({rng.choice(('wp.block_dim()', i))})")
    return GeneratedKernel(name := w.names.kernel_name(), w.render(name))
