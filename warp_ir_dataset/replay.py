"""A dataset's rows read back, and a relaunch compared with what they recorded: the library under
the ``run`` command, ``evaluate``, ``predict`` and the benchmarks. Integers must be equal; floats
within ``RTOL``/``ATOL`` (NaN where the row has NaN: elements the kernel never writes)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .checks import BuildError
from .execute import Failure, Request, records_to_values, value_records
from .write import read_shard_metadata, split_shards

RTOL = 1e-5  # floats: |new - recorded| <= ATOL + RTOL * |recorded|, elementwise
ATOL = 1e-6


def split_rows(folder: Path, config: str, split: str, executed_only: bool = False, limit: int | None = None) -> list[dict]:
    """A split's rows (only the executed ones, with ``executed_only``), shard by shard; one line
    for a folder without them or a shard of another schema version."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rows: list[dict] = []
    if not folder.is_dir():
        raise BuildError(f"{folder}: no such dataset folder")
    paths = split_shards(folder / config, split)
    if not paths:
        raise BuildError(f"no {split} shards in {folder / config}")
    for path in paths:
        read_shard_metadata(path)
        table = pq.read_table(path)
        rows += (table.filter(pc.equal(table.column("validation"), "executed")) if executed_only else table).to_pylist()
        if limit is not None and len(rows) >= limit:
            return rows[:limit]
    return rows


def executed_rows(folder: Path, config: str, split: str, limit: int | None = None) -> list[dict]:
    return split_rows(folder, config, split, executed_only=True, limit=limit)


def replay_request(row: dict, device: str = "cpu") -> Request:
    return Request(row["python_source"], row["kernel_name"], 0, f"wirds_{row['id']}", contract_json=row["contract"],
                   inputs=row["inputs"], output_grads=row["output_grads"], device=device)


def compared_values(row: dict, result) -> list[tuple[str, str, np.ndarray | None, np.ndarray | None]]:
    """(column, name, recorded, relaunched) for each value the row recorded; None where the
    relaunch did not write it."""
    pairs = [("outputs", row["outputs"], result.outputs)]
    if row["input_grads"]:
        pairs.append(("input_grads", row["input_grads"], result.input_grads))
    compared = []
    for column, recorded, new in pairs:
        got = {r["name"]: r for r in value_records(new)}
        for want in recorded:
            name = want["name"]
            if name not in got:
                compared.append((column, name, None, None))
                continue
            a, b = records_to_values([want]), records_to_values([got[name]])
            for part in name.split("."):
                a, b = a[part], b[part]
            compared.append((column, name, a, b))
    return compared


def differences(row: dict, result, rtol: float = RTOL, atol: float = ATOL, compared: list | None = None) -> list[str]:
    """What a relaunch gave that the row did not record (empty: it agrees); ``compared``: the
    row's :func:`compared_values` values when the caller has them already."""
    if isinstance(result, Failure):
        return [f"{result.reason}: {result.message.splitlines()[0] if result.message else ''}"]
    found = []
    for column, name, a, b in compared if compared is not None else compared_values(row, result):
        if a is None:
            found.append(f"{column} {name}: not written")
        elif a.shape != b.shape:
            found.append(f"{column} {name}: shape {b.shape}, recorded {a.shape}")
        elif a.dtype.kind == "f":
            close = np.isclose(b.astype(np.float64), a.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True)  # float32's own arithmetic rounds near its smallest numbers
            if not close.all():
                at = np.argwhere(~close)[0]
                found.append(f"{column} {name}: {int((~close).sum())} of {a.size} elements differ, e.g. at {tuple(int(i) for i in at)}: {b[tuple(at)]!r}, recorded {a[tuple(at)]!r}")
        elif not np.array_equal(a, b):
            found.append(f"{column} {name}: {int((a != b).sum())} of {a.size} elements differ")
    return found


def needed_rtol(row: dict, result, atol: float = ATOL, compared: list | None = None) -> float:
    """The smallest relative tolerance under which the relaunch agrees with the row (given
    ``atol``, as ``np.isclose`` has it): 0.0 where every float is within ``atol``, inf where no
    tolerance would do (a failure, an unwritten or reshaped value, unequal integers, NaN or inf
    against a number)."""
    if isinstance(result, Failure):
        return float("inf")
    needed = 0.0
    for _, _, a, b in compared if compared is not None else compared_values(row, result):
        if a is None or a.shape != b.shape:
            return float("inf")
        if a.dtype.kind != "f":
            if not np.array_equal(a, b):
                return float("inf")
            continue
        a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
        if not np.array_equal(np.isnan(a), np.isnan(b)) or not np.array_equal(a[np.isinf(a)], b[np.isinf(a)]) or np.isinf(b[~np.isinf(a)]).any():
            return float("inf")
        finite = np.isfinite(a)
        excess = np.abs(b[finite] - a[finite]) - atol
        over = excess > 0
        if over.any():
            scale = np.abs(a[finite][over])
            if (scale == 0).any():
                return float("inf")
            needed = max(needed, float((excess[over] / scale).max()))
    return needed
