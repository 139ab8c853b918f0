"""One shard, end to end: seeds → kernels → Warp code → (validated) rows → Parquet bytes.

A shard is the unit of work. ``ShardTask`` fully determines its rows, so shards can be built in
any order, in any process or machine, and rebuilt after a crash with the same result.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import pyarrow as pa

from . import _warp
from .extract import extract
from .generate import GENERATOR_VERSION, derive_seed, generate_kernel, source_id
from .schema import SCHEMA_VERSION, rows_to_table
from .write import encode_shard

MAX_ATTEMPTS = 64  # per slot; a family that fails this often is a bug, not bad luck


@dataclass(frozen=True)
class ShardTask:
    config: str  # the device: "cpu" or "cuda"
    seed: int
    shard_index: int
    rows_per_shard: int
    build_command: str

    def metadata(self, rows: int) -> dict[str, str]:
        return {
            "schema_version": SCHEMA_VERSION,
            "warp_version": _warp.WARP_VERSION,
            "generator_version": GENERATOR_VERSION,
            "config": self.config,
            "seed": str(self.seed),
            "shard_index": str(self.shard_index),
            "rows_per_shard": str(self.rows_per_shard),
            "rows": str(rows),
            "build_command": self.build_command,
        }


@dataclass
class ShardCounts:
    rows: int = 0
    codegen_failures: int = 0
    duplicates: int = 0
    failures_by_family: dict[str, int] = field(default_factory=dict)

    def add(self, other: "ShardCounts") -> None:
        self.rows += other.rows
        self.codegen_failures += other.codegen_failures
        self.duplicates += other.duplicates
        for k, v in other.failures_by_family.items():
            self.failures_by_family[k] = self.failures_by_family.get(k, 0) + v


@dataclass
class ShardResult:
    task: ShardTask
    parquet: bytes
    counts: ShardCounts


def shard_rows(task: ShardTask, counts: ShardCounts, on_row: Callable[[int], None] | None = None) -> Iterator[dict]:
    """The shard's rows in slot order; a kernel Warp cannot build is retried with a new seed."""
    seen: set[str] = set()
    for slot in range(task.rows_per_shard):
        for attempt in range(MAX_ATTEMPTS):
            spec = generate_kernel(derive_seed(task.seed, task.shard_index, slot, attempt))
            kid = source_id(spec.python_source)
            if kid in seen:
                counts.duplicates += 1
                continue
            try:
                row, _code = extract(spec, task.config)
            except Exception:  # noqa: BLE001 - any Warp build error means "try another seed"
                counts.codegen_failures += 1
                counts.failures_by_family[spec.family] = counts.failures_by_family.get(spec.family, 0) + 1
                continue
            seen.add(kid)
            counts.rows += 1
            if on_row is not None:
                on_row(counts.rows)
            yield row
            break
        else:
            raise RuntimeError(f"shard {task.shard_index} slot {slot}: no buildable kernel in {MAX_ATTEMPTS} seeds")


def build_shard(task: ShardTask, on_row: Callable[[int], None] | None = None) -> ShardResult:
    counts = ShardCounts()
    table = rows_to_table(list(shard_rows(task, counts, on_row)))
    return ShardResult(task, encode_shard(table, task.metadata(len(table))), counts)


def smallest_prefix_reaching(task: ShardTask, table: pa.Table, needed_bytes: int) -> bytes:
    """Parquet bytes of the shortest prefix of ``table`` whose file is at least ``needed_bytes``."""
    def encoded(n: int) -> bytes:
        return encode_shard(table.slice(0, n), task.metadata(n))

    lo, hi = 1, len(table)
    best = encoded(hi)
    if len(best) < needed_bytes:
        return best
    while lo < hi:  # file size grows with rows, so bisect on the row count
        mid = (lo + hi) // 2
        data = encoded(mid)
        if len(data) >= needed_bytes:
            hi, best = mid, data
        else:
            lo = mid + 1
    return best
