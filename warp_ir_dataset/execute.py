"""Stage 4: launch a kernel on seeded inputs and record what it does (its behaviour).

For each kernel: its launch contract (:mod:`~warp_ir_dataset.contract`), seeded inputs that
respect it (:func:`make_inputs`: small arrays, values with boundary cases, index arrays inside
the arrays they index, meshes, volumes, BVHs and hash grids built from seeded geometry), one
launch on the cpu, and what came out: every array the kernel writes (written-only arrays start
as a sentinel, NaN for floats, so elements never written show), the arrays it only reads
checked unchanged, a second launch compared bit for bit, and, when the kernel has a backward
pass, the gradients of its float inputs for seeded gradients of its float outputs (one adjoint
launch through ``wp.Tape``).

Kernels run in a process of their own (:func:`run_kernels`), with Warp in debug mode so an
index outside an array aborts that process instead of writing elsewhere: a kernel that crashes
or hangs (a time limit) costs itself only and is reported with the reason.
"""
from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from . import _warp, lifeline
from .contract import VOLUME_SIDE, Arg, Contract, ContractError, Field, infer

SENTINEL_NAN_BITS = {np.dtype(np.float32): 0x7FA5A5A5, np.dtype(np.float64): 0x7FF4A5A5A5A5A5A5, np.dtype(np.float16): 0x7D5A}
# Ints have no impossible value; a written-only int array starts as this byte repeated
# (-1515870811 as an int32), which a kernel hardly computes, so an element never written, or a
# store of 0 left out, shows (zeros would hide both).
SENTINEL_INT_BYTE = 0xA5
INT_VALUE_RANGE = (1, 5)  # int values (not arrays): counts, strides, small parameters; never 0 (a divisor)
BOUNDARY_VALUES = (0.0, 1.0, -1.0, 0.5)  # one float element in four is one of these
INPUT_DRAWS = 4  # seeded draws of inputs launched; the row keeps the one that shows the most
DEFAULT_TIMEOUT = 60.0  # seconds for one kernel (compile, two launches, the adjoint)
UNTRUSTED_MEMORY_BYTES = 8 * 2**30  # address space of a process running predicted code (the tests' rows run under it)
MEMORY_ENV = "WIRDS_MEMORY_LIMIT"


@dataclass
class Behaviour:
    """What one launch did: plain numpy values by argument name."""

    contract: Contract
    inputs: dict  # argument → its value before the launch (arrays, values, structs as dicts, handles' geometry)
    outputs: dict  # written array → its contents after the launch
    input_grads: dict = field(default_factory=dict)  # float array read → its gradient
    output_grads: dict = field(default_factory=dict)  # float array written → the gradient seeded into it
    unwritten: int = 0  # elements of written-only arrays still holding the sentinel
    non_finite: int = 0  # elements written as NaN or infinity
    deterministic: bool = True  # a second launch gave the same bits
    read_only_changed: tuple[str, ...] = ()  # arrays the contract says are only read, changed by the launch
    seconds: dict = field(default_factory=dict)  # by stage: compile, launch (both launches), adjoint
    code: dict = field(default_factory=dict)  # forward_code, backward_code: what Warp generated (Request.codegen_device)

    @property
    def executable(self) -> bool:
        """Launched, finite, repeatable, and something observable written."""
        written = bool(self.outputs)
        return written and self.non_finite == 0 and self.deterministic and not self.read_only_changed


@dataclass(frozen=True)
class Failure:
    reason: str  # "build-error", "no-contract", "clang-error", "nvrtc-error", "launch-error", "launch-crashed", "launch-timeout"
    message: str
    # the code Warp generated for the kernel before it failed, where it was asked for and got that far
    code: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class CompiledOnly:
    """A kernel built and compiled, not launched: predicted cuda code where no GPU can launch
    it, or a row that records no behaviour (``Request.launch`` false)."""

    device: str = "cuda"
    code: dict = field(default_factory=dict)  # as Behaviour.code


@dataclass(frozen=True)
class Request:
    python_source: str
    kernel_name: str
    seed: int
    module_name: str
    backward: bool = True
    family_contract: dict | None = None  # the generator family's statement of it, where it has one
    # A replay of a stored row: its contract and inputs (value records) instead of seeded ones,
    # the output gradients to seed, and the device to launch on.
    contract_json: str | None = None
    inputs: list | None = None
    output_grads: list | None = None
    device: str = "cpu"  # "cuda-compile": compile the (replaced) cuda code with NVRTC, launch nothing
    # Scoring a prediction (``evaluate``): the kernel's generated functions swapped for predicted
    # ones before it is compiled (``(part, original, predicted)``, part "forward" or "backward"),
    # and the code Warp generates for the kernel on this device returned with its behaviour.
    replace_code: tuple[tuple[str, str, str], ...] = ()
    codegen_device: str | None = None
    launch: bool = True  # False: build and compile only


# -- inputs ---------------------------------------------------------------------------------------
def make_inputs(contract: Contract, seed: int) -> dict:
    """Seeded values for every argument of ``contract``: the same for the same seed."""
    rng = np.random.default_rng(seed)
    boundary = BOUNDARY_VALUES + contract.thresholds
    values = {}
    arrays = [a for a in contract.args if a.kind == "array"]
    # ints that index arrays stay inside the smallest dimension of any
    index_high = max(1, min([d for a in arrays for d in a.shape] + list(contract.launch)))
    shapes = {a.name: a.shape for a in arrays}
    for arg in sorted(contract.args, key=lambda a: a.index is not None):  # counts before the offsets that use them
        if arg.kind == "array" and arg.fields:  # structs, field by field, one value per element
            values[arg.name] = _struct_values(arg.fields, rng, contract.extents[0], index_high, arg.shape)
        elif arg.kind == "array" and arg.index is not None:
            values[arg.name] = _offsets(arg, shapes, values, rng)
        elif arg.kind == "array":
            shape = arg.shape
            if arg.initial == "values":
                values[arg.name] = _fill(arg.dtype, shape, rng, index_high, boundary)
            elif arg.initial == "zeros":
                values[arg.name] = np.zeros(shape + _inner(arg.dtype), dtype=_numpy_dtype(arg.dtype))
            else:
                values[arg.name] = _sentinel(arg.dtype, shape)
        elif arg.kind == "struct":
            values[arg.name] = _struct_values(arg.fields, rng, contract.extents[0], index_high)
        elif arg.kind == "handle":
            values[arg.name] = _geometry(arg, rng, contract.extents[0])
        elif arg.value is not None:
            values[arg.name] = np.asarray(arg.value, dtype=_numpy_dtype(arg.dtype))
        elif _scalar_of(arg.dtype) in _INTS and not _inner(arg.dtype):
            values[arg.name] = np.asarray(rng.integers(*INT_VALUE_RANGE), dtype=_numpy_dtype(arg.dtype))
        else:
            values[arg.name] = _parameter(arg.dtype, rng, index_high)
    return {a.name: values[a.name] for a in contract.args}


def _offsets(arg: Arg, shapes: dict, values: dict, rng) -> np.ndarray:
    """Offsets or indices into a dimension of another array, each with its count (an int, or
    the matching element of an int array of counts, cut to fit) inside that dimension."""
    array, dim, count = arg.index
    extent = shapes[array][dim]
    if isinstance(count, str):
        span = np.minimum(values[count].astype(np.int64), extent)
        values[count] = span.astype(values[count].dtype)  # the counts must fit too
    else:
        span = np.full(arg.shape, min(count or 1, extent), dtype=np.int64)
    return (rng.random(arg.shape) * (extent - span + 1)).astype(_numpy_dtype(arg.dtype))


_INTS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def _scalar_of(dtype: str) -> str:
    return dtype.rsplit(",", 1)[-1].rstrip(")").removeprefix("quat(").removeprefix("transform(")


def _numpy_dtype(dtype: str) -> np.dtype:
    return np.dtype(bool) if dtype == "bool" else np.dtype(_scalar_of(dtype))


def _inner(dtype: str) -> tuple[int, ...]:
    kind, _, params = dtype.partition("(")
    parts = params.rstrip(")").split(",")
    if kind == "vector":
        return (int(parts[0]),)
    if kind == "matrix":
        return (int(parts[0]), int(parts[1]))
    return {"quat": (4,), "transform": (7,)}.get(kind, ())


def _fill(dtype: str, shape: tuple, rng: np.random.Generator, index_high: int, boundary: tuple = BOUNDARY_VALUES) -> np.ndarray:
    full = tuple(shape) + _inner(dtype)
    scalar = _scalar_of(dtype)
    if dtype == "bool":
        return rng.random(full) < 0.5
    if scalar in _INTS:  # ints in arrays and vectors index the arrays: inside every extent
        return rng.integers(0, index_high, size=full).astype(scalar)
    data = rng.uniform(-1.0, 1.0, size=full)
    at_boundary = rng.random(full) < 0.25
    data[at_boundary] = rng.choice(boundary, size=int(at_boundary.sum()))
    return _rotations_unit(dtype, data, rng).astype(scalar)


def _parameter(dtype: str, rng: np.random.Generator, index_high: int) -> np.ndarray:
    """A float value passed as it is (a scale, a step, a vector): of either sign, its magnitude
    between 0.25 and 2, never a boundary value. One value reaches every thread: a 0 would zero
    the whole output, a 1 or -1 would hide a multiplication swapped for a division."""
    if dtype == "bool" or _scalar_of(dtype) in _INTS:
        return _fill(dtype, (), rng, index_high)
    full = _inner(dtype)
    data = np.asarray(rng.uniform(0.25, 2.0, size=full) * rng.choice((-1.0, 1.0), size=full))
    return _rotations_unit(dtype, data, rng).astype(_scalar_of(dtype))


def _rotations_unit(dtype: str, data: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rotations are unit quaternions (a transform's last four values)."""
    if dtype.startswith("quat("):
        return _unit(rng.uniform(-1.0, 1.0, size=data.shape))
    if dtype.startswith("transform("):
        data[..., 3:] = _unit(rng.uniform(-1.0, 1.0, size=data.shape[:-1] + (4,)))
    return data


def _unit(q: np.ndarray) -> np.ndarray:
    return q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-6)


def _sentinel(dtype: str, shape: tuple) -> np.ndarray:
    np_dtype = _numpy_dtype(dtype)
    full = tuple(shape) + _inner(dtype)
    if np_dtype in SENTINEL_NAN_BITS:
        bits = np.full(full, SENTINEL_NAN_BITS[np_dtype], dtype=f"u{np_dtype.itemsize}")
        return bits.view(np_dtype)
    if np_dtype.kind in "iu":
        return np.full(full + (np_dtype.itemsize,), SENTINEL_INT_BYTE, dtype=np.uint8).view(np_dtype).reshape(full)
    return np.zeros(full, dtype=np_dtype)  # bools: either value is a result


def _never_written(data: np.ndarray) -> np.ndarray:
    """Which elements of a written-only array still hold the sentinel."""
    if data.dtype in SENTINEL_NAN_BITS:
        return data.view(f"u{data.dtype.itemsize}") == np.asarray(SENTINEL_NAN_BITS[data.dtype], dtype=f"u{data.dtype.itemsize}")
    if data.dtype.kind in "iu":
        return data == _sentinel(data.dtype.name, ())
    return np.zeros(data.shape, dtype=bool)


def _struct_values(fields: tuple[Field, ...], rng, extent: int, index_high: int, shape: tuple[int, ...] = ()) -> dict:
    """A struct's values field by field; with ``shape``, an array of structs: each field holds
    one value per element (an array field, one array per element)."""
    out = {}
    for f in fields:
        if f.fields:
            out[f.name] = _struct_values(f.fields, rng, extent, index_high, shape)
        elif f.ndim:
            out[f.name] = _fill(f.dtype, shape + (extent,) * f.ndim, rng, index_high)
        elif _scalar_of(f.dtype) in _INTS and not _inner(f.dtype):
            out[f.name] = rng.integers(*INT_VALUE_RANGE, size=shape).astype(_numpy_dtype(f.dtype))
        else:
            out[f.name] = _fill(f.dtype, shape, rng, index_high)
    return out


def _geometry(arg: Arg, rng, extent: int) -> dict:
    """The data a handle is built from: no more items (faces, boxes, points) than an array has
    elements, since kernels index their arrays with what a query returns."""
    if arg.handle == "mesh":
        # A closed, jittered octahedron: 6 points, 8 faces, around the inputs' [-1, 1] range.
        points = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=np.float32)
        points = (points * 0.9 + rng.uniform(-0.1, 0.1, points.shape)).astype(np.float32)
        faces = [(0, 2, 4), (2, 1, 4), (1, 3, 4), (3, 0, 4), (2, 0, 5), (1, 2, 5), (3, 1, 5), (0, 3, 5)]
        return {"points": points, "indices": np.array(faces, dtype=np.int32).ravel()}
    if arg.handle == "volume":
        shape = (VOLUME_SIDE,) * 3 + _inner(arg.dtype)
        scalar = _scalar_of(arg.dtype)
        data = rng.integers(0, extent, size=shape) if scalar in _INTS else rng.uniform(-1.0, 1.0, size=shape)
        return {"values": data.astype(scalar), "min_world": np.array([-1.0, -1.0, -1.0], dtype=np.float32), "voxel_size": np.float32(0.25)}
    if arg.handle == "texture":
        return {"values": rng.uniform(-1.0, 1.0, size=(8,) * arg.ndim).astype(np.float32)}
    centers = rng.uniform(-1.0, 1.0, size=(extent, 3)).astype(np.float32)
    if arg.handle == "bvh":
        half = rng.uniform(0.05, 0.3, size=(extent, 3)).astype(np.float32)
        return {"lowers": centers - half, "uppers": centers + half}
    return {"points": centers, "radius": np.float32(0.5), "dims": np.array([4, 4, 4], dtype=np.int32)}  # hash grid


# -- one launch (inside the executing process) --------------------------------------------------
def _warp_value(wp, arg_or_field_dtype: str, value: np.ndarray, ndim: int, device: str):
    dtype = wp.bool if arg_or_field_dtype == "bool" else _warp.value_type(arg_or_field_dtype)
    if ndim:
        return wp.array(value, dtype=dtype, device=device)
    if not _inner(arg_or_field_dtype):
        return value.item()
    return dtype(*value.ravel().tolist())


def _warp_struct(wp, cls, fields: tuple[Field, ...], values: dict, device: str, at: tuple = ()):
    """The struct instance of ``values`` (of element ``at`` of an array of structs)."""
    instance = cls()
    for f in fields:
        if f.fields:
            setattr(instance, f.name, _warp_struct(wp, _warp.struct_field_types(cls)[f.name], f.fields, values[f.name], device, at))
        else:
            setattr(instance, f.name, _warp_value(wp, f.dtype, np.asarray(values[f.name][at]), f.ndim, device))
    return instance


def _warp_handle(wp, arg: Arg, geometry: dict, keep: list, device: str):
    if arg.handle == "mesh":
        handle = wp.Mesh(points=wp.array(geometry["points"], dtype=wp.vec3, device=device), indices=wp.array(geometry["indices"], dtype=wp.int32, device=device))
    elif arg.handle == "volume":
        handle = wp.Volume.load_from_numpy(geometry["values"], min_world=tuple(geometry["min_world"].tolist()), voxel_size=float(geometry["voxel_size"]), bg_value=_background(geometry["values"]), device=device)
    elif arg.handle == "texture":
        texture = {1: wp.Texture1D, 2: wp.Texture2D, 3: wp.Texture3D}[arg.ndim](geometry["values"], device=device)
        keep.append(texture)
        return texture
    elif arg.handle == "bvh":
        handle = wp.Bvh(wp.array(geometry["lowers"], dtype=wp.vec3, device=device), wp.array(geometry["uppers"], dtype=wp.vec3, device=device))
    else:
        handle = wp.HashGrid(*geometry["dims"].tolist(), device=device)
        handle.build(wp.array(geometry["points"], dtype=wp.vec3, device=device), float(geometry["radius"]))
    keep.append(handle)  # a handle must outlive the launch that uses its id
    return handle.id


def _background(values: np.ndarray):
    return tuple([0] * values.shape[-1]) if values.ndim == 4 else values.dtype.type(0).item()


def _arguments(wp, kernel, contract: Contract, inputs: dict, keep: list, device: str, requires_grad: set[str] = frozenset()) -> list:
    structs = _warp.argument_types(kernel)
    out = []
    for arg in contract.args:
        value = inputs[arg.name]
        if arg.kind == "array" and arg.fields:
            cls = _warp.array_dtype(structs[arg.name])
            instances = [_warp_struct(wp, cls, arg.fields, value, device, at) for at in np.ndindex(*arg.shape)]
            out.append(wp.array(instances, dtype=cls, device=device).reshape(arg.shape))
        elif arg.kind == "array":
            dtype = wp.bool if arg.dtype == "bool" else _warp.value_type(arg.dtype)
            out.append(wp.array(value.copy(), dtype=dtype, device=device, requires_grad=arg.name in requires_grad))
        elif arg.kind == "struct":
            out.append(_warp_struct(wp, structs[arg.name], arg.fields, value, device))
        elif arg.kind == "handle":
            out.append(_warp_handle(wp, arg, value, keep, device))
        else:
            out.append(_warp_value(wp, arg.dtype, value, 0, device))
    return out


def _launch(wp, kernel, contract: Contract, args: list, device: str) -> None:
    if contract.block_dim:
        wp.launch_tiled(kernel, dim=contract.launch, inputs=args, block_dim=contract.block_dim, device=device)
    else:
        wp.launch(kernel, dim=contract.launch, inputs=args, device=device)
    wp.synchronize_device(device)


def behave(kernel, source: str, seed: int, backward: bool = True, family_contract: dict | None = None) -> Behaviour:
    """Launch ``kernel`` (loaded from ``source``) on ``INPUT_DRAWS`` seeded draws of inputs and
    keep the draw that shows the most of what the kernel does (:func:`_shown`): finite outputs
    first, then the most elements written with distinct values. One draw can hide a kernel
    behind an early ``return`` (a flag without the bit it tests) or a zero it multiplies by;
    the row records the inputs kept."""
    import warp as wp

    contract = infer(kernel, source, family_contract)
    started = time.perf_counter()
    best = None
    for draw in range(INPUT_DRAWS):
        inputs = make_inputs(contract, seed if draw == 0 else seed + draw * 1_000_003)
        behaviour = _forward(wp, kernel, contract, inputs)
        if best is None or _shown(behaviour) > _shown(best):
            best = behaviour
    behaviour, inputs = best, best.inputs
    launched = time.perf_counter()
    if backward and _warp.has_backward(kernel):
        _adjoint(wp, kernel, contract, inputs, seed, behaviour, source)
    behaviour.seconds = {"launch": launched - started, "adjoint": time.perf_counter() - launched}
    return behaviour


def _shown(behaviour: Behaviour) -> tuple[bool, int]:
    """How much of a kernel's work a launch shows: whether it could be a row (finite, repeatable,
    reads left alone), then the written elements that hold a finite value other than what the
    array held before, counted once per distinct value (a kernel writing one constant shows
    little)."""
    shown = 0
    for name, data in behaviour.outputs.items():
        if not isinstance(data, np.ndarray):
            continue
        before = behaviour.inputs[name]
        changed = data != before if before.dtype == data.dtype and before.shape == data.shape else np.ones(data.shape, dtype=bool)
        if data.dtype.kind == "f":
            changed &= np.isfinite(data)
        shown += len(np.unique(data[changed]))
    usable = behaviour.non_finite == 0 and behaviour.deterministic and not behaviour.read_only_changed
    return usable, shown


def replay(kernel, request: Request) -> Behaviour:
    """A stored row's launch again: its contract, its inputs, its output gradients."""
    import warp as wp

    contract = Contract.from_json(request.contract_json)
    inputs = records_to_values(request.inputs)
    for arg in contract.args:  # the sentinel's own NaN bits, which a stored NaN does not keep (ints are stored exactly)
        if arg.kind == "array" and arg.initial == "sentinel" and not arg.fields and _numpy_dtype(arg.dtype) in SENTINEL_NAN_BITS:
            inputs[arg.name] = _sentinel(arg.dtype, arg.shape)
    behaviour = _forward(wp, kernel, contract, inputs, request.device)
    if request.output_grads:
        _adjoint(wp, kernel, contract, inputs, 0, behaviour, request.python_source, request.device, records_to_values(request.output_grads))
    return behaviour


def _forward(wp, kernel, contract: Contract, inputs: dict, device: str = "cpu") -> Behaviour:
    """Two launches on the same inputs: the first's outputs, and whether the second agrees."""
    keep: list = []
    runs = []
    for _ in range(2):
        args = _arguments(wp, kernel, contract, inputs, keep, device)
        before = {a.name: _bits(arr.numpy()) for a, arr in zip(contract.args, args) if a.kind == "array"}
        _launch(wp, kernel, contract, args, device)
        runs.append({a.name: _after(a, arr) for a, arr in zip(contract.args, args) if a.kind == "array" or (a.kind == "struct" and a.written)})
    first, second = runs
    written = [a for a in contract.args if a.kind in ("array", "struct") and a.written]
    behaviour = Behaviour(contract, inputs, {a.name: first[a.name] for a in written})
    behaviour.deterministic = all(_bits(first[n]) == _bits(second[n]) for n in first)
    behaviour.read_only_changed = tuple(
        a.name for a in contract.args if a.kind == "array" and a.access == "read" and _bits(first[a.name]) != before[a.name]
    )
    for a in written:
        data = behaviour.outputs[a.name]
        if isinstance(data, dict):  # a struct's fields, or an array of structs: no sentinel, but NaN shows
            behaviour.non_finite += sum(int((~np.isfinite(v)).sum()) for v in _leaves(data) if v.dtype.kind == "f")
            continue
        untouched = _never_written(data) if a.initial == "sentinel" else np.zeros(data.shape, dtype=bool)
        behaviour.unwritten += int(untouched.sum())
        if data.dtype.kind == "f":
            behaviour.non_finite += int((~np.isfinite(data) & ~untouched).sum())
    return behaviour


def _after(arg: Arg, value):
    """An array argument's contents after a launch; a written struct's, its array fields' (as a dict)."""
    if arg.kind == "array":
        return _plain(value.numpy().copy())
    return _array_fields(arg.fields, value)


def _leaves(values: dict):
    for v in values.values():
        yield from _leaves(v) if isinstance(v, dict) else (v,)


def _array_fields(fields: tuple[Field, ...], instance) -> dict:
    out = {}
    for f in fields:
        if f.fields:
            inner = _array_fields(f.fields, getattr(instance, f.name))
            if inner:
                out[f.name] = inner
        elif f.ndim:
            out[f.name] = getattr(instance, f.name).numpy().copy()
    return out


_ARRAY_DESCRIPTOR = ("data", "grad", "shape", "strides", "ndim", "flags")  # an array field of a struct, as numpy sees it


def _plain(values: np.ndarray):
    """An array's values; a struct array's as a dict of its fields' (its padding, and the
    addresses of its array fields, are not values)."""
    if values.dtype.names is None:
        return values
    return {name: _plain(np.ascontiguousarray(values[name])) for name in values.dtype.names if values[name].dtype.names != _ARRAY_DESCRIPTOR}


def _bits(values) -> bytes:
    values = _plain(values) if isinstance(values, np.ndarray) else values
    if isinstance(values, dict):
        return b"".join(_bits(v) for v in values.values())
    return values.tobytes()


def _shape_read(source: str) -> set[str]:
    """Names whose ``.shape`` the source reads. Warp 1.19's adjoint of ``a.shape`` assigns a zero
    shape to ``a``'s gradient array (``adj_a.shape = adj_k;`` in the backward code), so in
    debug mode the next gradient accumulated into it fails its bounds check: such arrays take
    no gradient (their adjoint is then a null array, which Warp skips)."""
    import ast

    return {n.value.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Attribute) and n.attr == "shape" and isinstance(n.value, ast.Name)}


def _adjoint(wp, kernel, contract: Contract, inputs: dict, seed: int, behaviour: Behaviour, source: str, device: str = "cpu", seeded: dict | None = None) -> None:
    no_grad = _shape_read(source)
    floats = [a for a in contract.args if a.kind == "array" and not a.fields and _scalar_of(a.dtype).startswith("float") and a.name not in no_grad]
    outs = [a for a in floats if a.written]
    ins = [a for a in floats if a.access in ("read", "readwrite")]
    if not outs or not ins:
        return
    rng = np.random.default_rng([seed, 1])
    keep: list = []
    args = _arguments(wp, kernel, contract, inputs, keep, device, requires_grad={a.name for a in floats})
    by_name = {a.name: v for a, v in zip(contract.args, args)}
    tape = wp.Tape()
    with tape:
        _launch(wp, kernel, contract, args, device)
    if seeded is None:
        seeded = {a.name: rng.uniform(-1.0, 1.0, size=by_name[a.name].numpy().shape).astype(by_name[a.name].numpy().dtype) for a in outs}
    seeded = {n: g for n, g in seeded.items() if n in by_name}
    tape.backward(grads={by_name[n]: wp.array(g, dtype=by_name[n].dtype, device=device) for n, g in seeded.items()})
    wp.synchronize_device(device)
    behaviour.output_grads = seeded
    behaviour.input_grads = {a.name: by_name[a.name].grad.numpy().copy() for a in ins}


# -- the executing process ------------------------------------------------------------------------
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); import warp_ir_dataset.execute as execute; "
    "sys.path.remove(sys.argv[1]); execute.main(sys.argv[2], sys.argv[3], sys.argv[4])"
)
_LENGTH = struct.Struct("<Q")
# A launching process loads each module once: Warp 1.19 crashes (SIGSEGV) loading a module of
# the same name from its kernel cache a fifth time in one process. A process that meets a
# module again (or whose GPU launch failed) exits with this status, and the rest run in a fresh process.
_FRESH_PROCESS_EXIT = 75
_FRESH_PROCESS = Failure("fresh-process", "")
_headers_folders: dict[tuple[int, int], str] = {}  # (pid, thread) → its folder for its launching processes' headers


def _headers_folder() -> str:
    """One folder per process and thread (a forked worker makes its own; threads of one worker
    launch side by side, and two processes must not build the same headers at once), in its
    temp folder (a worker's private one, removed with it), shared by every launching process it
    starts one after another: one that follows a crash does not build the precompiled headers
    again."""
    key = (os.getpid(), threading.get_ident())
    if key not in _headers_folders:
        folder = tempfile.mkdtemp(prefix="wirds-headers-")
        atexit.register(shutil.rmtree, folder, True)
        _headers_folders[key] = folder
    return _headers_folders[key]


def run_kernels(requests: list[Request], timeout: float = DEFAULT_TIMEOUT, untrusted: bool = False,
                memory_bytes: int = UNTRUSTED_MEMORY_BYTES) -> list[Behaviour | Failure]:
    """Each request's behaviour (or why there is none), in order. Kernels run one after another
    in a process of their own; one that crashes it or runs past ``timeout`` seconds is a
    failure, and the next kernels run in a fresh process. ``untrusted`` (a model's predictions):
    the process may use at most ``memory_bytes``, and its home, temp folder and Warp's kernel
    cache are a scratch folder removed afterwards (nothing it compiles reaches the user's cache)."""
    results: list[Behaviour | Failure | None] = [None] * len(requests)
    todo = list(range(len(requests)))
    with tempfile.TemporaryDirectory(prefix="wirds-execute-") as tmp:
        env = {}
        if untrusted:
            env = {"HOME": tmp, "TMPDIR": tmp, "WARP_CACHE_PATH": os.path.join(tmp, "warp-cache"), MEMORY_ENV: str(memory_bytes)}
        while todo:
            done = _run_some(requests, todo, timeout, tmp, results, env)
            todo = [i for i in todo if results[i] is None]
            if todo and done is not None and done is not _FRESH_PROCESS:  # the process ended at todo[0]: that kernel is to blame
                results[todo[0]] = done
                todo = todo[1:]
    return results  # type: ignore[return-value]


def in_batches(items: list, work, workers: int, batch: int) -> list:
    """``work(items[i:i + batch])`` for each batch, ``workers`` batches at once, the results
    joined in order. Threads suffice: each drives a launching process of its own
    (:func:`run_kernels`), so the launches run side by side."""
    from concurrent.futures import ThreadPoolExecutor

    batches = [items[i : i + batch] for i in range(0, len(items), max(1, batch))]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return [result for results in pool.map(work, batches) for result in results]


def _run_some(requests, todo: list[int], timeout: float, tmp: str, results: list, env_extra: dict) -> Failure | None:
    """Run ``todo`` in one process until it ends; returns why it ended early (None: it finished)."""
    request_path, result_path = os.path.join(tmp, "requests.pickle"), os.path.join(tmp, "results.pickle")
    with open(request_path, "wb") as f:
        pickle.dump([(i, requests[i]) for i in todo], f)
    open(result_path, "wb").close()
    env = lifeline.child_env({**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", **env_extra})
    with open(os.path.join(tmp, "stderr"), "w+b") as err:
        proc = subprocess.Popen([sys.executable, "-c", _BOOTSTRAP, _PACKAGE_PARENT, request_path, result_path, _headers_folder()],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, cwd=tmp, env=env)
        offset, last = 0, time.monotonic()
        try:
            while True:
                offset, got = _read_results(result_path, offset, results)
                if got:
                    last = time.monotonic()
                if proc.poll() is not None:
                    offset, _ = _read_results(result_path, offset, results)
                    if all(results[i] is not None for i in todo):
                        return None
                    if proc.returncode == _FRESH_PROCESS_EXIT:
                        return _FRESH_PROCESS
                    err.seek(0)
                    tail = _warp.portable_text(err.read().decode("utf-8", "replace").strip())[-2000:]
                    how = f"killed by {signal.Signals(-proc.returncode).name}" if proc.returncode < 0 else f"exit status {proc.returncode}"
                    return Failure("launch-crashed", f"the launching process died ({how})" + (f": {tail}" if tail else ""))
                if time.monotonic() - last > timeout:
                    proc.kill()
                    proc.wait()
                    _read_results(result_path, offset, results)
                    return Failure("launch-timeout", f"still running after {timeout:g}s; stopped")
                time.sleep(0.01)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _read_results(path: str, offset: int, results: list) -> tuple[int, bool]:
    got = False
    with open(path, "rb") as f:
        f.seek(offset)
        while True:
            head = f.read(_LENGTH.size)
            if len(head) < _LENGTH.size:
                break
            (size,) = _LENGTH.unpack(head)
            body = f.read(size)
            if len(body) < size:
                break
            index, result = pickle.loads(body)
            results[index] = result
            offset += _LENGTH.size + size
            got = True
    return offset, got


class _CompileFailed(Exception):
    pass


def main(request_path: str, result_path: str, headers_folder: str) -> None:
    lifeline.die_with_parent()
    import warp as wp

    memory = os.environ.get(MEMORY_ENV)
    if memory:  # evaluating predictions: code from a model may allocate without bound
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
    wp.config.mode = "debug"  # an index outside an array aborts this process, not the build
    wp.config.quiet = True
    _warp.init()
    _warp.share_precompiled_headers(headers_folder)
    with open(request_path, "rb") as f:
        requests = pickle.load(f)
    loaded_modules = set()
    ran = 0
    with open(result_path, "ab") as out:
        for index, request in requests:
            if request.module_name in loaded_modules:
                break  # the rest in a fresh process (see _FRESH_PROCESS_EXIT)
            loaded_modules.add(request.module_name)
            with _warp.fd_redirected(1, 2):
                result = _run_one(request)
            body = pickle.dumps((index, result))
            out.write(_LENGTH.pack(len(body)) + body)
            out.flush()
            ran += 1
            if request.device.startswith("cuda:") and isinstance(result, Failure) and result.reason == "launch-error":
                # a fault on a GPU (a bounds check's trap) poisons the process's CUDA context:
                # every later launch in it would fail too
                break
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_FRESH_PROCESS_EXIT if ran < len(requests) else 0)


def _run_one(request: Request) -> Behaviour | Failure:
    try:
        loaded = _warp.LoadedKernel(request.python_source, request.module_name, request.kernel_name)
    except Exception as e:  # noqa: BLE001 - the source does not run or Warp cannot take its kernel
        return Failure("build-error", _warp.portable_text(f"{type(e).__name__}: {e}")[:2000])
    code = {}
    try:
        with loaded:
            if request.device == "cuda-compile":
                return _compile_cuda(loaded, request)
            if request.codegen_device is not None:
                generated = loaded.codegen(request.codegen_device, with_module=False)
                code = {"forward_code": generated.forward_code, "backward_code": generated.backward_code}
            # Replaced code stays replaced for every build of the module the launches ask for
            # (another block size is another build).
            with _warp.generated_code_replaced(loaded.kernel, list(request.replace_code)) if request.replace_code else contextlib.nullcontext():
                started = time.perf_counter()
                try:
                    _warp.load_module(loaded.kernel, request.device)
                except Exception as e:  # noqa: BLE001 - the compiler's verdict on this kernel
                    raise _CompileFailed(_warp.portable_text(f"{type(e).__name__}: {e}")[:2000]) from None
                compiled = time.perf_counter() - started
                if not request.launch:
                    return CompiledOnly(request.device, code)
                if request.inputs is None:
                    result = behave(loaded.kernel, request.python_source, request.seed, request.backward, request.family_contract)
                else:
                    result = replay(loaded.kernel, request)
            result.seconds = {"compile": compiled, **result.seconds}
            result.code = code
            return result
    except ContractError as e:
        return Failure("no-contract", str(e), code)
    except _CompileFailed as e:
        return Failure("clang-error" if request.device == "cpu" else "nvrtc-error", str(e), code)
    except Exception as e:  # noqa: BLE001 - whatever Warp raises launching this kernel is its reason
        return Failure("launch-error", _warp.portable_text(f"{type(e).__name__}: {e}")[:2000], code)


def _compile_cuda(loaded, request: Request) -> CompiledOnly | Failure:
    source = loaded.codegen("cuda", with_module=True).module_source
    for _, original, predicted in request.replace_code:
        if original not in source:
            return Failure("build-error", "the row's code is not in the module this Warp generates for it")
        source = source.replace(original, predicted)
    with tempfile.TemporaryDirectory(prefix="wirds-nvrtc-") as workdir:
        try:
            _warp.compile_unit(_warp.translation_unit([_warp.module_body(source, "cuda")], "cuda"), "cuda", workdir)
        except _warp.CompileError as e:
            return Failure("nvrtc-error", str(e)[:2000])
    return CompiledOnly()


# -- behaviour as row columns ----------------------------------------------------------------------
def value_records(values: dict) -> list[dict]:
    """Named values as the rows store them: ``{name, dtype, shape, floats, ints}`` each, the
    values flattened in C order into ``floats`` (float dtypes; NaN where a written-only array
    was never written) or ``ints`` (ints and bools; uint64 as the int64 of the same bits).
    A struct's fields and a handle's data are named ``arg.field``."""
    out: list[dict] = []

    def add(name: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                add(f"{name}.{key}", inner)
            return
        array = np.asarray(value)
        is_float = array.dtype.kind == "f"
        flat = array.reshape(-1)
        out.append({
            "name": name,
            "dtype": str(array.dtype),
            "shape": list(array.shape),
            "floats": flat.astype(np.float64).tolist() if is_float else None,
            "ints": None if is_float else (flat.view(np.int64) if array.dtype == np.uint64 else flat.astype(np.int64)).tolist(),
        })

    with np.errstate(invalid="ignore"):  # NaN marks elements never written: kept as NaN
        for name, value in values.items():
            add(name, value)
    return out


def records_to_values(records: list[dict]) -> dict:
    """:func:`value_records` back to named numpy values (``a.b`` names nested dicts)."""
    values: dict = {}
    for r in records:
        dtype = np.dtype(r["dtype"])
        if r["floats"] is not None:
            array = np.asarray(r["floats"], dtype=np.float64).astype(dtype)
        else:
            ints = np.asarray(r["ints"], dtype=np.int64)
            array = ints.view(np.uint64) if dtype == np.uint64 else ints.astype(dtype)
        *path, last = r["name"].split(".")
        into = values
        for key in path:
            into = into.setdefault(key, {})
        into[last] = array.reshape(r["shape"])
    return values


def behaviour_columns(b: Behaviour) -> dict:
    """The schema-3 columns of an executed row."""
    return {
        "contract": b.contract.to_json(),
        "inputs": value_records(b.inputs),
        "outputs": value_records(b.outputs),
        "output_grads": value_records(b.output_grads) if b.output_grads else None,
        "input_grads": value_records(b.input_grads) if b.input_grads else None,
    }

