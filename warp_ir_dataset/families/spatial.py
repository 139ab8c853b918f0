"""Spatial (6D) algebra for articulated bodies: spatial vectors/matrices, top/bottom parts,
spatial cross/dot products, adjoints, and rigid-body velocity at a point."""
from . import family
from ._themed import themed

RULES = {
    "spatial_vector": [
        ("wp.spatial_vector({0}, {1})", ("vec3", "vec3")),
        ("wp.spatial_cross({0}, {1})", ("spatial_vector", "spatial_vector")),
        ("wp.spatial_cross_dual({0}, {1})", ("spatial_vector", "spatial_vector")),
        ("({0} @ {1})", ("spatial_matrix", "spatial_vector")),
        ("({0} + {1} * {2})", ("spatial_vector", "spatial_vector", "float")),
    ],
    "spatial_matrix": [
        ("wp.spatial_adjoint({0}, {1})", ("mat33", "mat33")),
        ("wp.outer({0}, {1})", ("spatial_vector", "spatial_vector")),
        ("({0} @ {1})", ("spatial_matrix", "spatial_matrix")),
    ],
    "vec3": [
        ("wp.spatial_top({0})", ("spatial_vector",)),
        ("wp.spatial_bottom({0})", ("spatial_vector",)),
        ("wp.velocity_at_point({0}, {1})", ("spatial_vector", "vec3")),
    ],
    "float": [("wp.spatial_dot({0}, {1})", ("spatial_vector", "spatial_vector")), ("{0}[{lit_i} % 6]", ("spatial_vector",))],
    "mat33": [("wp.skew({0})", ("vec3",))],
}


@family("spatial")
def spatial(rng):
    return themed(rng, rules=RULES, in_dtypes=("spatial_vector", "spatial_vector", "vec3", "spatial_matrix", "mat33", "float32", "transform"),
                  out_types=("spatial_vector", "vec3", "float", "spatial_vector"), extra_p=0.6, topic=rng.choice(("twist", "wrench", "joint", "body")))
