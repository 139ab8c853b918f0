"""Numeric types and precision: int8..uint64 and float16/float64 arrays, explicit conversions,
float64 accumulation, half-precision arithmetic, floor-division/modulo, copysign/rint/erfinv
and other special functions."""
from . import family
from ._themed import themed

RULES = {
    "float": [("wp.float32(wp.float64({0}) * wp.float64({1}) + wp.float64({lit}))", ("float", "float")),
              ("wp.float32(wp.sqrt(wp.abs(wp.float64({0}))))", ("float",)),
              ("wp.float32(wp.float16({0}) * wp.float16({lit}))", ("float",)),
              ("wp.float32(wp.exp(wp.float64(-wp.abs({0}))))", ("float",)),
              ("wp.copysign({0}, {1})", ("float", "float")), ("wp.rint({0})", ("float",)),
              ("wp.erfinv(wp.clamp({0}, -0.99, 0.99))", ("float",)), ("wp.erfc({0})", ("float",)),
              ("wp.float32(wp.mod({0}, {lit}))", ("float",)), ("wp.float32(wp.uint8(wp.clamp({0}, 0, 255)))", ("int",)),
              ("wp.float32(wp.int64({0}) * wp.int64({1}))", ("int", "int"))],
    "int": [("wp.floordiv({0}, {lit_i})", ("int",)), ("wp.mod({0}, {lit_i})", ("int",)),
            ("wp.int32(wp.int8({0}))", ("int",)), ("wp.int32(wp.uint16({0}))", ("int",)),
            ("wp.int32(wp.uint64({0}) >> wp.uint64(2))", ("int",)), ("wp.int32(wp.int16({0}) * wp.int16(3))", ("int",)),
            ("wp.int32(wp.uint32({0}) % wp.uint32({lit_i}))", ("int",))],
    # A half-precision product overflows (to inf) for values over 1.6: a test the inputs can pass or fail.
    "bool": [("wp.isinf(wp.float16({0}) * wp.float16(40000.0))", ("float",)), ("({0} != {1})", ("int", "int"))],
}


@family("precision")
def precision(rng):
    return themed(rng, rules=RULES,
                  in_dtypes=("float64", "float16", "int8", "uint8", "int16", "uint16", "int64", "uint32", "float32", "int32"),
                  out_types=("float", "int", "float"), extra_p=0.55, topic=rng.choice(("quant", "accum", "counts", "mix")), min_calls=2,
                  scalars=("float", "int"),
                  out_dtypes={"float": rng.choice(("float32", "float64", "float16")), "int": rng.choice(("int32", "int64", "uint8", "int16"))})
