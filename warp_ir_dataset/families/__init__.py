"""The registry of generator families.

A family is a function ``(rng: random.Random) -> GeneratedKernel`` registered with
:func:`family`. Every module in this package is imported once, so adding a family is one new
file with one decorated function; its name and weight are all the registry needs.
"""
from __future__ import annotations

import importlib
import pkgutil
import random
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class GeneratedKernel:
    kernel_name: str
    python_source: str


FamilyFn = Callable[[random.Random], GeneratedKernel]


@dataclass(frozen=True)
class Family:
    name: str
    weight: float
    generate: FamilyFn


_REGISTRY: dict[str, Family] = {}


def family(name: str, weight: float = 1.0) -> Callable[[FamilyFn], FamilyFn]:
    def register(fn: FamilyFn) -> FamilyFn:
        if name in _REGISTRY:
            raise ValueError(f"generator family {name!r} registered twice")
        _REGISTRY[name] = Family(name, weight, fn)
        return fn

    return register


def _import_all() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


def registry() -> dict[str, Family]:
    """All families, in name order (the order seeds are mapped onto)."""
    if not _REGISTRY:
        _import_all()
    return dict(sorted(_REGISTRY.items()))
