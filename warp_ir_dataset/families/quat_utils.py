"""Quaternion utilities: Euler (``quat_to_euler``/``quat_from_euler``)/RPY conversions, swing-twist decomposition and twist angles,
axis-angle extraction (``quat_to_axis_angle``), slerp, and rotating frames."""
from . import family
from ._kit import Value
from ._themed import themed

RULES = {
    "vec3": [("wp.quat_to_rpy({0})", ("quat",)), ("wp.quat_rotate({0}, {1})", ("quat", "vec3")),
             ("wp.quat_rotate_inv({0}, {1})", ("quat", "vec3"))],
    "quat": [("wp.quat_twist(wp.normalize({0}), {1})", ("vec3", "quat")), ("wp.quat_rpy({0}[0], {0}[1], {0}[2])", ("vec3",)),
             ("wp.quat_slerp({0}, {1}, {2})", ("quat", "quat", "float")), ("wp.quat({0}, {1})", ("vec3", "float")),
             ("wp.quaternion({0}, {1})", ("vec3", "float")), ("wp.normalize({0} * wp.quat_inverse({1}))", ("quat", "quat"))],
    "float": [("wp.quat_twist_angle(wp.normalize({0}), {1})", ("vec3", "quat")),
              ("wp.quat_twist_angle_signed(wp.normalize({0}), {1})", ("vec3", "quat")), ("wp.dot({0}, {1})", ("quat", "quat")),
              ("{0}[{lit_i} % 4]", ("quat",))],
}
# General Euler-angle conversions compile to large helper functions (tens of KB of C++ for
# quat_to_euler): a minority of kernels use them, and then sparingly.
EULER = {
    "vec3": [("wp.quat_to_euler({0}, 0, 1, 2)", ("quat",)), ("wp.quat_to_euler({0}, 2, 1, 0)", ("quat",))],
    "quat": [("wp.quat_from_euler({0}, 0, 1, 2)", ("vec3",)), ("wp.quat_from_euler({0}, 2, 0, 1)", ("vec3",))],
}


def _setup(w, i):
    if w.rng.random() < 0.3:
        axis, angle = w.names.fresh("axis"), w.names.fresh("angle")
        w.line(f"{axis} = wp.vec3()")
        w.line(f"{angle} = float(0.0)")
        w.line(f"wp.quat_to_axis_angle(wp.normalize({w.exprs.live('quat', 1)}), {axis}, {angle})")
        w.values.extend((Value(axis, "vec3"), Value(angle, "float")))
    return {}


@family("quat_utils", budget=80_000)
def quat_utils(rng):
    rules = RULES
    if rng.random() < 0.3:
        kind = rng.choice(("vec3", "quat"))
        rules = {**RULES, kind: [rng.choice(EULER[kind])]}
    return themed(rng, rules=rules, setup=_setup, in_dtypes=("quat", "quat", "vec3", "float32", "transform"),
                  out_types=("quat", "vec3", "float", "vec3"), extra_p=0.6, topic=rng.choice(("orient", "rot", "joint", "frame")), min_calls=2)
