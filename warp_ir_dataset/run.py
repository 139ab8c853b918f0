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

from .checks import BuildError, check_config, check_output_file
from .execute import Failure, Request, in_batches, run_kernels
from .replay import ATOL, RTOL, compared_values, differences, executed_rows, needed_rtol, replay_request

BATCHES_PER_WORKER = 4  # each batch pays one process start (Warp's import); a few a worker even out uneven rows and move the bar


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
        compared = None if isinstance(result, Failure) else compared_values(row, result)  # decoded once for both verdicts
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
