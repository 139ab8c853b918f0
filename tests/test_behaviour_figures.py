"""The figures benchmarks/behaviour.py states beside its sensitivity share (an interval that
resamples rows, the share per family), and its measurement of one family alone."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from helpers import run_module

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("behaviour", ROOT / "benchmarks" / "behaviour.py")
behaviour = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(behaviour)

tallies = st.lists(st.integers(1, 6).flatmap(lambda m: st.tuples(st.just(m), st.integers(0, m))), min_size=1, max_size=60)


@given(tallies, st.integers(0, 2**31))
def test_the_interval_lies_between_the_rows_lowest_and_highest_share(rows, seed):
    # A resample's share is a weighted mean of its rows' shares, so no interval can leave them.
    low, high = behaviour.row_bootstrap_interval(rows, seed, resamples=300)
    shares = [c / m for m, c in rows]
    assert min(shares) - 1e-4 <= low <= high <= max(shares) + 1e-4
    assert behaviour.row_bootstrap_interval(rows, seed, resamples=300) == [low, high]  # seeded: the same figure again


def test_rows_alike_give_no_spread_and_rows_apart_give_some():
    assert behaviour.row_bootstrap_interval([(4, 3)] * 50, 0) == [0.75, 0.75]
    low, high = behaviour.row_bootstrap_interval([(4, 4)] * 25 + [(4, 0)] * 25, 0)
    assert 0.3 < low < 0.5 < high < 0.7


@given(st.lists(st.tuples(st.sampled_from(["loops", "funcs", "noise"]), st.integers(1, 5), st.integers(0, 5)), min_size=1, max_size=40))
def test_families_add_up_to_the_rows_and_come_lowest_share_first(rows):
    rows = [(f, m, min(c, m)) for f, m, c in rows]
    families = behaviour.by_family(rows)
    assert sum(f["rows"] for f in families.values()) == len(rows)
    assert sum(f["mutants"] for f in families.values()) == sum(m for _, m, _ in rows)
    assert sum(f["caught"] for f in families.values()) == sum(c for _, _, c in rows)
    shares = [f["share"] for f in families.values()]
    assert shares == sorted(shares)
    for name, f in families.items():
        assert f["caught"] == sum(c for g, _, c in rows if g == name)


def test_one_family_is_measured_alone_and_an_absent_one_is_one_line():
    sample = str(ROOT / "data" / "samples")
    proc = run_module("benchmarks.behaviour", sample, "--config", "cpu", "--family", "transform_ops", "--rows", "1", "--json", check=True)
    report = json.loads(proc.stdout)
    assert report["family"] == "transform_ops"
    assert set(report["executable"]["per_family"]) == {"transform_ops"} and set(report["sensitivity"]["by_family"]) == {"transform_ops"}
    assert report["sensitivity"]["rows"] == 1 and report["determinism"]["rows"] == report["trivial_kernels"]["rows"] >= 1
    sites = report["sensitivity"]["by_site"]  # every mutant, by where it sits
    assert set(sites) <= set(behaviour.SITES)
    assert sum(s["mutants"] for s in sites.values()) == report["sensitivity"]["mutants"]
    assert sum(s["caught"] for s in sites.values()) == report["sensitivity"]["caught"]
    proc = run_module("benchmarks.behaviour", sample, "--config", "cpu", "--family", "no_such_family")
    assert proc.returncode != 0 and proc.stderr.strip().count("\n") == 0 and "no executed no_such_family rows" in proc.stderr


SITED = """import warp as wp


@wp.func
def helper(x: float) -> float:
    return x * 2.0


@wp.kernel
def k(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    x = a[i] * 3.0
    if x > 0.5:
        out[i] = x + 1.0
    else:
        out[i] = wp.where(x < 0.25, x, 2.0)
    for j in range(3):
        x += helper(x) * 0.5
    out[i] += x
"""


def test_a_mutant_is_placed_where_its_change_sits():
    def site(old: str, new: str) -> str:
        assert old in SITED
        return behaviour.site_of(SITED, SITED.replace(old, new, 1))

    assert site("x = a[i] * 3.0", "x = a[i] / 3.0") == "straight-line code"
    assert site("out[i] += x\n", "") == "straight-line code"  # a dropped statement
    assert site("if x > 0.5:", "if x >= 0.5:") == "a condition"
    assert site("if x > 0.5:", "if x > 1.0:") == "a condition"
    assert site("out[i] = x + 1.0", "out[i] = x - 1.0") == "a branch's body"
    assert site("wp.where(x < 0.25, x, 2.0)", "wp.where(x <= 0.25, x, 2.0)") == "a condition"
    assert site("wp.where(x < 0.25, x, 2.0)", "wp.where(x < 0.25, x, 3.25)") == "a branch's body"  # a value beside the test
    assert site("x += helper(x) * 0.5", "x += helper(x) * 1.0") == "a loop's body"
    assert site("return x * 2.0", "return x / 2.0") == "a helper"


def test_a_kernel_a_factory_makes_is_the_kernel_not_the_code_around_it():
    made = """import warp as wp


def make(scale: float):
    @wp.kernel
    def k(a: wp.array(dtype=float), out: wp.array(dtype=float)):
        i = wp.tid()
        out[i] = a[i] * 3.0
    return k


kernel = make(2.0)
"""
    assert behaviour.site_of(made, made.replace("a[i] * 3.0", "a[i] / 3.0")) == "straight-line code"
    assert behaviour.site_of(made, made.replace("make(2.0)", "make(3.25)")) == "outside a Warp function"


site_tallies = st.lists(st.integers(1, 8).flatmap(lambda m: st.integers(0, m).flatmap(
    lambda c: st.tuples(st.just(m), st.just(c), st.integers(0, m - c)))), min_size=1, max_size=20)


@given(site_tallies)
def test_reaching_every_block_can_only_add_to_the_share_and_never_past_all(tallies):
    share = sum(c for _, c, _ in tallies) / sum(m for m, _, _ in tallies)
    estimate = behaviour.share_if_every_block_ran(tallies)
    assert share - 1e-4 <= estimate <= 1.0
    if not any(never for _, _, never in tallies):
        assert abs(estimate - share) <= 1e-4  # nothing unreached: nothing to add


def test_unreached_mutants_are_caught_as_often_as_the_reached_ones_of_their_site_and_kind():
    # 10 mutants at one site and kind, 4 never reached, 3 of the 6 reached caught: the 4 count as 2 caught
    assert behaviour.share_if_every_block_ran([(10, 3, 4)]) == 0.5
    # a site and kind where nothing was reached adds nothing (no rate to go by)
    assert behaviour.share_if_every_block_ran([(10, 3, 4), (5, 0, 5)]) == round(5 / 15, 4)


def test_sites_add_their_kinds_up_and_come_most_mutants_first():
    per_site_kind = {("a branch's body", "operator"): [3, 1, 2], ("straight-line code", "constant"): [4, 4, 0],
                     ("a branch's body", "constant"): [2, 2, 0]}
    sites = behaviour.by_site(per_site_kind)
    assert sites == {"a branch's body": {"mutants": 5, "caught": 3, "share": 0.6}, "straight-line code": {"mutants": 4, "caught": 4, "share": 1.0}}
    assert list(sites) == ["a branch's body", "straight-line code"]
