"""Quaternion utilities: Euler/RPY conversions, swing-twist decomposition and twist angles,
axis-angle extraction, slerp, and rotating frames."""
from . import family
from ._themed import themed

RULES = {
    "vec3": [("wp.quat_to_rpy({0})", ("quat",)), ("wp.quat_to_euler({0}, 0, 1, 2)", ("quat",)), ("wp.quat_to_euler({0}, 2, 1, 0)", ("quat",)),
             ("wp.quat_rotate({0}, {1})", ("quat", "vec3"))],
    "quat": [("wp.quat_twist(wp.normalize({0}), {1})", ("vec3", "quat")), ("wp.quat_from_euler({0}, 0, 1, 2)", ("vec3",)),
             ("wp.quat_from_euler({0}, 2, 0, 1)", ("vec3",)), ("wp.quat_rpy({0}[0], {0}[1], {0}[2])", ("vec3",)),
             ("wp.quat_slerp({0}, {1}, {2})", ("quat", "quat", "float")), ("wp.quat({0}, {1})", ("vec3", "float")),
             ("wp.quaternion({0}, {1})", ("vec3", "float")), ("wp.normalize({0} * wp.quat_inverse({1}))", ("quat", "quat"))],
    "float": [("wp.quat_twist_angle(wp.normalize({0}), {1})", ("vec3", "quat")),
              ("wp.quat_twist_angle_signed(wp.normalize({0}), {1})", ("vec3", "quat")), ("wp.dot({0}, {1})", ("quat", "quat")),
              ("{0}[{lit_i} % 4]", ("quat",))],
}


@family("quat_utils")
def quat_utils(rng):
    return themed(rng, rules=RULES, in_dtypes=("quat", "quat", "vec3", "float32", "transform"),
                  out_types=("quat", "vec3", "float", "vec3"), extra_p=0.6, topic=rng.choice(("orient", "rot", "joint", "frame")), min_calls=2)
