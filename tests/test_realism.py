"""The language features and lengths that the realism section compares."""
from __future__ import annotations

from warp_ir_dataset.realism import FEATURES, RealismAcc, Source, compare, summary

REAL = '''import warp as wp
from typing import Any

wp.set_module_options({"enable_backward": False})
vec5 = wp.types.vector(length=5, dtype=float)


@wp.struct
class Body:
    x: wp.vec3


@wp.func
def pair(a: float):
    return a, a * 2.0


@wp.kernel(enable_backward=False, module="unique")
def k(bodies: wp.array(dtype=Body), out: wp.array2d(dtype=float), n: int = 3):
    i, j = wp.tid()
    if i > n:
        return
    elif i == 0:
        out[i][j] = 1.0
    for t in range(wp.static(4)):
        a, b = pair(float(t))
        out[i, j] += a if bool(t) else b
    while n > 0:
        n -= 1
        break
'''


def test_each_feature_of_a_hand_written_kernel_is_found():
    src = Source.parse(REAL)
    kernel = next(f for f in src.functions if f.kind == "kernel")
    func = next(f for f in src.functions if f.kind == "func")
    found = {name for name, test in FEATURES.items() if test(kernel)}
    assert found >= {
        "for loop", "for over range(wp.static(...))", "while loop", "break / continue", "if", "elif chain",
        "conditional expression (a if c else b)", "early return in a kernel", "augmented assignment (+=)",
        "multi-dimensional wp.tid()", "write through a nested subscript or attribute", "bool(...) cast", "wp.static(...)",
        "calls a user @wp.func", "takes a struct", "default argument value", "@wp.kernel(enable_backward=False)",
        '@wp.kernel(module="unique")', "custom vector/matrix type (wp.types.vector/matrix)", "wp.set_module_options",
        "@wp.struct in the source", "tuple unpacking",
    }
    assert "generic argument (typing.Any)" not in found and "12 or more arguments" not in found and "wp.overload" not in found
    assert FEATURES["tuple return from a function"](func) and not FEATURES["tuple return from a function"](kernel)


FACTORY = '''import warp as wp

SCALE = wp.constant(2.0)


@wp.func_native("return a + b;")
def add(a: float, b: float) -> float: ...


@wp.func
def damp(x: float, rate: float = 0.5) -> float:
    return x * rate


def make_kernel(gain: float):
    @wp.func
    def shaped(v: float) -> float:
        return v * gain

    @wp.kernel
    def scaled(a: wp.array(dtype=float)):
        i = wp.tid()
        a[i] = shaped(damp(a[i % len(a)], rate=SCALE)) + add(1.0, 2.0)

    return scaled


scaled = make_kernel(1.5)
'''


def test_functions_a_factory_makes_are_found_with_the_features_they_use():
    src = Source.parse(FACTORY)
    by_name = {f.node.name: f for f in src.functions}
    assert set(by_name) == {"add", "damp", "shaped", "scaled"}
    assert [n for n, f in by_name.items() if FEATURES["made by a factory function (closure)"](f)] == ["shaped", "scaled"]
    kernel = by_name["scaled"]
    for feature in ("len(...)", "keyword argument in a call to a user function", "wp.constant(...) in the source", "calls a user @wp.func"):
        assert FEATURES[feature](kernel), feature
    assert FEATURES["@wp.func_native"](by_name["add"]) and FEATURES["default argument value"](by_name["damp"])
    assert not FEATURES["len(...)"](by_name["damp"]) and not FEATURES["keyword argument in a call to a user function"](by_name["shaped"])


def test_real_functions_count_once_and_synthetic_rows_once_each():
    real, synthetic = RealismAcc(), RealismAcc()
    for _ in range(3):  # the same source in three rows: its two functions count once
        real.add(REAL, "k", ["static", "tid"], per_function=True)
    synthetic.add(REAL.replace("wp.static(4)", "4"), "k", ["tid"], per_function=False)
    r, s = summary(real), summary(synthetic)
    assert r["functions"] == 2 and r["rows"] == 3 and s["functions"] == 1
    assert r["feature_share"]["wp.static(...)"] == 0.5 and s["feature_share"]["wp.static(...)"] == 0.0
    c = compare(s, r)
    assert "wp.static(...)" in c["features_missing"] and c["builtins_missing"] == ["static"]
    assert c["builtin_coverage"] == 0.5 and c["builtin_coverage_by_calls"] == 0.5
    assert r["kernels_calling_a_user_func"] == 1.0 and r["kernel_lines"]["max"] == r["kernel_lines"]["p50"]


def test_constructs_are_counted_per_100_statements_of_each_distinct_function():
    real, synthetic = RealismAcc(), RealismAcc()
    for _ in range(2):  # the same functions in two rows count once for real code
        real.add(REAL, "k", ["tid"], per_function=True)
    synthetic.add(REAL, "k", ["tid"], per_function=False)
    synthetic.add(REAL, "k", ["tid"], per_function=False, features=False)  # outside the feature sample: not counted
    # 12 statements: ``pair``'s return and the kernel's 11; literals 2.0 and 1.0; one ``a if .. else b``;
    # ``i > n``, ``i == 0``, ``n > 0``; the ``if`` and its ``elif``; a ``for`` and a ``while``
    want = {"float literals": 16.67, "conditional expressions (wp.where, x if c else y)": 8.33, "comparisons": 25.0,
            "if statements": 16.67, "loops": 16.67}
    assert summary(real)["per_100_statements"] == want
    assert summary(synthetic)["per_100_statements"] == want
    assert summary(RealismAcc())["per_100_statements"]["loops"] == 0.0
