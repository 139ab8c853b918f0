"""Rigid/affine transform composition: ``transform_compose``/``transform_decompose`` with scale,
``transform_from_matrix``, ``transform_twist``/``transform_wrench`` of spatial vectors,
transform setters, identities, points/vectors through composed frames."""
from . import family
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


@family("transform_ops")
def transform_ops(rng):
    return themed(rng, rules=RULES, in_dtypes=("transform", "transform", "vec3", "quat", "spatial_vector", "mat44", "float32"),
                  out_types=("transform", "vec3", "spatial_vector", "mat44", "float"), extra_p=0.6, topic=rng.choice(("pose", "frame", "link", "xform")), min_calls=2,
                  out_dtypes={"mat44": "mat44"})
