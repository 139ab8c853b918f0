"""Vector norms and robust losses: ``norm_l1``/``norm_l2``/``norm_huber``/``norm_pseudo_huber``,
``smooth_normalize``, and residual-based loss kernels over vec2/3/4 data."""
from . import family
from ._themed import themed

RULES = {"float": [], "vec3": [("wp.smooth_normalize({0}, {lit})", ("vec3",))], "vec2": [("wp.smooth_normalize({0}, {lit})", ("vec2",))]}
for v in ("vec2", "vec3", "vec4"):
    RULES["float"] += [(f"wp.norm_l1({{0}})", (v,)), (f"wp.norm_l2({{0}})", (v,)), (f"wp.norm_huber({{0}}, {{lit}})", (v,)),
                       (f"wp.norm_pseudo_huber({{0}}, {{lit}})", (v,)), (f"wp.norm_huber({{0}} - {{1}}, {{lit}})", (v, v))]


@family("norms", 0.8)
def norms(rng):
    return themed(rng, rules=RULES, in_dtypes=("vec3", "vec3", "vec2", "vec4", "float32"),
                  out_types=("float", "float", "vec3"), extra_p=0.6, topic=rng.choice(("loss", "residual", "error", "cost")), min_calls=2)
