"""Shared machinery of the tile families: a :class:`TileKernel` tracks tiles (name, shape,
dtype) next to a KernelWriter's scalar values, emits random block-cooperative tile operations,
and folds every tile and scalar no later statement read into the kernel's outputs.

Tile shapes are tuples of ``wp.constant`` names declared at module level (Warp needs
compile-time tile shapes). ``tile_matmul``/``tile_cholesky``/``tile_*_solve``/``tile_fft`` are
left out: built for no device, Warp generates their portable code, not the MathDx calls a GPU
build links, so a cuda row would not be the code a GPU compiles.
"""
from __future__ import annotations

from dataclasses import dataclass

from ._kit import KernelWriter, literal

UNARY = ("wp.sin", "wp.cos", "wp.exp", "wp.abs", "wp.sqrt", "wp.tanh", "wp.floor", "wp.log", "wp.atan", "wp.sinh")
BINARY = ("wp.add", "wp.sub", "wp.mul", "wp.max", "wp.min")
REDUCE_OPS = ("wp.add", "wp.max", "wp.min", "wp.mul")
# Scalar ``@wp.func`` bodies usable with ``tile_map`` (one or two float parameters).
FUNCS1 = ("wp.max(x, 0.0) + {a} * wp.min(x, 0.0)", "x / (1.0 + wp.abs(x))", "wp.exp(-x * x * {a})", "wp.clamp(x, -{a}, {a})",
          "x * wp.tanh(wp.log(1.0 + wp.exp(x)))", "1.0 / (1.0 + wp.exp(-x))")
FUNCS2 = ("x * {a} + y", "wp.max(x, y) - {a} * wp.min(x, y)", "wp.sqrt(x * x + y * y)", "wp.lerp(x, y, {a})", "wp.where(x > y, x - y, {a} * (y - x))")


@dataclass
class Tile:
    name: str
    shape: tuple[str, ...]
    dtype: str = "float"
    reads: int = 0
    view: bool = False  # a strided view (transpose, broadcast): cannot be reshaped in place

    def read(self) -> None:
        """Mark one use: a tile never read would be dead code, so writers read every tile."""
        self.reads += 1


class TileKernel:
    def __init__(self, w: KernelWriter, consts: dict[str, int]):
        self.w = w
        self.rng = w.rng
        self.tiles: list[Tile] = []
        self.consts = consts
        self.nfuncs = 0
        w.preamble.append("\n".join(f"{k} = wp.constant({v})" for k, v in consts.items()) + "\n")

    # -- bookkeeping --------------------------------------------------------------------
    def add(self, expr: str, shape: tuple[str, ...], dtype: str = "float", hint: str | None = None) -> Tile:
        t = Tile(self.w.names.fresh(hint or self.rng.choice(("t", "tile", "blk", "vals", "chunk", "seg"))), shape, dtype)
        self.w.line(f"{t.name} = {expr}")
        self.tiles.append(t)
        return t

    def pick(self, shape: tuple[str, ...] | None = None, dtype: str = "float", fresh: float = 0.7, contiguous: bool = False) -> Tile | None:
        cands = [t for t in self.tiles if t.dtype == dtype and (shape is None or t.shape == shape) and not (contiguous and t.view)]
        if not cands:
            return None
        unread = [t for t in cands if t.reads == 0]
        t = self.rng.choice(unread if unread and self.rng.random() < fresh else cands)
        t.read()
        return t

    def scalar(self, depth: int = 1) -> str:
        return self.w.exprs.live("float", depth)

    # -- user functions -----------------------------------------------------------------
    def func(self, arity: int) -> str:
        name = self.w.names.kernel_name(self.rng.choice(("act", "op", "fn", "map")))
        body = self.rng.choice(FUNCS1 if arity == 1 else FUNCS2).format(a=literal(self.rng))
        params = "x: float" if arity == 1 else "x: float, y: float"
        self.w.preamble.append(f"@wp.func\ndef {name}({params}):\n    return {body}\n")
        return name

    # -- operations on tiles of one shape -----------------------------------------------
    def elementwise(self, shape: tuple[str, ...]) -> Tile | None:
        r = self.rng
        a = self.pick(shape)
        if a is None:
            return None
        kind = r.choice(("unary", "unary", "binary", "binary", "func1", "func2", "scale", "neg", "arith"))
        b = self.pick(shape, fresh=0.9) if kind in ("binary", "func2", "arith") else None
        if b is a:  # ``a - a``, ``wp.max(a, a)``: constant or blind to an operand
            b = None
        if kind in ("binary", "func2", "arith") and b is None:
            kind = "unary"
        if kind == "unary":
            e = f"wp.tile_map({r.choice(UNARY)}, {a.name})"
        elif kind == "binary":
            e = f"wp.tile_map({r.choice(BINARY)}, {a.name}, {b.name})"
        elif kind == "func1":
            e = f"wp.tile_map({self.func(1)}, {a.name})"
        elif kind == "func2":
            e = f"wp.tile_map({self.func(2)}, {a.name}, {b.name})"
        elif kind == "scale":
            e = r.choice((f"{a.name} * {self.scalar(0)}", f"{self.scalar(0)} * {a.name}", f"{a.name} * {literal(r)}"))
        elif kind == "neg":
            e = f"-{a.name}"
        else:
            e = f"{a.name} {r.choice(('+', '-', '*'))} {b.name}"
        return self.add(e, shape)

    def reduce(self, shape: tuple[str, ...]) -> None:
        """A full reduction to a one-element tile, read back as a scalar."""
        r = self.rng
        a = self.pick(shape)
        if a is None:
            return
        kind = r.choice(("sum", "sum", "max", "min", "reduce", "argmax", "argmin", "dot"))
        if kind == "dot":
            b = self.pick(shape, fresh=0.9)
            e = f"wp.tile_dot({a.name}, {b.name})" if b else f"wp.tile_sum({a.name})"
        elif kind == "reduce":
            e = f"wp.tile_reduce({r.choice(REDUCE_OPS)}, {a.name})"
        else:
            e = f"wp.tile_{kind}({a.name})"
        red = self.add(e, ("1",), "int" if kind.startswith("arg") else "float", hint=r.choice(("red", "agg", "peak", "total", "s")))
        red.read()
        x = f"wp.tile_extract({red.name}, 0)"
        self.w.assign(f"wp.float32({x})" if red.dtype == "int" else x, "float", hint=r.choice(("m", "best", "norm", "acc")))

    # -- folding ------------------------------------------------------------------------
    def fold(self, into: Tile) -> str:
        """``into`` plus every unread float tile of its shape (int ones cast), as an expression."""
        terms = [into.name]
        for t in self.tiles:
            if t.reads == 0 and t is not into and t.shape == into.shape:
                t.read()
                terms.append(t.name if t.dtype == "float" else f"wp.tile_astype({t.name}, dtype=float)")
        return " + ".join(terms)

    def unread(self) -> list[Tile]:
        return [t for t in self.tiles if t.reads == 0]
