"""Seeded inputs for a generated kernel, from its launch contract: a first step to executable rows.

A composed kernel states its contract (:meth:`families._compose.Composition.contract`): the
launch's extents, every array's shape in those extents, which int arrays hold offsets or
indices into which array dimension, the bound of count scalars, struct fields. :func:`inputs`
turns it into arrays and values that respect it, the same for the same seed, so a kernel can be
launched on any device and its results compared.
"""
from __future__ import annotations

import numpy as np

DEFAULT_EXTENTS = {"worlds": 2}
ELEMENTS = 5  # the launch's element count
OTHER = 9  # any other named extent (another element kind)
SMALL_INT = 4  # ints with no stated meaning: 0..SMALL_INT-1


def extents(contract: dict, rng: np.random.Generator, sizes: dict | None = None) -> dict[str, int]:
    """Every named extent of the contract, with its size."""
    sizes = {**DEFAULT_EXTENTS, **(sizes or {})}
    out = {name: int(value) for name, value in contract.get("constants", {}).items()}
    for name in contract["launch"]:
        out.setdefault(name, sizes.get(name, ELEMENTS))
    for arg in contract["args"]:
        for extent in arg["shape"]:
            if isinstance(extent, str) and extent not in out:
                out[extent] = (1 if rng.random() < 0.5 else out["worlds"]) if extent == "worlds or 1" else sizes.get(extent, OTHER)
    return out


def inputs(contract: dict, namespace: dict, seed: int, sizes: dict | None = None, device: str = "cpu"):
    """``(launch dims, [argument values in signature order])`` for the kernel of ``namespace``."""
    import warp as wp

    rng = np.random.default_rng(seed)
    size = extents(contract, rng, sizes)
    shape_of = {a["name"]: tuple(size[e] if isinstance(e, str) else int(e) for e in a["shape"]) for a in contract["args"] if a["shape"]}
    # Counts before the offsets that depend on them.
    order = sorted(contract["args"], key=lambda a: a["indexes"] is not None)
    values: dict[str, object] = {}
    for arg in order:
        if arg["shape"]:
            values[arg["name"]] = _array(wp, arg, shape_of, values, namespace, rng, device)
        elif arg["fields"] is not None:
            values[arg["name"]] = _struct(wp, namespace[arg["struct"]], arg["fields"], rng, device)
        else:
            values[arg["name"]] = _scalar(wp, arg, size, rng)
    dims = tuple(size[e] for e in contract["launch"])
    return dims, [values[a["name"]] for a in contract["args"]]


def _dtype(wp, name: str, namespace: dict):
    return namespace[name] if name in namespace else getattr(wp, name)


def _fill(wp, dtype, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    inner = tuple(getattr(dtype, "_shape_", ()))
    scalar = getattr(dtype, "_wp_scalar_type_", dtype)
    if scalar is wp.bool or dtype is wp.bool:
        return rng.random(shape) < 0.5
    if scalar in (wp.int8, wp.int16, wp.int32, wp.int64, wp.uint8, wp.uint16, wp.uint32, wp.uint64):
        return rng.integers(0, SMALL_INT, size=shape + inner)
    data = rng.uniform(-1.0, 1.0, size=shape + inner)
    if dtype in (wp.quat, wp.quatf):  # rotations are unit quaternions
        data /= np.linalg.norm(data, axis=-1, keepdims=True)
    elif dtype in (wp.transform, wp.transformf):
        data[..., 3:] /= np.linalg.norm(data[..., 3:], axis=-1, keepdims=True)
    return data


def _array(wp, arg: dict, shape_of: dict, values: dict, namespace: dict, rng, device: str):
    dtype = wp.bool if arg["dtype"] == "bool" else _dtype(wp, arg["dtype"], namespace)
    shape = shape_of[arg["name"]]
    if arg["group"] in ("Data out", "Out"):
        return wp.zeros(shape, dtype=dtype, device=device)
    data = _fill(wp, dtype, shape, rng)
    index = arg["indexes"]
    if index is not None:  # offsets or indices that stay inside the dimension they index
        extent = shape_of[index["array"]][index["dim"]]
        count = index["count"]
        if isinstance(count, str):
            span = np.asarray(values[count].numpy(), dtype=np.int64)
        else:
            span = np.full(shape, count or 1, dtype=np.int64)
        span = np.minimum(span, extent)
        if isinstance(count, str):  # the count array itself must fit too
            values[count].assign(span.astype(np.int32))
        data = (rng.random(shape) * (extent - span + 1)).astype(np.int64)
    return wp.array(data, dtype=dtype, device=device)


def _scalar(wp, arg: dict, size: dict, rng):
    kind = arg["type"]
    if kind == "int":
        return size[arg["bound"]] if arg["bound"] else int(rng.integers(0, SMALL_INT))
    if kind == "float":
        return float(rng.uniform(-1.0, 1.0))
    dtype = getattr(wp, kind.removeprefix("wp."))
    return dtype(*_fill(wp, dtype, (), rng).ravel().tolist())


def _struct(wp, cls, fields: dict, rng, device: str):
    value = cls()
    for name, kind in fields.items():
        if kind.startswith("array:"):
            setattr(value, name, wp.array(rng.uniform(-1.0, 1.0, ELEMENTS), dtype=_dtype(wp, kind.split(":", 1)[1], {}), device=device))
        elif kind == "int":
            setattr(value, name, int(rng.integers(0, SMALL_INT)))
        elif kind == "float":
            setattr(value, name, float(rng.uniform(-1.0, 1.0)))
        else:
            dtype = getattr(wp, kind)
            setattr(value, name, dtype(*_fill(wp, dtype, (), rng).ravel().tolist()))
    return value
