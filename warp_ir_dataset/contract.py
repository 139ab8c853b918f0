"""A kernel's launch contract: how large a launch is and what each argument is, read from the
kernel as Warp built it and from its source, so any kernel can be given inputs it accepts.

What is inferred, and from where:

* which arrays the kernel reads and which it writes: Warp's own build marks every array
  argument read or written (through ``@wp.func`` helpers and atomics too);
* the launch's dimensions: the names ``wp.tid()`` is unpacked to in the kernel;
* whether it is a tile kernel (launched with ``wp.launch_tiled`` and a block size): any
  ``wp.tile*`` builtin in its source;
* what a ``wp.uint64`` argument is the id of (a mesh, a volume of floats, vectors or ints, a
  BVH, a hash grid): the builtins it is passed to, followed into the helper functions it is
  passed on to;
* a struct's fields, from the struct Warp built.

A contract is plain data (:meth:`Contract.to_json`), stored in a row beside the values it was
launched with.
"""
from __future__ import annotations

import ast
import json
from dataclasses import asdict, dataclass, field, replace

from . import _warp

EXTENT = 16  # elements of each array dimension, and of a 1-d launch
EXTENTS_BY_LAUNCH_NDIM = {1: (16,), 2: (8, 8), 3: (4, 4, 4), 4: (3, 3, 3, 3)}
TILE_BLOCK_DIM = 16  # threads of a tile kernel's block (lanes on the cpu)
VOLUME_SIDE = 8  # a volume argument is a dense grid of VOLUME_SIDE**3 voxels


@dataclass(frozen=True)
class Field:
    name: str
    dtype: str
    ndim: int = 0  # an array field's dimensions; 0: a value
    fields: tuple["Field", ...] = ()  # a nested struct's


@dataclass(frozen=True)
class Arg:
    name: str
    kind: str  # "array", "value", "struct" or "handle"
    dtype: str  # Warp's name of the element (value) type: float32, vec3f, int32, a struct's name …
    ndim: int = 0
    shape: tuple[int, ...] = ()  # arrays: elements along each dimension
    access: str = "read"  # arrays: "read", "write", "readwrite" or "unused"; structs: "read", or "readwrite" (an array field is stored into)
    # a written array's contents before the launch: "values" (it is read too), "zeros" (it is
    # accumulated into: atomics, +=) or "sentinel" (NaN for floats, 0xA5 bytes for ints: elements never written show)
    initial: str = "values"
    handle: str | None = None  # "mesh", "volume", "bvh" or "hash_grid"; a volume's dtype is ``dtype``
    # int arrays of offsets or indices into dimension ``dim`` of array ``array``: ``(array, dim,
    # count)``, each value plus its count (an int, or an int array of counts per element) inside it
    index: tuple | None = None
    value: int | None = None  # an int value the kernel needs as it is (a count bound to an extent, a word of flags)
    fields: tuple[Field, ...] = ()

    @property
    def written(self) -> bool:
        return self.access in ("write", "readwrite")


@dataclass(frozen=True)
class Contract:
    launch: tuple[int, ...]  # the launch's dimensions
    args: tuple[Arg, ...]
    block_dim: int | None = None  # a tile kernel's block size (launched with wp.launch_tiled)
    extents: tuple[int, ...] = field(default=(EXTENT,))  # array dimensions, by position
    # numbers the kernel compares values with: inputs hit them exactly, so a comparison
    # written the other way round (< for <=) gives other outputs
    thresholds: tuple[float, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "Contract":
        data = json.loads(text)

        def fields(items: list) -> tuple[Field, ...]:
            return tuple(Field(f["name"], f["dtype"], f["ndim"], fields(f["fields"])) for f in items)

        args = tuple(
            Arg(**{**a, "shape": tuple(a["shape"]), "index": tuple(a["index"]) if a["index"] else None, "fields": fields(a["fields"])})
            for a in data["args"]
        )
        return cls(tuple(data["launch"]), args, data["block_dim"], tuple(data["extents"]), tuple(data["thresholds"]))


class ContractError(Exception):
    """The kernel takes something no contract can say how to build (one line, the reason)."""


def infer(kernel, source: str, family_contract: dict | None = None) -> Contract:
    """The contract of a kernel Warp has loaded from ``source``; ``family_contract``, where the
    generator family states one (extents by name, index arrays, counts), sets the sizes."""
    tree = ast.parse(source)
    functions = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    # A kernel a factory function makes is keyed ``factory__locals__name`` by Warp.
    kernel_def = functions.get(kernel.key.rpartition("__locals__")[2])
    if kernel_def is None:
        raise ContractError(f"no definition of {kernel.key} in its source")
    ndim = _tid_ndim(kernel_def)
    launch = EXTENTS_BY_LAUNCH_NDIM.get(ndim)
    if launch is None:
        raise ContractError(f"a {ndim}-d launch")
    accumulated = _accumulated(tree)
    uses = _uses(kernel_def, functions)
    args = []
    for name, warp_type, read, written in _warp.argument_access(kernel):
        seen_read, seen_written = uses.get(name, (False, False))
        arg = _arg(name, warp_type, read or seen_read, written or seen_written, kernel_def, functions)
        if arg.access == "write":
            arg = replace(arg, initial="zeros" if name in accumulated else "sentinel")
        args.append(arg)
    tiled = any(isinstance(n, ast.Attribute) and n.attr.startswith("tile") for n in ast.walk(tree))
    extents = tuple(launch[d] if d < len(launch) else EXTENT for d in range(4))
    strides = _strides(kernel_def)
    voxel_arrays = _voxel_arrays(kernel_def)
    args = [
        replace(a, shape=(VOLUME_SIDE**3,) if a.name in voxel_arrays else (extents[0] * strides.get(a.name, 1),) + extents[1 : a.ndim])
        if a.kind == "array" else a for a in args
    ]
    inferred = Contract(launch, tuple(args), TILE_BLOCK_DIM if tiled else None, extents, _thresholds(tree))
    return inferred if family_contract is None else _with_family_contract(inferred, family_contract)


# The sizes of a composed kernel's named extents (its family states shapes in them).
DEFAULT_EXTENTS = {"worlds": 2}
ELEMENTS = 5  # the launch's element count
OTHER = 9  # any other named extent (another element kind)


def named_extents(family: dict, rng, sizes: dict | None = None) -> dict[str, int]:
    """Every named extent of a family's contract (``families._compose``), with its size."""
    sizes = {**DEFAULT_EXTENTS, **(sizes or {})}
    out = {name: int(value) for name, value in family.get("constants", {}).items()}
    for name in family["launch"]:
        out.setdefault(name, sizes.get(name, ELEMENTS))
    for arg in family["args"]:
        for extent in arg["shape"]:
            if isinstance(extent, str) and extent not in out:
                out[extent] = (1 if rng.random() < 0.5 else out["worlds"]) if extent == "worlds or 1" else sizes.get(extent, OTHER)
    return out


def _with_family_contract(contract: Contract, family: dict) -> Contract:
    """The inferred contract, sized as the family says: shapes in its named extents, its index
    arrays and count values."""
    import numpy as np

    size = named_extents(family, np.random.default_rng(0))
    stated = {a["name"]: a for a in family["args"]}
    args = []
    for arg in contract.args:
        said = stated.get(arg.name)
        if said is not None and arg.kind == "array" and said["shape"]:
            index = said["indexes"]
            arg = replace(arg, shape=tuple(size[e] if isinstance(e, str) else int(e) for e in said["shape"]),
                          index=(index["array"], index["dim"], index["count"]) if index else None)
        elif said is not None and arg.kind == "value" and said.get("bound"):
            arg = replace(arg, value=size[said["bound"]])
        elif said is not None and arg.kind == "value" and said.get("value") is not None:
            arg = replace(arg, value=said["value"])
        args.append(arg)
    launch = tuple(size[e] for e in family["launch"])
    return replace(contract, launch=launch, args=tuple(args), extents=(min(launch),) * 4)


def _thresholds(tree: ast.AST) -> tuple[float, ...]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                value = -side.operand.value if isinstance(side, ast.UnaryOp) and isinstance(side.op, ast.USub) and isinstance(side.operand, ast.Constant) else getattr(side, "value", None) if isinstance(side, ast.Constant) else None
                if isinstance(value, float) and abs(value) <= 1e6:
                    found.add(value)
    return tuple(sorted(found))


def _strides(kernel_def: ast.FunctionDef) -> dict[str, int]:
    """Arrays indexed ``a[c * i + k]`` with ``i`` from ``wp.tid()`` hold ``c`` elements per
    thread (pairs, triples): their first dimension is ``c`` times the launch's."""
    tids = set()
    for node in ast.walk(kernel_def):
        if isinstance(node, ast.Assign) and _is_call(node.value, "tid"):
            target = node.targets[0]
            tids |= {e.id for e in (target.elts if isinstance(target, ast.Tuple) else [target]) if isinstance(e, ast.Name)}
    strides: dict[str, int] = {}
    for node in ast.walk(kernel_def):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            for inner in ast.walk(node.slice):
                if isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.Mult):
                    sides = (inner.left, inner.right)
                    constant = [x.value for x in sides if isinstance(x, ast.Constant) and isinstance(x.value, int)]
                    if constant and any(isinstance(x, ast.Name) and x.id in tids for x in sides):
                        strides[node.value.id] = max(strides.get(node.value.id, 1), constant[0])
    return strides


def _voxel_arrays(kernel_def: ast.FunctionDef) -> set[str]:
    """Arrays holding one value per voxel of a volume: the ``voxel_data`` of
    ``volume_sample_index``/``volume_sample_grad_index``, and arrays indexed with what
    ``volume_lookup_index`` returned. A voxel's index runs to the volume's voxel count."""
    found, lookups = set(), set()
    for node in ast.walk(kernel_def):
        if (_is_call(node, "volume_sample_index") or _is_call(node, "volume_sample_grad_index")) and len(node.args) > 3 and isinstance(node.args[3], ast.Name):
            found.add(node.args[3].id)
        if isinstance(node, ast.Assign) and _is_call(node.value, "volume_lookup_index") and isinstance(node.targets[0], ast.Name):
            lookups.add(node.targets[0].id)
    for node in ast.walk(kernel_def):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and any(isinstance(n, ast.Name) and n.id in lookups for n in ast.walk(node.slice)):
            found.add(node.value.id)
    return found


_STORES = ("tile_store", "tile_atomic_add", "atomic_")  # builtins writing into their first argument


def _uses(function: ast.FunctionDef, functions: dict, seen: frozenset = frozenset()) -> dict[str, tuple[bool, bool]]:
    """``parameter → (read, written)`` as the source shows it, complementing Warp's own marks
    (which follow differentiable reads only, and not every tile store): an array is written when
    it is assigned into or is the first argument of a storing builtin, read when its contents are
    used any other way (``a.shape`` is not its contents), and passed to a helper it is what the
    helper does with it."""
    params = [a.arg for a in function.args.args]
    read, written = set(), set()
    stored, shapes = set(), set()
    for node in ast.walk(function):
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                    written.add(target.value.id)
                    stored.add(id(target.value))
                    if isinstance(node, ast.AugAssign):
                        read.add(target.value.id)
                elif isinstance(target, ast.Subscript) and _struct_root(target.value):
                    written.add(_struct_root(target.value))  # into a struct's array field: the struct is written
        elif isinstance(node, ast.Attribute) and node.attr == "shape" and isinstance(node.value, ast.Name):
            shapes.add(id(node.value))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute) and node.func.attr.startswith(_STORES):
            first = node.args[0]
            if isinstance(first, ast.Name):
                written.add(first.id)
                stored.add(id(first))
            elif _struct_root(first):  # into a struct's array field
                written.add(_struct_root(first))
        if isinstance(node, ast.Call):
            callee = node.func.id if isinstance(node.func, ast.Name) else None
            if callee in functions and callee not in seen:
                inner = _uses(functions[callee], functions, seen | {callee})
                inner_params = [a.arg for a in functions[callee].args.args]
                for position, a in enumerate(node.args):
                    if isinstance(a, ast.Name) and position < len(inner_params):
                        r, w = inner.get(inner_params[position], (True, False))
                        (read.add(a.id) if r else None), (written.add(a.id) if w else None)
                        stored.add(id(a))
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and node.id in params and id(node) not in stored and id(node) not in shapes:
            read.add(node.id)
    return {p: (p in read, p in written) for p in params}


def _struct_root(node) -> str | None:
    """``s`` of ``s.field`` or ``s.inner.field``: the struct parameter an array field belongs to."""
    if not isinstance(node, ast.Attribute):
        return None
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _accumulated(tree: ast.AST) -> set[str]:
    """Names of arrays the source accumulates into: the first argument of an atomic builtin,
    or the target of ``a[i] += ...``."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and "atomic" in node.func.attr and node.args:
            if isinstance(node.args[0], ast.Name):
                names.add(node.args[0].id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Subscript) and isinstance(node.target.value, ast.Name):
            names.add(node.target.value.id)
    return names


def _tid_ndim(kernel_def: ast.FunctionDef) -> int:
    for node in ast.walk(kernel_def):
        if isinstance(node, ast.Assign) and _is_call(node.value, "tid"):
            target = node.targets[0]
            return len(target.elts) if isinstance(target, ast.Tuple) else 1
    return 1


def _is_call(node, name: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name


def _arg(name: str, warp_type, read: bool, written: bool, kernel_def, functions) -> Arg:
    described = _warp.describe_type(warp_type)
    kind = described["kind"]
    if kind == "array":
        access = {(True, True): "readwrite", (False, True): "write", (True, False): "read"}.get((read, written), "unused")
        return Arg(name, "array", described["dtype"], described["ndim"], access=access, fields=_fields(described.get("fields", [])))
    if kind == "struct":  # written: the kernel stores into one of its array fields
        return Arg(name, "struct", described["dtype"], access="readwrite" if written else "read", fields=_fields(described["fields"]))
    if kind in _TEXTURES:  # sampled as floats: one channel
        return Arg(name, "handle", "float32", ndim=_TEXTURES[kind], handle="texture")
    if kind != "value":
        raise ContractError(f"argument {name} is a {kind}")
    if described["dtype"] == "uint64":
        handle, dtype = _handle_kind(name, kernel_def, functions)
        if handle is not None:
            return Arg(name, "handle", dtype, handle=handle)
    return Arg(name, "value", described["dtype"])


def _fields(described: list[dict]) -> tuple[Field, ...]:
    return tuple(Field(f["name"], f["dtype"], f.get("ndim", 0), _fields(f.get("fields", []))) for f in described)


_TEXTURES = {"Texture1D": 1, "Texture2D": 2, "Texture3D": 3}
# What a uint64 id is, by the builtins it is passed to (first argument).
_HANDLE_PREFIXES = (("mesh_", "mesh"), ("volume_", "volume"), ("bvh_", "bvh"), ("hash_grid_", "hash_grid"))
_VOLUME_SUFFIX = {"_f": "float32", "_v": "vector(3,float32)", "_i": "int32"}


def _handle_kind(name: str, function: ast.FunctionDef, functions: dict, seen: frozenset = frozenset()) -> tuple[str | None, str]:
    """What the id ``name`` (a parameter of ``function``) is, from the calls it is passed to."""
    kind, dtype = None, "uint64"
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id if isinstance(node.func, ast.Name) else None
        if callee is None:
            continue
        positions = [i for i, a in enumerate(node.args) if isinstance(a, ast.Name) and a.id == name]
        if not positions:
            continue
        if isinstance(node.func, ast.Attribute) and positions[0] == 0:
            for prefix, found in _HANDLE_PREFIXES:
                if callee.removeprefix("tile_").startswith(prefix):
                    kind = found
                    if found == "volume":
                        dtype = _volume_dtype(callee, node, dtype)
        elif callee in functions and callee not in seen:  # passed on to a helper: follow it there
            params = [a.arg for a in functions[callee].args.args]
            if positions[0] < len(params):
                inner, inner_dtype = _handle_kind(params[positions[0]], functions[callee], functions, seen | {callee})
                if inner is not None:
                    kind, dtype = inner, inner_dtype if inner_dtype != "uint64" else dtype
    if kind == "volume" and dtype == "uint64":
        dtype = "float32"
    return kind, dtype


def _volume_dtype(callee: str, call: ast.Call, current: str) -> str:
    for suffix, dtype in _VOLUME_SUFFIX.items():
        if callee.endswith(suffix):
            return dtype
    for kw in call.keywords:  # volume_sample(v, uvw, mode, dtype=wp.vec3)
        if kw.arg == "dtype" and isinstance(kw.value, ast.Attribute):
            return {"float32": "float32", "float": "float32", "vec3": "vector(3,float32)", "vec3f": "vector(3,float32)", "int32": "int32", "int": "int32"}.get(kw.value.attr, current)
    return current
