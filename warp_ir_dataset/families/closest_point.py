"""Computational geometry on segments and triangles: closest points between edges
(``closest_point_edge_edge``), triangle-triangle intersection tests, barycentric coordinates,
point-plane distances and triangle areas/normals."""
from . import family
from ._themed import themed

RULES = {
    "vec3": [("wp.closest_point_edge_edge({0}, {1}, {2}, {3}, 1.0e-6)", ("vec3", "vec3", "vec3", "vec3")),
             ("wp.cross({0} - {1}, {2} - {1})", ("vec3", "vec3", "vec3")),
             ("wp.normalize(wp.cross({1} - {0}, {2} - {0}))", ("vec3", "vec3", "vec3")),
             ("({0} * (1.0 - {2}) + {1} * {2})", ("vec3", "vec3", "float"))],
    "int": [("wp.intersect_tri_tri({0}, {1}, {2}, {3}, {4}, {5})", ("vec3",) * 6)],
    "float": [("0.5 * wp.length(wp.cross({1} - {0}, {2} - {0}))", ("vec3", "vec3", "vec3")),
              ("wp.dot({0} - {1}, wp.normalize({2}))", ("vec3", "vec3", "vec3"))],
    "bool": [("(wp.intersect_tri_tri({0}, {1}, {2}, {3}, {4}, {5}) != 0)", ("vec3",) * 6)],
}


@family("closest_point", budget=60_000)
def closest_point(rng):
    return themed(rng, rules=RULES, in_dtypes=("vec3", "vec3", "vec3", "float32"),
                  out_types=("vec3", "float", "int", "vec3"), extra_p=0.6, topic=rng.choice(("contact", "edge", "collision", "tri")), min_calls=2)
