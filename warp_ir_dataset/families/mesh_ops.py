"""Mesh topology and BVH traversal through ``wp.uint64`` handles: AABB and sphere triangle
queries (``mesh_query_aabb``/``mesh_query_sphere`` + ``mesh_query_next``) reading face
vertices (``mesh_get_index``/``mesh_get_point``/``mesh_get_velocity``), grouped BVH traversal
(``bvh_get_group_root``/``mesh_get_group_root``/``mesh_get_bvh`` with ``bvh_query_sphere``/
``bvh_query_capsule``/``bvh_query_aabb``), furthest-point and parity-sign point queries with
``mesh_eval_velocity``, and direct ``mesh_get(...)`` field access."""
from . import GeneratedKernel, family
from ._flow import Flow
from ._kit import KernelWriter, Value


def _tri_loop(w, rng, flow, mesh, p):
    q, f = w.names.fresh("query"), w.names.fresh(rng.choice(("face", "tri", "f")))
    r = w.exprs.live("float", 0)
    if rng.random() < 0.5:
        w.line(f"{q} = wp.mesh_query_aabb({mesh}, {p} - wp.vec3({r}), {p} + wp.vec3({r}))")
    else:
        w.line(f"{q} = wp.mesh_query_sphere({mesh}, {p}, {r})")
    w.line(f"{f} = int(0)")
    flow.loops.append("while_tail")
    with w.block(f"while wp.mesh_query_next({q}, {f}):") as mk:
        w.values.append(Value(f, "int", reads=1))
        corners = rng.sample((0, 1, 2), rng.randint(1, 3))
        for c in corners:
            how = rng.choice(("point", "point", "index", "vel"))
            if how == "point":
                w.assign(f"wp.mesh_get_point({mesh}, {f} * 3 + {c})", "vec3", hint="v")
            elif how == "vel":
                w.assign(f"wp.mesh_get_velocity({mesh}, {f} * 3 + {c})", "vec3", hint="vel")
            else:
                w.assign(f"wp.mesh_get_index({mesh}, {f} * 3 + {c})", "int", hint="vid")
        flow.stmts(0, 0, 1)
        flow.update()
        flow.close(mk)
    flow.loops.pop()


def _bvh_loop(w, rng, flow, p, mesh, groups, i):
    if mesh and rng.random() < 0.4:
        b = w.assign(f"wp.mesh_get_bvh({mesh})", "uint64", hint="tree")
        b.read()
        bvh = b.name
        root_fn = "mesh_get_group_root"
        src = mesh
    else:
        bvh = w.names.fresh(rng.choice(("bvh", "bvh_id", "tree")))
        w.raw_arg(f"{bvh}: wp.uint64")
        root_fn, src = "bvh_get_group_root", bvh
    g = f"{groups}[{i}]" if groups else str(rng.randint(0, 3))
    root = w.assign(f"wp.{root_fn}({src}, {g})", "int", hint="root")
    root.read()
    q, idx = w.names.fresh("bq"), w.names.fresh(rng.choice(("item", "leaf", "prim")))
    kind = rng.choice(("sphere", "capsule", "aabb"))
    r = w.exprs.live("float", 0)
    if kind == "sphere":
        w.line(f"{q} = wp.bvh_query_sphere({bvh}, {p}, {r}, {root.name})")
    elif kind == "capsule":
        d = w.exprs.live("vec3", 1)
        w.line(f"{q} = wp.bvh_query_capsule({bvh}, {p}, wp.normalize({d}), {r}, {root.name})")
    else:
        w.line(f"{q} = wp.bvh_query_aabb({bvh}, {p} - wp.vec3({r}), {p} + wp.vec3({r}), {root.name})")
    w.line(f"{idx} = int(0)")
    flow.loops.append("while_tail")
    with w.block(f"while wp.bvh_query_next({q}, {idx}):") as mk:
        w.values.append(Value(idx, "int", reads=0))
        flow.stmts(0, 1, 2)
        flow.update()
        flow.close(mk)
    flow.loops.pop()


def _point(w, rng, flow, mesh, p):
    q = w.names.fresh("pq")
    if rng.random() < 0.5:
        w.line(f"{q} = wp.mesh_query_furthest_point_no_sign({mesh}, {p}, {rng.choice(('0.0', '0.1'))})")
        signed = False
    else:
        w.line(f"{q} = wp.mesh_query_point_sign_parity({mesh}, {p}, {rng.choice(('1.0e6', '10.0'))}, {rng.randint(1, 5)}, 1.0e-3)")
        signed = True
    with w.block(f"if {q}.result:") as mk:
        w.assign(rng.choice((f"wp.mesh_eval_velocity({mesh}, {q}.face, {q}.u, {q}.v)", f"wp.mesh_eval_position({mesh}, {q}.face, {q}.u, {q}.v)")), "vec3", hint="at")
        if signed:
            w.assign(f"{q}.sign", "float", hint="inside")
        flow.stmts(0, 0, 1)
        flow.update()
        flow.close(mk)


@family("mesh_ops", 1.1)
def mesh_ops(rng) -> GeneratedKernel:
    w = KernelWriter(rng)
    mesh = w.names.fresh(rng.choice(("mesh", "mesh_id", "surface", "collider")))
    w.raw_arg(f"{mesh}: wp.uint64")
    xs = w.array_arg("vec3", hint=rng.choice(("x", "queries", "particles", "centers")))
    groups = w.array_arg("int32", hint=rng.choice(("group", "layer", "body_id"))) if rng.random() < 0.4 else None
    out_t = rng.choice(("float", "vec3", "int"))
    out = w.array_arg({"float": "float32", "int": "int32"}.get(out_t, out_t), hint="out")
    if rng.random() < 0.4:
        w.scalar_arg("float", hint=rng.choice(("radius", "margin", "h")))
    (i,) = w.tid()
    p = w.load(xs, "vec3", i, hint="p")
    p.read()
    flow = Flow(w, {"compute": 3, "update": 2, "if": 0.4}, types=("float", "vec3", out_t), index=i)
    flow.target(out_t, hint=rng.choice(("acc", "result", "count", "total")))
    if rng.random() < 0.3:
        m = w.names.fresh("m")
        w.line(f"{m} = wp.mesh_get({mesh})")
        w.assign(rng.choice((f"{m}.points[{i} % {m}.points.shape[0]]", f"{m}.points[{m}.indices[{i} % {m}.indices.shape[0]]]")), "vec3", hint="ref")
    parts = rng.sample(("tri", "bvh", "point"), rng.choice((1, 1, 2)))
    if set(parts) == {"tri", "bvh"}:
        # Each traversal keeps a 32 KiB stack in static shared memory on CUDA (block_dim 256):
        # both in one kernel exceed the 48 KiB every GPU allows, and ptxas refuses the module.
        parts = [k if k != "bvh" else "point" for k in parts]
    for k in parts:
        if k == "tri":
            _tri_loop(w, rng, flow, mesh, p.name)
        elif k == "bvh":
            _bvh_loop(w, rng, flow, p.name, mesh, groups, i)
        else:
            _point(w, rng, flow, mesh, p.name)
    if groups and not any(groups in line for line in w.body[1:]):
        w.load(groups, "int32", i, hint="g")
    w.store(out, {"float": "float32", "int": "int32"}.get(out_t, out_t), i, flow.result(out_t))
    return GeneratedKernel(name := w.names.kernel_name(rng.choice(("contact", "surface", "mesh", "query"))), w.render(name))
