"""Acceleration-structure queries through ``wp.uint64`` handles: mesh closest-point and ray
queries (+ barycentric evaluation), BVH AABB/ray traversal loops, hash-grid neighbour loops
(SPH/DEM style), and sparse-volume sampling/lookup."""
from . import GeneratedKernel, family
from ._flow import Flow
from ._kit import KernelWriter, Value


def _mesh_point(w, rng, flow, p):
    m = w.names.fresh(rng.choice(("mesh", "mesh_id", "collider")))
    w.raw_arg(f"{m}: wp.uint64")
    q = w.names.fresh("query")
    fn = rng.choice(("mesh_query_point", "mesh_query_point_no_sign", "mesh_query_point_sign_normal", "mesh_query_point_sign_winding_number"))
    w.line(f"{q} = wp.{fn}({m}, {p}, {rng.choice(('1.0e6', '10.0', '2.0'))})")
    with w.block(f"if {q}.result:") as mk:
        cp = w.assign(f"wp.mesh_eval_position({m}, {q}.face, {q}.u, {q}.v)", "vec3", hint="closest")
        if rng.random() < 0.5:
            w.assign(f"wp.mesh_eval_face_normal({m}, {q}.face)", "vec3", hint="n")
        if fn != "mesh_query_point_no_sign" and rng.random() < 0.6:
            w.assign(f"{q}.sign * wp.length({cp.name} - {p})", "float", hint="sdf")
        flow.stmts(0, 0, 2)
        flow.update()
        flow.close(mk)


def _mesh_ray(w, rng, flow, p):
    m = w.names.fresh(rng.choice(("mesh", "scene", "mesh_id")))
    w.raw_arg(f"{m}: wp.uint64")
    d = w.assign(f"wp.normalize({w.exprs.live('vec3', 1)})", "vec3", hint="ray_dir")
    d.read()
    if rng.random() < 0.3:
        fn = rng.choice(("mesh_query_ray_anyhit", "mesh_query_ray_count_intersections"))
        t = "bool" if fn.endswith("anyhit") else "int"
        w.assign(f"wp.{fn}({m}, {p}, {d.name}" + (", 1.0e6)" if t == "bool" else ")"), t, hint="hits")
        if t == "bool":
            w.values[-1].reads = 0
        return
    h = w.names.fresh("hit")
    w.line(f"{h} = wp.mesh_query_ray({m}, {p}, {d.name}, {rng.choice(('1.0e6', '100.0'))})")
    with w.block(f"if {h}.result:") as mk:
        w.assign(f"{p} + {d.name} * {h}.t", "vec3", hint="hit_pos")
        w.assign(rng.choice((f"{h}.normal", f"wp.mesh_eval_face_normal({m}, {h}.face)")), "vec3", hint="hit_normal")
        if rng.random() < 0.5:
            w.assign(f"wp.vec2({h}.u, {h}.v)", "vec2", hint="bary")
        flow.stmts(0, 0, 1)
        flow.close(mk)


def _neighbors(w, rng, flow, p, kind):
    h = w.names.fresh(rng.choice(("grid", "hash_grid", "bvh", "tree")) if kind == "hash" else rng.choice(("bvh", "tree", "bvh_id")))
    w.raw_arg(f"{h}: wp.uint64")
    pts = w.array_arg("vec3", hint=rng.choice(("points", "positions", "centers")))
    r = w.exprs.live("float", 0)
    q = w.names.fresh("query")
    idx = w.names.fresh(rng.choice(("index", "nbr", "j_idx")))
    if kind == "hash":
        w.line(f"{q} = wp.hash_grid_query({h}, {p}, {r})")
        nxt = f"wp.hash_grid_query_next({q}, {idx})"
    elif kind == "aabb":
        w.line(f"{q} = wp.bvh_query_aabb({h}, {p} - wp.vec3({r}), {p} + wp.vec3({r}))")
        nxt = f"wp.bvh_query_next({q}, {idx})"
    else:
        d = w.exprs.live("vec3", 1)
        w.line(f"{q} = wp.bvh_query_ray({h}, {p}, wp.normalize({d}))")
        nxt = f"wp.bvh_query_next({q}, {idx})"
    w.line(f"{idx} = int(0)")
    flow.loops.append("while_tail")
    with w.block(f"while {nxt}:") as mk:
        w.values.append(Value(idx, "int", reads=1))
        if kind == "hash" and rng.random() < 0.3:
            w.assign(f"wp.hash_grid_point_id({h}, {idx})", "int", hint="pid")
        other = w.assign(f"{pts}[{idx}]", "vec3", hint="other")
        dv = w.assign(f"{p} - {other.name}", "vec3", hint="dx")
        dist = w.assign(f"wp.length({dv.name})", "float", hint="dist")
        if rng.random() < 0.6:
            with w.block(f"if {dist.name} > {r} or {dist.name} < 1.0e-6:") as m2:
                w.line("continue")
        flow.stmts(0, 1, 2)
        flow.update()
        flow.close(mk)
    flow.loops.pop()


def _volume(w, rng, flow, p):
    v = w.names.fresh(rng.choice(("volume", "sdf", "density_field", "vol")))
    w.raw_arg(f"{v}: wp.uint64")
    uvw = w.assign(rng.choice((f"wp.volume_world_to_index({v}, {p})", p)), "vec3", hint="uvw")
    uvw.read()
    mode = rng.choice(("wp.Volume.LINEAR", "wp.Volume.CLOSEST"))
    s = rng.choice(("sample", "grad", "lookup"))
    if s == "sample":
        w.assign(f"wp.volume_sample_f({v}, {uvw.name}, {mode})", "float", hint="phi")
    elif s == "grad":
        g = w.mutable("vec3", "wp.vec3()", hint="grad")
        w.assign(f"wp.volume_sample_grad_f({v}, {uvw.name}, {mode}, {g.name})", "float", hint="phi")
    else:
        w.assign(f"wp.volume_lookup_f({v}, wp.int32({uvw.name}[0]), wp.int32({uvw.name}[1]), wp.int32({uvw.name}[2]))", "float", hint="phi")
    if rng.random() < 0.4:
        w.assign(f"wp.volume_index_to_world_dir({v}, {w.exprs.live('vec3', 1)})", "vec3", hint="dir_world")


@family("geometry_queries", 1.2)
def geometry_queries(rng) -> GeneratedKernel:
    w = KernelWriter(rng)
    xs = w.array_arg("vec3", hint=rng.choice(("x", "particles", "query_points", "origins")))
    extra = [(w.array_arg(d := rng.choice(("float32", "vec3"))), d)] if rng.random() < 0.4 else []
    out_t = rng.choice(("float", "vec3", "int"))
    out = w.array_arg({"float": "float32", "int": "int32"}.get(out_t, out_t), hint="out")
    (i,) = w.tid()
    p = w.load(xs, "vec3", i, hint="p")
    p.read()
    for a, d in extra:
        w.load(a, d, i)
    flow = Flow(w, {"compute": 3, "update": 2, "if": 0.5, "where": 0.5}, types=("float", "vec3", out_t), index=i)
    flow.target(out_t, hint=rng.choice(("acc", "result", "density", "force")))
    if rng.random() < 0.4:
        flow.target(rng.choice(("float", "vec3")))
    kinds = rng.sample(("mesh_point", "mesh_ray", "hash", "aabb", "ray", "volume"), rng.choice((1, 1, 2)))
    for k in kinds:
        if k == "mesh_point":
            _mesh_point(w, rng, flow, p.name)
        elif k == "mesh_ray":
            _mesh_ray(w, rng, flow, p.name)
        elif k == "volume":
            _volume(w, rng, flow, p.name)
        else:
            _neighbors(w, rng, flow, p.name, k)
    w.store(out, {"float": "float32", "int": "int32"}.get(out_t, out_t), i, flow.result(out_t))
    return GeneratedKernel(name := w.names.kernel_name(), w.render(name))
