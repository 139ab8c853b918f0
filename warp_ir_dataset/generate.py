"""Stage 1: seeds → Warp kernel sources.

A kernel is a pure function of its 63-bit seed: the seed picks the family (weighted) and then
drives that family's random choices. Seeds of a build come from ``(build seed, shard, slot,
attempt)`` by hashing, so any shard, or any single row, can be regenerated alone.
"""
from __future__ import annotations

import bisect
import hashlib
import random
from dataclasses import dataclass, field
from functools import lru_cache

from .families import registry

# Bump when the same seed would produce a different kernel (families or kit changed), or the same
# kernel a different row or split. 6: the kernels of 5; the structural fingerprint no longer takes
# a literal for a name (most rows' fingerprints, so ~4% of splits, moved) and code names Warp's
# files relative to their import root. 8: no value is lost to the output (operations on constants
# written as their value, no length of a unit vector or rotation, wider clamps, no ``x - x``).
# 9: branches go both ways among a launch's threads (values compared with thresholds near them,
# clamps they reach, flag words that keep elements running), no translation lost to a vector.
GENERATOR_VERSION = "9"


@dataclass(frozen=True)
class KernelSpec:
    seed: int | None  # None for a kernel extracted from someone's code
    family: str
    kernel_name: str
    python_source: str
    origin: str | None = None  # extracted kernels: "dist==version:path:line" or "path:line"
    license: str | None = None  # SPDX id of the code it came from, when known
    # How to launch it, where its family states it (see families/_compose): extents, index arrays
    contract: dict | None = field(default=None, compare=False)


def derive_seed(*parts: int | str) -> int:
    """A 63-bit seed from any parts, stable across processes and Python versions."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@lru_cache(maxsize=1)
def _family_table() -> tuple[list[str], list[float]]:
    fams = registry()
    names = list(fams)
    cumulative, total = [], 0.0
    for name in names:
        total += fams[name].weight
        cumulative.append(total)
    return names, cumulative


def family_for_seed(seed: int) -> str:
    names, cumulative = _family_table()
    x = random.Random(seed).random() * cumulative[-1]
    return names[bisect.bisect_right(cumulative, x)]


class KernelRandom(random.Random):
    """``random.Random`` with ``choice`` written out: a kernel makes hundreds of choices, and
    CPython's goes through two more Python calls. The draws are CPython's own (3.11's
    ``_randbelow_with_getrandbits``), so the kernels are the same."""

    def choice(self, seq):
        n = len(seq)
        if not n:
            raise IndexError("Cannot choose from an empty sequence")
        k = n.bit_length()
        r = self.getrandbits(k)
        while r >= n:
            r = self.getrandbits(k)
        return seq[r]


class GeneratorError(Exception):
    """A family raised drawing a kernel: a bug in it, which names the family and the seed that
    shows it (``generate_kernel(seed)`` raises again)."""

    def __init__(self, family: str, seed: int, cause: Exception):
        super().__init__(f"family {family} raised on seed {seed}: {type(cause).__name__}: {cause}")
        self.family, self.seed = family, seed


def generate_kernel(seed: int, family: str | None = None) -> KernelSpec:
    """The kernel for ``seed`` (from the family the seed picks, unless one is forced)."""
    name = family or family_for_seed(seed)
    rng = KernelRandom(derive_seed("kernel", seed))
    try:
        kernel = registry()[name].generate(rng)
    except Exception as e:  # noqa: BLE001 - whatever a family raises, say which family and seed
        raise GeneratorError(name, seed, e) from e
    return KernelSpec(seed, name, kernel.kernel_name, kernel.python_source, contract=kernel.contract)


def source_id(python_source: str) -> str:
    """The row id: first 16 hex digits of sha256 of the source (same for cpu and cuda rows)."""
    return hashlib.sha256(python_source.encode()).hexdigest()[:16]
