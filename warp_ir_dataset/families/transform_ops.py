"""Rigid/affine transform composition: ``transform_compose``/``transform_decompose`` with scale,
``transform_from_matrix``, ``transform_twist``/``transform_wrench`` of spatial vectors,
``transform_decompose`` of 4x4 matrices, in-place ``transform_set_translation``/``transform_set_rotation``, identities, points/vectors through composed frames."""
from . import family
from ._kit import Value
from ._themed import themed

RULES = {
    "mat44": [("wp.transform_compose({0}, {1}, {2})", ("vec3", "quat", "vec3")),
              ("wp.transform_to_matrix({0})", ("transform",)), ("wp.inverse({0})", ("mat44",))],
    "transform": [("wp.transform_from_matrix({0})", ("mat44",)), ("wp.transform_identity()", ()),
                  ("wp.transform_multiply({0}, wp.transform_inverse({1}))", ("transform", "transform")),
                  ("wp.transformation({0}, {1})", ("vec3", "quat"))],
    "spatial_vector": [("wp.transform_twist({0}, {1})", ("transform", "spatial_vector")),
                       ("wp.transform_wrench({0}, {1})", ("transform", "spatial_vector"))],
    "vec3": [("wp.transform_point({0}, {1})", ("mat44", "vec3")), ("wp.transform_vector({0}, {1})", ("mat44", "vec3")),
             ("wp.spatial_top({0})", ("spatial_vector",)), ("wp.spatial_bottom({0})", ("spatial_vector",)),
             ("wp.transform_point({0}, {1})", ("transform", "vec3"))],
    "quat": [("wp.transform_get_rotation({0})", ("transform",))],
}


def _setup(w, i):
    rng = w.rng
    if rng.random() < 0.15:
        names = [w.names.fresh(n) for n in rng.choice((("pos", "rot", "scl"), ("t", "q", "s"), ("offset", "orient", "stretch")))]
        w.line(f"{', '.join(names)} = wp.transform_decompose({w.exprs.live('mat44', 1)})")
        w.values.extend(Value(n, t) for n, t in zip(names, ("vec3", "quat", "vec3")))
    if rng.random() < 0.3:
        x = w.assign(f"wp.transform({w.exprs.live('vec3', 1)}, {w.exprs.live('quat', 0)})" if rng.random() < 0.5 else w.exprs.live("transform", 1), "transform", hint="xf")
        for fn, t in rng.sample((("transform_set_translation", "vec3"), ("transform_set_rotation", "quat")), rng.randint(1, 2)):
            w.line(f"wp.{fn}({x.name}, {w.exprs.live(t, 1)})")
    return {}


@family("transform_ops", budget=42_000)
def transform_ops(rng):
    return themed(rng, rules=RULES, setup=_setup, in_dtypes=("transform", "transform", "vec3", "quat", "spatial_vector", "mat44", "float32"),
                  out_types=("transform", "vec3", "spatial_vector", "mat44", "float"), extra_p=0.6, topic=rng.choice(("pose", "frame", "link", "xform")), min_calls=2,
                  out_dtypes={"mat44": "mat44"})
