"""The parsed Python AST of a kernel source, shared by the generator's size budget and the
structural fingerprint so that each source is parsed once (parsing costs more than either)."""
from __future__ import annotations

import ast
import functools


@functools.lru_cache(maxsize=16)
def parse(source: str) -> ast.Module:
    """The module AST of ``source``. Shared between callers: never mutate it."""
    return ast.parse(source)
