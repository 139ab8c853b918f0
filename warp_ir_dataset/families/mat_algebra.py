"""Small dense matrix algebra: mat22/mat33/mat44 products, inverses, determinants, traces,
SVD/QR/eigen decompositions of 3x3 matrices (polar decomposition, stress/strain tensors)."""
from . import family
from ._themed import themed

RULES = {
    "mat33": [("wp.inverse({0} + wp.identity(n=3, dtype=float))", ("mat33",)), ("({0} @ wp.transpose({0}))", ("mat33",)),
              ("(0.5 * ({0} + wp.transpose({0})))", ("mat33",)), ("wp.outer({0}, {1})", ("vec3", "vec3"))],
    "mat22": [("wp.inverse({0})", ("mat22",)), ("wp.matrix_from_rows({0}, {1})", ("vec2", "vec2"))],
    "mat44": [("wp.inverse({0})", ("mat44",)), ("({0} @ {1})", ("mat44", "mat44")), ("wp.matrix_from_cols({0}, {1}, {2}, {3})", ("vec4",) * 4),
              ("wp.outer({0}, {1})", ("vec4", "vec4"))],
    "float": [("wp.determinant({0})", ("mat44",)), ("wp.trace({0})", ("mat22",)), ("wp.ddot({0}, {1})", ("mat22", "mat22"))],
    "vec4": [("({0} @ {1})", ("mat44", "vec4")), ("({1} @ {0})", ("mat44", "vec4"))],
}


def _setup(w, i):
    rng = w.rng
    m = next((v for v in w.values if v.type == "mat33"), None)
    src = m.name if m else w.exprs.live("mat33", 1)
    if m:
        m.read()
    kind = rng.choice(("svd3", "qr3", "eig3", "svd2", "none"))
    if kind == "svd3":
        U, S, V = (w.names.fresh(n) for n in ("U", "sigma", "V"))
        w.line(f"{U} = wp.mat33()\n{'    ' * w.indent}{S} = wp.vec3()\n{'    ' * w.indent}{V} = wp.mat33()")
        w.line(f"wp.svd3({src}, {U}, {S}, {V})")
        w.assign(f"{U} @ wp.transpose({V})", "mat33", hint="R")
        w.assign(S, "vec3", hint="stretch")
    elif kind == "qr3":
        Q, R = w.names.fresh("Q"), w.names.fresh("R")
        w.line(f"{Q} = wp.mat33()\n{'    ' * w.indent}{R} = wp.mat33()")
        w.line(f"wp.qr3({src}, {Q}, {R})")
        w.assign(f"{Q} @ {R}", "mat33", hint="QR")
    elif kind == "eig3":
        Q, d = w.names.fresh("Q"), w.names.fresh("evals")
        w.line(f"{Q} = wp.mat33()\n{'    ' * w.indent}{d} = wp.vec3()")
        w.line(f"wp.eig3({src} @ wp.transpose({src}), {Q}, {d})")
        w.assign(f"{Q} @ wp.diag({d})", "mat33", hint="recon")
    elif kind == "svd2":
        U, S, V = (w.names.fresh(n) for n in ("U", "sigma", "V"))
        w.line(f"{U} = wp.mat22()\n{'    ' * w.indent}{S} = wp.vec2()\n{'    ' * w.indent}{V} = wp.mat22()")
        w.line(f"wp.svd2({w.exprs.live('mat22', 1)}, {U}, {S}, {V})")
        w.assign(f"{U} @ wp.transpose({V})", "mat22", hint="R2")
        w.assign(S, "vec2", hint="s2")
    return {}


@family("mat_algebra")
def mat_algebra(rng):
    return themed(rng, rules=RULES, setup=_setup, in_dtypes=("mat33", "mat33", "mat22", "mat44", "vec3", "vec4", "float32"),
                  out_types=("mat33", "float", "mat22", "mat44", "vec4", "vec3"), extra_p=0.5, topic=rng.choice(("stress", "strain", "jacobian", "basis")),
                  out_dtypes={"mat44": "mat44"})
