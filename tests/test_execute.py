"""Stage 4, execution: a kernel launched on seeded inputs from its inferred contract, its outputs
and gradients recorded; a kernel that crashes or hangs costs itself only."""
from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warp_ir_dataset import execute
from warp_ir_dataset.contract import Arg, Contract
from warp_ir_dataset.execute import Behaviour, Failure, Request, make_inputs, run_kernels
from warp_ir_dataset.generate import source_id

AXPY = """import warp as wp


@wp.kernel
def axpy(x: wp.array(dtype=wp.float32), y: wp.array(dtype=wp.float32), idx: wp.array(dtype=wp.int32), a: float,
         out: wp.array(dtype=wp.float32), total: wp.array(dtype=wp.float32), skipped: wp.array(dtype=wp.float32),
         marks: wp.array(dtype=wp.int32)):
    i = wp.tid()
    out[i] = a * x[idx[i]] + y[i]
    wp.atomic_add(total, 0, x[i])
    if i == 0:
        skipped[1] = 2.0
    if i % 2 == 0:
        marks[i] = 0
"""

OUT_OF_BOUNDS = """import warp as wp


@wp.kernel
def past_the_end(x: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
    i = wp.tid()
    out[i] = x[i + 1000]
"""

FOREVER = """import warp as wp


@wp.kernel
def forever(x: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
    i = wp.tid()
    v = x[i]
    while v < 10.0:
        v = v * 1.0
    out[i] = v
"""


def request(source: str, name: str, seed: int = 3) -> Request:
    return Request(source, name, seed, f"wirds_{source_id(source)}")


@pytest.fixture(scope="module")
def results():
    return run_kernels([request(AXPY, "axpy"), request(OUT_OF_BOUNDS, "past_the_end"), request(FOREVER, "forever"), request(AXPY, "axpy")], timeout=20)


def test_outputs_are_what_the_kernel_computes_on_its_recorded_inputs(results):
    b = results[0]
    assert isinstance(b, Behaviour), b
    access = {a.name: (a.access, a.initial) for a in b.contract.args if a.kind == "array"}
    assert access == {"x": ("read", "values"), "y": ("read", "values"), "idx": ("read", "values"),
                      "out": ("write", "sentinel"), "total": ("write", "zeros"), "skipped": ("write", "sentinel"),
                      "marks": ("write", "sentinel")}
    x, y, idx, a = (b.inputs[n] for n in ("x", "y", "idx", "a"))
    assert idx.min() >= 0 and idx.max() < len(x)  # index arrays stay inside the arrays they index
    np.testing.assert_allclose(b.outputs["out"], a * x[idx] + y, rtol=1e-6)
    np.testing.assert_allclose(b.outputs["total"][0], x.sum(), rtol=1e-5)
    # elements never written keep the sentinel, and are counted, not taken for results
    assert np.isnan(b.outputs["skipped"]).sum() == len(x) - 1 and b.outputs["skipped"][1] == 2.0
    # ints have no NaN: theirs is a byte pattern, so a store of 0 shows, and so does a store left out
    marks = b.outputs["marks"]
    assert b.inputs["marks"].view(np.uint8).tolist() == [execute.SENTINEL_INT_BYTE] * 4 * len(marks)
    assert (marks[0::2] == 0).all() and (marks[1::2] == b.inputs["marks"][1::2]).all() and (marks[1::2] != 0).all()
    assert b.unwritten == len(x) - 1 + len(marks) // 2 and b.non_finite == 0 and b.deterministic and b.executable


def test_gradients_are_the_adjoint_of_the_seeded_output_gradients(results):
    b = results[0]
    g_out, g_total = b.output_grads["out"], b.output_grads["total"]
    expected_x = g_total[0] + np.bincount(b.inputs["idx"], weights=b.inputs["a"] * g_out, minlength=len(b.inputs["x"]))
    np.testing.assert_allclose(b.input_grads["x"], expected_x, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b.input_grads["y"], g_out, rtol=1e-6)


def test_a_kernel_that_crashes_or_hangs_is_a_failure_and_the_next_one_runs(results):
    crashed, hung, after = results[1], results[2], results[3]
    assert isinstance(crashed, Failure) and crashed.reason == "launch-crashed" and "shape" in crashed.message
    assert isinstance(hung, Failure) and hung.reason == "launch-timeout"
    assert isinstance(after, Behaviour) and after.executable
    # the same kernel, the same seed: the same bits, in another process
    for name, value in results[0].outputs.items():
        assert value.tobytes() == after.outputs[name].tobytes()


def test_a_process_started_after_a_crash_finds_the_precompiled_headers_built_and_none_are_left_behind(tmp_path, monkeypatch):
    # Warp builds its precompiled headers (~2.5 s) in a temp folder of each process and, as the
    # launching process exits at once, never removes it: one folder per crash, 10 MB each.
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setenv("WARP_CACHE_PATH", str(tmp_path / "cache"))  # nothing compiled yet
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setattr(execute, "_headers_folders", {})
    crashed, after = run_kernels([request(OUT_OF_BOUNDS, "past_the_end"), request(AXPY, "axpy")], timeout=60)
    assert isinstance(crashed, Failure) and crashed.reason == "launch-crashed"
    assert isinstance(after, Behaviour) and after.executable
    headers = Path(execute._headers_folders[(os.getpid(), threading.get_ident())])
    assert headers.parent == tmp_path / "tmp" and list(headers.glob("*.pch"))
    assert not list((tmp_path / "tmp").glob("wp_pch_*"))  # neither process made a folder of its own


FLAGGED = """import warp as wp


@wp.kernel
def flagged(flags: int, scale: float, x: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
    i = wp.tid()
    if (flags & 1) == 0:
        return
    out[i] = x[i] * scale
"""


def test_the_row_keeps_the_draw_of_inputs_that_shows_the_kernel_at_work():
    # A flag without the bit the kernel tests hides all of it behind an early return: of the
    # draws launched, the row keeps one that has the bit whenever one has.
    seeds = range(8)
    results = run_kernels([request(FLAGGED, "flagged", seed) for seed in seeds])
    first_draw_hid_it = 0
    for seed, b in zip(seeds, results):
        assert isinstance(b, Behaviour), b
        draws = [make_inputs(b.contract, seed if d == 0 else seed + d * 1_000_003) for d in range(execute.INPUT_DRAWS)]
        shows = [int(d["flags"]) & 1 for d in draws]
        first_draw_hid_it += not shows[0]
        assert (int(b.inputs["flags"]) & 1) == max(shows)
        if max(shows):
            np.testing.assert_allclose(b.outputs["out"], b.inputs["x"] * b.inputs["scale"], rtol=1e-6)
    assert first_draw_hid_it, "no seed tried the choice"


@settings(max_examples=50)
@given(seed=st.integers(0, 2**32 - 1))
def test_a_float_passed_as_a_value_is_never_zero_or_one(seed):
    # One value reaches every thread: 0 would zero the output, 1 would hide ``*`` swapped for ``/``.
    contract = Contract((16,), (Arg("scale", "value", "float32"), Arg("offset", "value", "vector(3,float32)"), Arg("x", "array", "float32", 1, (16,))))
    values = make_inputs(contract, seed)
    for name in ("scale", "offset"):
        magnitude = np.abs(values[name])
        assert ((magnitude >= 0.25) & (magnitude <= 2.0)).all(), values[name]


VOXEL_DATA = """import warp as wp


@wp.kernel
def gather_voxels(volume: wp.uint64, x: wp.array(dtype=wp.vec3), leaf: wp.array(dtype=wp.float32), cells: wp.array(dtype=wp.float32),
                  out: wp.array(dtype=wp.float32)):
    i = wp.tid()
    uvw = wp.volume_world_to_index(volume, x[i])
    lin = wp.volume_lookup_index(volume, wp.int32(uvw[0]), wp.int32(uvw[1]), wp.int32(uvw[2]))
    out[i] = wp.volume_sample_index(volume, uvw, wp.Volume.LINEAR, leaf, 0.0) + wp.where(lin >= 0, cells[wp.max(lin, 0)], 0.0)
"""


def test_arrays_of_voxel_values_hold_one_value_per_voxel_of_the_volume():
    # A voxel's index runs to the volume's voxel count, not to the launch's size.
    b = run_kernels([request(VOXEL_DATA, "gather_voxels")])[0]
    assert isinstance(b, Behaviour) and b.executable, b
    shapes = {a.name: a.shape for a in b.contract.args if a.kind == "array"}
    assert shapes["leaf"] == shapes["cells"] == (execute.VOLUME_SIDE**3,) and shapes["x"] == (16,)


def test_one_kernel_launched_again_and_again_in_one_call_runs_every_time(tmp_path, monkeypatch):
    # Warp 1.19 crashes loading a module of one name from its cache a fifth time in a process.
    monkeypatch.setenv("WARP_CACHE_PATH", str(tmp_path / "cache"))
    run_kernels([request(FLAGGED, "flagged")])  # now in the cache
    results = run_kernels([request(FLAGGED, "flagged", seed) for seed in range(7)])
    assert all(isinstance(r, Behaviour) and r.executable for r in results), results


def test_inputs_are_seeded():
    b = run_kernels([request(AXPY, "axpy")])[0]
    again = make_inputs(b.contract, 3)
    other = make_inputs(b.contract, 4)
    assert all(np.array_equal(again[k], v, equal_nan=True) for k, v in b.inputs.items())
    assert not np.array_equal(other["x"], again["x"])


BROKEN_NATIVE = '''import warp as wp


@wp.func_native("""
    return this is not C++;
""")
def broken(x: float) -> float: ...


@wp.kernel
def uses_broken(x: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
    i = wp.tid()
    out[i] = broken(x[i])
'''


def test_a_kernel_the_compiler_refuses_is_a_clang_error_with_its_message():
    (result,) = run_kernels([request(BROKEN_NATIVE, "uses_broken")])
    assert isinstance(result, Failure) and result.reason == "clang-error", result
    assert "this is not C++" in result.message or "error" in result.message.lower()


THROUGH_A_STRUCT = """import warp as wp


@wp.struct
class Params:
    gain: float
    accum: wp.array(dtype=float)
    weights: wp.array(dtype=float)


@wp.func
def bump(p: Params, i: int, v: float):
    wp.atomic_add(p.weights, i % p.weights.shape[0], v)


@wp.kernel
def through_a_struct(p: Params, x: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
    i = wp.tid()
    p.accum[i % p.accum.shape[0]] = p.gain * x[i]
    bump(p, i, x[i])
    out[i] = x[i]
"""


def test_a_struct_whose_array_fields_the_kernel_stores_into_is_an_output():
    [b] = run_kernels([request(THROUGH_A_STRUCT, "through_a_struct")], timeout=60)
    assert isinstance(b, Behaviour), b
    [p] = [a for a in b.contract.args if a.name == "p"]
    assert p.access == "readwrite"
    x, before = b.inputs["x"], b.inputs["p"]
    after = b.outputs["p"]
    assert set(after) == {"accum", "weights"}  # its array fields, after the launch; "gain" is a value
    accum = before["accum"].copy()
    for i in range(len(x)):
        accum[i % len(accum)] = before["gain"] * x[i]
    np.testing.assert_allclose(after["accum"], accum, rtol=1e-6)
    weights = before["weights"] + np.bincount(np.arange(len(x)) % len(before["weights"]), weights=x, minlength=len(before["weights"]))
    np.testing.assert_allclose(after["weights"], weights, rtol=1e-5, atol=1e-6)
    names = [r["name"] for r in execute.value_records(b.outputs)]
    assert {"p.accum", "p.weights", "out"} <= set(names)
