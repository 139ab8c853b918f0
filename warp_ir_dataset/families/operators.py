"""Operators spelled as builtin calls and other less common scalar builtins: ``wp.add``/
``sub``/``mul``/``div``/``mod``/``neg``/``pos``, bitwise ``bit_and``/``bit_or``/``bit_xor``/
``lshift``/``rshift``/``invert``, ``unot``, approximate math (``div_approx``,
``inverse_approx``), ``erfcinv``, bit reinterpretation with ``cast``, generic constructors
(``vector``/``matrix`` with ``length``/``shape``), ``len``, compile-time ``wp.static``
constants, fixed-size local arrays (``wp.zeros``), and ``printf``/``expect_near`` checks."""
from . import family
from ._kit import literal
from ._themed import themed

RULES = {
    "float": [("wp.add({0}, {1})", ("float", "float")), ("wp.sub({0}, {1})", ("float", "float")), ("wp.mul({0}, {1})", ("float", "float")),
              ("wp.div({0}, wp.abs({1}) + {lit})", ("float", "float")), ("wp.mod({0}, {lit})", ("float",)), ("wp.neg({0})", ("float",)),
              ("wp.pos({0})", ("float",)), ("wp.div_approx({0}, wp.abs({1}) + {lit})", ("float", "float")),
              ("wp.erfcinv(wp.clamp({0}, 0.05, 1.95))", ("float",)), ("wp.float32(wp.len({0}))", ("vec3",)),
              ("wp.float32(wp.cast({0}, dtype=wp.uint32) >> wp.uint32(23))", ("float",)),
              ("wp.float32(wp.cast({0}, dtype=wp.int32) & 0x7FFFFF) * 1.1920929e-7", ("float",))],
    "int": [("wp.bit_and({0}, {1})", ("int", "int")), ("wp.bit_or({0}, {lit_i})", ("int",)), ("wp.bit_xor({0}, {1})", ("int", "int")),
            ("wp.lshift({0}, {lit_i} % 8)", ("int",)), ("wp.rshift({0}, 2)", ("int",)), ("wp.invert({0})", ("int",)),
            ("wp.mul({0}, {1})", ("int", "int")), ("wp.mod({0}, {lit_i})", ("int",)), ("wp.add({0}, {1})", ("int", "int")),
            ("wp.cast({0}, dtype=wp.int32)", ("float",))],
    "bool": [("wp.unot({0})", ("bool",)), ("wp.unot({0} > {1})", ("float", "float"))],
    "vec3": [("wp.vector({0}, {1}, {2}, length=3, dtype=float)", ("float", "float", "float")), ("wp.add({0}, {1})", ("vec3", "vec3")),
             ("wp.mul({0}, {1})", ("vec3", "float")), ("wp.neg({0})", ("vec3",)), ("wp.div({0}, wp.abs({1}) + {lit})", ("vec3", "float")),
             ("wp.sub({0}, {1})", ("vec3", "vec3")), ("wp.div_approx({0}, wp.abs({1}) + {lit})", ("vec3", "float"))],
    "mat22": [("wp.matrix({0}, {1}, {2}, {3}, shape=(2, 2), dtype=float)", ("float", "float", "float", "float"))],
    "mat33": [("wp.inverse_approx({0} + wp.identity(n=3, dtype=float))", ("mat33",)), ("wp.mul({0}, {1})", ("mat33", "mat33")),
              ("wp.add({0}, wp.transpose({0}))", ("mat33",))],
}


def _setup(w, i):
    rng = w.rng
    rules = {}
    if rng.random() < 0.35:
        c = w.names.fresh(rng.choice(("ORDER", "LEVELS", "RADIUS", "N_TAPS")).lower()).upper()
        w.preamble.append(f"{c} = {rng.randint(2, 6)}\n")
        rules["int"] = [(f"wp.static({c} * {rng.randint(1, 4)})", ()), (f"({{0}} % wp.static({c} + 1))", ("int",))]
        rules["float"] = [(f"({{0}} * float(wp.static({c})))", ("float",))]
    if rng.random() < 0.3:
        n = rng.randint(2, 4)
        buf, s = w.names.fresh(rng.choice(("buf", "scratch", "taps", "window"))), w.names.fresh("s")
        w.line(f"{buf} = wp.zeros(shape={n}, dtype=float)")
        x = w.exprs.live("float", 1)
        w.line(f"for {s} in range({n}):")
        w.line(f"    {buf}[{s}] = {x} * float({s} + 1)")
        w.assign(rng.choice((f"{buf}[{i} % {n}]", f"{buf}[0] + {buf}[{n - 1}]")), "float", hint="tap")
    floats = [v for v in w.values if v.type == "float"]
    if floats and rng.random() < 0.25:
        v = rng.choice(floats)
        v.read()
        if rng.random() < 0.5:
            w.line(f"if not wp.isfinite({v.name}):")
            w.line(f"    wp.printf(\"non-finite value at %d: %f\\n\", {i}, {v.name})")
        else:
            w.line(f"wp.expect_near({v.name}, wp.clamp({v.name}, -{literal(rng)}, {literal(rng)}), {rng.choice(('1.0e6', '1.0e3'))})")
        v.reads -= 1
    return rules


@family("operators")
def operators(rng):
    return themed(rng, rules=RULES, setup=_setup, in_dtypes=("float32", "float32", "int32", "vec3", "mat33", "int32"),
                  out_types=("float", "int", "vec3", "float"), extra_p=0.55, topic=rng.choice(("op", "bits", "value", "mix")), min_calls=2,
                  scalars=("float", "int"))
