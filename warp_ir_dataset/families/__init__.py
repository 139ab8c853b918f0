"""The registry of generator families.

A family is a function ``(rng: random.Random) -> GeneratedKernel`` registered with
:func:`family`. Every module in this package is imported once, so adding a family is one new
file with one decorated function; its name and weight are all the registry needs. Draws are
kept to a size budget (:mod:`._budget`): a kernel whose estimated generated code is too large
is redrawn from the same ``rng``.
"""
from __future__ import annotations

import importlib
import pkgutil
import random
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class GeneratedKernel:
    kernel_name: str
    python_source: str
    # How to launch it, where the family knows (see _compose): extents of the launch and of
    # every array argument, which int arrays hold indices into which arrays.
    contract: dict | None = field(default=None, compare=False)


FamilyFn = Callable[[random.Random], GeneratedKernel]


@dataclass(frozen=True)
class Family:
    name: str
    weight: float
    generate: FamilyFn


_REGISTRY: dict[str, Family] = {}


def family(name: str, weight: float = 1.0, budget: int | None = None) -> Callable[[FamilyFn], FamilyFn]:
    """Register a family. ``budget`` sets its size budget (estimated bytes of generated code):
    lower for families whose kernels are heavy by nature, higher for long forward-only ones."""
    def register(fn: FamilyFn) -> FamilyFn:
        if name in _REGISTRY:
            raise ValueError(f"generator family {name!r} registered twice")
        # Every draw goes through the size budget (see _budget): oversized kernels are redrawn.
        from ._budget import within_budget

        _REGISTRY[name] = Family(name, weight, within_budget(fn, budget))
        # Kept in name order, so the lookup done for every kernel drawn needs no sort.
        in_order = sorted(_REGISTRY.items())
        _REGISTRY.clear()
        _REGISTRY.update(in_order)
        return fn

    return register


def _import_all() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_ALL_IMPORTED = False


def registry() -> dict[str, Family]:
    """All families, in name order (the order seeds are mapped onto). Shared: do not modify."""
    global _ALL_IMPORTED
    if not _ALL_IMPORTED:  # not "if empty": importing one family module first registers only it
        _import_all()
        _ALL_IMPORTED = True
    return _REGISTRY
