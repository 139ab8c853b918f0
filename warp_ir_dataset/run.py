"""The ``run`` command: launch a dataset's executed rows again, from nothing but the rows, and
compare with what they recorded.

    python -m warp_ir_dataset.run DIR --config cpu [--split test] [--device cpu|cuda] [--workers N] [--json FILE] [--quiet]

Each row's ``python_source`` is loaded, its ``inputs`` rebuilt from the stored values, the kernel
launched under its ``contract`` (and its adjoint seeded with ``output_grads``), each in a process
of its own as ``build`` does. Integers must be equal; floats within ``--rtol``/``--atol`` (NaN
where the row has NaN: elements the kernel never writes). ``--device cuda`` launches the cuda
config's rows on a GPU against the outputs recorded on the cpu: a differential test of Warp's two
backends. One line per row that differs, then a summary (per family); exit status 1 if any did.
``--json`` also keeps each row's verdict with the relative tolerance it needs to agree, so one
launch answers for any tolerance (the GPU's transcendental functions round differently).
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import click
import numpy as np

from .checks import BuildError, check_config, check_output_file
from .execute import Failure, Request, in_batches, records_to_values, run_kernels, value_records

BATCHES_PER_WORKER = 4  # each batch pays one process start (Warp's import); a few a worker even out uneven rows and move the bar
RTOL = 1e-5  # floats: |new - recorded| <= ATOL + RTOL * |recorded|, elementwise
ATOL = 1e-6


def split_rows(folder: Path, config: str, split: str, executed_only: bool = False, limit: int | None = None) -> list[dict]:
    """A split's rows (only the executed ones, with ``executed_only``), shard by shard; one line
    for a folder without them or a shard of another schema version."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from .write import read_shard_metadata

    rows: list[dict] = []
    if not folder.is_dir():
        raise BuildError(f"{folder}: no such dataset folder")
    paths = sorted((folder / config).glob(f"{split}-*.parquet"))
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


def _compared(row: dict, result) -> list[tuple[str, str, np.ndarray | None, np.ndarray | None]]:
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
    row's :func:`_compared` values when the caller has them already."""
    if isinstance(result, Failure):
        return [f"{result.reason}: {result.message.splitlines()[0] if result.message else ''}"]
    found = []
    for column, name, a, b in compared if compared is not None else _compared(row, result):
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
    for _, _, a, b in compared if compared is not None else _compared(row, result):
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


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--config", "config", required=True, help="Which config's rows: cpu or cuda.")
@click.option("--split", default="test", show_default=True, help="Which split's executed rows.")
@click.option("--device", default="cpu", show_default=True, help="Where to launch them: cpu, or cuda (a GPU; against the outputs recorded on the cpu).")
@click.option("--limit", type=int, default=None, help="At most this many rows.")
@click.option("--rtol", type=float, default=RTOL, show_default=True, help="Relative tolerance for floats.")
@click.option("--atol", type=float, default=ATOL, show_default=True, help="Absolute tolerance for floats.")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds one row may take before it is stopped.")
@click.option("--workers", type=int, default=None, help="Launching processes at once (default: one per core).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None,
              help="Also write each row's verdict and the relative tolerance it needs to agree (atol as given) to this file.")
def main(folder, config, split, device, limit, rtol, atol, timeout, workers, quiet, json_path) -> None:
    """Launch the executed rows of FOLDER again and compare with what they recorded."""
    check_config(config)
    if json_path is not None:
        check_output_file(json_path, "--json")
    if device not in ("cpu", "cuda"):
        raise BuildError(f"--device must be cpu or cuda, got {device!r}")
    if (workers is not None and workers < 1) or not timeout > 0:
        raise BuildError("--workers must be at least 1 and --timeout positive")
    workers = workers or os.cpu_count() or 1
    if device == "cuda":
        from . import _warp

        if not _warp.cuda_available():
            raise BuildError("--device cuda needs a GPU with its driver; none is visible here")
    rows = executed_rows(folder, config, split, limit)
    if not rows:
        raise BuildError(f"no executed rows in {folder / config}/{split}-*.parquet")
    from tqdm import tqdm

    requests = [replay_request(r, "cuda:0" if device == "cuda" else "cpu") for r in rows]
    with tqdm(total=len(requests), unit="row", desc=f"run {config}/{split} on {device}", disable=quiet) as bar:
        def launch(batch: list[Request]) -> list:
            launched = run_kernels(batch, timeout)
            bar.update(len(batch))
            return launched

        results = in_batches(requests, launch, workers, -(-len(requests) // (workers * BATCHES_PER_WORKER)))
    by_family: dict[str, Counter] = {}
    verdicts = []
    for row, result in zip(rows, results):
        compared = None if isinstance(result, Failure) else _compared(row, result)  # decoded once for both verdicts
        found = differences(row, result, rtol, atol, compared)
        verdicts.append({"id": row["id"], "family": row["family"], "differences": found, "needed_rtol": needed_rtol(row, result, atol, compared)})
        tally = by_family.setdefault(row["family"], Counter())
        tally["rows"] += 1
        if found:
            tally["differ"] += 1
            click.echo(f"{row['id']} {row['kernel_name']} ({row['family']}): " + "; ".join(found))
    differ = sum(c["differ"] for c in by_family.values())
    click.echo(f"run {config}/{split} on {device}: {len(rows)} rows, {len(rows) - differ} agree with what they recorded, {differ} differ")
    for family, tally in sorted(by_family.items()):
        click.echo(f"  {family}: {tally['rows'] - tally['differ']}/{tally['rows']} agree")
    if json_path is not None:
        import json

        summary = {"config": config, "split": split, "device": device, "rtol": rtol, "atol": atol, "rows": len(rows), "differ": differ}
        json_path.write_text(json.dumps({**summary, "verdicts": verdicts}, indent=1, allow_nan=True) + "\n")
    if differ:
        raise SystemExit(1)


if __name__ == "__main__":
    from .cli import run_cli

    run_cli(main, "run")
